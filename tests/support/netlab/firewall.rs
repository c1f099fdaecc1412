//! nftables rules: the router's deny policy (the paths the design forbids, silently
//! dropped) and the faults a test injects on a host (a port refused or dropped for one
//! source).

use std::net::Ipv4Addr;

use super::exec::in_ns;

/// The router's table: forwarding is open except for chain `deny`, which drops (no answer,
/// so a probe sees a timeout) every TCP connection from the test VLANs (20, 30) and the
/// cloud VLAN (40) to a PVE node's SSH or API port.
pub fn router_rules(sources: &[String], pve_nodes: &[Ipv4Addr]) -> String {
    let nodes: Vec<String> = pve_nodes.iter().map(Ipv4Addr::to_string).collect();
    format!(
        "table inet netlab {{\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority 0; policy accept;\n\
         \x20   jump deny\n\
         \x20 }}\n\
         \x20 chain deny {{\n\
         \x20   ip saddr {{ {sources} }} ip daddr {{ {nodes} }} tcp dport {{ 22, 8006 }} drop\n\
         \x20 }}\n\
         }}\n",
        sources = sources.join(", "),
        nodes = nodes.join(", "),
    )
}

/// Loads `rules` in namespace `ns`.
pub fn load(ns: &str, rules: &str) {
    in_ns(ns, &[&super::exec::tool("nft"), "-f", "-"], Some(rules));
}

/// Empties the router's deny chain: every forbidden path opens.
pub fn open_deny(router: &str) {
    in_ns(
        router,
        &[
            &super::exec::tool("nft"),
            "flush",
            "chain",
            "inet",
            "netlab",
            "deny",
        ],
        None,
    );
}

/// What a fault does to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A TCP reset: `connection refused` at once.
    Refuse,
    /// No answer at all: the connection times out.
    Drop,
}

/// In namespace `ns`: TCP from any of `from` to `port` is refused or dropped.
pub fn fault(ns: &str, from: &[Ipv4Addr], port: u16, verdict: Verdict) {
    let from: Vec<String> = from.iter().map(Ipv4Addr::to_string).collect();
    let from = from.join(", ");
    let action = match verdict {
        Verdict::Refuse => "reject with tcp reset",
        Verdict::Drop => "drop",
    };
    let rules = format!(
        "table inet netlab_fault {{\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority 0; policy accept;\n\
         \x20 }}\n\
         }}\n\
         add rule inet netlab_fault input ip saddr {{ {from} }} tcp dport {port} {action}\n"
    );
    load(ns, &rules);
}
