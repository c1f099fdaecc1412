//! A lab's address plan ([`Plan`]): its networks (one bridge per VLAN, the router's
//! addresses on each) and its hosts (address, gateway, MAC, login user, role). Two plans
//! exist: [`netlab`], the test lab below, and one laid out from a topology's reachability
//! inputs ([`super::from_vars`]), which the demo's recording uses.
//!
//! The test lab: four VLANs of one /24 in 10.251.0.0/16, joined by a router.
//!
//! | VLAN | subnet (of 10.251.X.0/24) | gateway | hosts |
//! |---|---|---|---|
//! | 10 management | .0/26 | .1 | dns .2, mirror .5, runner .10, pve1 .11, pve2 .12 |
//! | 20 test VMs | .64/26 | .65 | vm1 .81, vm2 .82 |
//! | 30 test VMs | .128/26 | .129 | vm3 .171 |
//! | 40 cloud | .192/26 | .193 | cloud1 .221, cloudapi .222 |

use std::net::Ipv4Addr;

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
    /// An HTTP(S) server standing in for the cloud control planes (answers 403, like STS
    /// to a bare GET).
    CloudApi,
}

/// One VLAN: bridge `br<vlan>` in the switch namespace, and the router's addresses on it
/// (each a gateway of one subnet).
#[derive(Debug, Clone)]
pub struct Net {
    pub vlan: u16,
    pub router: Vec<(Ipv4Addr, u8)>,
}

/// A host of a lab.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: &'static str,
    pub role: Role,
    /// Its network namespace.
    pub ns: String,
    /// Its port on its VLAN's bridge, in the switch namespace.
    pub port: String,
    pub vlan: u16,
    /// The address other hosts of the lab use.
    pub addr: Ipv4Addr,
    /// The address the runner logs in on (a cloud instance's public one); often `addr`.
    pub ssh: Ipv4Addr,
    /// Prefix length of `addr` and `ssh`.
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// Of its `eth0`, lower case.
    pub mac: String,
    pub fqdn: String,
    /// Who the runner logs in as (an alias of root inside the host's namespace).
    pub user: String,
    /// The catalog provider of an endpoint (`pve`, `aws`, …).
    pub provider: Option<&'static str>,
}

impl Host {
    /// Whether an sshd runs here.
    pub fn has_sshd(&self) -> bool {
        matches!(self.role, Role::PveNode | Role::PveVm | Role::Cloud)
    }

    /// Its addresses, `addr` first.
    pub fn addrs(&self) -> Vec<Ipv4Addr> {
        let mut a = vec![self.addr];
        if self.ssh != self.addr {
            a.push(self.ssh);
        }
        a
    }
}

/// How the cloud API stand-in answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// Plain HTTP on port 80.
    Http,
    /// HTTPS on port 443 with a certificate for these names, from a CA the runner is told
    /// to trust (`SSL_CERT_FILE`).
    Https(Vec<String>),
}

/// Paths the router drops: TCP from any of `from` (addresses or CIDRs) to any of `to` on any
/// of `ports`. `source` names a host inside `from`, from which the lab checks the rule holds.
#[derive(Debug, Clone)]
pub struct Deny {
    pub from: Vec<String>,
    pub to: Vec<Ipv4Addr>,
    pub ports: Vec<u16>,
    pub source: &'static str,
}

/// Everything a lab is built from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One line saying what the plan is (for [`super::Lab::describe`]).
    pub label: String,
    pub nets: Vec<Net>,
    pub hosts: Vec<Host>,
    /// DNS records besides each host's FQDN.
    pub records: Vec<(String, Ipv4Addr)>,
    /// What the router drops (silently: a probe sees a timeout).
    pub deny: Vec<Deny>,
    pub api: Api,
    /// Whether a fake `timedatectl` answers "synchronised" on the runner and the PVE nodes
    /// (the machine has no systemd-timedated).
    pub timedatectl: bool,
}

impl Plan {
    /// The host called `name`.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name} in the lab"))
    }

    /// The first host with `role`.
    pub fn by_role(&self, role: Role) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.role == role)
            .unwrap_or_else(|| panic!("no {role:?} in the lab"))
    }
}

/// The test lab's DNS zone.
pub const DOMAIN: &str = "lab.test";

/// The name the test lab's cloud API stand-in answers as.
pub const CLOUD_API_NAME: &str = "api.cloud.lab.test";

/// A host of the test lab's table.
struct Spec {
    name: &'static str,
    vlan: u16,
    octet: u8,
    role: Role,
}

/// VLAN id and first address of its /26 within the lab's /24.
const VLANS: [(u16, u8); 4] = [(10, 0), (20, 64), (30, 128), (40, 192)];

const PREFIX_LEN: u8 = 26;

const HOSTS: [Spec; 10] = [
    spec("dns", 10, 2, Role::Dns),
    spec("mirror", 10, 5, Role::Mirror),
    spec("runner", 10, 10, Role::Runner),
    spec("pve1", 10, 11, Role::PveNode),
    spec("pve2", 10, 12, Role::PveNode),
    spec("vm1", 20, 81, Role::PveVm),
    spec("vm2", 20, 82, Role::PveVm),
    spec("vm3", 30, 171, Role::PveVm),
    spec("cloud1", 40, 221, Role::Cloud),
    spec("cloudapi", 40, 222, Role::CloudApi),
];

const fn spec(name: &'static str, vlan: u16, octet: u8, role: Role) -> Spec {
    Spec {
        name,
        vlan,
        octet,
        role,
    }
}

fn base(vlan: u16) -> u8 {
    VLANS
        .iter()
        .find(|(id, _)| *id == vlan)
        .unwrap_or_else(|| panic!("no VLAN {vlan} in the layout"))
        .1
}

/// The test lab `10.251.x.0/24`, its namespaces named `<prefix>-<host>`: every endpoint
/// logged into as root, the cloud API on plain HTTP, no `timedatectl`.
pub fn netlab(x: u8, prefix: &str) -> Plan {
    let addr = |octet: u8| Ipv4Addr::new(10, 251, x, octet);
    let nets = VLANS
        .iter()
        .map(|&(vlan, b)| Net {
            vlan,
            router: vec![(addr(b + 1), PREFIX_LEN)],
        })
        .collect();
    let hosts: Vec<Host> = HOSTS
        .iter()
        .map(|s| Host {
            name: s.name,
            role: s.role,
            ns: format!("{prefix}-{}", s.name),
            port: format!("p-{}", s.name),
            vlan: s.vlan,
            addr: addr(s.octet),
            ssh: addr(s.octet),
            prefix: PREFIX_LEN,
            gateway: addr(base(s.vlan) + 1),
            mac: format!("02:4c:{x:02x}:{:02x}:00:{:02x}", s.vlan, s.octet),
            fqdn: format!("{}.{DOMAIN}", s.name),
            user: "root".into(),
            provider: match s.role {
                Role::PveVm => Some("pve"),
                Role::Cloud => Some("aws"),
                _ => None,
            },
        })
        .collect();
    let api = hosts
        .iter()
        .find(|h| h.role == Role::CloudApi)
        .expect("a cloud API");
    let api_addr = api.addr;
    Plan {
        label: format!("netlab 10.251.{x}.0/24"),
        records: vec![(CLOUD_API_NAME.to_string(), api_addr)],
        // The test VLANs and the cloud VLAN never reach a node's SSH or API port.
        deny: vec![Deny {
            from: [20, 30, 40]
                .map(|v| format!("{}/{PREFIX_LEN}", addr(base(v))))
                .to_vec(),
            to: hosts
                .iter()
                .filter(|h| h.role == Role::PveNode)
                .map(|h| h.addr)
                .collect(),
            ports: vec![22, 8006],
            source: "vm1",
        }],
        nets,
        hosts,
        api: Api::Http,
        timedatectl: false,
    }
}
