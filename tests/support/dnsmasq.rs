//! A real `dnsmasq` on 127.0.0.1 (installed by `scripts/test.sh`) serving a small zone:
//!
//! | name | record |
//! |---|---|
//! | `a.lab.test` | A 10.1.2.3 |
//! | `host.lab.test` | A 10.1.2.4, AAAA fd00::4 (and its PTR) |
//! | `www.lab.test` | CNAME host.lab.test |
//! | `t.lab.test` | TXT "v=spf1 -all" "second" |
//! | `lab.test` | MX 10 mail.lab.test |
//! | `_ldap._tcp.lab.test` | SRV 1 5 389 ldap.lab.test |
//!
//! Any other name under `lab.test` is NXDOMAIN; names elsewhere are REFUSED (no upstream).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `dnsmasq` serving the `lab.test` zone on a free port of 127.0.0.1; killed on drop.
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP port of 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    socket.local_addr().expect("local address").port()
}

fn dnsmasq_binary() -> &'static str {
    for path in ["/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    "dnsmasq"
}

impl Dnsmasq {
    /// Starts dnsmasq and waits until it answers (a few tries in case the port got taken).
    /// Blocks for a moment at most, so async tests may call it too.
    pub fn start() -> Dnsmasq {
        for _ in 0..5 {
            if let Some(server) = Dnsmasq::try_start() {
                return server;
            }
        }
        panic!("dnsmasq did not start answering on 127.0.0.1 after 5 tries");
    }

    fn try_start() -> Option<Dnsmasq> {
        let port = free_udp_port();
        let child = Command::new(dnsmasq_binary())
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                &format!("--port={port}"),
                // Names under lab.test that are not defined here are NXDOMAIN.
                "--local=/lab.test/",
                "--address=/a.lab.test/10.1.2.3",
                "--host-record=host.lab.test,10.1.2.4,fd00::4",
                "--cname=www.lab.test,host.lab.test",
                "--txt-record=t.lab.test,v=spf1 -all,second",
                "--mx-host=lab.test,mail.lab.test,10",
                "--srv-host=_ldap._tcp.lab.test,ldap.lab.test,389,1,5",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "dnsmasq is not installed; run scripts/test.sh, which installs the test \
                 dependencies (or apt-get install dnsmasq)"
            ),
            Err(e) => panic!("starting dnsmasq: {e}"),
        };
        let mut server = Dnsmasq { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if server.child.try_wait().expect("dnsmasq status").is_some() {
                return None; // exited: most likely the port was taken meanwhile
            }
            if answers(port) {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Whether a DNS server on 127.0.0.1:`port` answers `a.lab.test A` with NOERROR and an
/// answer. A hand-made query, so readiness does not depend on the probe under test.
fn answers(port: u16) -> bool {
    const ID: [u8; 2] = [0x4c, 0x43];
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    // Header: id, flags (RD), 1 question, no other records.
    let mut query = ID.to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in "a.lab.test".split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    if socket.send_to(&query, ("127.0.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    match socket.recv(&mut buf) {
        // Same id, a response, rcode 0, at least one answer.
        Ok(n) if n >= 12 => {
            buf[..2] == ID && buf[2] & 0x80 != 0 && buf[3] & 0x0f == 0 && buf[6..8] != [0, 0]
        }
        _ => false,
    }
}
