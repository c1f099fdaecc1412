//! A fake Proxmox VE API on 127.0.0.1 for tests: HTTPS with a fresh certificate (pinned by
//! fingerprint, as the pve catalog does), token authentication, and a lab whose state the
//! API's writes really change: a network PUT lands in interfaces.new and a reload task
//! applies it, a config change to a running VM waits for the next start, a start task
//! boots the guest and its agent, a cloud-init PUT regenerates the drive, a firewall PUT
//! turns it on. A [`Scenario`] starts the lab with one fault.
//!
//! ```ignore
//! let pve = PveFixture::start(Scenario::QgaDisabled(4101));
//! // bind pve.url(), pve.fingerprint() and pve.token() …
//! assert!(pve.requests().iter().all(|r| r.method == "GET"));
//! assert_eq!(pve.state().vm(4101).unwrap().config.get("agent"), None);
//! ```
//!
//! Files: [`lab`] (the layout, defaults = the demo topology), [`state`] (cluster, token,
//! tasks), [`network`], [`vm`], [`cloudinit`], [`agent`], [`firewall`], [`tasks`],
//! [`scenario`], [`routes`] (paths → handlers), [`server`] (HTTP, auth, log), [`api`]
//! (answers, errors, parameters), and [`ssh`]: sshd stand-ins for the nodes and guests, for
//! the checks that SSH into them.

mod agent;
mod api;
mod cloudinit;
mod firewall;
mod lab;
mod network;
mod routes;
mod scenario;
mod server;
mod ssh;
mod state;
mod tasks;
mod vm;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::rustls;

// What tests name; each test crate uses only some of it.
#[allow(unused_imports)]
pub use self::{
    api::{ApiError, Params, uri_escape},
    lab::{BridgeSpec, GatewaySpec, Lab, NodeSpec, TemplateSpec, VmSpec},
    network::{Iface, Network},
    scenario::{OLD_KEY, Scenario},
    server::Request,
    ssh::SshHosts,
    state::{Node, PRIVILEGES, State},
    tasks::Task,
    vm::{Vm, agent_enabled},
};

use super::https::Certs;
use server::Shared;

/// A running fake PVE API; stops when dropped.
pub struct PveFixture {
    port: u16,
    fingerprint: String,
    ca_pem: String,
    token: String,
    lab: Lab,
    scenario: Scenario,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// A random-enough v4 UUID (the token secret), from the certificate and the clock.
fn uuid(seed: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = Sha256::digest(format!("{seed}{nanos}").as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

impl PveFixture {
    /// The demo lab with `scenario`'s fault.
    pub fn start(scenario: Scenario) -> PveFixture {
        PveFixture::with_lab(Lab::default(), scenario)
    }

    /// Serves `lab` with `scenario`'s fault from a thread with its own runtime; returns once
    /// it listens on 127.0.0.1.
    pub fn with_lab(lab: Lab, scenario: Scenario) -> PveFixture {
        PveFixture::with_faults_in(lab, &[scenario], None)
    }

    /// Serves `lab` with every fault of `scenarios` (the first is [`PveFixture::scenario`]),
    /// listening on 127.0.0.1 of the network namespace at `netns` (`/run/netns/NAME`) when
    /// one is given, else of this process's.
    pub fn with_faults_in(lab: Lab, scenarios: &[Scenario], netns: Option<&str>) -> PveFixture {
        let scenario = scenarios.first().copied().unwrap_or(Scenario::Healthy);
        let netns = netns.map(str::to_string);
        let certs = Certs::new();
        let fingerprint = certs.fingerprint();
        let secret = uuid(&fingerprint);
        let mut state = State::new(&lab, &fingerprint, &secret);
        for s in scenarios {
            s.apply(&mut state, &lab.vm_bridge);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            log: Mutex::new(Vec::new()),
            unauthorized_delay: lab.unauthorized_delay,
        });
        let acceptor = certs.acceptor(rustls::ALL_VERSIONS);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pve-fixture".into())
            .spawn(move || {
                if let Some(path) = netns {
                    use std::os::fd::AsRawFd;
                    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                    // SAFETY: setns with a valid namespace fd changes only this thread (and
                    // the runtime threads it starts), which serves the fixture alone.
                    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                }
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the PVE fixture");
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let _ = ready_tx.send(listener.local_addr().unwrap().port());
                    let accept = async {
                        while let Ok((stream, _)) = listener.accept().await {
                            let (acceptor, shared) = (acceptor.clone(), serving.clone());
                            tokio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(stream).await {
                                    server::serve(tls, shared).await;
                                }
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime cancels every connection, silent ones included.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("spawn the PVE fixture thread");
        let port = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the PVE fixture did not start listening");
        PveFixture {
            port,
            fingerprint,
            ca_pem: certs.ca_pem,
            token: format!("{}={secret}", lab.token_id),
            lab,
            scenario,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:PORT` (the catalog appends `/api2/json…`).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The served certificate's SHA-256, upper-case colon hex as PVE shows it.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// The CA that signed the served certificate, PEM (for clients that cannot pin).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The token to bind as the pve secret: `certbot@pve!labcert=<uuid>`. Under
    /// [`Scenario::BadToken`] the cluster refuses it.
    pub fn token(&self) -> String {
        self.token.clone()
    }

    /// The `Authorization` header value for [`token`](Self::token).
    pub fn authorization(&self) -> String {
        format!("PVEAPIToken={}", self.token)
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// A snapshot of the lab as it is now (tasks whose time has come have finished).
    pub fn state(&self) -> State {
        let mut st = self.shared.state();
        st.tick();
        st.clone()
    }

    /// Changes the lab in place (to stage a situation mid-test).
    pub fn edit<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        change(&mut self.shared.state())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log().clone()
    }

    /// How many requests had this method and a path ending in `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.shared
            .log()
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    }

    /// Requests that changed something (anything but GET).
    pub fn writes(&self) -> Vec<Request> {
        self.shared
            .log()
            .iter()
            .filter(|r| r.method != "GET")
            .cloned()
            .collect()
    }
}

impl Drop for PveFixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The pve checks of a plan (`labcert plan --format json`) an API fixture can decide:
/// planned, not probed over SSH, and not waiting on a check that is.
pub fn api_checks(plan: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let checks: Vec<&serde_json::Value> = plan["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["catalog"] == "pve" && c["state"] == "planned")
        .collect();
    let mut ssh = std::collections::BTreeSet::new();
    loop {
        let before = ssh.len();
        for c in &checks {
            let needs_ssh = c["needs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| ssh.contains(n.as_str().unwrap()));
            if c["probe"]["kind"] == "ssh" || needs_ssh {
                ssh.insert(c["id"].as_str().unwrap().to_string());
            }
        }
        if ssh.len() == before {
            break;
        }
    }
    checks
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .filter(|id| !ssh.contains(id))
        .collect()
}
