//! The reachability catalog's inputs for a running lab: endpoints (vm1–vm3 on PVE, cloud1
//! as the AWS instance), the deny paths the router drops, the PVE nodes, the names the
//! runner must resolve, the cloud API, the mirror URL, and the client key and
//! `known_hosts`. Also `pve.cert_vms`, whose names the reachability endpoints must match.

use serde_json::{Value, json};

use super::layout::{CLOUD_API_NAME, Host, Role};
use super::servers::MIRROR_PATH;
use super::sshd::Keys;

/// A path that must stay closed: `from` must not reach `to`'s `port`.
pub struct Deny {
    pub id: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub port: u16,
    pub why: &'static str,
}

/// The deny paths the vars list; the router drops all of them (and more: every test or
/// cloud address to every node's 22 and 8006).
pub const DENY: [Deny; 3] = [
    Deny {
        id: "vm-to-pve-ssh",
        from: "vm1",
        to: "pve1",
        port: 22,
        why: "test VMs must not reach the hypervisor's SSH",
    },
    Deny {
        id: "vm-to-pve-api",
        from: "vm3",
        to: "pve2",
        port: 8006,
        why: "test VMs must not reach the PVE management API",
    },
    Deny {
        id: "aws-to-pve-api",
        from: "cloud1",
        to: "pve1",
        port: 8006,
        why: "cloud instances must not reach the PVE management API",
    },
];

fn find<'a>(hosts: &'a [Host], name: &str) -> &'a Host {
    hosts
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("no host {name} in the lab"))
}

pub fn endpoints(hosts: &[Host]) -> Value {
    hosts
        .iter()
        .filter_map(|h| {
            let provider = h.provider?;
            let mut e = json!({
                "name": h.name, "provider": provider, "host": h.ssh.to_string(),
                "addr": h.addr.to_string(), "port": 22, "user": h.user,
            });
            if provider == "pve" {
                e["vlan"] = json!(h.vlan);
                e["mac"] = json!(h.mac);
                e["gateway"] = json!(h.gateway.to_string());
            }
            Some(e)
        })
        .collect()
}

pub fn deny(hosts: &[Host]) -> Value {
    DENY.iter()
        .map(|d| {
            json!({
                "id": d.id, "from": d.from, "addr": find(hosts, d.to).addr.to_string(),
                "port": d.port, "why": d.why,
            })
        })
        .collect()
}

pub fn pve_nodes(hosts: &[Host]) -> Value {
    hosts
        .iter()
        .filter(|h| h.role == Role::PveNode)
        .map(|h| json!({ "name": h.name, "fqdn": h.fqdn, "addr": h.addr.to_string() }))
        .collect()
}

/// The nodes and the mirror (with their addresses, so `dns.pinned` runs too) and the cloud
/// API's name (only when aws is certified).
pub fn dns_names(hosts: &[Host]) -> Value {
    let mut names: Vec<Value> = hosts
        .iter()
        .filter(|h| matches!(h.role, Role::PveNode | Role::Mirror))
        .map(|h| json!({ "name": h.fqdn, "address": h.addr.to_string() }))
        .collect();
    let api = hosts.iter().find(|h| h.role == Role::CloudApi);
    if let Some(api) = api {
        names.push(json!({
            "name": CLOUD_API_NAME, "address": api.addr.to_string(), "provider": "aws",
        }));
    }
    Value::Array(names)
}

pub fn cloud_apis() -> Value {
    json!([{ "provider": "aws", "url": format!("http://{CLOUD_API_NAME}/") }])
}

pub fn mirror_url(hosts: &[Host]) -> String {
    let mirror = hosts
        .iter()
        .find(|h| h.role == Role::Mirror)
        .expect("a mirror");
    format!("http://{}{MIRROR_PATH}", mirror.fqdn)
}

/// Every input of the reachability catalog, for `--var reachability.<name>=<json>`.
pub fn reachability(hosts: &[Host], keys: &Keys) -> Vec<(&'static str, Value)> {
    vec![
        ("endpoints", endpoints(hosts)),
        ("deny", deny(hosts)),
        ("pve_nodes", pve_nodes(hosts)),
        ("dns_names", dns_names(hosts)),
        ("cloud_apis", cloud_apis()),
        ("ssh_identity", json!(keys.identity.display().to_string())),
        ("known_hosts", json!(keys.known_hosts.display().to_string())),
        ("mirror_url", json!(mirror_url(hosts))),
        ("mtu", json!(1500)),
    ]
}

/// `pve.cert_vms` for the lab's PVE endpoints: vm1 on pve1, the others on pve2.
pub fn cert_vms(hosts: &[Host]) -> Value {
    hosts
        .iter()
        .filter(|h| h.role == Role::PveVm)
        .enumerate()
        .map(|(i, h)| {
            json!({
                "name": h.name,
                "node": if i == 0 { "pve1" } else { "pve2" },
                "vmid": 4101 + i,
                "mac": h.mac,
                "ip": h.addr.to_string(),
                "ipconfig0": format!("ip={}/{},gw={}", h.addr, h.prefix, h.gateway),
            })
        })
        .collect()
}
