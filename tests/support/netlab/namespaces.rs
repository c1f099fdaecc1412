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
use super::layout::{Host, PREFIX_LEN, VLANS, gateway};

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

/// Builds the switch (one bridge per VLAN), the router (a port on each, forwarding) and
/// every host's `eth0` with its address, MAC and default route.
pub fn wire(x: u8, switch: &str, router: &str, hosts: &[Host]) {
    let mut sw = Vec::new();
    for v in VLANS {
        sw.push(format!("link add br{} type bridge", v.id));
        sw.push(format!("link set br{} up", v.id));
    }
    for v in VLANS {
        let port = format!("r-{}", v.id);
        sw.push(format!(
            "link add {port} type veth peer name v{} netns {router}",
            v.id
        ));
        sw.push(format!("link set {port} master br{}", v.id));
        sw.push(format!("link set {port} up"));
    }
    for h in hosts {
        let port = port(h.name);
        sw.push(format!(
            "link add {port} type veth peer name eth0 netns {}",
            h.ns
        ));
        sw.push(format!("link set {port} master br{}", h.vlan));
        sw.push(format!("link set {port} up"));
    }
    batch(switch, &sw);

    let mut r = vec!["link set lo up".to_string()];
    for v in VLANS {
        r.push(format!(
            "addr add {}/{PREFIX_LEN} dev v{}",
            gateway(x, v.id),
            v.id
        ));
        r.push(format!("link set v{} up", v.id));
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

    for h in hosts {
        batch(
            &h.ns,
            &[
                "link set lo up".to_string(),
                format!("link set eth0 address {}", h.mac),
                format!("addr add {}/{PREFIX_LEN} dev eth0", h.addr),
                "link set eth0 up".to_string(),
                format!("route add default via {}", h.gateway),
            ],
        );
    }
}

/// A host's port on its VLAN's bridge, in the switch namespace.
pub fn port(host: &str) -> String {
    format!("p-{host}")
}
