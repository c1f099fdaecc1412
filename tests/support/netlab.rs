//! A live lab of network namespaces for the reachability catalog: a runner, two PVE nodes,
//! three PVE test VMs on two VLANs, a cloud instance, a cloud API, a package mirror and a
//! DNS server, joined by one bridge per VLAN and a router whose nftables rules drop the
//! paths the design forbids. Every service is real (OpenSSH, dnsmasq, TCP/HTTP listeners);
//! labcert runs inside the runner's namespace (`ip netns exec`), with the lab's dnsmasq as
//! its system resolver. Nothing is created in the test's own namespace, so no test traffic
//! can leave the lab.
//!
//! ```text
//!                 ┌──────────── router (.1 .65 .129 .193, forwards, deny: drop) ────────────┐
//!  VLAN 10 br10: dns .2  mirror .5  runner .10  pve1 .11  pve2 .12         (10.251.X.0/26)
//!  VLAN 20 br20: vm1 .81  vm2 .82                                          (10.251.X.64/26)
//!  VLAN 30 br30: vm3 .171                                                  (10.251.X.128/26)
//!  VLAN 40 br40: cloud1 .221  cloudapi .222                                (10.251.X.192/26)
//! ```
//!
//! ```ignore
//! let lab = Lab::start();
//! lab.refuse("vm1", "vm2", 22);                  // a fault: vm2 resets vm1's connections
//! let out = lab.labcert(&args, &[]);             // `ip netns exec <runner> labcert …`
//! ```
//!
//! Files under `netlab/`: [`layout`] (address plan), [`namespaces`] (namespaces, bridges,
//! router, stale clean-up), [`exec`] (tools and sockets inside a namespace), [`sshd`],
//! [`dns`], [`servers`] (mirror, cloud API, API ports), [`firewall`] (deny rules, faults),
//! [`vars`] (the reachability catalog's inputs), [`standins`] (provider stand-in catalogs).
//!
//! Needs root, iproute2, nftables, dnsmasq, openssh-server, curl and iputils-ping (the
//! in-guest probes); `scripts/test.sh` installs them. Dropping the lab kills every process
//! it started, by PID, then deletes its namespaces and `/etc/netns` files.

#[path = "netlab/dns.rs"]
pub mod dns;
#[path = "netlab/exec.rs"]
pub mod exec;
#[path = "netlab/firewall.rs"]
pub mod firewall;
#[path = "netlab/layout.rs"]
pub mod layout;
#[path = "netlab/namespaces.rs"]
pub mod namespaces;
#[path = "netlab/servers.rs"]
pub mod servers;
#[path = "netlab/sshd.rs"]
pub mod sshd;
#[path = "netlab/standins.rs"]
pub mod standins;
#[path = "netlab/vars.rs"]
pub mod vars;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use dns::Dnsmasq;
use exec::{bind_in, command_in, connect_in};
use firewall::Verdict;
use layout::{Host, Role};
use namespaces::{Namespaces, PREFIX};
use servers::{Kind, Server};
use sshd::{Keys, Sshd};

/// Labs made by this process so far.
static MADE: AtomicU32 = AtomicU32::new(0);

/// How long the lab's services may take to come up.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running lab; everything stops and is deleted on drop.
pub struct Lab {
    /// Third octet of the lab's 10.251.X.0/24.
    pub x: u8,
    pub hosts: Vec<Host>,
    pub switch: String,
    pub router: String,
    pub keys: Keys,
    /// How long [`Lab::start`] took.
    pub setup: Duration,
    sshd: Vec<(&'static str, Sshd)>,
    dnsmasq: Option<Dnsmasq>,
    servers: Vec<Server>,
    // Dropped after the processes above (fields drop in order, after `Drop::drop`).
    namespaces: Namespaces,
    pub dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.servers.clear();
        self.sshd.clear();
        self.dnsmasq = None;
    }
}

impl Lab {
    /// Builds the healthy lab and waits until every service answers from the runner.
    pub fn start() -> Lab {
        let started = Instant::now();
        namespaces::remove_stale();
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("{PREFIX}-{pid}-{n}");
        // Labs are sealed off from each other and from the host, so any X is safe; it only
        // varies to tell labs apart in logs.
        let x = ((u64::from(pid) * 37 + u64::from(n) * 101) % 256) as u8;
        let hosts = layout::hosts(x, &prefix);
        let by_role = |r: Role| hosts.iter().find(|h| h.role == r).expect("layout role");
        let dns_host = by_role(Role::Dns).clone();

        let mut namespaces = Namespaces::new();
        let switch = format!("{prefix}-switch");
        let router = format!("{prefix}-router");
        namespaces.add(&switch);
        namespaces.add(&router);
        for h in &hosts {
            namespaces.add(&h.ns);
            namespaces.resolver(&h.ns, dns_host.addr);
        }
        namespaces::wire(x, &switch, &router, &hosts);
        let sources: Vec<String> = [20, 30, 40].map(|v| layout::subnet(x, v)).to_vec();
        let nodes: Vec<Ipv4Addr> = hosts
            .iter()
            .filter(|h| h.role == Role::PveNode)
            .map(|h| h.addr)
            .collect();
        firewall::load(&router, &firewall::router_rules(&sources, &nodes));

        // Named after the lab, so a later lab can delete it if this process dies first.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .expect("temp dir");
        let keys = sshd::keys(dir.path(), &hosts);
        let dnsmasq = Dnsmasq::start(&dns_host, &hosts);
        let sshd: Vec<(&'static str, Sshd)> = hosts
            .iter()
            .filter(|h| h.has_sshd())
            .map(|h| (h.name, Sshd::start(dir.path(), h, &keys)))
            .collect();
        let mut servers = Vec::new();
        for h in &hosts {
            let (port, kind) = match h.role {
                Role::Mirror => (80, Kind::Mirror),
                Role::CloudApi => (80, Kind::CloudApi),
                Role::PveNode => (8006, Kind::Port),
                _ => continue,
            };
            let listener = bind_in(&h.ns, SocketAddr::from((h.addr, port)));
            servers.push(Server::start(h.name, listener, kind));
        }
        let mut lab = Lab {
            x,
            hosts,
            switch,
            router,
            keys,
            setup: Duration::ZERO,
            sshd,
            dnsmasq: Some(dnsmasq),
            servers,
            namespaces,
            dir,
        };
        lab.wait_ready();
        lab.assert_deny_is_silent();
        lab.setup = started.elapsed();
        lab
    }

    /// Waits until, seen from the runner, the resolver answers and every sshd and listener
    /// accepts.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        let runner = self.host("runner").ns.clone();
        let dns = self.host("dns").addr;
        let pve1 = self.host("pve1").clone();
        while !dns::answers(&runner, dns, &pve1.fqdn(), pve1.addr) {
            let exited = self.dnsmasq.as_mut().is_some_and(Dnsmasq::exited);
            assert!(!exited, "dnsmasq exited in the lab");
            assert!(Instant::now() < deadline, "dnsmasq did not answer in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut ports: Vec<(&'static str, SocketAddr)> = self
            .servers
            .iter()
            .map(|s| (s.host, SocketAddr::from((self.host(s.host).addr, s.port))))
            .collect();
        ports.extend(
            self.sshd
                .iter()
                .map(|(name, _)| (*name, SocketAddr::from((self.host(name).addr, 22)))),
        );
        for (name, to) in ports {
            loop {
                if connect_in(&runner, to, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some((_, s)) = self.sshd.iter_mut().find(|(n, _)| *n == name) {
                    assert!(!s.exited(), "sshd on {name} exited:\n{}", s.log_text());
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} ({to}) does not accept connections from the runner"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The fixture does what the deny rules claim: from a test VM, a node's SSH port gives
    /// no answer at all, while the neighbour's SSH answers.
    fn assert_deny_is_silent(&self) {
        let (vm1, vm2, pve1) = (self.host("vm1"), self.host("vm2"), self.host("pve1"));
        let wait = Duration::from_millis(300);
        let e = connect_in(&vm1.ns, SocketAddr::from((pve1.addr, 22)), wait)
            .expect_err("the router drops vm1 → pve1:22");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        connect_in(&vm1.ns, SocketAddr::from((vm2.addr, 22)), wait)
            .expect("vm1 reaches vm2:22 on its VLAN");
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name} in the lab"))
    }

    /// Runs the labcert binary in the runner's namespace, from the repository root, with
    /// `envs` added (no `LABCERT_CATALOGS`, no ssh-agent, plain output).
    pub fn labcert(&self, args: &[String], envs: &[(&str, &str)]) -> Output {
        command_in(&self.host("runner").ns, env!("CARGO_BIN_EXE_labcert"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("LABCERT_CATALOGS")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("NO_COLOR")
            .env("CI", "true")
            .envs(envs.iter().copied())
            .output()
            .expect("running labcert in the runner's namespace")
    }

    /// The reachability catalog's inputs for this lab, as `(name, JSON)`.
    pub fn reachability_vars(&self) -> Vec<(&'static str, Value)> {
        vars::reachability(&self.hosts, &self.keys)
    }

    /// `pve.cert_vms` naming the lab's VMs (the reachability endpoints must match them).
    pub fn cert_vms(&self) -> Value {
        vars::cert_vms(&self.hosts)
    }

    /// A catalog root with the real reachability catalog and pve/aws stand-ins the lab
    /// satisfies; its topology is [`standins::TOPOLOGY`].
    pub fn standin_catalogs(&self) -> PathBuf {
        standins::write(self.dir.path(), &self.hosts, &self.keys)
    }

    // ---- faults ---------------------------------------------------------------------------

    /// `to` answers TCP from `from` to `port` with a reset (`connection refused`).
    pub fn refuse(&self, from: &str, to: &str, port: u16) {
        let from = self.host(from).addr;
        firewall::fault(&self.host(to).ns, from, port, Verdict::Refuse);
    }

    /// `to` silently drops TCP from `from` to `port` (the connection times out).
    pub fn drop_tcp(&self, from: &str, to: &str, port: u16) {
        let from = self.host(from).addr;
        firewall::fault(&self.host(to).ns, from, port, Verdict::Drop);
    }

    /// The router forwards everything: every path the design forbids is open.
    pub fn open_deny(&self) {
        firewall::open_deny(&self.router);
    }

    /// Stops `host`'s sshd: it refuses SSH, as a VM that did not boot would.
    pub fn stop_sshd(&mut self, host: &str) {
        let (_, s) = self
            .sshd
            .iter_mut()
            .find(|(n, _)| *n == host)
            .unwrap_or_else(|| panic!("no sshd on {host}"));
        s.kill();
    }

    /// `host`'s link carries frames of at most `mtu` bytes: its `eth0` (so its own TCP
    /// segments fit, and SSH to it keeps working) and its switch port, where the bridge
    /// drops bigger frames without an ICMP error, as a too-small path MTU does.
    pub fn shrink_mtu(&self, host: &str, mtu: u16) {
        let (port, mtu) = (namespaces::port(host), mtu.to_string());
        let ns = &self.host(host).ns;
        exec::ip(&["-n", ns, "link", "set", "eth0", "mtu", &mtu]);
        exec::ip(&["-n", &self.switch, "link", "set", &port, "mtu", &mtu]);
    }

    /// Stops the lab's dnsmasq: no host resolves anything any more.
    pub fn stop_dns(&mut self) {
        self.dnsmasq = None;
    }

    // ---- observing ------------------------------------------------------------------------

    /// The mirror's HTTP requests so far, as `METHOD PATH`.
    pub fn mirror_requests(&self) -> Vec<String> {
        self.server(Kind::Mirror, "mirror").requests()
    }

    /// Connections the API port of `node` (8006) accepted so far.
    pub fn api_connections(&self, node: &str) -> u32 {
        self.server(Kind::Port, node).accepted()
    }

    fn server(&self, kind: Kind, host: &str) -> &Server {
        self.servers
            .iter()
            .find(|s| s.kind == kind && s.host == host)
            .unwrap_or_else(|| panic!("no {kind:?} server on {host}"))
    }

    /// Logins `host`'s sshd accepted so far.
    pub fn ssh_logins(&self, host: &str) -> usize {
        self.sshd
            .iter()
            .find(|(n, _)| *n == host)
            .map(|(_, s)| s.log_text().matches("Accepted publickey").count())
            .unwrap_or(0)
    }

    /// The layout, one host a line: name, VLAN, address, MAC, namespace.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "netlab 10.251.{}.0/24 — switch {}, router {}\n",
            self.x, self.switch, self.router
        );
        for h in &self.hosts {
            s.push_str(&format!(
                "  {:<9} VLAN {}  {:<15} gw {:<15} {}  {}\n",
                h.name,
                h.vlan,
                h.addr.to_string(),
                h.gateway.to_string(),
                h.mac,
                h.ns
            ));
        }
        s
    }
}
