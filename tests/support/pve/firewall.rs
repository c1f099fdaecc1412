//! The PVE firewall's options (cluster, node, VM level) and a VM's rules. Booleans are
//! 0/1; an option never set is absent, and absent means the level's default (cluster
//! `enable`: 0, node `enable`: 1, VM `enable`: 0).

use serde_json::{Map, Value, json};

use super::api::{ApiError, Params};

pub type Options = Map<String, Value>;
pub type Rule = Map<String, Value>;

/// Which options file: each level knows other options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Cluster,
    Node,
    Vm,
}

const POLICIES: &[&str] = &["ACCEPT", "REJECT", "DROP"];

impl Level {
    fn booleans(self) -> &'static [&'static str] {
        match self {
            Level::Cluster => &["enable", "ebtables"],
            Level::Node => &["enable", "nftables", "nosmurfs", "tcpflags", "ndp"],
            Level::Vm => &["enable", "dhcp", "ipfilter", "macfilter", "ndp", "radv"],
        }
    }

    fn texts(self) -> &'static [&'static str] {
        match self {
            Level::Cluster => &["policy_in", "policy_out", "log_ratelimit"],
            Level::Node => &["log_level_in", "log_level_out"],
            Level::Vm => &["policy_in", "policy_out", "log_level_in", "log_level_out"],
        }
    }
}

/// The cluster options of a lab that runs the firewall.
pub fn cluster_defaults() -> Options {
    match json!({"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT", "ebtables": 1}) {
        Value::Object(m) => m,
        _ => Options::new(),
    }
}

/// `PUT …/firewall/options`: sets what is sent, removes what `delete` names.
pub fn put_options(options: &mut Options, p: &Params, level: Level) -> Result<(), ApiError> {
    p.only(|k| {
        matches!(k, "delete" | "digest")
            || level.booleans().contains(&k)
            || level.texts().contains(&k)
    })?;
    for k in ["policy_in", "policy_out"] {
        p.one_of(k, POLICIES)?;
    }
    for k in level.booleans() {
        if let Some(v) = p.boolean(k)? {
            options.insert(k.to_string(), v.into());
        }
    }
    for k in level.texts() {
        if let Some(v) = p.get(k) {
            options.insert(k.to_string(), v.into());
        }
    }
    for k in p.delete_list() {
        options.remove(&k);
    }
    Ok(())
}

/// `POST …/firewall/rules`: a new rule at `pos` (default 0, the top); the rest move down.
/// A rule is disabled unless `enable=1` is sent.
pub fn add_rule(rules: &mut Vec<Rule>, p: &Params) -> Result<(), ApiError> {
    p.only(|k| {
        matches!(
            k,
            "type"
                | "action"
                | "proto"
                | "dport"
                | "sport"
                | "source"
                | "dest"
                | "enable"
                | "comment"
                | "iface"
                | "log"
                | "macro"
                | "pos"
                | "digest"
                | "icmp-type"
        )
    })?;
    let missing = |k: &str| ApiError::param(k, "property is missing and it is not optional");
    let kind = p
        .one_of("type", &["in", "out", "group", "forward"])?
        .ok_or_else(|| missing("type"))?;
    let action = p.get("action").ok_or_else(|| missing("action"))?;
    let pos = p.integer("pos", 0, 65535)?.unwrap_or(0) as usize;
    let mut rule = Rule::new();
    rule.insert("type".into(), kind.into());
    rule.insert("action".into(), action.into());
    for k in [
        "proto",
        "dport",
        "sport",
        "source",
        "dest",
        "comment",
        "iface",
        "log",
        "macro",
        "icmp-type",
    ] {
        if let Some(v) = p.get(k) {
            rule.insert(k.into(), v.into());
        }
    }
    rule.insert("enable".into(), p.boolean("enable")?.unwrap_or(0).into());
    rules.insert(pos.min(rules.len()), rule);
    for (i, r) in rules.iter_mut().enumerate() {
        r.insert("pos".into(), i.into());
    }
    Ok(())
}
