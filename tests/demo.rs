//! The bundled demo's committed recordings (`fixtures/demo/{healthy,broken}`, made by
//! `cargo test --test demo_record -- --ignored --nocapture`), replayed offline with the plain
//! demo topology: what they certify, the broken lab's repairs, schema validity, and that
//! no secret made it into them. They cover all five catalogs: the healthy demo certifies
//! `pass`, exit 0.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;

use support::demo::{Replayed, replay, root};
use support::manifest::{assert_valid, check};

fn healthy() -> std::path::PathBuf {
    root().join("fixtures/demo/healthy")
}

fn broken() -> std::path::PathBuf {
    root().join("fixtures/demo/broken")
}

/// The demo's DNS names without an address to pin: `dns.pinned` is skipped for them.
const UNPINNED: [&str; 3] = [
    "reachability.dns.pinned[ec2.eu-west-1.amazonaws.com]",
    "reachability.dns.pinned[iaas.eu-frankfurt-1.oraclecloud.com]",
    "reachability.dns.pinned[management.azure.com]",
];

/// Every check's verdict that is not `pass` (but the skipped pins).
fn not_passing(run: &Replayed) -> BTreeMap<String, String> {
    run.verdicts()
        .into_iter()
        .filter(|(id, v)| {
            let unpinned = UNPINNED.contains(&id.as_str()) && v == "skipped/skipped";
            !v.starts_with("pass/") && !unpinned
        })
        .collect()
}

#[test]
fn the_topology_replays_the_healthy_recording() {
    let text = std::fs::read_to_string(root().join("catalogs/topologies/demo.yaml")).unwrap();
    assert!(
        text.lines()
            .any(|l| l.trim() == "replay: ../../fixtures/demo/healthy"),
        "demo.yaml should replay fixtures/demo/healthy"
    );
    // No --replay: the topology's own directory.
    let run = replay(None, &[]);
    assert_valid(&run.manifest);
    assert!(
        run.manifest["replayedFrom"]
            .as_str()
            .is_some_and(|r| r.ends_with("fixtures/demo/healthy")),
        "{}",
        run.manifest["replayedFrom"]
    );
    assert_eq!(not_passing(&run), BTreeMap::new(), "{}", run.summary());
}

#[test]
fn every_recorded_catalog_passes_in_the_healthy_replay() {
    let run = replay(Some(&healthy()), &[]);
    assert_valid(&run.manifest);
    assert_eq!(not_passing(&run), BTreeMap::new(), "{}", run.summary());
    let passed = |catalog: &str| {
        run.verdicts()
            .iter()
            .filter(|(id, v)| id.starts_with(&format!("{catalog}.")) && v.starts_with("pass/"))
            .count()
    };
    for (catalog, at_least) in [
        ("pve", 56),
        ("aws", 25),
        ("azure", 21),
        ("oci", 18),
        ("reachability", 70),
    ] {
        assert!(passed(catalog) >= at_least, "{catalog}:\n{}", run.summary());
    }
    assert!(
        run.manifest["repairs"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "{:#}",
        run.manifest["repairs"]
    );
}

/// The broken lab's faults, each fixed by a repair of its catalog.
const BROKEN: [&str; 4] = [
    "aws.network.sg-ingress",
    "pve.network.bridges[pve1,vmbr1]",
    "pve.firewall.vm-enabled[cert-b]",
    "pve.vms.cloudinit-current[cert-c]",
];

fn ledger(m: &Value) -> BTreeMap<String, String> {
    m["repairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["check"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_broken_recording_fails_and_says_what_it_would_repair() {
    let run = replay(Some(&broken()), &[]);
    assert_valid(&run.manifest);
    assert_eq!(run.manifest["status"], "fail", "{}", run.summary());
    assert_eq!(run.code, 1, "{}", run.summary());
    for id in BROKEN {
        assert_eq!(check(&run.manifest, id)["status"], "fail", "{id}");
    }
    let want: BTreeMap<String, String> = BROKEN
        .iter()
        .map(|id| (id.to_string(), "would_repair".to_string()))
        .collect();
    assert_eq!(ledger(&run.manifest), want);
    // The rest waits on the faults, never probed: the AWS instance's SSH and every path from
    // it, cert-b's SSH rule, the template and the layer-2 paths that need the bridge,
    // everything of cert-c (its own checks and every path from it).
    let rest: BTreeMap<String, String> = not_passing(&run)
        .into_iter()
        .filter(|(id, _)| !BROKEN.contains(&id.as_str()))
        .collect();
    for (id, verdict) in &rest {
        assert_eq!(verdict, "blocked/dependency", "{id}:\n{}", run.summary());
    }
    for id in [
        "aws.instance.cloudinit",
        "reachability.mesh.from-aws[cert-aws-a,cert-a]",
        "pve.firewall.vm-ssh-rule[cert-b]",
        "pve.vms.ssh-boot[cert-c]",
        "reachability.pve.l2-same-vlan[cert-a,cert-b]",
        "reachability.mesh.from-pve[cert-c,cert-a]",
    ] {
        assert!(rest.contains_key(id), "{id}:\n{}", run.summary());
    }
}

#[test]
fn the_broken_recording_with_repair_repairs_every_fault() {
    let run = replay(Some(&broken()), &["--repair"]);
    assert_valid(&run.manifest);
    assert_eq!(
        (run.code, run.manifest["status"].clone()),
        (0, "pass".into()),
        "{}",
        run.summary()
    );
    assert_eq!(run.manifest["mode"], "repair");
    for id in BROKEN {
        assert_eq!(
            check(&run.manifest, id)["status"],
            "repaired",
            "{id}:\n{}",
            run.summary()
        );
    }
    let want: BTreeMap<String, String> = BROKEN
        .iter()
        .map(|id| (id.to_string(), "repaired".to_string()))
        .collect();
    assert_eq!(ledger(&run.manifest), want, "{:#}", run.manifest["repairs"]);
    let rest: BTreeMap<String, String> = not_passing(&run)
        .into_iter()
        .filter(|(id, _)| !BROKEN.contains(&id.as_str()))
        .collect();
    assert_eq!(rest, BTreeMap::new(), "{}", run.summary());
}

/// A replay does not wait out a task's polling pauses, yet a task recorded as never stopping
/// still ends its repair as "still running" — promptly, as if the pauses had been waited.
#[test]
fn a_task_recorded_as_never_stopping_fails_its_repair_in_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(broken().join("exchanges.ndjson")).unwrap();
    let mut changed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !l.contains("/tasks/UPID:") {
                return l.to_string();
            }
            let mut ex: Value = serde_json::from_str(l).unwrap();
            let obs = &mut ex["observation"];
            obs["json"]["data"]["status"] = "running".into();
            obs["json"]["data"]
                .as_object_mut()
                .unwrap()
                .remove("exitstatus");
            obs["stdout"] = obs["json"].to_string().into();
            changed += 1;
            ex.to_string()
        })
        .collect();
    assert!(changed > 0, "the broken recording holds no task status");
    std::fs::write(dir.path().join("exchanges.ndjson"), lines.join("\n") + "\n").unwrap();
    let started = std::time::Instant::now();
    let run = replay(Some(dir.path()), &["--repair"]);
    let bridge = check(&run.manifest, "pve.network.bridges[pve1,vmbr1]");
    assert_eq!(bridge["status"], "fail", "{bridge:#}");
    let entry = run.manifest["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "pve.network.bridges[pve1,vmbr1]")
        .unwrap();
    assert!(
        entry.to_string().contains("still running after"),
        "{entry:#}"
    );
    // Unpaced: the catalog's minutes of polling are not waited (a generous bound).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn the_recordings_hold_no_secret() {
    for dir in [healthy(), broken()] {
        let text = std::fs::read_to_string(dir.join("exchanges.ndjson")).unwrap();
        let mut lines = text.lines();
        let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(header["format"], "labcert-recording");
        for line in lines {
            let ex: Value = serde_json::from_str(line).unwrap();
            if let Some(auth) = ex["request"]["headers"]["Authorization"].as_str() {
                assert_eq!(auth, "PVEAPIToken=********", "{}", dir.display());
            }
        }
        for secret in [
            "PRIVATE KEY",
            "aws_secret_access_key",
            "wJalrXUtnFEMI",
            "certbot@pve!labcert=",
            "AccessKeyId",
            "SessionToken",
        ] {
            assert!(!text.contains(secret), "{secret} in {}", dir.display());
        }
        // Nothing of the fixtures that recorded them: their loopback ports, temp paths,
        // moto's port (a guest's own `lo` at 127.0.0.1 in its agent answer is real data).
        let tmp = std::env::temp_dir().display().to_string();
        for fixture in [
            "127.0.0.1:",
            "//127.0.0.1",
            "/tmp/",
            tmp.as_str(),
            ":5000",
            "lcnl-",
            "lcc-",
        ] {
            assert!(!text.contains(fixture), "{fixture} in {}", dir.display());
        }
    }
}

#[test]
fn the_demo_certifies() {
    let run = replay(None, &[]);
    assert_eq!(
        (run.code, run.manifest["status"].clone()),
        (0, "pass".into()),
        "{}",
        run.summary()
    );
    assert_eq!(not_passing(&run), BTreeMap::new(), "{}", run.summary());
}

/// The README's main command: the plain demo, no secrets in the environment (recordings
/// hold every secret masked, so a replay needs none).
#[test]
fn the_main_command_replays_without_any_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifest.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args([
            "certify",
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--out",
        ])
        .arg(&out)
        .env_remove("PVE_TOKEN")
        .env("CI", "1")
        .output()
        .unwrap();
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&m);
    assert!(
        m["replayedFrom"]
            .as_str()
            .unwrap()
            .ends_with("fixtures/demo/healthy")
    );
    assert_eq!(
        check(&m, "pve.access.auth")["status"],
        "pass",
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        m["missingRequirements"].as_array().unwrap().is_empty(),
        "{}",
        m["missingRequirements"]
    );
}
