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
