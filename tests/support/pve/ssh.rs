//! The SSH side of a PVE lab, for the pve checks an API fixture cannot answer: one private
//! `sshd` in a network namespace ([`Netns`]), listening on port 22 of every online node's
//! management address and every running certification VM's address (the one its guest
//! really has; all on the namespace's loopback). Each login runs its command with `PATH` starting at a directory of fakes for
//! that host, written from a snapshot of the fixture's [`State`] when the stand-in starts:
//!
//! - a node: `sysctl -n net.ipv4.ip_forward` (forwarding is on) and `ip -j addr show dev X`
//!   for the interfaces of its running network that have an address;
//! - a VM: `hostname` (what the guest took from cloud-init), `cloud-init status --format
//!   json` (done), `sudo -n`, and `blkid -t LABEL=… -o device` (`/dev/sr0` for the label
//!   of its cloud-init drive, `cidata` for NoCloud and `config-2` for configdrive2, when
//!   the guest sees the drive).
//!
//! The runner's known_hosts holds the one host key under every node name (`pve1.lab.test`,
//! with its address) and VM address, except for a VM whose host keys were regenerated
//! ([`super::Scenario::GuestHostKeyChanged`]): there it holds an older key. The namespace's
//! `/etc/hosts` names the nodes and its `/etc/passwd` has the cloud-init user as uid 0
//! (`ip netns exec` binds `/etc/netns/NAME/*` over `/etc`, so the machine's accounts are not
//! touched); run labcert with [`Netns::command`] for both to apply.
//!
//! ```ignore
//! let ns = Netns::new();
//! let pve = PveFixture::with_faults_in(Lab::default(), &faults, Some(&ns_path));
//! let ssh = SshHosts::start(&ns, &pve, "lab.test");
//! // certify inside `ns` with ssh.vars() …
//! ```

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::cloud::{Netns, cloud_init_done};
use super::PveFixture;
use super::cloudinit;

/// One address the stand-in answers on.
struct Host {
    addr: String,
    /// Its known_hosts names (`pve1.lab.test,10.0.0.11`).
    names: String,
    /// The runner's known_hosts holds an older host key for it.
    old_key: bool,
    /// `(tool, script)`: the fakes first on PATH in its logins.
    fakes: Vec<(&'static str, String)>,
}

/// iproute2's `ip` (a test's PATH may lack the sbin directories).
fn ip() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ip")
}

/// The sshd serving every node and VM of a lab; stopped, and the namespace's `/etc` files
/// removed, on drop.
pub struct SshHosts {
    child: Child,
    /// `/etc/netns/NAME`.
    etc: PathBuf,
    dir: tempfile::TempDir,
    /// The runner's key (for the nodes and the guests).
    pub identity: PathBuf,
    pub known_hosts: PathBuf,
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

fn sh(c: &mut Command) -> String {
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn executable(path: &Path, text: &str) {
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn keygen(path: &Path) -> String {
    sh(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "labcert", "-f"])
        .arg(path));
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fake that answers exactly `args` with `stdout`, and anything else with an error.
fn answers(args: &str, stdout: &str) -> String {
    format!(
        "#!/bin/sh\n[ \"$*\" = \"{args}\" ] && printf '%s\\n' '{stdout}' && exit 0\n\
         echo \"$0 (fake): unexpected: $*\" >&2; exit 2\n"
    )
}

/// `ip -j addr show dev NAME` of a running interface with `address`/`netmask`.
fn ip_addr(index: usize, name: &str, iface: &serde_json::Map<String, Value>) -> Value {
    let text = |k: &str| iface.get(k).and_then(Value::as_str).unwrap_or("");
    let prefix: u32 = text("netmask").parse().unwrap_or(24);
    json!([{
        "ifindex": index + 2, "ifname": name, "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "mtu": 1500, "qdisc": "noqueue", "operstate": "UP", "group": "default",
        "link_type": "ether", "address": "bc:24:11:00:00:01", "broadcast": "ff:ff:ff:ff:ff:ff",
        "addr_info": [{
            "family": "inet", "local": text("address"), "prefixlen": prefix, "scope": "global",
            "label": name, "valid_life_time": 4_294_967_295u64, "preferred_life_time": 4_294_967_295u64,
        }],
    }])
}

/// Removes `/etc/netns/lcc-<pid>-<n>` left by a test process that is gone (killed before
/// its drop), as [`Netns::new`] does with the namespaces themselves.
fn remove_stale_etc() {
    let Ok(entries) = std::fs::read_dir("/etc/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, n)) = name.strip_prefix("lcc-").and_then(|r| r.split_once('-')) else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(pid) && numeric(n) && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether something accepts on `addr`:22 inside `ns`.
fn accepts(ns: &Netns, addr: &str) -> bool {
    let path = format!("/run/netns/{}", ns.name);
    let to: SocketAddr = format!("{addr}:22").parse().unwrap();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns with a valid namespace fd changes only this short-lived thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_ok()
    })
    .join()
    .unwrap()
}

impl SshHosts {
    /// Starts the stand-in for `pve`'s lab as it is now; `domain` is the catalog's
    /// `node_domain`. Returns once every address accepts.
    pub fn start(ns: &Netns, pve: &PveFixture, domain: &str) -> SshHosts {
        let sshd = "/usr/sbin/sshd";
        assert!(
            Path::new(sshd).exists(),
            "{sshd} is missing: run scripts/test.sh, which installs the test dependencies \
             (openssh-server)"
        );
        let (lab, st) = (pve.lab(), pve.state());
        let dir = tempfile::Builder::new()
            .prefix("labcert-pve-ssh-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let host_key = keygen(&d.join("host_key"));
        let old_host_key = keygen(&d.join("old_host_key"));
        let client = keygen(&d.join("id_ed25519"));
        write(&d.join("authorized_keys"), &format!("{client}\n"));

        let mut hosts: Vec<Host> = Vec::new();
        let mut etc_hosts = String::from("127.0.0.1 localhost\n");
        for n in st.nodes.iter().filter(|n| n.online) {
            let fqdn = format!("{}.{domain}", n.name);
            etc_hosts.push_str(&format!("{} {fqdn} {}\n", n.ip, n.name));
            let ip_dir = d.join(&n.ip).join("ip");
            std::fs::create_dir_all(&ip_dir).unwrap();
            for (i, (name, iface)) in n.network.running.iter().enumerate() {
                if iface.contains_key("address") {
                    let text = ip_addr(i, name, iface).to_string();
                    write(&ip_dir.join(format!("{name}.json")), &text);
                }
            }
            let ip = format!(
                "#!/bin/sh\n[ \"$1 $2 $3 $4\" = \"-j addr show dev\" ] && [ -f '{dir}/'\"$5.json\" ] \
                 && exec cat '{dir}/'\"$5.json\"\n\
                 echo \"Device \\\"$5\\\" does not exist.\" >&2; exit 1\n",
                dir = ip_dir.display()
            );
            let sysctl = answers("-n net.ipv4.ip_forward", "1");
            hosts.push(Host {
                addr: n.ip.clone(),
                names: format!("{fqdn},{}", n.ip),
                old_key: false,
                fakes: vec![("ip", ip), ("sysctl", sysctl)],
            });
        }
        for spec in &lab.vms {
            let Some(vm) = st.vm(spec.vmid).filter(|vm| vm.running) else {
                continue;
            };
            // The guest answers where it really is.
            let Some(addr) = vm.guest_ip.clone() else {
                continue;
            };
            let label = match vm.config.get("citype").and_then(Value::as_str) {
                Some("configdrive2") => "config-2",
                _ => "cidata",
            };
            let blkid = if vm.guest_sees_seed && cloudinit::has_drive(vm) {
                answers(&format!("-t LABEL={label} -o device"), "/dev/sr0")
            } else {
                // blkid's "nothing matched".
                "#!/bin/sh\nexit 2\n".to_string()
            };
            let status = cloud_init_done("NoCloud").to_string();
            let fakes = vec![
                ("hostname", answers("", &vm.guest_hostname)),
                ("cloud-init", answers("status --format json", &status)),
                (
                    "sudo",
                    "#!/bin/sh\n[ \"$1\" = -n ] && shift\nexec \"$@\"\n".to_string(),
                ),
                ("blkid", blkid),
            ];
            hosts.push(Host {
                names: addr.clone(),
                addr,
                old_key: vm.guest_host_key_changed,
                fakes,
            });
        }

        let mut known = String::new();
        let mut config = format!(
            "Port 22\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nUseDNS no\n\
             MaxStartups 200:30:400\nMaxSessions 200\nLogLevel VERBOSE\n",
            d = d.display()
        );
        let mut matches = String::new();
        for Host {
            addr,
            names,
            old_key,
            fakes,
        } in &hosts
        {
            let bin = d.join(addr).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for (tool, text) in fakes {
                executable(&bin.join(tool), text);
            }
            let login = d.join(addr).join("login");
            executable(
                &login,
                &format!(
                    "#!/bin/sh\nexec env -i PATH={}:/usr/sbin:/usr/bin:/sbin:/bin HOME=/ \
                     /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                    bin.display()
                ),
            );
            config.push_str(&format!("ListenAddress {addr}\n"));
            matches.push_str(&format!(
                "Match LocalAddress {addr}\n    ForceCommand {}\n",
                login.display()
            ));
            let key = if *old_key { &old_host_key } else { &host_key };
            known.push_str(&format!("{names} {key}\n"));
            sh(Command::new(ip()).args([
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{addr}/32"),
                "dev",
                "lo",
            ]));
        }
        config.push_str(&matches);
        write(&d.join("sshd_config"), &config);
        let known_hosts = d.join("known_hosts");
        write(&known_hosts, &known);

        remove_stale_etc();
        let etc = PathBuf::from(format!("/etc/netns/{}", ns.name));
        std::fs::create_dir_all(&etc).unwrap();
        write(&etc.join("hosts"), &etc_hosts);
        let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        passwd.push_str(&format!(
            "{}:x:0:0:cloud-init user:/root:/bin/sh\n",
            lab.ciuser
        ));
        write(&etc.join("passwd"), &passwd);

        // sshd's compiled-in privilege separation directory; it dies without it.
        sh(Command::new("install").args(["-d", "-m", "0755", "/run/sshd"]));
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = ns
            .command(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut hosts_up = SshHosts {
            child,
            etc,
            identity: d.join("id_ed25519"),
            known_hosts,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for Host { addr, .. } in &hosts {
            while !accepts(ns, addr) {
                if let Ok(Some(status)) = hosts_up.child.try_wait() {
                    panic!("sshd exited ({status}):\n{}", hosts_up.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "sshd does not accept on {addr}:22:\n{}",
                    hosts_up.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        hosts_up
    }

    /// The pve catalog's `--var`s (`catalog.name=value`) pointing its SSH keys and
    /// known_hosts at this stand-in.
    pub fn vars(&self) -> Vec<String> {
        let (id, known) = (self.identity.display(), self.known_hosts.display());
        vec![
            format!("pve.node_identity={id}"),
            format!("pve.guest_identity={id}"),
            format!("pve.known_hosts={known}"),
        ]
    }

    /// sshd's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}
