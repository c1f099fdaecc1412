//! `labcert certify` with the real `catalogs/` and the demo topology, live, against the
//! fake Proxmox VE API (`tests/support/pve/`): the healthy lab passes every API check,
//! and each fault is caught by the check made for it while its dependents are blocked.
//!
//! The run is pointed at the fixture with `--var pve.url=… --var pve.fingerprint=…` and
//! the token in `PVE_TOKEN` (the demo binds the secret as `env:PVE_TOKEN`). The
//! reachability catalog is always selected; its lists are emptied so it probes nothing
//! but the runner's clock. Checks whose probe is SSH (into the guests or the nodes) are
//! outside an API fixture: `ssh-boot` polls for five minutes, so once every other pve
//! check has its verdict the run is interrupted (Ctrl-C) and its honest manifest read.
//! Only 127.0.0.1 is contacted by the API checks.
//!
//! The SSH checks are certified too, in a network namespace of their own, with the fixture
//! listening inside it and sshd stand-ins for the nodes and guests
//! (`support::pve::SshHosts`): there every pve check is decided.
//!
//! Faults that do not touch each other's checks are certified together, one fixture and one
//! run per table of [`Fault`]s, so that every pve check is seen both passing and not passing
//! without a run per fault (`scripts/coverage.sh` lists it).

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::root;
use support::cloud::{Netns, demo_vars};
use support::manifest::{assert_valid, check};
use support::pve::{Lab, PveFixture, Scenario, SshHosts};

/// Overrides that empty the reachability catalog's lists (nothing there is under test).
const REACHABILITY_OFF: &[&str] = &[
    "reachability.endpoints=[]",
    "reachability.deny=[]",
    "reachability.pve_nodes=[]",
    "reachability.dns_names=[]",
];

/// The longest a run may take: the agent ping polls for 180 s when the agent is down.
const RUN_LIMIT: Duration = Duration::from_secs(420);

struct Run {
    manifest: Value,
    code: i32,
    /// The run was interrupted once every API check had its verdict.
    interrupted: bool,
}

fn args(pve: &PveFixture, out: &std::path::Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "--catalogs",
        "catalogs",
        "certify",
        "--environment",
        "t",
        "--topology",
        "demo",
        "--providers",
        "pve",
        "--live",
        "--out",
    ]
    .map(String::from)
    .to_vec();
    a.push(out.display().to_string());
    for v in [
        format!("pve.url={}", pve.url()),
        format!("pve.fingerprint={}", pve.fingerprint()),
    ]
    .into_iter()
    .chain(REACHABILITY_OFF.iter().map(|s| s.to_string()))
    {
        a.push("--var".into());
        a.push(v);
    }
    a
}

/// The pve checks of the plan: (those an API fixture can decide, every planned one).
fn planned() -> &'static (BTreeSet<String>, BTreeSet<String>) {
    static CHECKS: OnceLock<(BTreeSet<String>, BTreeSet<String>)> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let pve = PveFixture::start(Scenario::Healthy);
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(&pve, &dir.path().join("m.json"));
        a[2] = "plan".into();
        // `plan` takes no --live/--out: drop them.
        let live = a.iter().position(|x| x == "--live").unwrap();
        a.drain(live..live + 3);
        a.extend(["--format".into(), "json".into()]);
        let o = Command::new(env!("CARGO_BIN_EXE_labcert"))
            .current_dir(root())
            .args(&a)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
        let every = plan["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["catalog"] == "pve" && c["state"] == "planned")
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        (support::pve::api_checks(&plan), every)
    })
}

/// The pve checks an API fixture can decide: planned, not probed over SSH, and not
/// waiting on a check that is (computed once from `labcert plan --format json`).
fn api_checks() -> &'static BTreeSet<String> {
    &planned().0
}

/// Every planned pve check (what a fixture with [`SshHosts`] decides).
fn pve_checks() -> &'static BTreeSet<String> {
    &planned().1
}

/// `labcert certify` against `pve`; interrupted once every API check has finished.
fn certify(pve: &PveFixture) -> Run {
    certify_in(pve, None, api_checks(), &[])
}

/// `labcert certify --repair` against `pve` with these extra `--var`s; interrupted once
/// every API check has finished.
fn certify_repair(pve: &PveFixture, vars: &[&str]) -> Run {
    let mut extra = vec!["--repair".to_string()];
    for v in vars {
        extra.extend(["--var".to_string(), v.to_string()]);
    }
    certify_in(pve, None, api_checks(), &extra)
}

/// `labcert certify` against `pve` with `extra` arguments, inside the namespace of `ssh`
/// with its stand-in's `--var`s when given; interrupted once every check of `want` has
/// finished.
fn certify_in(
    pve: &PveFixture,
    ssh: Option<(&Netns, &SshHosts)>,
    want: &BTreeSet<String>,
    extra: &[String],
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifest.json");
    let events = dir.path().join("events.ndjson");
    let mut a = args(pve, &out);
    a.extend(extra.iter().cloned());
    a.push("--events".into());
    a.push(events.display().to_string());
    let mut command = match ssh {
        Some((ns, hosts)) => {
            for v in hosts.vars() {
                a.push("--var".into());
                a.push(v);
            }
            ns.command(env!("CARGO_BIN_EXE_labcert"))
        }
        None => Command::new(env!("CARGO_BIN_EXE_labcert")),
    };
    let mut child = command
        .current_dir(root())
        .args(&a)
        .env("PVE_TOKEN", pve.token())
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("certify ran longer than {RUN_LIMIT:?}");
        }
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let finished: BTreeSet<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["event"] == "check_finished")
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect();
        if !interrupted && want.is_subset(&finished) {
            // SAFETY: sends SIGINT to the child this test started.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            interrupted = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no manifest ({e})"));
    let manifest: Value = serde_json::from_str(&text).expect("the manifest is JSON");
    assert_valid(&manifest);
    Run {
        manifest,
        code: status.code().unwrap_or(-1),
        interrupted,
    }
}

/// `id → (status, reason)` for every check of `checks`.
fn verdicts(m: &Value, checks: &BTreeSet<String>) -> BTreeMap<String, (String, String)> {
    checks
        .iter()
        .map(|id| {
            let c = check(m, id);
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (id.clone(), (s("status"), s("reason")))
        })
        .collect()
}

/// Asserts every API check's status: those in `expected` as given (`status` or
/// `status:reason`), every other one `pass`. Fails listing every difference.
fn expect(run: &Run, expected: &[(&str, &str)]) {
    expect_over(run, api_checks(), expected);
}

/// [`expect`] over the checks of `checks`.
fn expect_over(run: &Run, checks: &BTreeSet<String>, expected: &[(&str, &str)]) {
    let got = verdicts(&run.manifest, checks);
    let expected: BTreeMap<&str, &str> = expected.iter().copied().collect();
    for id in expected.keys() {
        assert!(
            got.contains_key(*id),
            "{id} is not a decided check of the plan"
        );
    }
    let mut wrong = Vec::new();
    for (id, (status, reason)) in &got {
        let want = expected.get(id.as_str()).copied().unwrap_or("pass");
        let ok = match want.split_once(':') {
            Some((s, r)) => status == s && reason == r,
            None => status == want,
        };
        if !ok {
            let c = check(&run.manifest, id);
            wrong.push(format!(
                "{id}: want {want}, got {status}:{reason} — {}",
                c["message"].as_str().unwrap_or("")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} API check(s) not as expected (exit {}, interrupted {}):\n{}",
        wrong.len(),
        run.code,
        run.interrupted,
        wrong.join("\n")
    );
}

/// The API checks `pick` selects, each expected as `want`.
fn all(pick: impl Fn(&str) -> bool, want: &'static str) -> Vec<(String, &'static str)> {
    api_checks()
        .iter()
        .filter(|id| pick(id))
        .map(|id| (id.clone(), want))
        .collect()
}

/// `expect` over owned ids.
fn expect_owned(run: &Run, expected: Vec<(String, &str)>) {
    let pairs: Vec<(&str, &str)> = expected.iter().map(|(i, w)| (i.as_str(), *w)).collect();
    expect(run, &pairs);
}

/// A certification without `--repair` reads only: the agent ping is its one POST.
fn assert_read_only(pve: &PveFixture) {
    let writes: Vec<String> = pve
        .writes()
        .iter()
        .filter(|r| !(r.method == "POST" && r.path.ends_with("/agent/ping")))
        .map(|r| r.line())
        .collect();
    assert!(writes.is_empty(), "certify wrote to the lab: {writes:#?}");
}

/// The failing expectations' matchers and queries of a check.
fn failed_expectations(m: &Value, id: &str) -> Vec<String> {
    check(m, id)["expectations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["passed"] == false)
        .map(|e| {
            let query = e["query"].as_str().unwrap_or("");
            let matcher = e["matcher"].as_str().unwrap_or("");
            format!("{query} {matcher}").trim().to_string()
        })
        .collect()
}

/// A fault of the lab, and what the pve catalog must make of it.
struct Fault {
    scenario: Scenario,
    /// The check made for it, and its verdict (`status:reason`).
    check: &'static str,
    want: &'static str,
    /// Its failing expectations (as [`failed_expectations`] lists them).
    failed: &'static [&'static str],
    /// The checks that need it, each `blocked` naming it or a check listed before it.
    blocks: &'static [&'static str],
}

/// The lab with every fault of `faults` (their targets must differ).
fn fixture(faults: &[Fault], netns: Option<&str>) -> PveFixture {
    let scenarios: Vec<Scenario> = faults.iter().map(|f| f.scenario).collect();
    PveFixture::with_faults_in(Lab::default(), &scenarios, netns)
}

/// Asserts each fault's verdict, failing expectations and blocked dependents, and that
/// every other check of `checks` passed.
fn assert_faults(run: &Run, checks: &BTreeSet<String>, faults: &[Fault]) {
    let mut want: Vec<(&str, &str)> = Vec::new();
    for f in faults {
        want.push((f.check, f.want));
        want.extend(f.blocks.iter().map(|b| (*b, "blocked:dependency")));
    }
    expect_over(run, checks, &want);
    let mut wrong = Vec::new();
    for f in faults {
        let failed = failed_expectations(&run.manifest, f.check);
        if failed != f.failed {
            wrong.push(format!(
                "{:?}: {} failed on {failed:?}, not {:?}",
                f.scenario, f.check, f.failed
            ));
        }
        for (i, b) in f.blocks.iter().enumerate() {
            let message = check(&run.manifest, b)["message"].to_string();
            let mut by = std::iter::once(&f.check).chain(&f.blocks[..i]);
            if !by.any(|c| message.contains(&format!("needs {c},"))) {
                wrong.push(format!(
                    "{b} is blocked ({message}), but not by {}",
                    f.check
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- the healthy lab ------------------------------------------------------------------------

#[test]
fn a_healthy_lab_passes_every_api_check() {
    let pve = PveFixture::start(Scenario::Healthy);
    let run = certify(&pve);
    expect(&run, &[]);
    let m = &run.manifest;
    assert_eq!(check(m, "pve.access.auth")["captures"]["release"], "8.2");
    let fps = &check(m, "pve.cluster.nodes")["captures"]["fingerprints"];
    assert_eq!(fps[0]["node"], "pve1");
    assert_eq!(fps[0]["fingerprint"], pve.fingerprint());
    // The token is masked wherever it would show.
    assert!(
        !m.to_string()
            .contains(pve.token().split('=').nth(1).unwrap())
    );
    assert_read_only(&pve);
    // Every VM was pinged once (the agent answered on the first poll).
    for (node, vmid) in [("pve1", 4101), ("pve2", 4102), ("pve2", 4103)] {
        let ping = format!("/nodes/{node}/qemu/{vmid}/agent/ping");
        assert_eq!(pve.count("POST", &ping), 1, "{ping}");
    }
    assert_eq!(pve.count("GET", "/access/permissions"), 2);
}

// ---- access ---------------------------------------------------------------------------------

#[test]
fn a_refused_token_blocks_everything_after_one_call() {
    let pve = PveFixture::start(Scenario::BadToken);
    let run = certify(&pve);
    let mut want = all(|id| id != "pve.access.auth", "blocked:dependency");
    want.push(("pve.access.auth".into(), "blocked:auth"));
    expect_owned(&run, want);
    let calls: Vec<String> = pve.requests().iter().map(|r| r.line()).collect();
    assert_eq!(calls, ["GET /api2/json/version"], "401 is not retried");
    // PVE says why in the reason phrase: the check says it too.
    let auth = check(&run.manifest, "pve.access.auth");
    let said = auth["evidence"]["reasonPhrase"]
        .as_str()
        .unwrap_or_default();
    assert!(!said.is_empty() && said != "Unauthorized", "{auth:#}");
    assert!(
        auth["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("HTTP 401 {said}")),
        "{auth:#}"
    );
}

#[test]
fn a_token_without_privileges_fails_the_privilege_check_not_the_inventory() {
    let pve = PveFixture::start(Scenario::TokenWithoutPrivileges);
    let run = certify(&pve);
    let mut want = all(
        |id| id != "pve.access.auth" && id != "pve.access.privileges",
        "blocked:dependency",
    );
    want.push(("pve.access.privileges".into(), "fail:expectation"));
    expect_owned(&run, want);
    assert_eq!(
        failed_expectations(&run.manifest, "pve.access.privileges"),
        [
            "data.\"/\".\"Sys.Audit\" equals",
            "data.\"/vms\".\"VM.Audit\" equals",
            "data.\"/vms\".\"VM.Monitor\" equals",
            "data.\"/sdn\".\"SDN.Audit\" equals"
        ]
    );
    // The empty inventories were never taken for "template missing".
    assert_eq!(pve.count("GET", "/cluster/resources"), 0);
}

// ---- cluster and network --------------------------------------------------------------------

#[test]
fn an_offline_node_fails_the_cluster_checks_and_blocks_what_lives_on_it() {
    let pve = PveFixture::start(Scenario::NodeOffline("pve2"));
    let run = certify(&pve);
    let on_pve2 = |id: &str| id.ends_with("[cert-b]") || id.ends_with("[cert-c]");
    let mut want = all(on_pve2, "blocked:dependency");
    want.extend(all(
        |id| {
            on_pve2(id)
                && (id.starts_with("pve.vms.qga-enabled")
                    || id.starts_with("pve.firewall.vm-enabled")
                    || id.starts_with("pve.firewall.vm-nic"))
        },
        "blocked:node_unreachable",
    ));
    want.extend(all(
        |id| id.starts_with("pve.network."),
        "blocked:dependency",
    ));
    want.extend([
        ("pve.cluster.quorum".into(), "fail:expectation"),
        ("pve.cluster.nodes".into(), "fail:expectation"),
        ("pve.firewall.node[pve2]".into(), "blocked:node_unreachable"),
        (
            "pve.templates.cloudinit-ready[ubuntu-2404-cert]".into(),
            "blocked:dependency",
        ),
    ]);
    // Later entries win: the direct 595s over the "dependency" default for pve2's VMs.
    let mut map: BTreeMap<String, &str> = BTreeMap::new();
    for (id, w) in want {
        map.insert(id, w);
    }
    expect_owned(&run, map.into_iter().collect());
    assert_read_only(&pve);
    let firewall = check(&run.manifest, "pve.firewall.node[pve2]");
    assert!(
        firewall["message"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 595 Errors during connection establishment"),
        "{firewall:#}"
    );
}

#[test]
fn a_bridge_that_is_not_vlan_aware_fails_its_bridge_check() {
    let pve = PveFixture::start(Scenario::BridgeNotVlanAware {
        node: "pve1",
        iface: "vmbr1",
    });
    let run = certify(&pve);
    expect(
        &run,
        &[
            ("pve.network.bridges[pve1,vmbr1]", "fail:expectation"),
            (
                "pve.templates.cloudinit-ready[ubuntu-2404-cert]",
                "blocked:dependency",
            ),
        ],
    );
    assert_eq!(
        failed_expectations(&run.manifest, "pve.network.bridges[pve1,vmbr1]"),
        [
            "data[?iface=='vmbr1'] | [0].bridge_vlan_aware equals",
            "data[?iface=='vmbr1'] | [0].bridge_vids equals"
        ]
    );
    assert_read_only(&pve);
}

/// What staged network changes on pve1 do to the API checks.
const PENDING_ON_PVE1: &[(&str, &str)] = &[
    ("pve.network.pending[pve1]", "fail:expectation"),
    ("pve.network.bridges[pve1,vmbr0]", "blocked:dependency"),
    ("pve.network.bridges[pve1,vmbr1]", "blocked:dependency"),
    (
        "pve.templates.cloudinit-ready[ubuntu-2404-cert]",
        "blocked:dependency",
    ),
];

#[test]
fn pending_network_changes_fail_their_own_check_and_the_bridges_wait_for_them() {
    let pve = PveFixture::start(Scenario::PendingNetworkChanges("pve1"));
    let run = certify(&pve);
    expect(&run, PENDING_ON_PVE1);
    assert_eq!(
        failed_expectations(&run.manifest, "pve.network.pending[pve1]"),
        ["changes absent"]
    );
}

// ---- templates and VMs ----------------------------------------------------------------------

#[test]
fn a_missing_template_fails_the_template_check() {
    let pve = PveFixture::start(Scenario::TemplateMissing(9000));
    let run = certify(&pve);
    expect(
        &run,
        &[
            ("pve.templates.present", "fail:expectation"),
            (
                "pve.templates.identity[ubuntu-2404-cert]",
                "blocked:dependency",
            ),
            (
                "pve.templates.cloudinit-ready[ubuntu-2404-cert]",
                "blocked:dependency",
            ),
        ],
    );
    assert_eq!(pve.count("GET", "/qemu/9000/config"), 0);
}

#[test]
fn an_agent_missing_from_the_config_fails_qga_enabled() {
    let pve = PveFixture::start(Scenario::QgaDisabled(4101));
    let run = certify(&pve);
    let mut want = all(
        |id| id.starts_with("pve.vms.") && id.ends_with("[cert-a]"),
        "blocked:dependency",
    );
    want.retain(|(id, _)| id != "pve.vms.qga-enabled[cert-a]");
    want.push(("pve.vms.qga-enabled[cert-a]".into(), "fail:expectation"));
    expect_owned(&run, want);
    assert_eq!(pve.count("POST", "/qemu/4101/agent/ping"), 0);
    assert_read_only(&pve);
}

/// The faults only a polled check's whole window proves, certified together (the agent's
/// 180 s covers the address's 120 s).
const POLLED_FAULTS: &[Fault] = &[
    Fault {
        scenario: Scenario::QgaNotResponding(4101),
        check: "pve.vms.qga-ping[cert-a]",
        want: "fail:agent_down",
        failed: &[],
        blocks: &["pve.vms.guest-ip[cert-a]", "pve.vms.hostname[cert-a]"],
    },
    Fault {
        scenario: Scenario::GuestAddressWrong(4102),
        check: "pve.vms.guest-ip[cert-b]",
        want: "fail:expectation",
        failed: &[
            "data.result[?\"hardware-address\"=='bc:24:11:7a:01:b3'] | [0].\"ip-addresses\"[?\"ip-address-type\"=='ipv4'].\"ip-address\" contains",
        ],
        blocks: &[],
    },
];

#[test]
fn an_agent_that_never_answers_or_a_wrong_address_fails_after_its_poll_window() {
    let pve = fixture(POLLED_FAULTS, None);
    let run = certify(&pve);
    assert_faults(&run, api_checks(), POLLED_FAULTS);
    // The address was polled for its whole window too.
    let polls = check(&run.manifest, "pve.vms.guest-ip[cert-b]")["attempts"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(polls > 20, "polled every 5 s for 120 s: {polls} attempts");
    let attempts = check(&run.manifest, "pve.vms.qga-ping[cert-a]")["attempts"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        attempts.len() > 30,
        "polled every 5 s for 180 s: {attempts:#?}"
    );
    assert!(attempts.iter().all(|a| a["reason"] == "agent_down"));
    assert_eq!(pve.count("POST", "/qemu/4101/agent/ping"), attempts.len());
}

#[test]
fn a_stopped_vm_fails_running() {
    let pve = PveFixture::start(Scenario::VmStopped(4101));
    let run = certify(&pve);
    expect(
        &run,
        &[
            ("pve.vms.running[cert-a]", "fail:expectation"),
            ("pve.vms.qga-ping[cert-a]", "blocked:dependency"),
            ("pve.vms.guest-ip[cert-a]", "blocked:dependency"),
            ("pve.vms.hostname[cert-a]", "blocked:dependency"),
        ],
    );
    assert_read_only(&pve);
}

#[test]
fn a_stale_cloud_init_drive_fails_cloudinit_current() {
    let pve = PveFixture::start(Scenario::StaleCloudInit(4101));
    let run = certify(&pve);
    expect(
        &run,
        &[
            ("pve.vms.cloudinit-current[cert-a]", "fail:expectation"),
            ("pve.vms.cloudinit-userdata[cert-a]", "blocked:dependency"),
        ],
    );
    assert_read_only(&pve);
}

#[test]
fn a_vm_firewall_that_is_off_fails_vm_enabled() {
    let pve = PveFixture::start(Scenario::FirewallDisabled(4101));
    let run = certify(&pve);
    expect(
        &run,
        &[
            ("pve.firewall.vm-enabled[cert-a]", "fail:expectation"),
            ("pve.firewall.vm-ssh-rule[cert-a]", "blocked:dependency"),
        ],
    );
    assert_read_only(&pve);
}

// ---- faults certified together --------------------------------------------------------------

/// Faults whose checks do not need each other's, certified in one run.
const API_FAULTS: &[Fault] = &[
    Fault {
        scenario: Scenario::ReadOnlyToken,
        check: "pve.access.repair-privileges",
        want: "fail:expectation",
        failed: &[
            "data.\"/vms\".\"VM.Config.Cloudinit\" equals",
            "data.\"/vms\".\"VM.Config.Options\" equals",
            "data.\"/vms\".\"VM.Config.Network\" equals",
            "data.\"/vms\".\"VM.PowerMgmt\" equals",
            "data.\"/nodes\".\"Sys.Modify\" equals",
        ],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::ClusterFirewallOff,
        check: "pve.firewall.cluster",
        want: "fail:expectation",
        failed: &["data.enable equals"],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::NodeFirewallOff("pve2"),
        check: "pve.firewall.node[pve2]",
        want: "fail:expectation",
        failed: &["data.enable equals"],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::NicNotFiltered(4102),
        check: "pve.firewall.vm-nic[cert-b]",
        want: "fail:expectation",
        failed: &["data.net0 matches"],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::SshRuleDisabled(4103),
        check: "pve.firewall.vm-ssh-rule[cert-c]",
        want: "fail:expectation",
        failed: &[
            "data[?type=='in' && action=='ACCEPT' && proto=='tcp' && dport=='22' && \
             (enable==`1` || enable==null) && (source==null || source=='10.10.0.0/24')] length ge",
        ],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::TemplateWrongImage(9000),
        check: "pve.templates.identity[ubuntu-2404-cert]",
        want: "fail:expectation",
        failed: &["data.description contains"],
        blocks: &["pve.templates.cloudinit-ready[ubuntu-2404-cert]"],
    },
    Fault {
        scenario: Scenario::CloudInitDriveMissing(4101),
        check: "pve.vms.cloudinit-drive[cert-a]",
        want: "fail:expectation",
        failed: &["values(data)[?type(@)=='string'] any matches"],
        blocks: &[
            "pve.vms.cloudinit-current[cert-a]",
            "pve.vms.cloudinit-userdata[cert-a]",
        ],
    },
    Fault {
        scenario: Scenario::CustomUserData(4102),
        check: "pve.vms.cloudinit-userdata[cert-b]",
        want: "fail:expectation",
        failed: &["data contains", "data contains"],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::GuestHostnameNotSet(4103),
        check: "pve.vms.hostname[cert-c]",
        want: "fail:expectation",
        failed: &["data.result.\"host-name\" equals"],
        blocks: &[],
    },
];

/// The template's own fault (its identity fault above blocks this check).
const TEMPLATE_FAULTS: &[Fault] = &[Fault {
    scenario: Scenario::TemplateWithoutAgent(9000),
    check: "pve.templates.cloudinit-ready[ubuntu-2404-cert]",
    want: "fail:expectation",
    failed: &["data.agent matches"],
    blocks: &[],
}];

#[test]
fn independent_faults_each_fail_their_own_check_and_block_only_its_dependents() {
    // One fixture and one run per table, the tables certified side by side.
    std::thread::scope(|s| {
        for faults in [API_FAULTS, TEMPLATE_FAULTS] {
            s.spawn(move || {
                let pve = fixture(faults, None);
                let run = certify(&pve);
                assert_faults(&run, api_checks(), faults);
                assert_read_only(&pve);
            });
        }
    });
}

// ---- over SSH: the nodes and the guests -----------------------------------------------------

/// Faults only an SSH login into a node or guest sees.
const SSH_FAULTS: &[Fault] = &[
    Fault {
        scenario: Scenario::SeedUnreadable(4102),
        check: "pve.vms.seed-readable[cert-b]",
        want: "fail:expectation",
        failed: &["stdout matches"],
        blocks: &[],
    },
    Fault {
        scenario: Scenario::GuestHostKeyChanged(4103),
        check: "pve.vms.ssh-boot[cert-c]",
        want: "blocked:hostkey",
        failed: &[],
        blocks: &["pve.vms.seed-readable[cert-c]"],
    },
    Fault {
        scenario: Scenario::GatewayMissing {
            node: "pve1",
            iface: "vmbr1.30",
        },
        check: "pve.routing.forwarding[pve1-vmbr1.30]",
        want: "fail:expectation",
        failed: &[
            "addr[0].operstate in",
            "addr[0].addr_info[?family=='inet'].local contains",
        ],
        blocks: &[],
    },
];

#[test]
fn over_ssh_guests_boot_see_their_seed_and_gateways_forward_unless_faulted() {
    let ns = Netns::new();
    let pve = fixture(SSH_FAULTS, Some(&format!("/run/netns/{}", ns.name)));
    let domain = demo_vars("pve")["node_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let ssh = SshHosts::start(&ns, &pve, &domain);
    let run = certify_in(&pve, Some((&ns, &ssh)), pve_checks(), &[]);
    assert_faults(&run, pve_checks(), SSH_FAULTS);
    let m = &run.manifest;
    let boot = &check(m, "pve.vms.ssh-boot[cert-a]")["captures"];
    assert_eq!(boot["hostname"], "cert-a");
    assert_eq!(boot["datasource"], "NoCloud");
    assert_read_only(&pve);
}

// ---- repairs --------------------------------------------------------------------------------

/// The repair ledger's entry for `id`.
fn ledger<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["repairs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["check"] == id)
        .unwrap_or_else(|| panic!("no repair entry for {id}"))
}

#[test]
fn a_bridge_without_an_mtu_is_made_vlan_aware_writing_only_what_it_read() {
    let pve = PveFixture::start(Scenario::BridgeNotVlanAware {
        node: "pve1",
        iface: "vmbr1",
    });
    assert!(
        pve.state()
            .node("pve1")
            .unwrap()
            .network
            .iface("vmbr1")
            .unwrap()
            .get("mtu")
            .is_none()
    );
    let run = certify_repair(&pve, &[]);
    expect(
        &run,
        &[("pve.network.bridges[pve1,vmbr1]", "repaired:repaired")],
    );
    let entry = ledger(&run.manifest, "pve.network.bridges[pve1,vmbr1]");
    assert_eq!(entry["status"], "repaired", "{entry:#}");
    // The write carried what the read found, and nothing for what it did not find: no
    // `mtu=`, `gateway=`, `cidr6=`, … (an empty field is a value to PVE).
    let puts: Vec<_> = pve
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/nodes/pve1/network/vmbr1"))
        .collect();
    assert_eq!(puts.len(), 1, "{puts:#?}");
    let sent: Vec<&str> = puts[0].params.keys().collect();
    let empty: Vec<&str> = puts[0]
        .params
        .0
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(empty.is_empty(), "sent empty: {empty:?} (all: {sent:?})");
    let vmbr1 = pve
        .state()
        .node("pve1")
        .unwrap()
        .network
        .iface("vmbr1")
        .unwrap()
        .clone();
    assert_eq!(vmbr1["bridge_vlan_aware"], 1);
    assert_eq!(vmbr1["bridge_ports"], "bond0");
    for k in ["mtu", "gateway", "cidr6", "gateway6", "address", "comments"] {
        assert!(vmbr1.get(k).is_none(), "{k} appeared: {vmbr1:?}");
    }
}

#[test]
fn staged_network_changes_are_never_applied_and_reverted_only_when_the_topology_allows() {
    // Without the flag: reported for a person, nothing written.
    let pve = PveFixture::start(Scenario::PendingNetworkChanges("pve1"));
    let run = certify_repair(&pve, &[]);
    expect(&run, PENDING_ON_PVE1);
    let entry = ledger(&run.manifest, "pve.network.pending[pve1]");
    assert_eq!(entry["status"], "refused", "{entry:#}");
    assert!(
        entry["guard"]["reason"]
            .as_str()
            .unwrap()
            .contains("allow_network_revert")
    );
    assert_read_only(&pve);
    assert!(pve.state().node("pve1").unwrap().network.pending.is_some());
    // With it: interfaces.new is discarded (DELETE), never applied (no reload).
    let pve = PveFixture::start(Scenario::PendingNetworkChanges("pve1"));
    let run = certify_repair(&pve, &["pve.allow_network_revert=true"]);
    expect(&run, &[("pve.network.pending[pve1]", "repaired:repaired")]);
    assert_eq!(pve.count("DELETE", "/nodes/pve1/network"), 1);
    assert_eq!(
        pve.count("PUT", "/nodes/pve1/network"),
        0,
        "a reload applies"
    );
    let st = pve.state();
    let net = &st.node("pve1").unwrap().network;
    assert!(net.pending.is_none());
    assert!(net.iface("vmbr1").unwrap().get("mtu").is_none(), "applied");
}

#[test]
fn a_change_staged_during_the_repair_refuses_the_reload_and_the_node_stays_reachable() {
    let pve = PveFixture::with_faults_in(
        Lab::default(),
        &[
            Scenario::BridgeNotVlanAware {
                node: "pve1",
                iface: "vmbr1",
            },
            Scenario::ColleagueMovesManagement("pve1"),
        ],
        None,
    );
    let run = certify_repair(&pve, &[]);
    expect(
        &run,
        &[
            ("pve.network.bridges[pve1,vmbr1]", "fail:expectation"),
            (
                "pve.templates.cloudinit-ready[ubuntu-2404-cert]",
                "blocked:dependency",
            ),
        ],
    );
    let entry = ledger(&run.manifest, "pve.network.bridges[pve1,vmbr1]");
    assert_eq!(entry["status"], "refused", "{entry:#}");
    let message = entry["message"].as_str().unwrap();
    assert!(message.starts_with("repair refused at step 5"), "{message}");
    assert!(message.contains("someone else's change"), "{message}");
    // The ledger shows both refusals, with what was expected and what is staged.
    let step = entry["steps"].as_array().unwrap().last().unwrap();
    let failed: Vec<&Value> = step["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 2, "{step:#}");
    assert_eq!(failed[1]["expected"]["cidr"], "10.0.0.11/24", "{step:#}");
    assert_eq!(failed[1]["actual"], Value::Null, "{step:#}");
    // Nothing was reloaded: the node runs its old network and still answers.
    assert_eq!(pve.count("PUT", "/nodes/pve1/network"), 0);
    let st = pve.state();
    let pve1 = st.node("pve1").unwrap();
    assert!(pve1.reachable());
    assert_eq!(pve1.network.iface("vmbr0").unwrap()["address"], "10.0.0.11");
}

#[test]
fn nothing_is_written_while_the_cluster_is_inquorate() {
    // pve2 is off: with two nodes the cluster has lost quorum, /etc/pve is read-only.
    let pve = PveFixture::with_faults_in(
        Lab::default(),
        &[
            Scenario::NodeOffline("pve2"),
            Scenario::FirewallDisabled(4101),
        ],
        None,
    );
    assert!(!pve.state().quorate());
    let run = certify_repair(&pve, &[]);
    let vm = "pve.firewall.vm-enabled[cert-a]";
    assert_eq!(check(&run.manifest, vm)["status"], "fail");
    let entry = ledger(&run.manifest, vm);
    assert_eq!(entry["status"], "refused", "{entry:#}");
    let message = entry["message"].as_str().unwrap();
    assert!(
        message.starts_with("repair refused: precondition pve.cluster.quorum is fail"),
        "{message}"
    );
    assert_eq!(entry["preconditions"][0]["check"], "pve.cluster.quorum");
    assert!(
        entry["steps"].as_array().is_none_or(Vec::is_empty),
        "{entry:#}"
    );
    assert_read_only(&pve);
}

#[test]
fn a_failed_step_says_what_pve_said_in_the_ledger_and_the_checks_message() {
    // A read-only token: the repair's write is refused with PVE's reason phrase.
    let pve = PveFixture::with_faults_in(
        Lab::default(),
        &[Scenario::ReadOnlyToken, Scenario::FirewallDisabled(4101)],
        None,
    );
    let run = certify_repair(&pve, &[]);
    let id = "pve.firewall.vm-enabled[cert-a]";
    let said = "HTTP 403 Permission check failed (/vms/4101, VM.Config.Network)";
    let entry = ledger(&run.manifest, id);
    assert_eq!(entry["status"], "failed", "{entry:#}");
    let step = &entry["steps"][0];
    assert!(step["message"].as_str().unwrap().contains(said), "{step:#}");
    let c = check(&run.manifest, id);
    assert_eq!(c["reason"], "repair_failed");
    let message = c["message"].as_str().unwrap();
    assert!(message.contains("step 1"), "{message}");
    assert!(message.contains(said), "{message}");
}

#[test]
fn no_settle_wait_follows_a_failed_step() {
    // The bridge repair settles 5 s after its reload; here its write is refused (403).
    let pve = PveFixture::with_faults_in(
        Lab::default(),
        &[
            Scenario::ReadOnlyToken,
            Scenario::BridgeNotVlanAware {
                node: "pve1",
                iface: "vmbr1",
            },
        ],
        None,
    );
    let run = certify_repair(&pve, &[]);
    let entry = ledger(&run.manifest, "pve.network.bridges[pve1,vmbr1]");
    assert_eq!(entry["status"], "failed", "{entry:#}");
    let at = |k: &str| {
        entry[k]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let took = at("finishedAt").duration_since(at("startedAt"));
    assert!(
        took < jiff::SignedDuration::from_secs(3),
        "the failed repair took {took:?}"
    );
}

#[test]
fn a_cloud_init_drive_for_a_running_vm_needs_a_restart_allowed_or_nothing_is_written() {
    let id = "pve.vms.cloudinit-drive[cert-a]";
    // Not allowed: refused before anything is written (no drive left pending).
    let pve = PveFixture::start(Scenario::CloudInitDriveMissing(4101));
    let run = certify_repair(&pve, &[]);
    assert_eq!(check(&run.manifest, id)["status"], "fail");
    let entry = ledger(&run.manifest, id);
    assert_eq!(entry["status"], "refused", "{entry:#}");
    let message = entry["message"].as_str().unwrap();
    assert!(message.contains("needs a restart of VM 4101"), "{message}");
    assert_read_only(&pve);
    assert!(pve.state().vm(4101).unwrap().pending.is_empty());
    // Allowed: added, the VM restarted, and verified.
    let pve = PveFixture::start(Scenario::CloudInitDriveMissing(4101));
    let run = certify_repair(&pve, &["pve.allow_vm_restart=true"]);
    let c = check(&run.manifest, id);
    assert_eq!(c["status"], "repaired", "{:#}", ledger(&run.manifest, id));
    let vm = pve.state().vm(4101).unwrap().clone();
    assert!(vm.running && vm.pending.is_empty());
    assert!(
        vm.config["ide2"]
            .as_str()
            .unwrap()
            .contains("vm-4101-cloudinit")
    );
    assert_eq!(pve.count("POST", "/qemu/4101/status/start"), 1);
}

#[test]
fn a_token_that_cannot_see_bridges_fails_the_privilege_check_and_no_bridge_is_missing_or_rewritten()
{
    let pve = PveFixture::start(Scenario::TokenWithoutSdnAudit);
    let run = certify_repair(&pve, &[]);
    let mut want = all(
        |id| id != "pve.access.auth" && id != "pve.access.privileges",
        "blocked:dependency",
    );
    want.push(("pve.access.privileges".into(), "fail:expectation"));
    expect_owned(&run, want);
    assert_eq!(
        failed_expectations(&run.manifest, "pve.access.privileges"),
        ["data.\"/sdn\".\"SDN.Audit\" equals"]
    );
    // No bridge was called missing, and nothing was rewritten.
    assert!(!run.manifest.to_string().contains("bridge does not exist"));
    assert!(pve.writes().is_empty(), "{:#?}", pve.writes());
}
