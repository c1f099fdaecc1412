//! A lab laid out from a topology's reachability inputs (`endpoints`, `pve_nodes`,
//! `dns_names`, `cloud_apis`, `mirror_url`), so the catalog runs unchanged against it with
//! the topology's own addresses, names, users and MACs — the bundled demo's recording uses
//! it.
//!
//! - the PVE nodes, the runner, the resolver and the mirror share a management VLAN (the
//!   nodes' /24; the mirror keeps the address its DNS name pins);
//! - each PVE endpoint sits on its VLAN, whose `gateway` the router answers on;
//! - the cloud instances share one more VLAN, each holding its public `host` and private
//!   `addr`; the router answers on `.1` (or `.254`) of every /24 they use;
//! - one cloud API stand-in answers every `cloud_apis` URL's name, and every `dns_names`
//!   name without an address, over HTTPS when the URLs say so;
//! - the router drops what the topology's `deny` rules forbid (from the source endpoint's
//!   addresses), and nothing else.
//!
//! Limits (said by a panic when crossed): IPv4 addresses, every PVE node in one /24, deny
//! rules from endpoints, the cloud APIs served on one port (443 when any URL is https),
//! endpoints not named like the lab's own hosts (`dns`, `mirror`, `runner`, `cloudapi`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::Value;

use super::layout::{Api, DOMAIN, Deny, Host, Net, Plan, Role};

/// The vars topology file `path` binds `catalog` with (its `catalogs.<catalog>.vars`), if it
/// binds it.
pub fn binding_vars(path: &Path, catalog: &str) -> Option<serde_json::Map<String, Value>> {
    let mut diags = labcert::diag::Diagnostics::default();
    let Some(labcert::workspace::Loaded::Topology(t)) = labcert::workspace::load(path, &mut diags)
    else {
        panic!("{} does not load as a topology", path.display());
    };
    let binding = t.model.catalogs.get(catalog)?;
    Some(
        binding
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// [`binding_vars`] of a catalog the topology must bind.
pub fn topology_vars(path: &Path, catalog: &str) -> Value {
    Value::Object(
        binding_vars(path, catalog)
            .unwrap_or_else(|| panic!("{} does not bind {catalog}", path.display())),
    )
}

/// The reachability inputs topology file `path` binds.
pub fn topology_inputs(path: &Path) -> Value {
    topology_vars(path, "reachability")
}

/// The /24 holding `a`, as `(first three octets)`.
fn net24(a: Ipv4Addr) -> [u8; 3] {
    let o = a.octets();
    [o[0], o[1], o[2]]
}

fn at(n: [u8; 3], last: u8) -> Ipv4Addr {
    Ipv4Addr::new(n[0], n[1], n[2], last)
}

fn ip(v: &Value, what: &str) -> Ipv4Addr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not an IPv4 address: {v}"))
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .map(str::to_string)
        .or_else(|| v[key].as_u64().map(|n| n.to_string()))
        .unwrap_or_else(|| panic!("missing `{key}` in {v}"))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The host part of a URL.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.split(':').next().unwrap_or(authority).to_string()
}

/// Addresses handed out so far, and the VLAN ids in use.
struct Alloc {
    taken: BTreeSet<Ipv4Addr>,
    vlans: BTreeSet<u16>,
}

impl Alloc {
    /// The first address of `/24 n` from `.from` upwards that nobody holds.
    fn free(&mut self, n: [u8; 3], from: u8) -> Ipv4Addr {
        let a = (from..=254)
            .map(|o| at(n, o))
            .find(|a| !self.taken.contains(a))
            .unwrap_or_else(|| panic!("no free address in {n:?}"));
        self.taken.insert(a);
        a
    }

    /// `.1` of `n`, or `.254` when `.1` is a host's.
    fn router(&mut self, n: [u8; 3]) -> Ipv4Addr {
        let a = [at(n, 1), at(n, 254)]
            .into_iter()
            .find(|a| !self.taken.contains(a))
            .unwrap_or_else(|| panic!("no router address in {n:?}"));
        self.taken.insert(a);
        a
    }

    /// The first unused VLAN id from `from` upwards.
    fn vlan(&mut self, from: u16) -> u16 {
        let id = (from..4094)
            .find(|v| !self.vlans.contains(v))
            .expect("a VLAN id");
        self.vlans.insert(id);
        id
    }
}

/// The plan for reachability `vars` (a JSON object of the catalog's inputs), its namespaces
/// named `<prefix>-<host>`.
pub fn plan(vars: &Value, prefix: &str) -> Plan {
    let endpoints = vars["endpoints"].as_array().expect("endpoints");
    let nodes = vars["pve_nodes"].as_array().expect("pve_nodes");
    assert!(!nodes.is_empty(), "the lab needs a PVE node");
    let mut alloc = Alloc {
        taken: BTreeSet::new(),
        vlans: BTreeSet::new(),
    };
    for e in endpoints {
        let name = text(e, "name");
        assert!(
            !["dns", "mirror", "runner", "cloudapi"].contains(&name.as_str()),
            "endpoint `{name}` is named like one of the lab's own hosts"
        );
        alloc.taken.insert(ip(&e["addr"], "endpoint addr"));
        alloc.taken.insert(ip(&e["host"], "endpoint host"));
        if let Some(v) = e["vlan"].as_u64() {
            alloc.vlans.insert(v as u16);
        }
    }
    for n in nodes {
        alloc.taken.insert(ip(&n["addr"], "node addr"));
    }
    let names = vars["dns_names"].as_array().cloned().unwrap_or_default();
    let mirror_name = vars["mirror_url"].as_str().map(url_host);
    let mirror_addr = names
        .iter()
        .find(|d| Some(text(d, "name")) == mirror_name)
        .and_then(|d| d["address"].as_str())
        .map(|a| ip(&Value::from(a), "mirror address"));
    alloc.taken.extend(mirror_addr);

    let mut hosts: Vec<Host> = Vec::new();
    let mut nets: Vec<Net> = Vec::new();
    let host = |name: &str, role: Role, vlan: u16, addr: Ipv4Addr, gateway: Ipv4Addr| Host {
        name: leak(name.to_string()),
        role,
        ns: format!("{prefix}-{name}"),
        port: String::new(),
        vlan,
        addr,
        ssh: addr,
        prefix: 24,
        gateway,
        mac: String::new(),
        fqdn: format!("{name}.{DOMAIN}"),
        user: "root".into(),
        provider: None,
    };

    // Management: the nodes, the runner, the resolver, the mirror.
    let mgmt = net24(ip(&nodes[0]["addr"], "node addr"));
    let mgmt_vlan = alloc.vlan(10);
    let mgmt_gw = alloc.router(mgmt);
    let mut mgmt_router = vec![(mgmt_gw, 24)];
    let dns = alloc.free(mgmt, 2);
    hosts.push(host("dns", Role::Dns, mgmt_vlan, dns, mgmt_gw));
    if let Some(a) = mirror_addr {
        let mut m = host("mirror", Role::Mirror, mgmt_vlan, a, mgmt_gw);
        m.fqdn = mirror_name.clone().expect("mirror name");
        if net24(a) != mgmt {
            mgmt_router.push((alloc.router(net24(a)), 24));
            m.gateway = mgmt_router.last().expect("router").0;
        }
        hosts.push(m);
    }
    let runner = alloc.free(mgmt, 10);
    hosts.push(host("runner", Role::Runner, mgmt_vlan, runner, mgmt_gw));
    for n in nodes {
        let a = ip(&n["addr"], "node addr");
        assert_eq!(net24(a), mgmt, "every PVE node in one /24: {n}");
        let mut h = host(&text(n, "name"), Role::PveNode, mgmt_vlan, a, mgmt_gw);
        h.fqdn = text(n, "fqdn");
        hosts.push(h);
    }
    nets.push(Net {
        vlan: mgmt_vlan,
        router: mgmt_router,
    });

    // PVE endpoints, per VLAN, behind their gateways.
    for e in endpoints.iter().filter(|e| e["provider"] == "pve") {
        let vlan = e["vlan"].as_u64().expect("a PVE endpoint's vlan") as u16;
        let gateway = ip(&e["gateway"], "gateway");
        match nets.iter_mut().find(|n| n.vlan == vlan) {
            Some(n) if !n.router.iter().any(|(a, _)| *a == gateway) => n.router.push((gateway, 24)),
            Some(_) => {}
            None => nets.push(Net {
                vlan,
                router: vec![(gateway, 24)],
            }),
        }
        let mut h = host(
            &text(e, "name"),
            Role::PveVm,
            vlan,
            ip(&e["addr"], "addr"),
            gateway,
        );
        h.ssh = ip(&e["host"], "host");
        h.user = text(e, "user");
        h.provider = Some("pve");
        h.mac = e["mac"].as_str().unwrap_or_default().to_lowercase();
        hosts.push(h);
    }

    // Cloud instances and the cloud API stand-in.
    let clouds: Vec<&Value> = endpoints
        .iter()
        .filter(|e| e["provider"] != "pve")
        .collect();
    let cloud_vlan = alloc.vlan(40);
    let mut cloud_router: Vec<(Ipv4Addr, u8)> = Vec::new();
    let mut router_on = |alloc: &mut Alloc, a: Ipv4Addr| -> Ipv4Addr {
        if let Some((r, _)) = cloud_router.iter().find(|(r, _)| net24(*r) == net24(a)) {
            return *r;
        }
        let r = alloc.router(net24(a));
        cloud_router.push((r, 24));
        r
    };
    for e in &clouds {
        let (public, private) = (ip(&e["host"], "host"), ip(&e["addr"], "addr"));
        let gateway = router_on(&mut alloc, public);
        router_on(&mut alloc, private);
        let provider = text(e, "provider");
        let mut h = host(&text(e, "name"), Role::Cloud, cloud_vlan, private, gateway);
        h.ssh = public;
        h.user = text(e, "user");
        h.provider = Some(leak(provider));
        hosts.push(h);
    }
    let api_net = clouds
        .first()
        .map_or(mgmt, |e| net24(ip(&e["host"], "host")));
    let api_addr = alloc.free(api_net, 200);
    let api_gw = if api_net == mgmt {
        mgmt_gw
    } else {
        router_on(&mut alloc, api_addr)
    };
    let api_vlan = if api_net == mgmt {
        mgmt_vlan
    } else {
        cloud_vlan
    };
    hosts.push(host("cloudapi", Role::CloudApi, api_vlan, api_addr, api_gw));
    if !cloud_router.is_empty() {
        nets.push(Net {
            vlan: cloud_vlan,
            router: cloud_router,
        });
    }

    // Names: the cloud API's, and every other name the runner must resolve.
    let urls: Vec<String> = vars["cloud_apis"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| text(a, "url"))
        .collect();
    let mut api_names: Vec<String> = urls.iter().map(|u| url_host(u)).collect();
    let mut records: Vec<(String, Ipv4Addr)> = Vec::new();
    for d in &names {
        let name = text(d, "name");
        if hosts.iter().any(|h| h.fqdn == name) {
            continue;
        }
        match d["address"].as_str() {
            Some(a) => records.push((name, ip(&Value::from(a), "dns_names address"))),
            None => api_names.push(name),
        }
    }
    api_names.sort();
    api_names.dedup();
    records.extend(api_names.iter().map(|n| (n.clone(), api_addr)));
    let https = urls.iter().any(|u| u.starts_with("https://"));

    for (i, h) in hosts.iter_mut().enumerate() {
        h.port = format!("p{i}");
        if h.mac.is_empty() {
            h.mac = format!(
                "02:4c:00:{:02x}:{:02x}:{:02x}",
                h.vlan % 256,
                i,
                h.addr.octets()[3]
            );
        }
    }
    // The topology's deny rules, from the source endpoint's addresses.
    let deny = vars["deny"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let from = text(d, "from");
            let source = hosts
                .iter()
                .find(|h| h.name == from)
                .unwrap_or_else(|| panic!("deny rule from `{from}`, which is no endpoint: {d}"));
            Deny {
                from: source.addrs().iter().map(Ipv4Addr::to_string).collect(),
                to: vec![ip(&d["addr"], "deny addr")],
                ports: vec![text(d, "port").parse().expect("a deny port")],
                source: source.name,
            }
        })
        .collect();
    Plan {
        label: format!(
            "lab laid out from reachability inputs (management {}/24)",
            at(mgmt, 0)
        ),
        nets,
        hosts,
        records,
        deny,
        api: if https {
            Api::Https(api_names)
        } else {
            Api::Http
        },
        timedatectl: true,
    }
}
