//! A private OpenSSH `sshd` on 127.0.0.1 (the `openssh-server` package, installed by
//! `scripts/test.sh`), set up as ../shared/TESTBED.md describes: its own host key, config,
//! authorized keys and log in a temp dir, on a free port. Dropping the guard kills the
//! server and every process it started (per-connection servers and their shells).
//!
//! [`Sshd::start`] runs the test bed's configuration (`MaxSessions 200`, verbose log);
//! [`Sshd::stock`] runs Debian's shipped `/etc/ssh/sshd_config` (`MaxSessions 10`, …), changed
//! only where a private server must be (`sshd_stock.rs`), as real lab nodes run it.
//!
//! Client keys, all in the temp dir: `id_ed25519`, `id_rsa`, `id_ecdsa` and
//! `id_encrypted` (ed25519, passphrase [`PASSPHRASE`]) are authorized; `id_stranger` is not.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labcert::model::probe::Ssh;
use labcert::model::shapes::IntOrTemplate;

#[path = "procs.rs"]
mod procs;
#[path = "sshd_stock.rs"]
mod stock;
use procs::{descendants, kill};

const SSHD: &str = "/usr/sbin/sshd";

/// The passphrase of `id_encrypted`.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// A running private sshd; killed, with everything it started, on drop.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The login name (the user running the tests).
    pub user: String,
    /// `[127.0.0.1]:PORT ssh-ed25519 …`, the server's one host key.
    pub known_hosts: PathBuf,
    /// `SHA256:…` of the host key, as `ssh-keygen -lf` prints it.
    pub host_fingerprint: String,
    pub log: PathBuf,
    settings: Settings,
    child: Option<Child>,
}

/// Which configuration a server runs.
#[derive(Debug, Clone, Copy)]
enum Settings {
    /// The test bed's (TESTBED.md): `MaxSessions 200`, `MaxStartups 200:30:400`, verbose log.
    TestBed,
    /// The distro's `/etc/ssh/sshd_config`, plus at most the one setting a test is about.
    Stock(Option<(&'static str, &'static str)>),
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Sshd {
    /// Generates keys, writes the config and starts sshd on a free port (retrying if the
    /// port was taken meanwhile). Blocks for a moment, so async tests may call it too.
    pub fn start() -> Sshd {
        Sshd::launch_new(Settings::TestBed)
    }

    /// A server with Debian's stock `sshd_config` (`MaxSessions 10`, `StrictModes yes`,
    /// `UsePAM yes`, …): only port, listen address, host key, PID file and authorized keys
    /// file are its own.
    pub fn stock() -> Sshd {
        Sshd::launch_new(Settings::Stock(None))
    }

    /// [`Sshd::stock`] with one setting changed, for a test about that setting (e.g.
    /// `("MaxSessions", "0")`).
    pub fn stock_with(key: &'static str, value: &'static str) -> Sshd {
        Sshd::launch_new(Settings::Stock(Some((key, value))))
    }

    fn launch_new(settings: Settings) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run scripts/test.sh, which installs the test dependencies \
             (openssh-server)"
        );
        // sshd's compiled-in privilege separation directory; it dies without it.
        run(Command::new("install").args(["-d", "-m", "0755", "/run/sshd"]));
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_ed25519_key"), "ed25519", "");
        keygen(&d.join("id_ed25519"), "ed25519", "");
        keygen(&d.join("id_rsa"), "rsa", "");
        keygen(&d.join("id_ecdsa"), "ecdsa", "");
        keygen(&d.join("id_encrypted"), "ed25519", PASSPHRASE);
        keygen(&d.join("id_stranger"), "ed25519", "");
        let authorized: String = ["id_ed25519", "id_rsa", "id_ecdsa", "id_encrypted"]
            .iter()
            .map(|k| read(&d.join(format!("{k}.pub"))))
            .collect();
        std::fs::write(d.join("authorized_keys"), authorized).expect("authorized_keys");
        let host_pub = read(&d.join("host_ed25519_key.pub"));
        let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let mut server = Sshd {
            port: 0,
            user: output(Command::new("id").arg("-un")).trim().to_string(),
            known_hosts: d.join("known_hosts"),
            host_fingerprint: fingerprint(&d.join("host_ed25519_key.pub")),
            log: d.join("sshd.log"),
            settings,
            child: None,
            dir,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.launch() {
                let line = format!("[127.0.0.1]:{} {}\n", server.port, host_key.join(" "));
                std::fs::write(&server.known_hosts, line).expect("known_hosts");
                return server;
            }
        }
        panic!(
            "sshd did not start on 127.0.0.1 after 5 tries; its log:\n{}",
            read(&server.log)
        );
    }

    /// Starts sshd on `self.port` again (after [`Sshd::kill`]) and waits until it accepts.
    pub fn restart(&mut self) {
        for _ in 0..50 {
            if self.launch() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("sshd did not restart on port {}", self.port);
    }

    fn launch(&mut self) -> bool {
        let config = self.dir.path().join("sshd_config");
        std::fs::write(&config, self.config()).expect("sshd_config");
        let mut sshd = match self.settings {
            Settings::TestBed => Command::new(SSHD),
            Settings::Stock(_) => stock::command(SSHD, self.dir.path()),
        };
        let child = sshd
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .map(|c| c.try_wait().ok().flatten().is_some());
            if exited == Some(true) {
                self.child = None;
                return false; // most likely the port was taken meanwhile
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        false
    }

    fn config(&self) -> String {
        if let Settings::Stock(one) = self.settings {
            return stock::config(self.port, self.dir.path(), one);
        }
        let d = self.dir.path().display();
        format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {d}/host_ed25519_key\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             StrictModes no\n\
             UseDNS no\n\
             MaxStartups 200:30:400\n\
             MaxSessions 200\n\
             SetEnv SHLVL=1\n\
             LogLevel VERBOSE\n\
             AllowTcpForwarding yes\n",
            port = self.port
        )
    }

    /// Kills sshd and everything it started (the per-connection servers are in sessions of
    /// their own, so they are found by parent PID, not by process group).
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as i32;
        let tree = descendants(pid);
        let _ = child.kill();
        let _ = child.wait();
        for p in tree {
            kill(p);
        }
    }

    /// Kills the per-connection servers only (a connection reset); sshd keeps listening.
    pub fn kill_connections(&self) {
        if let Some(child) = &self.child {
            for p in descendants(child.id() as i32) {
                kill(p);
            }
        }
    }

    /// A path in the server's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A spec for `command` on this server as the test user with `id_ed25519`.
    pub fn spec(&self, command: &str) -> Ssh {
        Ssh {
            host: "127.0.0.1".into(),
            port: Some(IntOrTemplate::Int(self.port.into())),
            user: Some(self.user.clone()),
            command: Some(command.into()),
            argv: None,
            identity: Some(self.path("id_ed25519").display().to_string()),
            passphrase: None,
            jump: vec![],
            host_key: None,
            known_hosts: Some(self.known_hosts.display().to_string()),
        }
    }

    /// Logins the server accepted so far (one per SSH connection).
    pub fn logins(&self) -> usize {
        read(&self.log).matches("Accepted publickey").count()
    }

    /// The sshd log, for assertion messages.
    pub fn log_text(&self) -> String {
        read(&self.log)
    }
}

/// A private `ssh-agent` on a socket in `dir`; killed on drop.
pub struct Agent {
    pub socket: PathBuf,
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    pub fn start(dir: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ssh-agent (openssh-client)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent made no socket");
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent { socket, child }
    }

    /// `ssh-add`s a private key (unencrypted).
    pub fn add(&self, key: &Path) {
        run(Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket));
    }
}

/// `SHA256:…` of a public key file.
pub fn fingerprint(public_key: &Path) -> String {
    let out = output(Command::new("ssh-keygen").arg("-lf").arg(public_key));
    out.split_whitespace()
        .nth(1)
        .expect("ssh-keygen -lf output")
        .to_string()
}

/// A TCP port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
    listener.local_addr().expect("local address").port()
}

fn keygen(path: &Path, kind: &str, passphrase: &str) {
    let mut c = Command::new("ssh-keygen");
    c.args([
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "labcert-test",
        "-f",
    ])
    .arg(path);
    if kind == "rsa" {
        c.args(["-b", "2048"]);
    }
    run(&mut c);
}

fn run(c: &mut Command) {
    let status = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running {c:?}: {e}"));
    assert!(status.success(), "{c:?} failed: {status}");
}

fn output(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("running {c:?}: {e}"));
    assert!(out.status.success(), "{c:?} failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
