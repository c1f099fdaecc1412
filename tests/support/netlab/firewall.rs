//! nftables rules: the router's deny policy (the paths the design forbids, silently
//! dropped) and the faults a test injects on a host (a port refused or dropped for one
//! source).

use std::net::Ipv4Addr;

use super::exec::in_ns;
use super::layout::Deny;

/// The router's table: forwarding is open except for chain `deny`, which drops (no answer,
/// so a probe sees a timeout) every path of `deny`.
pub fn router_rules(deny: &[Deny]) -> String {
    let set = |items: Vec<String>| format!("{{ {} }}", items.join(", "));
    let rules: String = deny
        .iter()
        .map(|d| {
            format!(
                "    ip saddr {} ip daddr {} tcp dport {} drop\n",
                set(d.from.clone()),
                set(d.to.iter().map(Ipv4Addr::to_string).collect()),
                set(d.ports.iter().map(u16::to_string).collect()),
            )
        })
        .collect();
    format!(
        "table inet netlab {{\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority 0; policy accept;\n\
         \x20   jump deny\n\
         \x20 }}\n\
         \x20 chain deny {{\n\
         {rules}\
         \x20 }}\n\
         }}\n"
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
