//! The distribution's own sshd settings for a private test server: Debian's
//! `/etc/ssh/sshd_config` (installed by `openssh-server`), copied, with only what a private
//! server in a temp dir must change — port and listen address on loopback, its host key,
//! and `PidFile` / `AuthorizedKeysFile` in the temp dir. Everything else stays as shipped:
//! `MaxSessions` 10, `MaxStartups` 10:30:100, `StrictModes` yes, `UsePAM` yes, `LogLevel`
//! INFO.
//!
//! `StrictModes yes` refuses an `authorized_keys` below a world-writable directory such as
//! `/tmp` (where a temp dir, or a whole checkout, may well be), so in the server's own mount
//! namespace its temp dir is bound over a directory whose only ancestor is `/` ([`KEYS_AT`])
//! and `AuthorizedKeysFile` points there.
//!
//! The login's shell start-up file is the distro's too ([`command`]): OpenSSH runs every
//! command as `$SHELL -c CMD`, and bash then reads `~/.bashrc`. A developer's or CI
//! runner's `~/.bashrc` (this runner's starts pyenv, ~0.3 s a command) is no part of a lab
//! node, so a stock server sees Debian's `/usr/share/base-files/dot.bashrc` there instead,
//! bound over it in a mount namespace of the server's own; nothing outside it changes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The distribution's server configuration, copied for every stock server.
pub const DISTRO_CONFIG: &str = "/etc/ssh/sshd_config";

/// The keywords a private server must own; the distro file's lines that set them (none, on
/// Debian) are commented out so only ours count.
const OWN: [&str; 5] = [
    "port",
    "listenaddress",
    "hostkey",
    "pidfile",
    "authorizedkeysfile",
];

/// Where the server's temp dir is bound in its mount namespace (an empty mount point every
/// Debian has, root's and not writable by others), when the tests run as root.
const KEYS_AT: &str = "/mnt";

/// Whether the server runs in a mount namespace of its own (root only).
fn namespaced() -> bool {
    // SAFETY: geteuid only reads the process's effective user ID.
    let root = unsafe { libc::geteuid() } == 0;
    root && Path::new(KEYS_AT).is_dir()
}

/// The distro's config for a server on 127.0.0.1:`port` whose files are in `dir`. `one`
/// holds the single setting a test is about (e.g. `("MaxSessions", "2")`), or nothing;
/// sshd keeps the first value it reads, so both come first.
pub fn config(port: u16, dir: &Path, one: Option<(&str, &str)>) -> String {
    let distro = std::fs::read_to_string(DISTRO_CONFIG).unwrap_or_else(|e| {
        panic!("{DISTRO_CONFIG}: {e} (the openssh-server package; scripts/test.sh installs it)")
    });
    let d = dir.display();
    let keys = if namespaced() {
        KEYS_AT.to_string()
    } else {
        d.to_string()
    };
    let mut out = format!(
        "# A private test server: only these lines differ from {DISTRO_CONFIG}.\n\
         Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519_key\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {keys}/authorized_keys\n"
    );
    if let Some((key, value)) = one {
        out.push_str(&format!(
            "# The setting this test is about.\n{key} {value}\n"
        ));
    }
    out.push_str(&format!("# {DISTRO_CONFIG} as shipped:\n"));
    for line in distro.lines() {
        let keyword = line.split_whitespace().next().unwrap_or("");
        if OWN.contains(&keyword.to_ascii_lowercase().as_str()) {
            out.push_str("# (set above) ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Debian's `~/.bashrc` for root, as `base-files` ships it.
const DISTRO_BASHRC: &str = "/usr/share/base-files/dot.bashrc";

/// The command that starts `sshd` for a server whose files are in `dir`: as root, in a
/// mount namespace of its own, with `dir` bound at [`KEYS_AT`] and the distro's `.bashrc`
/// over the login's (when it has one); else `sshd` itself. Either way the child's PID is
/// sshd's.
pub fn command(sshd: &str, dir: &Path) -> Command {
    if !namespaced() {
        return Command::new(sshd);
    }
    let bashrc = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".bashrc"))
        .filter(|b| b.exists() && Path::new(DISTRO_BASHRC).exists());
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"]);
    match bashrc {
        Some(bashrc) => {
            c.arg(r#"mount --bind "$0" "$1" && mount --bind "$2" "$3" && shift 3 && exec "$@""#)
                .arg(dir)
                .arg(KEYS_AT)
                .arg(DISTRO_BASHRC)
                .arg(bashrc);
        }
        None => {
            c.arg(r#"mount --bind "$0" "$1" && shift && exec "$@""#)
                .arg(dir)
                .arg(KEYS_AT);
        }
    }
    c.arg(sshd);
    c
}
