//! The lab's address plan: four VLANs of one /24 in 10.251.0.0/16, one bridge each, joined
//! by a router; every host's address, gateway, MAC and role.
//!
//! | VLAN | subnet (of 10.251.X.0/24) | gateway | hosts |
//! |---|---|---|---|
//! | 10 management | .0/26 | .1 | dns .2, mirror .5, runner .10, pve1 .11, pve2 .12 |
//! | 20 test VMs | .64/26 | .65 | vm1 .81, vm2 .82 |
//! | 30 test VMs | .128/26 | .129 | vm3 .171 |
//! | 40 cloud | .192/26 | .193 | cloud1 .221, cloudapi .222 |

use std::net::Ipv4Addr;

/// One VLAN: a bridge `br<id>` in the switch namespace and a /26 routed by the router.
#[derive(Debug, Clone, Copy)]
pub struct Vlan {
    pub id: u8,
    /// First address of the /26 within the lab's /24.
    pub base: u8,
}

pub const VLANS: [Vlan; 4] = [
    Vlan { id: 10, base: 0 },
    Vlan { id: 20, base: 64 },
    Vlan { id: 30, base: 128 },
    Vlan { id: 40, base: 192 },
];

pub const PREFIX_LEN: u8 = 26;

/// What a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// labcert runs here.
    Runner,
    /// dnsmasq, the resolver of every host.
    Dns,
    /// An HTTP server answering the mirror URL.
    Mirror,
    /// A PVE node: sshd on 22 and a TCP listener on 8006 for the API.
    PveNode,
    /// A test endpoint in the PVE lab: sshd on 22, bash, curl.
    PveVm,
    /// A cloud test instance: sshd on 22.
    Cloud,
    /// An HTTP server standing in for a cloud control plane (answers 403, like STS to GET).
    CloudApi,
}

/// A host of the layout (before the lab gives it a namespace and a /24).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub vlan: u8,
    pub octet: u8,
    pub role: Role,
}

pub const HOSTS: [Spec; 10] = [
    Spec {
        name: "dns",
        vlan: 10,
        octet: 2,
        role: Role::Dns,
    },
    Spec {
        name: "mirror",
        vlan: 10,
        octet: 5,
        role: Role::Mirror,
    },
    Spec {
        name: "runner",
        vlan: 10,
        octet: 10,
        role: Role::Runner,
    },
    Spec {
        name: "pve1",
        vlan: 10,
        octet: 11,
        role: Role::PveNode,
    },
    Spec {
        name: "pve2",
        vlan: 10,
        octet: 12,
        role: Role::PveNode,
    },
    Spec {
        name: "vm1",
        vlan: 20,
        octet: 81,
        role: Role::PveVm,
    },
    Spec {
        name: "vm2",
        vlan: 20,
        octet: 82,
        role: Role::PveVm,
    },
    Spec {
        name: "vm3",
        vlan: 30,
        octet: 171,
        role: Role::PveVm,
    },
    Spec {
        name: "cloud1",
        vlan: 40,
        octet: 221,
        role: Role::Cloud,
    },
    Spec {
        name: "cloudapi",
        vlan: 40,
        octet: 222,
        role: Role::CloudApi,
    },
];

/// The lab's DNS zone.
pub const DOMAIN: &str = "lab.test";

/// The name the cloud API stand-in answers as.
pub const CLOUD_API_NAME: &str = "api.cloud.lab.test";

/// A host of a running lab.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: &'static str,
    pub role: Role,
    /// Its network namespace.
    pub ns: String,
    pub vlan: u8,
    pub addr: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// Of its `eth0`, lower case.
    pub mac: String,
}

impl Host {
    /// `name.lab.test`.
    pub fn fqdn(&self) -> String {
        format!("{}.{DOMAIN}", self.name)
    }

    /// Whether an sshd runs here.
    pub fn has_sshd(&self) -> bool {
        matches!(self.role, Role::PveNode | Role::PveVm | Role::Cloud)
    }
}

/// The address `octet` of the lab's /24 `10.251.x.0`.
pub fn addr(x: u8, octet: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 251, x, octet)
}

/// The router's address (each host's gateway) on `vlan`.
pub fn gateway(x: u8, vlan: u8) -> Ipv4Addr {
    addr(x, vlan_of(vlan).base + 1)
}

/// The subnet of `vlan`, `10.251.x.b/26`.
pub fn subnet(x: u8, vlan: u8) -> String {
    format!("{}/{PREFIX_LEN}", addr(x, vlan_of(vlan).base))
}

pub fn vlan_of(id: u8) -> Vlan {
    *VLANS
        .iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("no VLAN {id} in the layout"))
}

/// The hosts of lab `x`, their namespaces named `<prefix>-<host>`.
pub fn hosts(x: u8, prefix: &str) -> Vec<Host> {
    HOSTS
        .iter()
        .map(|s| Host {
            name: s.name,
            role: s.role,
            ns: format!("{prefix}-{}", s.name),
            vlan: s.vlan,
            addr: addr(x, s.octet),
            gateway: gateway(x, s.vlan),
            mac: format!("02:4c:{x:02x}:{:02x}:00:{:02x}", s.vlan, s.octet),
        })
        .collect()
}
