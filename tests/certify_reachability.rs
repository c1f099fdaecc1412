//! `labcert certify` with the real reachability catalog, live, from inside a lab of network
//! namespaces (`tests/support/netlab.rs`): runner, PVE nodes, VMs on two VLANs, a cloud
//! instance and API, a mirror and a DNS server, each a real service; a router drops the
//! paths the design forbids. labcert runs in the runner's namespace with the lab's dnsmasq
//! as its system resolver.
//!
//! Two ways to meet the catalog's provider dependencies:
//! - the shipped `catalogs/` and the demo topology (`--providers pve`): the pve catalog has
//!   no PVE API to talk to, so only the reachability checks that need no `pve.*` check can
//!   run — they pass; the rest are blocked on their dependency;
//! - the real `reachability.yaml` next to pve/aws stand-ins (`netlab/standins.rs`) whose
//!   checks the lab meets (a VM is up when it answers SSH): every path is probed.
//!
//! Faults, each caught by its own check: a port refused or silently dropped between two
//! endpoints (`fail`, refused / timeout), the router's deny rules removed (`deny.closed`
//! fails), a link with a smaller MTU (`pve.mtu` fails), a source endpoint without sshd (its
//! paths `blocked`, paths to it `fail`), no resolver on the runner (`blocked`). Each test
//! prints the from × to matrix of the mesh checks.
//!
//! Not fixturable here: `time.runner` and `time.nodes` ask systemd-timedated over D-Bus
//! (`timedatectl`), and the test machine has no systemd as PID 1 — they are `blocked`
//! (`no_timedated`), never `pass`.
//!
//! Only addresses inside the lab's namespaces (10.251.X.0/24) are contacted; the lab has no
//! link to the test's own namespace. Needs root, iproute2, nftables, dnsmasq, openssh-server,
//! curl and iputils-ping (`scripts/test.sh` installs them).

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

// The netlab's HTTPS cloud API uses the test CA.
#[allow(dead_code)]
#[path = "support/https.rs"]
mod https;
#[path = "support/manifest.rs"]
mod manifest;
#[allow(dead_code)]
#[path = "support/netlab.rs"]
mod netlab;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use manifest::{assert_valid, check};
use netlab::Lab;
use netlab::standins::TOPOLOGY;

/// A dummy token: the demo binds `env:PVE_TOKEN`, so the pve catalog really probes the
/// lab's API port instead of stopping at a missing secret.
const PVE_TOKEN: &str = "netlab@pve!test=00000000-0000-0000-0000-000000000000";

/// One certify run's manifest and how it ended.
struct Run {
    m: Value,
    code: i32,
    output: String,
    took: Duration,
}

impl Run {
    /// `(status, reason)` of check `id`.
    fn status(&self, id: &str) -> (String, Option<String>) {
        let c = check(&self.m, id);
        let s = |v: &Value| v.as_str().map(str::to_string);
        (s(&c["status"]).unwrap(), s(&c["reason"]))
    }

    /// Every reachability check's `id → (status, reason)`.
    fn reachability(&self) -> BTreeMap<String, (String, Option<String>)> {
        let s = |v: &Value| v.as_str().map(str::to_string);
        self.m["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["checks"].as_array().into_iter().flatten())
            .filter_map(|c| {
                let id = c["id"].as_str()?;
                id.starts_with("reachability.").then(|| {
                    let id = id.trim_start_matches("reachability.").to_string();
                    (id, (s(&c["status"]).unwrap(), s(&c["reason"])))
                })
            })
            .collect()
    }

    /// Reachability check ids (without `reachability.`) with status `status`.
    fn with_status(&self, status: &str) -> Vec<String> {
        self.reachability()
            .into_iter()
            .filter(|(_, (s, _))| s == status)
            .map(|(id, _)| id)
            .collect()
    }
}

/// `labcert --catalogs ROOT certify --topology T --live --providers P --var reachability.*`
/// (the lab's inputs) `--var extra…`, in the runner's namespace.
fn certify(lab: &Lab, root: &Path, topology: &str, providers: &str, extra: &[String]) -> Run {
    let out = lab.dir.path().join(format!("manifest-{topology}.json"));
    let mut args: Vec<String> = vec![
        "--catalogs".into(),
        root.display().to_string(),
        "certify".into(),
        "--environment".into(),
        "netlab".into(),
        "--topology".into(),
        topology.into(),
        "--live".into(),
        "--providers".into(),
        providers.into(),
        "--out".into(),
        out.display().to_string(),
    ];
    for (name, value) in lab.reachability_vars() {
        args.push("--var".into());
        args.push(format!("reachability.{name}={value}"));
    }
    for v in extra {
        args.push("--var".into());
        args.push(v.clone());
    }
    let started = Instant::now();
    let o = lab.labcert(&args, &[("PVE_TOKEN", PVE_TOKEN)]);
    let took = started.elapsed();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("no manifest ({e}); {}:\n{output}", o.status));
    let m: Value = serde_json::from_str(&text).expect("the manifest is JSON");
    assert_valid(&m);
    Run {
        m,
        code: o.status.code().unwrap_or(-1),
        output,
        took,
    }
}

/// The shipped catalogs and demo topology, pve selected, pointed at the lab.
fn certify_shipped(lab: &Lab) -> Run {
    let cert_vms = format!("pve.cert_vms={}", lab.cert_vms());
    certify(lab, Path::new("catalogs"), "demo", "pve", &[cert_vms])
}

/// The real reachability catalog with the pve/aws stand-ins the lab satisfies.
fn certify_standins(lab: &Lab) -> Run {
    let root = lab.standin_catalogs();
    certify(lab, &root, TOPOLOGY, "pve,aws", &[])
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// What the lab's endpoints can decide when every provider dependency is met, all `pass`
/// in the healthy lab (the time checks aside).
const EVERY_PATH: &[&str] = &[
    "deny.closed[aws-to-pve-api]",
    "deny.closed[vm-to-pve-api]",
    "deny.closed[vm-to-pve-ssh]",
    "dns.pinned[api.cloud.lab.test]",
    "dns.pinned[mirror.lab.test]",
    "dns.pinned[pve1.lab.test]",
    "dns.pinned[pve2.lab.test]",
    "dns.resolves[api.cloud.lab.test]",
    "dns.resolves[mirror.lab.test]",
    "dns.resolves[pve1.lab.test]",
    "dns.resolves[pve2.lab.test]",
    "mesh.from-aws[cloud1,vm1]",
    "mesh.from-aws[cloud1,vm2]",
    "mesh.from-aws[cloud1,vm3]",
    "mesh.from-pve[vm1,cloud1]",
    "mesh.from-pve[vm1,vm2]",
    "mesh.from-pve[vm1,vm3]",
    "mesh.from-pve[vm2,cloud1]",
    "mesh.from-pve[vm2,vm1]",
    "mesh.from-pve[vm2,vm3]",
    "mesh.from-pve[vm3,cloud1]",
    "mesh.from-pve[vm3,vm1]",
    "mesh.from-pve[vm3,vm2]",
    "pve.egress[vm1]",
    "pve.egress[vm2]",
    "pve.egress[vm3]",
    "pve.l2-same-vlan[vm1,vm2]",
    "pve.l2-same-vlan[vm2,vm1]",
    "pve.l3-cross-vlan[vm1,vm3]",
    "pve.l3-cross-vlan[vm2,vm3]",
    "pve.l3-cross-vlan[vm3,vm1]",
    "pve.l3-cross-vlan[vm3,vm2]",
    "pve.mtu[vm1,vm2]",
    "pve.mtu[vm2,vm1]",
    "runner.cloud-apis[aws]",
    "runner.endpoint-ssh[cloud1]",
    "runner.endpoint-ssh[vm1]",
    "runner.endpoint-ssh[vm2]",
    "runner.endpoint-ssh[vm3]",
    "runner.pve-api[pve1]",
    "runner.pve-api[pve2]",
    "runner.pve-ssh[pve1]",
    "runner.pve-ssh[pve2]",
];

/// The time checks: `timedatectl` needs systemd-timedated, which the test machine lacks.
fn assert_time_checks_blocked(run: &Run, ids: &[&str]) {
    for id in ids {
        let (status, reason) = run.status(&format!("reachability.{id}"));
        assert_eq!(
            (status.as_str(), reason.as_deref()),
            ("blocked", Some("no_timedated")),
            "{id}: {:#}",
            check(&run.m, &format!("reachability.{id}"))
        );
    }
}

/// The from × to matrix of the mesh checks: each cell `pass`, `FAIL:<reason>` or
/// `blocked`; printed, and returned as `(from, to) → cell`.
fn matrix(run: &Run, title: &str) -> BTreeMap<(String, String), String> {
    let mut cells = BTreeMap::new();
    for (id, (status, reason)) in run.reachability() {
        let Some(pair) = id
            .strip_prefix("mesh.from-")
            .and_then(|rest| rest.split_once('['))
            .and_then(|(_, rest)| rest.strip_suffix(']'))
        else {
            continue;
        };
        let (from, to) = pair.split_once(',').expect("a (from,to) instance");
        let cell = match status.as_str() {
            "fail" => format!("FAIL:{}", reason.unwrap_or_default()),
            other => other.to_string(),
        };
        cells.insert((from.to_string(), to.to_string()), cell);
    }
    let names: std::collections::BTreeSet<&str> =
        cells.keys().map(|(from, _)| from.as_str()).collect();
    let mut text = format!("{title}\n{:<11}", "from\\to");
    for to in &names {
        text.push_str(&format!("{to:<16}"));
    }
    for from in &names {
        text.push_str(&format!("\n{from:<11}"));
        for to in &names {
            let cell = cells
                .get(&(from.to_string(), to.to_string()))
                .map(String::as_str)
                .unwrap_or("-");
            text.push_str(&format!("{cell:<16}"));
        }
    }
    println!("{text}\n");
    cells
}

fn cell(cells: &BTreeMap<(String, String), String>, from: &str, to: &str) -> String {
    cells[&(from.to_string(), to.to_string())].clone()
}

// ---- the shipped catalogs -----------------------------------------------------------------

#[test]
fn healthy_lab_with_the_shipped_catalogs_passes_every_check_it_can_decide() {
    let lab = Lab::start();
    println!("{}setup {:?}", lab.describe(), lab.setup);
    let run = certify_shipped(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);

    // Passing: everything that needs no pve.* check, for the selected provider (pve).
    assert_eq!(
        run.with_status("pass"),
        ids(&[
            "deny.closed[vm-to-pve-api]",
            "deny.closed[vm-to-pve-ssh]",
            "dns.pinned[mirror.lab.test]",
            "dns.pinned[pve1.lab.test]",
            "dns.pinned[pve2.lab.test]",
            "dns.resolves[mirror.lab.test]",
            "dns.resolves[pve1.lab.test]",
            "dns.resolves[pve2.lab.test]",
            "runner.endpoint-ssh[vm1]",
            "runner.endpoint-ssh[vm2]",
            "runner.endpoint-ssh[vm3]",
            "runner.pve-api[pve1]",
            "runner.pve-api[pve2]",
            "runner.pve-ssh[pve1]",
            "runner.pve-ssh[pve2]",
        ]),
        "{}",
        run.output
    );
    assert_eq!(
        run.with_status("fail"),
        Vec::<String>::new(),
        "{}",
        run.output
    );
    // aws is not selected: its endpoint, deny rule, DNS name and API are skipped, and so are
    // the pairs from its instance. The pairs *to* it are this PVE run's to certify (their
    // source is a PVE VM), so they wait on the pve catalog like every other PVE pair.
    assert_eq!(
        run.with_status("skipped"),
        ids(&[
            "deny.closed[aws-to-pve-api]",
            "dns.pinned[api.cloud.lab.test]",
            "dns.resolves[api.cloud.lab.test]",
            "mesh.from-aws[cloud1,vm1]",
            "mesh.from-aws[cloud1,vm2]",
            "mesh.from-aws[cloud1,vm3]",
            "runner.cloud-apis[aws]",
            "runner.endpoint-ssh[cloud1]",
        ])
    );
    for vm in ["vm1", "vm2", "vm3"] {
        let (st, _) = run.status(&format!("reachability.mesh.from-pve[{vm},cloud1]"));
        assert_eq!(st, "blocked", "from-pve[{vm},cloud1]");
    }
    // Everything else waits on the pve catalog, which has no PVE API here: its first check
    // reached the lab's API port and got no TLS, so every dependent is blocked.
    let (auth, _) = run.status("pve.access.auth");
    assert_eq!(auth, "blocked");
    assert!(
        lab.api_connections("pve1") >= 2,
        "runner.pve-api + pve.access.auth"
    );
    assert_time_checks_blocked(&run, &["time.runner"]);
    for (id, (status, reason)) in run.reachability() {
        if matches!(status.as_str(), "pass" | "skipped") || id == "time.runner" {
            continue;
        }
        assert_eq!(
            (status.as_str(), reason.as_deref()),
            ("blocked", Some("dependency")),
            "{id}"
        );
        let message = check(&run.m, &format!("reachability.{id}"))["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // On a pve check, or on a reachability check that is blocked on one.
        assert!(
            message.starts_with("needs pve.") || message.starts_with("needs reachability.pve."),
            "{id}: {message}"
        );
    }
    // Blocked, not probed: no SSH login on the VMs beyond the deny checks' sources.
    assert_eq!(lab.ssh_logins("vm2"), 0);
    assert_eq!(run.code, 3, "blocked overall");
}

// ---- every path, with stand-ins for the provider catalogs ---------------------------------

#[test]
fn healthy_lab_passes_every_path() {
    let lab = Lab::start();
    println!("{}setup {:?}", lab.describe(), lab.setup);
    let run = certify_standins(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);
    let cells = matrix(&run, "healthy lab: mesh (from × to)");

    assert_eq!(run.with_status("pass"), ids(EVERY_PATH), "{}", run.output);
    assert_eq!(run.with_status("fail"), Vec::<String>::new());
    assert_eq!(
        run.with_status("blocked"),
        ids(&["time.nodes[pve1]", "time.nodes[pve2]", "time.runner"])
    );
    assert_time_checks_blocked(
        &run,
        &["time.runner", "time.nodes[pve1]", "time.nodes[pve2]"],
    );
    assert_eq!(run.with_status("skipped"), Vec::<String>::new());
    assert_eq!(cells.len(), 12);
    assert!(cells.values().all(|c| c == "pass"), "{cells:?}");

    // The probes really went where the checks say.
    let mirror = lab.mirror_requests();
    let release = format!("GET {}", netlab::servers::MIRROR_PATH);
    assert_eq!(
        mirror.iter().filter(|r| **r == release).count(),
        3,
        "one egress request per VM: {mirror:?}"
    );
    let l2 = check(&run.m, "reachability.pve.l2-same-vlan[vm1,vm2]");
    assert_eq!(
        l2["expectations"][0]["actual"],
        lab.host("vm2").mac.as_str()
    );
    let l3 = check(&run.m, "reachability.pve.l3-cross-vlan[vm1,vm3]");
    assert_eq!(
        l3["expectations"][0]["actual"],
        lab.host("vm1").gateway.to_string().as_str()
    );
    // The API port never speaks first (as a TLS server): the check does not wait for a
    // banner it does not ask for.
    for node in ["pve1", "pve2"] {
        let c = check(&run.m, &format!("reachability.runner.pve-api[{node}]"));
        assert!(c["durationMs"].as_u64().unwrap() < 1000, "{c:#}");
    }
    // The deny paths were closed by silence: each probe waited out its 3 s timeout.
    let deny = check(&run.m, "reachability.deny.closed[vm-to-pve-ssh]");
    assert!(deny["durationMs"].as_u64().unwrap() >= 2900, "{deny:#}");
    assert_eq!(run.code, 3, "blocked overall (the time checks)");
}

#[test]
fn faults_are_failures_of_the_checks_made_for_them() {
    let lab = Lab::start();
    lab.refuse("vm1", "vm2", 22); // vm2 resets vm1's SSH connections
    lab.drop_tcp("cloud1", "vm3", 22); // vm3 ignores cloud1's
    lab.open_deny(); // the router forwards what the design forbids
    lab.shrink_mtu("vm2", 1400); // vm2's link is too small for 1500-byte frames
    let run = certify_standins(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);
    let cells = matrix(&run, "faults: vm1→vm2 refused, cloud1→vm3 dropped");

    assert_eq!(cell(&cells, "vm1", "vm2"), "FAIL:refused");
    assert_eq!(cell(&cells, "cloud1", "vm3"), "FAIL:timeout");
    let others: Vec<_> = cells
        .iter()
        .filter(|((f, t), _)| {
            !matches!((f.as_str(), t.as_str()), ("vm1", "vm2") | ("cloud1", "vm3"))
        })
        .filter(|(_, c)| *c != "pass")
        .collect();
    assert!(others.is_empty(), "only the faulty paths fail: {others:?}");
    let dropped = check(&run.m, "reachability.mesh.from-aws[cloud1,vm3]");
    assert_eq!(dropped["evidence"]["exit"], 124, "{dropped:#}");

    // An open deny path is a failure that says why it must stay closed.
    for id in ["vm-to-pve-ssh", "vm-to-pve-api", "aws-to-pve-api"] {
        let c = check(&run.m, &format!("reachability.deny.closed[{id}]"));
        assert_eq!(c["status"], "fail", "{c:#}");
        assert_eq!(c["reason"], "expectation");
        assert_eq!(c["expectations"][0]["actual"], "open");
        assert!(
            c["message"].as_str().unwrap().contains("the path is open"),
            "{c:#}"
        );
    }
    // Lost frames are judged by the check's expectation (ping's exit 0), not read as a
    // refused port.
    for id in ["pve.mtu[vm1,vm2]", "pve.mtu[vm2,vm1]"] {
        let c = check(&run.m, &format!("reachability.{id}"));
        assert_eq!(c["evidence"]["exit"], 1, "{c:#}");
        let (status, reason) = run.status(&format!("reachability.{id}"));
        assert_eq!(
            (status.as_str(), reason.as_deref()),
            ("fail", Some("expectation")),
            "{id}"
        );
    }

    let failing = ids(&[
        "deny.closed[aws-to-pve-api]",
        "deny.closed[vm-to-pve-api]",
        "deny.closed[vm-to-pve-ssh]",
        "mesh.from-aws[cloud1,vm3]",
        "mesh.from-pve[vm1,vm2]",
        "pve.mtu[vm1,vm2]",
        "pve.mtu[vm2,vm1]",
    ]);
    assert_eq!(run.with_status("fail"), failing, "{}", run.output);
    // Everything else still passes: each fault is caught by its own check only.
    let mut passing: Vec<String> = ids(EVERY_PATH);
    passing.retain(|id| !failing.contains(id));
    assert_eq!(run.with_status("pass"), passing, "{}", run.output);
    assert_eq!(run.code, 1, "fail overall");
}

#[test]
fn a_stale_record_a_new_nic_and_a_closed_port_fail_their_checks() {
    let mut lab = Lab::start();
    // pve2's name points at an address nobody holds (a stale record).
    let nowhere = std::net::Ipv4Addr::new(10, 251, lab.host("pve2").addr.octets()[2], 13);
    lab.repoint("pve2.lab.test", nowhere);
    lab.set_mac("vm2", "02:4c:00:00:00:99"); // vm2 was re-created with a new NIC
    lab.refuse("vm1", "vm3", 22); // vm3 resets vm1's connections across the VLANs
    let run = certify_standins(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);

    let pinned = check(&run.m, "reachability.dns.pinned[pve2.lab.test]");
    assert_eq!(
        pinned["expectations"][0]["actual"],
        serde_json::json!([nowhere.to_string()]),
        "{pinned:#}"
    );
    for id in ["runner.pve-api[pve2]", "runner.pve-ssh[pve2]"] {
        let (status, reason) = run.status(&format!("reachability.{id}"));
        assert_eq!(
            (status.as_str(), reason.as_deref()),
            ("fail", Some("unreachable")),
            "{id}"
        );
    }
    let l2 = check(&run.m, "reachability.pve.l2-same-vlan[vm1,vm2]");
    assert_eq!(
        l2["expectations"][0]["actual"], "02:4c:00:00:00:99",
        "{l2:#}"
    );
    let l3 = check(&run.m, "reachability.pve.l3-cross-vlan[vm1,vm3]");
    assert_eq!(l3["expectations"][1]["actual"], false, "{l3:#}");
    assert_eq!(
        run.with_status("fail"),
        ids(&[
            "dns.pinned[pve2.lab.test]",
            "mesh.from-pve[vm1,vm3]",
            "pve.l2-same-vlan[vm1,vm2]",
            "pve.l3-cross-vlan[vm1,vm3]",
            "runner.pve-api[pve2]",
            "runner.pve-ssh[pve2]",
        ]),
        "{}",
        run.output
    );
    // Its frames never measured: the MTU check waits on the neighbour check.
    let (status, reason) = run.status("reachability.pve.mtu[vm1,vm2]");
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("blocked", Some("dependency"))
    );
    assert_eq!(run.code, 1);
}

#[test]
fn an_unreachable_source_endpoint_is_blocked_and_paths_to_it_fail() {
    let mut lab = Lab::start();
    lab.stop_sshd("vm3");
    let run = certify_standins(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);
    let cells = matrix(&run, "vm3's sshd stopped");

    // From vm3: nothing can be said about its paths.
    for to in ["vm1", "vm2", "cloud1"] {
        assert_eq!(cell(&cells, "vm3", to), "blocked", "vm3 → {to}");
    }
    // To vm3: its port refuses, which is the finding.
    for from in ["vm1", "vm2", "cloud1"] {
        assert_eq!(cell(&cells, from, "vm3"), "FAIL:refused", "{from} → vm3");
    }
    // The deny check from vm3 needs nothing but vm3 itself: the `from` probe's own
    // classification makes it blocked.
    let (status, reason) = run.status("reachability.deny.closed[vm-to-pve-api]");
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("blocked", Some("source_unreachable"))
    );
    let (status, reason) = run.status("reachability.runner.endpoint-ssh[vm3]");
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("fail", Some("unreachable"))
    );
    for id in [
        "pve.egress[vm3]",
        "pve.l3-cross-vlan[vm1,vm3]",
        "pve.l3-cross-vlan[vm3,vm1]",
    ] {
        let (status, reason) = run.status(&format!("reachability.{id}"));
        assert_eq!(
            (status.as_str(), reason.as_deref()),
            ("blocked", Some("dependency")),
            "{id}"
        );
    }
    // The other sources are unaffected.
    for id in [
        "mesh.from-pve[vm1,vm2]",
        "deny.closed[vm-to-pve-ssh]",
        "pve.egress[vm1]",
    ] {
        assert_eq!(run.status(&format!("reachability.{id}")).0, "pass", "{id}");
    }
    assert_eq!(run.code, 1, "fail overall");
}

#[test]
fn a_runner_without_a_resolver_is_blocked_not_failed() {
    let mut lab = Lab::start();
    lab.stop_dns();
    let run = certify_standins(&lab);
    println!("certify took {:?}\n{}", run.took, run.output);
    let expect = |ids: &[&str], want: (&str, Option<&str>)| {
        for id in ids {
            let (status, reason) = run.status(&format!("reachability.{id}"));
            assert_eq!((status.as_str(), reason.as_deref()), want, "{id}");
        }
    };
    let names = ["pve1", "pve2", "mirror", "api.cloud"].map(|n| format!("{n}.lab.test"));
    let resolves: Vec<String> = names.iter().map(|n| format!("dns.resolves[{n}]")).collect();
    let resolves: Vec<&str> = resolves.iter().map(String::as_str).collect();
    // The system resolver gives no answer: the vantage point is unusable, not the names
    // absent. (A dead nameserver costs the check's whole 15 s timeout.)
    expect(&resolves, ("blocked", Some("no_resolver")));
    let pinned: Vec<String> = names.iter().map(|n| format!("dns.pinned[{n}]")).collect();
    let pinned: Vec<&str> = pinned.iter().map(String::as_str).collect();
    expect(&pinned, ("blocked", Some("dependency")));
    expect(
        &[
            "runner.pve-api[pve1]",
            "runner.pve-api[pve2]",
            "runner.pve-ssh[pve1]",
            "runner.pve-ssh[pve2]",
        ],
        ("blocked", Some("dependency")),
    );
    // SSH to a node by its FQDN cannot even start.
    expect(
        &["time.nodes[pve1]", "time.nodes[pve2]"],
        ("blocked", Some("node_ssh")),
    );
    // The guests resolve through the same server: the mirror is out of their reach.
    expect(
        &["pve.egress[vm1]", "pve.egress[vm2]", "pve.egress[vm3]"],
        ("fail", Some("expectation")),
    );
    assert_eq!(
        check(&run.m, "reachability.pve.egress[vm1]")["expectations"][0]["actual"],
        "000"
    );
    // Paths by address are unaffected. (`runner.cloud-apis` needs no resolves check, so
    // there a dead resolver reads as `fail unreachable`: not asserted.)
    let by_address: Vec<&str> = EVERY_PATH
        .iter()
        .copied()
        .filter(|id| {
            !id.starts_with("dns.")
                && !id.starts_with("runner.pve-")
                && !id.starts_with("pve.egress")
                && *id != "runner.cloud-apis[aws]"
        })
        .collect();
    expect(&by_address, ("pass", None));
}

// ---- the demo topology, laid out as a lab -------------------------------------------------

/// Reachability ids of the demo topology's checks (all of them run: every provider is
/// selected).
const DEMO_CHECKS: usize = 70;

/// The demo topology's own reachability inputs — addresses, names, users, MACs, deny
/// rules, HTTPS cloud APIs — run against a lab laid out from them (only the runner's key
/// and `known_hosts` differ), with stand-ins for all four provider catalogs: every check
/// passes, the time checks included (the lab answers `timedatectl`). Then an Azure and an
/// OCI instance lose a path each, and exactly those checks fail.
#[test]
fn the_demo_topology_laid_out_as_a_lab_passes_and_fails_only_the_cut_paths() {
    let inputs = netlab::from_vars::topology_inputs(Path::new("catalogs/topologies/demo.yaml"));
    let lab = Lab::from_inputs(inputs);
    println!("{}setup {:?}", lab.describe(), lab.setup);
    let root = lab.standin_catalogs();
    let run = certify(&lab, &root, TOPOLOGY, "pve,aws,azure,oci", &[]);
    println!("certify took {:?}\n{}", run.took, run.output);
    let cells = matrix(&run, "demo layout: mesh (from × to)");
    let all = run.reachability();
    // The cloud API names have no address to pin.
    let unpinned = ids(&[
        "dns.pinned[ec2.eu-west-1.amazonaws.com]",
        "dns.pinned[iaas.eu-frankfurt-1.oraclecloud.com]",
        "dns.pinned[management.azure.com]",
    ]);
    assert_eq!(run.with_status("skipped"), unpinned);
    let not_passing: Vec<_> = all
        .iter()
        .filter(|(id, (s, _))| s != "pass" && !unpinned.contains(id))
        .collect();
    assert!(not_passing.is_empty(), "{not_passing:#?}\n{}", run.output);
    assert_eq!(all.len(), DEMO_CHECKS + 3, "{:#?}", all.keys());
    assert_eq!(cells.len(), 30, "6 endpoints, every ordered pair");
    assert_eq!(run.code, 0);
    // The names the topology pins, and a cloud API over TLS with the lab's CA.
    let api = check(&run.m, "reachability.runner.cloud-apis[azure]");
    assert_eq!(api["evidence"]["status"], 403, "{api:#}");
    let l2 = check(&run.m, "reachability.pve.l2-same-vlan[cert-a,cert-b]");
    assert_eq!(l2["expectations"][0]["actual"], "bc:24:11:7a:01:b3");

    lab.refuse("cert-az-a", "cert-a", 22);
    lab.drop_tcp("cert-oci-a", "cert-c", 22);
    let run = certify(&lab, &root, TOPOLOGY, "pve,aws,azure,oci", &[]);
    let cells = matrix(
        &run,
        "demo layout: cert-az-a→cert-a refused, cert-oci-a→cert-c dropped",
    );
    assert_eq!(cell(&cells, "cert-az-a", "cert-a"), "FAIL:refused");
    assert_eq!(cell(&cells, "cert-oci-a", "cert-c"), "FAIL:timeout");
    assert_eq!(
        run.with_status("fail"),
        ids(&[
            "mesh.from-azure[cert-az-a,cert-a]",
            "mesh.from-oci[cert-oci-a,cert-c]"
        ]),
        "{}",
        run.output
    );
    assert_eq!(run.with_status("pass").len(), DEMO_CHECKS - 2);
    assert_eq!(run.with_status("skipped"), unpinned);
    assert_eq!(run.code, 1);
}
