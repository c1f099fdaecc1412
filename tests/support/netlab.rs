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
#[path = "netlab/from_vars.rs"]
pub mod from_vars;
#[path = "netlab/layout.rs"]
pub mod layout;
#[path = "netlab/namespaces.rs"]
pub mod namespaces;
#[path = "procs.rs"]
pub mod procs;
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
use tokio_rustls::rustls;

use super::https;

use dns::Dnsmasq;
use exec::{bind_in, command_in, connect_in};
use firewall::Verdict;
use layout::{Api, Host, Plan, Role};
use namespaces::{Namespaces, PREFIX};
use servers::{Kind, Server};
use sshd::{Keys, Sshd};

/// Labs made by this process so far.
static MADE: AtomicU32 = AtomicU32::new(0);

/// How long the lab's services may take to come up.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A fake `timedatectl` answering as a synchronised clock does (the machine has no
/// systemd-timedated to ask).
pub const TIMEDATECTL: &str = "#!/bin/sh\n[ \"$*\" = \"show -p NTPSynchronized --value\" ] && echo yes && exit 0\n\
    echo \"timedatectl fake: unexpected: $*\" >&2; exit 1\n";

/// A running lab; everything stops and is deleted on drop.
pub struct Lab {
    pub plan: Plan,
    pub hosts: Vec<Host>,
    pub switch: String,
    pub router: String,
    pub keys: Keys,
    /// How long [`Lab::start`] took.
    pub setup: Duration,
    /// Environment labcert runs with in the runner: the fakes' PATH, the API's CA.
    env: Vec<(String, String)>,
    /// The reachability inputs the plan was laid out from ([`Lab::from_inputs`]).
    inputs: Option<Value>,
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

/// `lcnl-<pid>-<n>`: a new lab's namespace prefix (see [`namespaces::remove_stale`]).
pub fn new_prefix() -> String {
    namespaces::remove_stale();
    let n = MADE.fetch_add(1, Ordering::SeqCst);
    format!("{PREFIX}-{}-{n}", std::process::id())
}

impl Lab {
    /// Builds the healthy test lab ([`layout::netlab`]) and waits until every service
    /// answers from the runner.
    pub fn start() -> Lab {
        let prefix = new_prefix();
        let pid = std::process::id();
        let n = MADE.load(Ordering::SeqCst);
        // Labs are sealed off from each other and from the host, so any X is safe; it only
        // varies to tell labs apart in logs.
        let x = ((u64::from(pid) * 37 + u64::from(n) * 101) % 256) as u8;
        Lab::start_plan(layout::netlab(x, &prefix))
    }

    /// Builds a lab laid out from reachability inputs ([`from_vars::plan`]); the catalog then
    /// runs on those very inputs, but for the runner's key and `known_hosts`.
    pub fn from_inputs(inputs: Value) -> Lab {
        let mut lab = Lab::start_plan(from_vars::plan(&inputs, &new_prefix()));
        lab.inputs = Some(inputs);
        lab
    }

    /// Builds the lab `plan` lays out (its namespaces made with [`new_prefix`]) and waits
    /// until every service answers from the runner.
    pub fn start_plan(plan: Plan) -> Lab {
        let started = Instant::now();
        let prefix = plan
            .by_role(Role::Runner)
            .ns
            .rsplit_once('-')
            .map(|(p, _)| p.to_string())
            .expect("namespace prefix");
        let hosts = plan.hosts.clone();
        let dns_host = plan.by_role(Role::Dns).clone();

        let mut namespaces = Namespaces::new();
        let switch = format!("{prefix}-switch");
        let router = format!("{prefix}-router");
        namespaces.add(&switch);
        namespaces.add(&router);
        for h in &hosts {
            namespaces.add(&h.ns);
            namespaces.resolver(&h.ns, dns_host.addr);
            if h.user != "root" {
                namespaces.login(&h.ns, &h.user);
            }
        }
        namespaces::wire(&switch, &router, &plan);
        firewall::load(&router, &firewall::router_rules(&plan.deny));

        // Named after the lab, so a later lab can delete it if this process dies first.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .expect("temp dir");
        let mut env = Vec::new();
        let bin = dir.path().join("bin");
        if plan.timedatectl {
            std::fs::create_dir_all(&bin).expect("fake bin dir");
            let fake = bin.join("timedatectl");
            std::fs::write(&fake, TIMEDATECTL).expect("fake timedatectl");
            std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("fake timedatectl mode");
            let path = std::env::var("PATH").unwrap_or_default();
            env.push(("PATH".into(), format!("{}:{path}", bin.display())));
        }
        let keys = sshd::keys(dir.path(), &hosts);
        let dnsmasq = Dnsmasq::start(&dns_host, &plan);
        let sshd: Vec<(&'static str, Sshd)> = hosts
            .iter()
            .filter(|h| h.has_sshd())
            .map(|h| {
                let fakes = (plan.timedatectl && h.role == Role::PveNode).then_some(bin.as_path());
                (h.name, Sshd::start(dir.path(), h, &keys, fakes))
            })
            .collect();
        let tls = match &plan.api {
            Api::Http => None,
            Api::Https(names) => {
                let certs = https::Certs::for_names(names);
                let ca = dir.path().join("api-ca.pem");
                std::fs::write(&ca, &certs.ca_pem).expect("API CA");
                env.push(("SSL_CERT_FILE".into(), ca.display().to_string()));
                Some(certs.server_config(&[&rustls::version::TLS13, &rustls::version::TLS12]))
            }
        };
        let mut servers = Vec::new();
        for h in &hosts {
            let (port, kind, tls) = match h.role {
                Role::Mirror => (80, Kind::Mirror, None),
                Role::CloudApi if tls.is_some() => (443, Kind::CloudApi, tls.clone()),
                Role::CloudApi => (80, Kind::CloudApi, None),
                Role::PveNode => (8006, Kind::Port, None),
                _ => continue,
            };
            let listener = bind_in(&h.ns, SocketAddr::from((h.addr, port)));
            servers.push(Server::start(h.name, listener, kind, tls));
        }
        let mut lab = Lab {
            plan,
            hosts,
            switch,
            router,
            keys,
            setup: Duration::ZERO,
            env,
            inputs: None,
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
        let runner = self.plan.by_role(Role::Runner).ns.clone();
        let dns = self.plan.by_role(Role::Dns).addr;
        let node = self.plan.by_role(Role::PveNode).clone();
        while !dns::answers(&runner, dns, &node.fqdn, node.addr) {
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
        for (name, _) in &self.sshd {
            for a in self.host(name).addrs() {
                ports.push((*name, SocketAddr::from((a, 22))));
            }
        }
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

    /// The fixture does what the deny rules claim: from each rule's source, the first port of
    /// its first target gives no answer at all.
    fn assert_deny_is_silent(&self) {
        let wait = Duration::from_millis(300);
        for d in &self.plan.deny {
            let (Some(to), Some(port)) = (d.to.first(), d.ports.first()) else {
                continue;
            };
            let from = self.host(d.source);
            let e = connect_in(&from.ns, SocketAddr::from((*to, *port)), wait)
                .expect_err("the router drops a denied path");
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::TimedOut,
                "{} → {to}:{port}: {e}",
                d.source
            );
        }
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
        command_in(
            &self.plan.by_role(Role::Runner).ns,
            env!("CARGO_BIN_EXE_labcert"),
        )
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("LABCERT_CATALOGS")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("NO_COLOR")
        .env("CI", "true")
        .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(envs.iter().copied())
        .output()
        .expect("running labcert in the runner's namespace")
    }

    /// The reachability catalog's inputs for this lab, as `(name, JSON)`.
    pub fn reachability_vars(&self) -> Vec<(String, Value)> {
        let Some(inputs) = &self.inputs else {
            return vars::reachability(&self.hosts, &self.keys)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        };
        let mut v: Vec<(String, Value)> = inputs
            .as_object()
            .expect("reachability inputs")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, x) in &mut v {
            match k.as_str() {
                "ssh_identity" => *x = Value::from(self.keys.identity.display().to_string()),
                "known_hosts" => *x = Value::from(self.keys.known_hosts.display().to_string()),
                _ => {}
            }
        }
        v
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
        let from = self.host(from).addrs();
        firewall::fault(&self.host(to).ns, &from, port, Verdict::Refuse);
    }

    /// `to` silently drops TCP from `from` to `port` (the connection times out).
    pub fn drop_tcp(&self, from: &str, to: &str, port: u16) {
        let from = self.host(from).addrs();
        firewall::fault(&self.host(to).ns, &from, port, Verdict::Drop);
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
        let (h, mtu) = (self.host(host), mtu.to_string());
        exec::ip(&["-n", &h.ns, "link", "set", "eth0", "mtu", &mtu]);
        exec::ip(&["-n", &self.switch, "link", "set", &h.port, "mtu", &mtu]);
    }

    /// The resolver answers `name` with `addr` from now on (a stale or mistyped record).
    pub fn repoint(&mut self, name: &str, addr: Ipv4Addr) {
        self.plan.records.retain(|(n, _)| n != name);
        self.plan.records.push((name.to_string(), addr));
        self.dnsmasq = None;
        let dns = self.plan.by_role(Role::Dns).clone();
        self.dnsmasq = Some(Dnsmasq::start(&dns, &self.plan));
        let runner = self.plan.by_role(Role::Runner).ns.clone();
        let deadline = Instant::now() + READY_WITHIN;
        while !dns::answers(&runner, dns.addr, name, addr) {
            assert!(Instant::now() < deadline, "dnsmasq did not come back");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `host`'s NIC gets MAC `mac` (a VM re-created with a new NIC), and every neighbour
    /// forgets the old one.
    pub fn set_mac(&self, host: &str, mac: &str) {
        exec::ip(&[
            "-n",
            &self.host(host).ns,
            "link",
            "set",
            "eth0",
            "address",
            mac,
        ]);
        for ns in self.hosts.iter().map(|h| &h.ns).chain([&self.router]) {
            exec::ip(&["-n", ns, "neigh", "flush", "all"]);
        }
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
            "{} — switch {}, router {}\n",
            self.plan.label, self.switch, self.router
        );
        for h in &self.hosts {
            let addrs: Vec<String> = h.addrs().iter().map(|a| a.to_string()).collect();
            s.push_str(&format!(
                "  {:<10} VLAN {:<4} {:<29} gw {:<15} {}  {}\n",
                h.name,
                h.vlan,
                addrs.join(" "),
                h.gateway.to_string(),
                h.mac,
                h.ns
            ));
        }
        s
    }
}
