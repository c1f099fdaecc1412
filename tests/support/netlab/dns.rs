//! The lab's resolver: `dnsmasq` in the `dns` namespace, authoritative for `lab.test` (every
//! host's FQDN, plus the plan's other records, such as the cloud API names); other names
//! under `lab.test` are NXDOMAIN, names elsewhere REFUSED (no upstream). Every host's `/etc/netns` resolv.conf
//! points at it, so the system resolver inside the lab resolves lab names.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::exec::{command_in, udp_in};
use super::layout::{DOMAIN, Host, Plan};

/// A running dnsmasq; killed on drop.
pub struct Dnsmasq {
    child: Child,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> &'static str {
    ["/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("dnsmasq")
}

impl Dnsmasq {
    /// Starts dnsmasq on `server`'s address, port 53, serving the plan's names (the caller
    /// waits until it answers, with [`answers`]).
    pub fn start(server: &Host, plan: &Plan) -> Dnsmasq {
        // A record of the plan's own overrides a host's name.
        let records: Vec<String> = plan
            .hosts
            .iter()
            .filter(|h| !plan.records.iter().any(|(name, _)| *name == h.fqdn))
            .map(|h| (h.fqdn.clone(), h.addr))
            .chain(plan.records.iter().cloned())
            .map(|(name, addr)| format!("--host-record={name},{addr}"))
            .collect();
        let mut c: Command = command_in(&server.ns, binary());
        c.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            &format!("--listen-address={}", server.addr),
            "--port=53",
            &format!("--local=/{DOMAIN}/"),
        ])
        .args(&records)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = c.spawn().unwrap_or_else(|e| {
            panic!(
                "starting dnsmasq: {e} (scripts/test.sh installs it; or apt-get install dnsmasq)"
            )
        });
        Dnsmasq { child }
    }

    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }
}

/// Whether the server at `server`:53, asked from namespace `from`, answers `name A` with
/// NOERROR and `expect`. A hand-made query, so readiness does not depend on the probe under
/// test.
pub fn answers(from: &str, server: Ipv4Addr, name: &str, expect: Ipv4Addr) -> bool {
    const ID: [u8; 2] = [0x6e, 0x6c];
    let socket = udp_in(from);
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    // Header: id, flags (RD), 1 question, no other records.
    let mut query = ID.to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    if socket
        .send_to(&query, SocketAddr::from((server, 53)))
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 512];
    match socket.recv(&mut buf) {
        // Same id, a response, rcode 0, one answer whose data ends the message (the
        // question is echoed, then the answer: name pointer, type, class, ttl, len, data).
        Ok(n) if n >= 12 + 4 => {
            buf[..2] == ID
                && buf[2] & 0x80 != 0
                && buf[3] & 0x0f == 0
                && buf[6..8] == [0, 1]
                && buf[n - 4..n] == expect.octets()
        }
        _ => false,
    }
}
