//! The lab's network namespaces and their wiring: a `switch` namespace holding one bridge per
//! VLAN, a `router` namespace with a port on each, and one namespace per host whose `eth0`
//! is a veth into its VLAN's bridge. Nothing is created in the test's own namespace, so
//! the lab has no path to the host's network and two labs cannot collide, whatever subnet
//! they use.
//!
//! Names are `lcnl-<pid>-<n>-<host>`: [`remove_stale`] deletes those of test processes that
//! died before their drop (killing what still runs inside), with their `/etc/netns` files.

use std::net::Ipv4Addr;
use std::path::Path;

use super::exec::{ip, ip_quiet, kill, pids_in, run, tool};
use super::layout::Plan;

/// Prefix of every namespace (and `/etc/netns` directory) a lab makes.
pub const PREFIX: &str = "lcnl";

/// The lab's namespaces; deleted on drop, after killing anything still running in them.
pub struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    pub fn new() -> Namespaces {
        Namespaces { names: Vec::new() }
    }

    /// `ip netns add name`, remembered for the drop.
    pub fn add(&mut self, name: &str) {
        ip(&["netns", "add", name]);
        self.names.push(name.to_string());
    }

    /// Writes `/etc/netns/<ns>/resolv.conf`: `ip netns exec` shows it as `/etc/resolv.conf`.
    pub fn resolver(&self, ns: &str, nameserver: Ipv4Addr) {
        let dir = format!("/etc/netns/{ns}");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let text = format!("nameserver {nameserver}\noptions timeout:1 attempts:2\n");
        std::fs::write(format!("{dir}/resolv.conf"), text)
            .unwrap_or_else(|e| panic!("{dir}/resolv.conf: {e}"));
    }

    /// Makes `user` an alias of root inside `ns`: `/etc/netns/<ns>/passwd` is the machine's
    /// with one line added, so nothing is added to the machine's own accounts.
    pub fn login(&self, ns: &str, user: &str) {
        // A user the machine has too is replaced by the alias inside the namespace.
        let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
        let mut passwd: String = passwd
            .lines()
            .filter(|l| l.split(':').next() != Some(user))
            .map(|l| format!("{l}\n"))
            .collect();
        passwd.push_str(&format!("{user}:x:0:0:netlab login:/root:/bin/bash\n"));
        let path = format!("/etc/netns/{ns}/passwd");
        std::fs::write(&path, passwd).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.names.iter().rev() {
            remove(ns);
        }
    }
}

/// Kills what runs in `ns`, deletes it (its veths and bridges go with it) and its
/// `/etc/netns` directory.
fn remove(ns: &str) {
    for pid in pids_in(ns) {
        kill(pid);
    }
    ip_quiet(&["netns", "del", ns]);
    let _ = std::fs::remove_dir_all(format!("/etc/netns/{ns}"));
}

/// Deletes `lcnl-<pid>-…` namespaces, `/etc/netns` directories and temp dirs whose test
/// process is gone (killed before its drop), killing what still runs in the namespaces.
pub fn remove_stale() {
    let dead = |name: &str| {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
        else {
            return false;
        };
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new(&format!("/proc/{pid}")).exists()
    };
    for dir in ["/run/netns", "/etc/netns"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if dead(&name) {
                remove(&name);
            }
        }
    }
    // The temp dirs last: a stale sshd's files stay until the process is gone.
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if dead(&name) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs `lines` as one `ip -n ns -batch -`.
fn batch(ns: &str, lines: &[String]) {
    let text = lines.join("\n") + "\n";
    run(&tool("ip"), &["-n", ns, "-batch", "-"], Some(&text))
        .unwrap_or_else(|e| panic!("{e}\nbatch:\n{text}"));
}

/// Builds the switch (one bridge per VLAN), the router (a port on each with its addresses,
/// forwarding) and every host's `eth0` with its addresses, MAC and default route.
pub fn wire(switch: &str, router: &str, plan: &Plan) {
    let mut sw = Vec::new();
    for n in &plan.nets {
        sw.push(format!("link add br{} type bridge", n.vlan));
        sw.push(format!("link set br{} up", n.vlan));
        let port = format!("r-{}", n.vlan);
        sw.push(format!(
            "link add {port} type veth peer name v{} netns {router}",
            n.vlan
        ));
        sw.push(format!("link set {port} master br{}", n.vlan));
        sw.push(format!("link set {port} up"));
    }
    for h in &plan.hosts {
        sw.push(format!(
            "link add {} type veth peer name eth0 netns {}",
            h.port, h.ns
        ));
        sw.push(format!("link set {} master br{}", h.port, h.vlan));
        sw.push(format!("link set {} up", h.port));
    }
    batch(switch, &sw);

    let mut r = vec!["link set lo up".to_string()];
    for n in &plan.nets {
        for (addr, len) in &n.router {
            r.push(format!("addr add {addr}/{len} dev v{}", n.vlan));
        }
        r.push(format!("link set v{} up", n.vlan));
    }
    batch(router, &r);
    run(
        &tool("ip"),
        &[
            "netns",
            "exec",
            router,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
        ],
        None,
    )
    .unwrap_or_else(|e| panic!("enabling forwarding in the router: {e}"));

    for h in &plan.hosts {
        let mut lines = vec![
            "link set lo up".to_string(),
            format!("link set eth0 address {}", h.mac),
        ];
        for a in h.addrs() {
            lines.push(format!("addr add {a}/{} dev eth0", h.prefix));
        }
        lines.push("link set eth0 up".to_string());
        // A host with a public address (a cloud instance) still speaks from its private one.
        let src = if h.ssh != h.addr {
            format!(" src {}", h.addr)
        } else {
            String::new()
        };
        lines.push(format!("route add default via {}{src}", h.gateway));
        batch(&h.ns, &lines);
    }
}
