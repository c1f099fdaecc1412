//! The lab a fixture starts from: nodes, bridges, templates and certification VMs. The
//! defaults are what `catalogs/topologies/demo.yaml` binds the pve catalog with, so a
//! certification of the demo topology pointed at the fixture passes; the node addresses
//! are the demo's reachability `pve_nodes`.

use std::time::Duration;

/// A cluster member and its management address (on the management bridge).
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    pub ip: String,
}

/// A Linux bridge on every node (or on `node` only): as the catalog's `bridges` var.
#[derive(Debug, Clone)]
pub struct BridgeSpec {
    pub iface: String,
    /// `bridge_ports`: `eno1`, `bond0`, … (a `bondN` port is created with two slaves).
    pub ports: String,
    /// `bridge_vids` exactly as PVE shows it ("2-4094", "20 30").
    pub vids: String,
    /// The node's management address lives on it.
    pub carries_management: bool,
    pub node: Option<String>,
}

/// A VLAN interface a node routes through (`vmbr1.20` with 10.20.0.1/24).
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub node: String,
    pub iface: String,
    pub address: String,
}

/// A VM template as the image pipeline leaves it.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub image_sha256: String,
}

/// A certification VM, cloned from the first template, running with its agent answering.
#[derive(Debug, Clone)]
pub struct VmSpec {
    pub name: String,
    pub node: String,
    pub vmid: u32,
    /// Lower case, as the guest agent reports it (the config shows it upper case).
    pub mac: String,
    pub ip: String,
    pub ipconfig0: String,
    /// The VLAN tag of net0 on the VLAN-aware bridge.
    pub vlan: u16,
}

/// Everything the fixture's state is built from. `Lab::default()` is the demo topology.
#[derive(Debug, Clone)]
pub struct Lab {
    pub cluster_name: String,
    /// `data.release` and `data.version` of GET /version.
    pub release: String,
    pub version: String,
    /// The first node is the one whose API the fixture is (the others are reached through it).
    pub nodes: Vec<NodeSpec>,
    /// Default gateway of the management network.
    pub management_gateway: String,
    pub bridges: Vec<BridgeSpec>,
    pub gateways: Vec<GatewaySpec>,
    pub templates: Vec<TemplateSpec>,
    pub vms: Vec<VmSpec>,
    /// The VMs' network bridge (VLAN-aware, tagged per VM).
    pub vm_bridge: String,
    pub ciuser: String,
    pub ssh_pubkey: String,
    pub runner_cidr: String,
    /// Storages that exist (the first holds the VM disks).
    pub storages: Vec<String>,
    /// `USER@REALM!TOKENID` of the API token.
    pub token_id: String,
    /// How long a task runs unless polled twice first.
    pub task_duration: Duration,
    /// How long after a VM starts its guest agent begins to answer.
    pub agent_boot_delay: Duration,
    /// pveproxy delays every unauthorized answer by 3 seconds.
    pub unauthorized_delay: Duration,
}

fn s(v: &str) -> String {
    v.to_string()
}

/// `v[key]` as a string (numbers too).
fn text(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .map(str::to_string)
        .or_else(|| v[key].as_u64().map(|n| n.to_string()))
        .unwrap_or_else(|| panic!("missing `{key}` in {v}"))
}

fn list<'a>(v: &'a serde_json::Value, key: &str) -> &'a [serde_json::Value] {
    v[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("missing list `{key}`"))
}

impl Lab {
    /// The lab topology file `path` describes: its pve vars (nodes, bridges, gateways,
    /// templates, certification VMs, cloud-init user and key, storage) and the node
    /// addresses of its reachability `pve_nodes`. A VM's VLAN is the one its gateway routes
    /// (`vmbr1.20` → 20); timings are the defaults'.
    pub fn from_topology(path: &std::path::Path) -> Lab {
        use super::super::netlab::from_vars::topology_vars;
        let pve = topology_vars(path, "pve");
        let reach = topology_vars(path, "reachability");
        let addr = |node: &str| {
            list(&reach, "pve_nodes")
                .iter()
                .find(|n| n["name"] == node)
                .map(|n| text(n, "addr"))
                .unwrap_or_else(|| panic!("no reachability pve_nodes entry for {node}"))
        };
        let nodes: Vec<NodeSpec> = list(&pve, "nodes")
            .iter()
            .map(|n| {
                let name = n.as_str().expect("a node name").to_string();
                NodeSpec {
                    ip: addr(&name),
                    name,
                }
            })
            .collect();
        let gateways: Vec<GatewaySpec> = list(&pve, "gateways")
            .iter()
            .map(|g| GatewaySpec {
                node: text(g, "node"),
                iface: text(g, "iface"),
                address: text(g, "address"),
            })
            .collect();
        let vms: Vec<VmSpec> = list(&pve, "cert_vms")
            .iter()
            .map(|v| {
                let ipconfig0 = text(v, "ipconfig0");
                let gw = ipconfig0
                    .split(',')
                    .find_map(|p| p.strip_prefix("gw="))
                    .unwrap_or_default();
                let vlan = gateways
                    .iter()
                    .find(|g| g.address == gw)
                    .and_then(|g| g.iface.rsplit_once('.'))
                    .and_then(|(_, id)| id.parse().ok())
                    .unwrap_or_else(|| panic!("no gateway routes {gw} (the VLAN of {v})"));
                VmSpec {
                    name: text(v, "name"),
                    node: text(v, "node"),
                    vmid: text(v, "vmid").parse().expect("a vmid"),
                    mac: text(v, "mac"),
                    ip: text(v, "ip"),
                    ipconfig0,
                    vlan,
                }
            })
            .collect();
        let bridges: Vec<BridgeSpec> = list(&pve, "bridges")
            .iter()
            .map(|b| BridgeSpec {
                iface: text(b, "iface"),
                ports: text(b, "ports"),
                vids: text(b, "vids"),
                carries_management: b["carries_management"].as_bool().unwrap_or(false),
                node: None,
            })
            .collect();
        let vm_bridge = bridges
            .iter()
            .find(|b| !b.carries_management)
            .map_or_else(|| s("vmbr0"), |b| b.iface.clone());
        let first = nodes.first().expect("a node").ip.clone();
        let release = text(&pve, "min_release")
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .to_string();
        let defaults = Lab::default();
        Lab {
            cluster_name: s("lab"),
            version: format!("{release}.4"),
            release,
            management_gateway: format!("{}.1", &first[..first.rfind('.').expect("IPv4")]),
            nodes,
            bridges,
            gateways,
            templates: list(&pve, "templates")
                .iter()
                .map(|t| TemplateSpec {
                    vmid: text(t, "vmid").parse().expect("a vmid"),
                    name: text(t, "name"),
                    node: text(t, "node"),
                    image_sha256: text(t, "image_sha256"),
                })
                .collect(),
            vms,
            vm_bridge,
            ciuser: text(&pve, "ciuser"),
            ssh_pubkey: text(&pve, "ssh_pubkey"),
            runner_cidr: text(&pve, "runner_cidr"),
            storages: vec![text(&pve, "cloudinit_storage"), s("local")],
            ..defaults
        }
    }
}

impl Default for Lab {
    fn default() -> Lab {
        let vm = |name: &str, node: &str, vmid: u32, mac: &str, ip: &str, vlan: u16| VmSpec {
            name: s(name),
            node: s(node),
            vmid,
            mac: s(mac),
            ip: s(ip),
            ipconfig0: format!("ip={ip}/24,gw=10.{vlan}.0.1"),
            vlan,
        };
        let sha = "3b1f6c2e9a0d4f8b7c5e1a2d3f4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b";
        Lab {
            cluster_name: s("lab"),
            release: s("8.2"),
            version: s("8.2.4"),
            nodes: vec![
                NodeSpec {
                    name: s("pve1"),
                    ip: s("10.0.0.11"),
                },
                NodeSpec {
                    name: s("pve2"),
                    ip: s("10.0.0.12"),
                },
            ],
            management_gateway: s("10.0.0.1"),
            bridges: vec![
                BridgeSpec {
                    iface: s("vmbr0"),
                    ports: s("eno1"),
                    vids: s("2-4094"),
                    carries_management: true,
                    node: None,
                },
                BridgeSpec {
                    iface: s("vmbr1"),
                    ports: s("bond0"),
                    vids: s("20 30"),
                    carries_management: false,
                    node: None,
                },
            ],
            gateways: vec![
                GatewaySpec {
                    node: s("pve1"),
                    iface: s("vmbr1.20"),
                    address: s("10.20.0.1"),
                },
                GatewaySpec {
                    node: s("pve1"),
                    iface: s("vmbr1.30"),
                    address: s("10.30.0.1"),
                },
            ],
            templates: vec![TemplateSpec {
                vmid: 9000,
                name: s("ubuntu-2404-cert"),
                node: s("pve1"),
                image_sha256: s(sha),
            }],
            vms: vec![
                vm(
                    "cert-a",
                    "pve1",
                    4101,
                    "bc:24:11:2e:c5:4a",
                    "10.20.0.41",
                    20,
                ),
                vm(
                    "cert-b",
                    "pve2",
                    4102,
                    "bc:24:11:7a:01:b3",
                    "10.20.0.42",
                    20,
                ),
                vm(
                    "cert-c",
                    "pve2",
                    4103,
                    "bc:24:11:90:3d:0e",
                    "10.30.0.43",
                    30,
                ),
            ],
            vm_bridge: s("vmbr1"),
            ciuser: s("certbot"),
            ssh_pubkey: s(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc0bGFiY2VydGRlbW9rZXlub3RyZWFsMDAwMDAwMDA labcert@runner",
            ),
            runner_cidr: s("10.10.0.0/24"),
            storages: vec![s("local-lvm"), s("local")],
            token_id: s("certbot@pve!labcert"),
            task_duration: Duration::from_millis(200),
            agent_boot_delay: Duration::from_millis(300),
            unauthorized_delay: Duration::from_secs(3),
        }
    }
}

impl Lab {
    /// The node the API is served by.
    pub fn entry_node(&self) -> &str {
        &self.nodes[0].name
    }

    /// The bridges that exist on `node`.
    pub fn bridges_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a BridgeSpec> + 'a {
        self.bridges
            .iter()
            .filter(move |b| b.node.as_deref().is_none_or(|n| n == node))
    }
}
