//! A node's network as PVE's Network API sees it (pve-manager `PVE/API2/Network.pm`):
//! `/etc/network/interfaces` (running) and `interfaces.new` (pending). Every API write
//! goes to the pending file; GET reads the pending file when there is one and adds a
//! top-level `changes` diff; `PUT /nodes/{node}/network` (ifreload, a task) makes it the
//! running one, `DELETE /nodes/{node}/network` throws it away.
//!
//! The PUT trap (research §1.1 item 10): PVE recomputes `method`/`families` from the
//! submitted form alone, so a PUT without `cidr` turns a bridge that carries an address
//! into `manual` and its address and gateway are gone after the reload. PVE merges the
//! other settings; this fixture is stricter on purpose and drops every setting a PUT does
//! not re-send (except those PVE always writes: `bridge_stp`, `bridge_fd`, …), so a repair
//! that relies on anything but a complete read-then-write visibly breaks the interface.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::api::{self, ApiError, Data, Params};
use super::lab::{Lab, NodeSpec};

/// One interface's settings, keyed as PVE's JSON shows them.
pub type Iface = Map<String, Value>;

const TYPES: &[&str] = &[
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "unknown",
];

/// What a create or update may set besides `type` (PVE's `confdesc`, Linux part).
const SETTABLE: &[&str] = &[
    "comments",
    "comments6",
    "autostart",
    "bridge_vlan_aware",
    "bridge_ports",
    "bridge_vids",
    "slaves",
    "bond_mode",
    "bond-primary",
    "bond_xmit_hash_policy",
    "gateway",
    "netmask",
    "address",
    "cidr",
    "gateway6",
    "netmask6",
    "address6",
    "cidr6",
    "mtu",
    "vlan-id",
    "vlan-raw-device",
];

/// Kept across an update: PVE writes them whatever the form says.
const KEPT: &[&str] = &[
    "priority",
    "bridge_stp",
    "bridge_fd",
    "bond-miimon",
    "options",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Network {
    /// `/etc/network/interfaces`: what the node runs.
    pub running: BTreeMap<String, Iface>,
    /// `/etc/network/interfaces.new`: written by the API, applied by a reload.
    pub pending: Option<BTreeMap<String, Iface>>,
}

fn obj(v: Value) -> Iface {
    match v {
        Value::Object(m) => m,
        _ => Iface::new(),
    }
}

fn put(ifaces: &mut BTreeMap<String, Iface>, name: &str, mut iface: Iface) {
    if ifaces.contains_key(name) {
        return;
    }
    iface.insert("priority".into(), (ifaces.len() as u64 + 1).into());
    ifaces.insert(name.into(), iface);
}

impl Network {
    /// The node's network as the lab describes it: NICs, bonds, bridges, gateway VLANs.
    pub fn for_node(lab: &Lab, node: &NodeSpec) -> Network {
        let mut ifaces = BTreeMap::new();
        let eth = || {
            obj(
                json!({"type": "eth", "method": "manual", "method6": "manual", "families": ["inet"]}),
            )
        };
        for b in lab.bridges_on(&node.name) {
            for port in b.ports.split_whitespace() {
                match port
                    .strip_prefix("bond")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    Some(n) => {
                        let slaves = [format!("eno{}", 2 + 2 * n), format!("eno{}", 3 + 2 * n)];
                        for s in &slaves {
                            put(&mut ifaces, s, eth());
                        }
                        let bond = json!({
                            "type": "bond", "method": "manual", "method6": "manual",
                            "families": ["inet"], "autostart": 1, "slaves": slaves.join(" "),
                            "bond_mode": "802.3ad", "bond_xmit_hash_policy": "layer3+4",
                            "bond-miimon": "100",
                        });
                        put(&mut ifaces, port, obj(bond));
                    }
                    None => put(&mut ifaces, port, eth()),
                }
            }
        }
        for b in lab.bridges_on(&node.name) {
            let mut bridge = obj(json!({
                "type": "bridge", "method": "manual", "method6": "manual", "families": ["inet"],
                "autostart": 1, "bridge_ports": b.ports, "bridge_stp": "off", "bridge_fd": "0",
                "bridge_vlan_aware": 1, "bridge_vids": b.vids,
            }));
            if b.carries_management {
                bridge.insert("method".into(), "static".into());
                bridge.insert("address".into(), node.ip.clone().into());
                bridge.insert("netmask".into(), "24".into());
                bridge.insert("gateway".into(), lab.management_gateway.clone().into());
            }
            put(&mut ifaces, &b.iface, bridge);
        }
        for g in lab.gateways.iter().filter(|g| g.node == node.name) {
            let (raw, vid) = g.iface.split_once('.').unwrap_or((&g.iface, ""));
            let vlan = json!({
                "type": "vlan", "method": "static", "method6": "manual", "families": ["inet"],
                "autostart": 1, "address": g.address, "netmask": "24",
                "vlan-raw-device": raw, "vlan-id": vid,
            });
            put(&mut ifaces, &g.iface, obj(vlan));
        }
        Network {
            running: ifaces,
            pending: None,
        }
    }

    /// What GET reads: the pending file when there is one.
    pub fn current(&self) -> &BTreeMap<String, Iface> {
        self.pending.as_ref().unwrap_or(&self.running)
    }

    /// The pending file, created from the running one on the first write.
    pub fn pending_mut(&mut self) -> &mut BTreeMap<String, Iface> {
        let running = &self.running;
        self.pending.get_or_insert_with(|| running.clone())
    }

    /// `GET /nodes/{node}/network[?type=…]`. A filtered list reports `active` as the
    /// string "1" (both shapes occur in the wild; clients must coerce).
    /// Without `sees_bridges` (no SDN.Audit or SDN.Use) bridges are left out.
    pub fn list(&self, kind: Option<&str>, sees_bridges: bool) -> Result<Data, ApiError> {
        if let Some(k) = kind
            && !TYPES.contains(&k)
            && k != "any_bridge"
            && k != "any_local_bridge"
        {
            return Err(ApiError::param(
                "type",
                format!("value '{k}' does not have a value in the enumeration"),
            ));
        }
        let rows: Vec<Value> = self
            .current()
            .iter()
            .filter(|(_, i)| {
                let t = i.get("type").and_then(Value::as_str).unwrap_or("");
                if !sees_bridges && (t == "bridge" || t == "OVSBridge") {
                    return false;
                }
                match kind {
                    None => true,
                    Some("any_bridge" | "any_local_bridge") => t == "bridge" || t == "OVSBridge",
                    Some(k) => t == k,
                }
            })
            .map(|(name, i)| self.view(name, i, kind.is_some()))
            .collect();
        Ok(Data {
            data: Value::Array(rows),
            changes: self.changes(),
        })
    }

    /// `GET /nodes/{node}/network/{iface}`.
    pub fn get(&self, name: &str) -> Result<Value, ApiError> {
        let iface = self.current().get(name).ok_or_else(no_such_iface)?;
        Ok(self.view(name, iface, false))
    }

    /// An interface as the API shows it: its settings, `iface`, `cidr`, and the kernel's
    /// view (`active` when the running config has it, `exists` for a NIC).
    fn view(&self, name: &str, iface: &Iface, string_bools: bool) -> Value {
        let mut v = iface.clone();
        v.insert("iface".into(), name.into());
        for suffix in ["", "6"] {
            if let (Some(a), Some(m)) = (
                iface
                    .get(&format!("address{suffix}"))
                    .and_then(Value::as_str),
                iface
                    .get(&format!("netmask{suffix}"))
                    .and_then(Value::as_str),
            ) {
                v.insert(format!("cidr{suffix}"), format!("{a}/{m}").into());
            }
        }
        if self.running.contains_key(name) {
            let one: Value = if string_bools { "1".into() } else { 1.into() };
            v.insert("active".into(), one);
        }
        if iface.get("type").and_then(Value::as_str) == Some("eth") {
            v.insert("exists".into(), 1.into());
        }
        Value::Object(v)
    }

    /// The diff of interfaces.new against interfaces, when they differ.
    pub fn changes(&self) -> Option<String> {
        let pending = self.pending.as_ref()?;
        let d = diff(&render(&self.running), &render(pending));
        (!d.is_empty()).then_some(d)
    }

    /// `PUT /nodes/{node}/network/{iface}` (see the module notes for what is kept).
    pub fn update(&mut self, name: &str, p: &Params) -> Result<(), ApiError> {
        let old = self
            .current()
            .get(name)
            .cloned()
            .ok_or_else(no_such_iface)?;
        let mut new = settings(p, self.current(), name)?;
        for k in KEPT {
            if let Some(v) = old.get(*k) {
                new.entry(k.to_string()).or_insert_with(|| v.clone());
            }
        }
        self.pending_mut().insert(name.into(), new);
        Ok(())
    }

    /// `POST /nodes/{node}/network`: a new interface.
    pub fn create(&mut self, p: &Params) -> Result<(), ApiError> {
        let name = p
            .get("iface")
            .ok_or_else(|| ApiError::param("iface", "property is missing and it is not optional"))?
            .to_string();
        if self.current().contains_key(&name) {
            return Err(ApiError::param("iface", "interface already exists"));
        }
        let mut new = settings(p, self.current(), &name)?;
        if new.get("type").and_then(Value::as_str) == Some("bridge") {
            new.insert("bridge_stp".into(), "off".into());
            new.insert("bridge_fd".into(), "0".into());
        }
        put(self.pending_mut(), &name, new);
        Ok(())
    }

    /// `DELETE /nodes/{node}/network/{iface}`.
    pub fn remove(&mut self, name: &str) -> Result<(), ApiError> {
        if !self.current().contains_key(name) {
            return Err(no_such_iface());
        }
        self.pending_mut().remove(name);
        Ok(())
    }

    /// A person's edit, staged: the bridge carrying `ip` becomes `manual` (no address, no
    /// gateway) and a new VLAN interface `<bridge>.99` takes the address and gateway.
    pub fn move_address_to_vlan(&mut self, ip: &str) {
        let pending = self.pending_mut();
        let Some((name, bridge)) = pending
            .iter_mut()
            .find(|(_, i)| i.get("address").and_then(Value::as_str) == Some(ip))
        else {
            return;
        };
        let name = name.clone();
        let mut vlan = Iface::new();
        for k in ["address", "netmask", "gateway"] {
            if let Some(v) = bridge.remove(k) {
                vlan.insert(k.into(), v);
            }
        }
        bridge.insert("method".into(), "manual".into());
        for (k, v) in [
            ("type", json!("vlan")),
            ("method", json!("static")),
            ("method6", json!("manual")),
            ("families", json!(["inet"])),
            ("autostart", json!(1)),
            ("vlan-raw-device", json!(name)),
            ("vlan-id", json!("99")),
        ] {
            vlan.insert(k.into(), v);
        }
        put(pending, &format!("{name}.99"), vlan);
    }

    /// `DELETE /nodes/{node}/network`: unlink interfaces.new.
    pub fn revert(&mut self) {
        self.pending = None;
    }

    /// The reload task's work: interfaces.new becomes the running config.
    pub fn reload(&mut self) {
        if let Some(p) = self.pending.take() {
            self.running = p;
        }
    }

    /// Whether the running config still gives the node `ip` (its management address).
    pub fn has_address(&self, ip: &str) -> bool {
        self.running.values().any(|i| {
            i.get("method").and_then(Value::as_str) == Some("static")
                && i.get("address").and_then(Value::as_str) == Some(ip)
        })
    }

    /// A running interface's settings.
    pub fn iface(&self, name: &str) -> Option<&Iface> {
        self.running.get(name)
    }
}

fn no_such_iface() -> ApiError {
    ApiError::param("iface", "interface does not exist")
}

/// An interface from a create/update form, checked as PVE's schema checks it.
fn settings(p: &Params, others: &BTreeMap<String, Iface>, name: &str) -> Result<Iface, ApiError> {
    p.only(|k| matches!(k, "type" | "delete" | "digest") || SETTABLE.contains(&k) || k == "iface")?;
    let kind = p
        .one_of("type", TYPES)?
        .ok_or_else(|| ApiError::param("type", "property is missing and it is not optional"))?;
    // The schema check reports every failing parameter at once.
    let mut checks = vec![
        p.format(
            "cidr",
            api::is_cidr4,
            "value does not look like a valid IPv4 CIDR network",
        )
        .map(drop),
        p.format(
            "cidr6",
            api::is_cidr6,
            "value does not look like a valid IPv6 CIDR network",
        )
        .map(drop),
    ];
    for k in ["gateway", "address", "netmask"] {
        checks.push(
            p.format(
                k,
                api::is_ipv4,
                "value does not look like a valid IPv4 address",
            )
            .map(drop),
        );
    }
    for k in ["gateway6", "address6"] {
        checks.push(
            p.format(
                k,
                api::is_ipv6,
                "value does not look like a valid IPv6 address",
            )
            .map(drop),
        );
    }
    checks.push(
        p.format(
            "bridge_vids",
            api::is_vid_list,
            "invalid VLAN configuration",
        )
        .map(drop),
    );
    checks.push(p.integer("mtu", 1280, 65520).map(drop));
    ApiError::all(checks)?;
    if p.get("cidr").is_some() && p.get("address").is_some() {
        return Err(ApiError::param("address", "address conflicts with cidr"));
    }
    let mut out = Iface::new();
    out.insert("type".into(), kind.into());
    for k in SETTABLE {
        let Some(v) = p.get(k) else { continue };
        let value: Value = match *k {
            "autostart" | "bridge_vlan_aware" => p.boolean(k)?.unwrap_or(0).into(),
            "bridge_vids" => api::split_list(v).join(" ").into(),
            _ => v.into(),
        };
        out.insert(k.to_string(), value);
    }
    for suffix in ["", "6"] {
        if let Some(cidr) = out.remove(&format!("cidr{suffix}")) {
            let (a, m) = cidr
                .as_str()
                .and_then(|c| c.split_once('/'))
                .unwrap_or(("", ""));
            out.insert(format!("address{suffix}"), a.into());
            out.insert(format!("netmask{suffix}"), m.into());
        }
    }
    let (v4, v6) = (out.contains_key("address"), out.contains_key("address6"));
    let mut families = Vec::new();
    if v4 {
        families.push("inet");
    }
    if v6 {
        families.push("inet6");
    }
    if families.is_empty() {
        families.push("inet");
    }
    let method = if v4 { "static" } else { "manual" };
    let method6 = if v6 { "static" } else { "manual" };
    out.insert("families".into(), json!(families));
    out.insert("method".into(), method.into());
    out.insert("method6".into(), method6.into());
    for (key, label) in [
        ("gateway", "Default gateway"),
        ("gateway6", "Default ipv6 gateway"),
    ] {
        if out.contains_key(key)
            && let Some((other, _)) = others
                .iter()
                .find(|(n, i)| n.as_str() != name && i.contains_key(key))
        {
            return Err(ApiError::param(
                key,
                format!("{label} already exists on interface '{other}'."),
            ));
        }
    }
    Ok(out)
}

/// The interfaces file PVE would write for `ifaces`.
pub fn render(ifaces: &BTreeMap<String, Iface>) -> String {
    let text = |i: &Iface, k: &str| -> Option<String> {
        i.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let mut order: Vec<(&String, &Iface)> = ifaces.iter().collect();
    order.sort_by_key(|(_, i)| i.get("priority").and_then(Value::as_u64).unwrap_or(0));
    let mut out = String::from("auto lo\niface lo inet loopback\n\n");
    for (name, i) in order {
        if text(i, "autostart").as_deref() == Some("1") {
            out.push_str(&format!("auto {name}\n"));
        }
        for suffix in ["", "6"] {
            let method = text(i, &format!("method{suffix}")).unwrap_or("manual".into());
            if suffix == "6" && method != "static" {
                continue;
            }
            out.push_str(&format!("iface {name} inet{suffix} {method}\n"));
            if let (Some(a), Some(m)) = (
                text(i, &format!("address{suffix}")),
                text(i, &format!("netmask{suffix}")),
            ) && method == "static"
            {
                out.push_str(&format!("\taddress {a}/{m}\n"));
                if let Some(g) = text(i, &format!("gateway{suffix}")) {
                    out.push_str(&format!("\tgateway {g}\n"));
                }
            }
        }
        let mut line = |k: &str, v: String| out.push_str(&format!("\t{k} {v}\n"));
        match text(i, "type").as_deref() {
            Some("bond") => {
                line("bond-slaves", text(i, "slaves").unwrap_or("none".into()));
                line(
                    "bond-miimon",
                    text(i, "bond-miimon").unwrap_or("100".into()),
                );
                line(
                    "bond-mode",
                    text(i, "bond_mode").unwrap_or("balance-rr".into()),
                );
                if let Some(h) = text(i, "bond_xmit_hash_policy") {
                    line("bond-xmit-hash-policy", h);
                }
            }
            Some("bridge") => {
                line(
                    "bridge-ports",
                    text(i, "bridge_ports").unwrap_or("none".into()),
                );
                line("bridge-stp", text(i, "bridge_stp").unwrap_or("off".into()));
                line("bridge-fd", text(i, "bridge_fd").unwrap_or("0".into()));
                if text(i, "bridge_vlan_aware").as_deref() == Some("1") {
                    line("bridge-vlan-aware", "yes".into());
                    line(
                        "bridge-vids",
                        text(i, "bridge_vids").unwrap_or("2-4094".into()),
                    );
                }
            }
            _ => {}
        }
        if let Some(mtu) = text(i, "mtu") {
            line("mtu", mtu);
        }
        if let Some(c) = text(i, "comments") {
            for l in c.lines() {
                out.push_str(&format!("#{l}\n"));
            }
        }
        out.push('\n');
    }
    out
}

/// A unified diff of two texts (one hunk, full context), empty when they are equal.
pub fn diff(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence lengths of the suffixes.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = format!(
        "--- /etc/network/interfaces\n+++ /etc/network/interfaces.new\n@@ -1,{} +1,{} @@\n",
        a.len(),
        b.len()
    );
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}
