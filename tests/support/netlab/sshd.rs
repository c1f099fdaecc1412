//! One private OpenSSH `sshd` per host namespace, as ../shared/TESTBED.md describes: its own
//! config, host key, pid file and log in the lab's temp dir, listening on the host's addresses,
//! port 22. One client key (`id_ed25519`) is authorized everywhere, for root; one
//! `known_hosts` holds each host key under the host's address (bare, which is what port 22
//! is looked up as, and `[addr]:22`), its short name and its FQDN.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::exec::{command_in, descendants, kill, run, tool};
use super::layout::Host;

const SSHD: &str = "/usr/sbin/sshd";

/// The client side: the key every endpoint accepts and the file that pins every host key.
pub struct Keys {
    pub identity: PathBuf,
    pub known_hosts: PathBuf,
    pub authorized_keys: PathBuf,
}

/// Generates the client key and a host key for each host that runs sshd; writes
/// `authorized_keys` and `known_hosts`.
pub fn keys(dir: &Path, hosts: &[Host]) -> Keys {
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} is missing: run scripts/test.sh, which installs the test dependencies \
         (openssh-server)"
    );
    let identity = dir.join("id_ed25519");
    keygen(&identity);
    let authorized_keys = dir.join("authorized_keys");
    std::fs::write(&authorized_keys, read(&identity.with_extension("pub")))
        .expect("authorized_keys");
    let mut known = String::new();
    for h in hosts.iter().filter(|h| h.has_sshd()) {
        let key = host_key(dir, h.name);
        keygen(&key);
        let public = read(&key.with_extension("pub"));
        let public: Vec<&str> = public.split_whitespace().take(2).collect();
        let mut names: Vec<String> = h
            .addrs()
            .iter()
            .flat_map(|a| [a.to_string(), format!("[{a}]:22")])
            .collect();
        names.extend([h.name.to_string(), h.fqdn.clone()]);
        known.push_str(&format!("{} {}\n", names.join(","), public.join(" ")));
    }
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, known).expect("known_hosts");
    Keys {
        identity,
        known_hosts,
        authorized_keys,
    }
}

fn host_key(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("host-{host}"))
}

/// A running sshd in a host's namespace; killed, with its sessions, on drop.
pub struct Sshd {
    pub log: PathBuf,
    child: Option<Child>,
}

impl Sshd {
    /// Writes `sshd-<host>.conf` and starts `sshd -D` in the host's namespace, listening on
    /// each of its addresses (the caller waits until it accepts). With `bin`, sessions find
    /// its programs first on their PATH.
    pub fn start(dir: &Path, host: &Host, keys: &Keys, bin: Option<&Path>) -> Sshd {
        // sshd's compiled-in privilege separation directory; it dies without it.
        run(&tool("install"), &["-d", "-m", "0755", "/run/sshd"], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let d = dir.display();
        let name = host.name;
        let config = dir.join(format!("sshd-{name}.conf"));
        let listen: String = host
            .addrs()
            .iter()
            .map(|a| format!("ListenAddress {a}\n"))
            .collect();
        let path = bin
            .map(|b| format!(" PATH={}:/usr/sbin:/usr/bin:/sbin:/bin", b.display()))
            .unwrap_or_default();
        let text = format!(
            "Port 22\n\
             {listen}\
             HostKey {key}\n\
             PidFile {d}/sshd-{name}.pid\n\
             AuthorizedKeysFile {authorized}\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             StrictModes no\n\
             UseDNS no\n\
             MaxStartups 200:30:400\n\
             MaxSessions 200\n\
             SetEnv SHLVL=1{path}\n\
             LogLevel VERBOSE\n",
            key = host_key(dir, name).display(),
            authorized = keys.authorized_keys.display(),
        );
        std::fs::write(&config, text).expect("sshd config");
        let log = dir.join(format!("sshd-{name}.log"));
        let child = command_in(&host.ns, SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting sshd in {}: {e}", host.ns));
        Sshd {
            log,
            child: Some(child),
        }
    }

    /// Whether sshd exited (a bad config, a taken address).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Kills sshd and every session it started.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let tree = descendants(child.id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        for p in tree {
            kill(p);
        }
    }

    pub fn log_text(&self) -> String {
        read(&self.log)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn keygen(path: &Path) {
    let p = path.display().to_string();
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", "netlab", "-f", &p],
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
