//! Regenerates the bundled demo's recordings from the live fixtures — the documented command:
//!
//! ```sh
//! cargo test --test demo_record -- --ignored --nocapture   # or: bash scripts/record-demo.sh
//! ```
//!
//! Each part of the demo lab is certified live against its fixture with `--record`, each in a
//! private network namespace (`support::cloud::Netns`, only its loopback):
//! - pve: the fake PVE API (`support::pve`, its listener made inside the namespace) and
//!   `support::pve::SshHosts`: an sshd on the demo's node and VM addresses for the checks
//!   that SSH into the nodes and guests; `--providers pve`, and again with `--repair` on a
//!   lab with the [`BROKEN`] faults, so that recording holds broken → repair steps →
//!   verified;
//! - aws, azure, oci: moto + shim, fake az/oci and a guest sshd (`support::cloud`), one
//!   `--providers <p>` run each;
//! - reachability: a netlab (`support::netlab`) laid out from the demo topology's own
//!   reachability inputs — its addresses, names, users, MACs, deny rules, HTTPS cloud APIs
//!   (a test CA the runner trusts through `SSL_CERT_FILE`) — with stand-ins for the provider
//!   catalogs, whose own exchanges are left out; the demo's inputs are used unchanged but
//!   for the runner's key and `known_hosts` paths.
//!
//! The reachability catalog's lists are emptied in the provider parts, so there only the
//! runner's clock is probed; the pve part answers it with a fake `timedatectl` on PATH (the
//! machine has no systemd-timedated), the other parts' answers are dropped. Each part's fixture
//! values (127.0.0.1:PORT, the fixture's fingerprint, temp key and known_hosts paths, moto's
//! ids, the throw-away SSH key) are rewritten to the demo topology's own ([`Rewrite`]), the
//! parts merged into one recording per lab (healthy, broken), and both replayed with the
//! plain demo topology; the summaries are printed. The recordings go to `fixtures/demo/`
//! only when `LABCERT_DEMO_WRITE=1` (scripts/record-demo.sh sets it), so a run that is only
//! looking does not replace the committed ones.
//!
//! Needs what tests/certify_cloud.rs needs (root, iproute2, sshd, target/cloud-venv).

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::cloud::{AwsFaults, Lab, azure_lab, demo_vars, oci_lab, require_venv, s, var};
use support::demo::{Rewrite, read_exchanges, replay, root, write_recording};
use support::netlab::from_vars::topology_inputs;
use support::netlab::standins::{TOPOLOGY as STANDIN_TOPOLOGY, is_standin};
use support::netlab::{Lab as NetLab, TIMEDATECTL};
use support::pve::{Lab as PveLab, PveFixture, Scenario, SshHosts};

/// Overrides that empty the reachability catalog's lists (each part records its own catalog).
const REACHABILITY_OFF: &[&str] = &[
    "reachability.endpoints=[]",
    "reachability.deny=[]",
    "reachability.pve_nodes=[]",
    "reachability.dns_names=[]",
    "reachability.cloud_apis=[]",
];

/// The demo's reachability endpoint host of each cloud's test instance: the fixtures' guest
/// listens on 127.0.0.1 and the clouds report that as the public address.
fn public_host(provider: &str) -> &'static str {
    match provider {
        "aws" => "198.51.100.21",
        "azure" => "198.51.100.31",
        "oci" => "198.51.100.41",
        _ => unreachable!(),
    }
}

/// `--var` overrides → their demo values.
fn rewrite_vars(rw: &mut Rewrite, vars: &[(String, String)]) {
    for (name, value) in vars {
        let Some((catalog, var)) = name.split_once('.') else {
            continue;
        };
        let demo = demo_vars(catalog);
        if let Some(Value::String(d)) = demo.get(var) {
            rw.add(value, d);
        }
    }
}

/// `exchanges` rewritten; `clock`: with the runner's clock probe (only the pve part runs a
/// `timedatectl` that answers; in the cloud parts it is the machine's, not recorded).
fn rewritten(exchanges: Vec<Value>, rw: &Rewrite, clock: bool) -> Vec<Value> {
    exchanges
        .into_iter()
        .filter(|e| {
            let argv = e["request"]["argv"].to_string();
            clock || !(e["kind"] == "command" && argv.contains("timedatectl"))
        })
        .map(|mut e| {
            rw.apply(&mut e["request"]);
            rw.apply(&mut e["observation"]);
            e
        })
        .collect()
}

fn reachability_off() -> Vec<(String, String)> {
    REACHABILITY_OFF
        .iter()
        .map(|v| {
            let (k, x) = v.split_once('=').unwrap();
            (k.to_string(), x.to_string())
        })
        .collect()
}

// ---- pve -----------------------------------------------------------------------------------

fn record_pve(faults: &[Scenario], repair: bool, secrets: &mut Vec<String>) -> Vec<Value> {
    // In a namespace of its own, like the cloud labs: the SSH checks' demo addresses lead
    // nowhere from there.
    let lab = Lab::new();
    let dir = lab.dir.path();
    let ns_path = format!("/run/netns/{}", lab.ns.name);
    let pve = PveFixture::with_faults_in(PveLab::default(), faults, Some(&ns_path));
    secrets.push(pve.token());
    let ssh = SshHosts::start(&lab.ns, &pve, &s(&demo_vars("pve"), "node_domain"));
    secrets.push(std::fs::read_to_string(&ssh.identity).unwrap());
    // The nodes' and the guests' keys are separate demo paths: one key under two paths, so
    // each recorded path rewrites to its own.
    let guest_id = lab.path("guest_id");
    std::fs::copy(&ssh.identity, &guest_id).unwrap();
    let ssh_vars = [
        var("pve", "node_identity", &ssh.identity.display().to_string()),
        var("pve", "guest_identity", &guest_id.display().to_string()),
        var("pve", "known_hosts", &ssh.known_hosts.display().to_string()),
    ];
    let mut vars = vec![
        ("pve.url".to_string(), pve.url()),
        ("pve.fingerprint".to_string(), pve.fingerprint()),
    ];
    vars.extend(ssh_vars);
    vars.extend(reachability_off());
    let mut common: Vec<String> = ["--catalogs", "catalogs"].map(String::from).to_vec();
    let mut plan_args = common.clone();
    plan_args.extend(
        [
            "plan",
            "--topology",
            "demo",
            "--providers",
            "pve",
            "--format",
            "json",
        ]
        .map(String::from),
    );
    for (k, v) in &vars {
        plan_args.push("--var".into());
        plan_args.push(format!("{k}={v}"));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args(&plan_args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = support::pve::api_checks(&serde_json::from_slice(&o.stdout).unwrap());

    let out = dir.join("manifest-pve.json");
    let events = dir.join("events-pve.ndjson");
    let rec = dir.join("rec-pve");
    common.extend(
        [
            "certify",
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--providers",
            "pve",
            "--live",
        ]
        .map(String::from),
    );
    common.extend(["--out".into(), out.display().to_string()]);
    common.extend(["--events".into(), events.display().to_string()]);
    common.extend(["--record".into(), rec.display().to_string()]);
    if repair {
        common.push("--repair".into());
    }
    for (k, v) in &vars {
        common.push("--var".into());
        common.push(format!("{k}={v}"));
    }
    // The runner's clock: `timedatectl` asks systemd-timedated over D-Bus, which the test
    // machine does not run; a fake on PATH answers as a synchronised runner does.
    let fakes = dir.join("runner-bin");
    std::fs::create_dir_all(&fakes).unwrap();
    let fake = fakes.join("timedatectl");
    std::fs::write(&fake, TIMEDATECTL).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fakes.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = lab
        .ns
        .command(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args(&common)
        .env("PATH", path)
        .env("PVE_TOKEN", pve.token())
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut interrupted = false;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(420),
            "pve certify ran too long"
        );
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let finished: BTreeSet<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["event"] == "check_finished")
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect();
        // The SSH checks are answered too now; should one poll in vain (ssh-boot: 5 min),
        // stop once the API checks are done and it has had half a minute.
        if !interrupted && want.is_subset(&finished) && started.elapsed() > Duration::from_secs(30)
        {
            // SAFETY: sends SIGINT to the child this test started.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            interrupted = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "pve {faults:?} (repair {repair}): {:.1?}, interrupted {interrupted}",
        started.elapsed()
    );
    let mut rw = Rewrite::default();
    rewrite_vars(&mut rw, &vars);
    rewritten(read_exchanges(&rec), &rw, true)
}

// ---- clouds --------------------------------------------------------------------------------

/// One `--providers <provider>` run recorded (with `--repair` when `repair`); every check of
/// the provider must end `pass` or, with `--repair`, `repaired`.
fn record_cloud(
    lab: &Lab,
    provider: &str,
    vars: Vec<(String, String)>,
    env: &[(String, String)],
    repair: bool,
) -> Vec<Value> {
    let rec = lab.path(&format!("rec-{provider}"));
    let mut all = vars.clone();
    all.extend(reachability_off());
    let mut extra = vec!["--record".into(), rec.display().to_string()];
    if repair {
        extra.push("--repair".into());
    }
    let run = lab.certify_with(provider, &all, env, &extra);
    eprintln!(
        "{provider}: {:.1?}, exit {}, status {}",
        run.took, run.code, run.manifest["status"]
    );
    let bad: Vec<String> = support::cloud::statuses(&run.manifest, provider)
        .into_iter()
        .filter(|(_, v)| v.0 != "pass" && !(repair && v.0 == "repaired"))
        .map(|(k, v)| format!("{k}: {v:?}"))
        .collect();
    assert!(bad.is_empty(), "{provider} did not pass live: {bad:#?}");
    let mut rw = Rewrite::default();
    rewrite_vars(&mut rw, &vars);
    rw.add("127.0.0.1", public_host(provider));
    // The DNS names moto derives from the public address.
    rw.add("127-0-0-1", &public_host(provider).replace('.', "-"));
    rewritten(read_exchanges(&rec), &rw, false)
}

/// The AWS part; with `faults` (seed faults) it is recorded with `--repair`, so the recording
/// holds broken → repair steps → verified.
fn record_aws(faults: &[&'static str], secrets: &mut Vec<String>) -> Vec<Value> {
    require_venv();
    let mut lab = Lab::new();
    lab.start_moto(false);
    let aws = lab.seed_aws(&AwsFaults {
        seed: faults.to_vec(),
        ..AwsFaults::default()
    });
    for v in aws.ids["credentials"].as_object().into_iter().flatten() {
        secrets.extend(v.1.as_str().map(str::to_string));
    }
    secrets.push(std::fs::read_to_string(&lab.identity).unwrap());
    record_cloud(&lab, "aws", aws.vars.clone(), &aws.env, !faults.is_empty())
}

fn record_azure() -> Vec<Value> {
    let (lab, (vars, env)) = azure_lab(|_| {}, |_| {});
    record_cloud(&lab, "azure", vars, &env, false)
}

fn record_oci() -> Vec<Value> {
    let (lab, (vars, env)) = oci_lab(|_| {}, |_| {});
    record_cloud(&lab, "oci", vars, &env, false)
}

// ---- reachability --------------------------------------------------------------------------

fn record_reachability(secrets: &mut Vec<String>) -> Vec<Value> {
    let inputs = topology_inputs(&root().join("catalogs/topologies/demo.yaml"));
    let lab = NetLab::from_inputs(inputs);
    eprintln!("{}", lab.describe());
    secrets.push(std::fs::read_to_string(&lab.keys.identity).unwrap());
    let standins = lab.standin_catalogs();
    let rec = lab.dir.path().join("rec-reachability");
    let out = lab.dir.path().join("manifest-reachability.json");
    let mut args: Vec<String> = vec![
        "--catalogs".into(),
        standins.display().to_string(),
        "certify".into(),
        "--environment".into(),
        "demo".into(),
        "--topology".into(),
        STANDIN_TOPOLOGY.into(),
        "--live".into(),
        "--providers".into(),
        "pve,aws,azure,oci".into(),
        "--out".into(),
        out.display().to_string(),
        "--record".into(),
        rec.display().to_string(),
    ];
    let vars = lab.reachability_vars();
    for (name, value) in &vars {
        args.push("--var".into());
        args.push(format!("reachability.{name}={value}"));
    }
    let started = Instant::now();
    let o = lab.labcert(&args, &[]);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_else(|e| {
            panic!("no manifest ({e}):\n{}", String::from_utf8_lossy(&o.stderr))
        }))
        .unwrap();
    eprintln!(
        "reachability: {:.1?}, exit {:?}, status {}",
        started.elapsed(),
        o.status.code(),
        m["status"]
    );
    assert_eq!(
        m["status"],
        "pass",
        "the demo's reachability did not pass live:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Only the lab's key and known_hosts differ from the demo's inputs.
    let mut rw = Rewrite::default();
    let demo = demo_vars("reachability");
    for (name, value) in &vars {
        if let (Some(lab), Some(Value::String(d))) = (value.as_str(), demo.get(name.as_str())) {
            rw.add(lab, d);
        }
    }
    let exchanges = read_exchanges(&rec)
        .into_iter()
        .filter(|e| !is_standin(e))
        .collect();
    rewritten(exchanges, &rw, false)
}

// ---- the recording -------------------------------------------------------------------------

/// The broken lab's PVE faults, each one a pve repair fixes: pve1's test bridge is not
/// VLAN-aware, cert-b's VM firewall is off, cert-c's cloud-init drive is stale.
const BROKEN: &[Scenario] = &[
    Scenario::BridgeNotVlanAware {
        node: "pve1",
        iface: "vmbr1",
    },
    Scenario::FirewallDisabled(4102),
    Scenario::StaleCloudInit(4103),
];

/// The broken lab's AWS fault, which the aws repair fixes: the security group does not admit
/// SSH from the runner.
const BROKEN_AWS: &[&str] = &["sg-no-runner-ssh"];

#[test]
#[ignore = "regenerates fixtures/demo from the live fixtures: cargo test --test demo_record -- --ignored --nocapture"]
fn regenerate_demo_recordings() {
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut secrets = Vec::new();
    let mut common = record_azure();
    common.extend(record_oci());
    common.extend(record_reachability(&mut secrets));
    let mut healthy = record_pve(&[Scenario::Healthy], false, &mut secrets);
    healthy.extend(record_aws(&[], &mut secrets));
    healthy.extend(common.iter().cloned());
    let mut broken = record_pve(BROKEN, true, &mut secrets);
    broken.extend(record_aws(BROKEN_AWS, &mut secrets));
    broken.extend(common);
    let healthy_dir = work.path().join("healthy");
    let broken_dir = work.path().join("broken");
    write_recording(&healthy_dir, healthy);
    write_recording(&broken_dir, broken);
    eprintln!("recorded in {:.1?}", started.elapsed());
    for dir in [&healthy_dir, &broken_dir] {
        let text = std::fs::read_to_string(dir.join("exchanges.ndjson")).unwrap();
        for secret in &secrets {
            // As written, JSON-escaped (a key's newlines are `\n` in NDJSON), and line by
            // line (a key's base64 lines).
            let escaped = serde_json::to_string(secret.trim()).unwrap();
            let escaped = escaped.trim_matches('"');
            let lines = secret.lines().map(str::trim).filter(|l| l.len() > 20);
            for needle in [secret.trim(), escaped].into_iter().chain(lines) {
                assert!(
                    !text.contains(needle),
                    "a fixture secret is in the recording {}",
                    dir.display()
                );
            }
        }
    }

    let run = replay(Some(&healthy_dir), &[]);
    eprintln!("replay of the healthy recording:\n{}", run.summary());
    let run = replay(Some(&broken_dir), &[]);
    eprintln!("replay of the broken recording:\n{}", run.summary());
    let run = replay(Some(&broken_dir), &["--repair"]);
    eprintln!(
        "replay of the broken recording, --repair:\n{}",
        run.summary()
    );
    eprintln!("{}", run.stderr);

    if std::env::var_os("LABCERT_DEMO_WRITE").is_some() {
        for (from, name) in [(&healthy_dir, "healthy"), (&broken_dir, "broken")] {
            let to = root().join("fixtures/demo").join(name);
            std::fs::create_dir_all(&to).unwrap();
            std::fs::copy(from.join("exchanges.ndjson"), to.join("exchanges.ndjson")).unwrap();
            eprintln!("wrote {}", to.display());
        }
    }
}
