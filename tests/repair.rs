//! `certify --repair`: steps run in order, only the check's own probe turns `fail` into
//! `repaired`, guards refuse, blocked checks are never repaired, dependents see the repaired
//! state, and without `--repair` nothing changes but the "would repair" entries.

mod common;
mod support;

use std::path::Path;

use serde_json::Value;

use common::{Out, labcert_env};
use support::manifest::{assert_valid, check};

fn certify(state: &Path, repair: bool) -> (Out, Value) {
    let out = state.join("manifest.json");
    let var = format!("repairable.state={}", state.display());
    let out_s = out.display().to_string();
    let mut args = vec![
        "--catalogs",
        "fixtures/certify",
        "certify",
        "--environment",
        "t",
        "--topology",
        "repairable",
        "--var",
        &var,
        "--out",
        &out_s,
    ];
    if repair {
        args.push("--repair");
    }
    let o = labcert_env(&args, &[("CI".into(), "1".into())]);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&m);
    (o, m)
}

fn ledger<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == id)
        .unwrap_or_else(|| panic!("no repair entry for {id}: {m:#}"))
}

#[test]
fn without_repair_nothing_changes_and_would_repair_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (o, m) = certify(dir.path(), false);
    assert_eq!(o.code, 1);
    assert_eq!(m["mode"], "inspect");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["manifest.json"], "a dry run changed the lab");
    assert_eq!(check(&m, "repairable.files.present")["status"], "fail");
    let would = ledger(&m, "repairable.files.present");
    assert_eq!(would["status"], "would_repair");
    assert_eq!(would["steps"][1]["title"], "Create it");
    assert!(
        o.stdout
            .contains("Would repair (run again with --repair to apply):"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("2. Create it"), "{}", o.stdout);
    // The guard is asked in a dry run too.
    assert_eq!(ledger(&m, "repairable.files.guarded")["status"], "refused");
}

#[test]
fn repair_runs_steps_then_verifies_with_the_checks_own_probe() {
    let dir = tempfile::tempdir().unwrap();
    let (o, m) = certify(dir.path(), true);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["mode"], "repair");

    // Success: steps ran in order (the second read the first's capture), then verification.
    assert!(dir.path().join("present").exists());
    let present = check(&m, "repairable.files.present");
    assert_eq!(present["status"], "repaired");
    let entry = ledger(&m, "repairable.files.present");
    assert_eq!(entry["status"], "repaired");
    assert_eq!(entry["before"]["status"], "fail");
    assert_eq!(
        entry["before"]["failed"][0],
        "exit: expected [0], got 1 — the file is missing"
    );
    assert_eq!(entry["steps"].as_array().unwrap().len(), 2);
    assert_eq!(
        entry["steps"][1]["request"]["argv"][1],
        format!("{}/present", dir.path().display())
    );
    assert_eq!(entry["verification"]["status"], "pass");
    assert!(entry["startedAt"].is_string() && entry["finishedAt"].is_string());
    assert_eq!(present["repair"], *entry);
    // Dependents run against the repaired state.
    assert_eq!(
        check(&m, "repairable.files.after-present")["status"],
        "pass"
    );

    // A repair whose verification still fails is `fail`, with both evidences.
    let stubborn = check(&m, "repairable.files.stubborn");
    assert_eq!(stubborn["status"], "fail");
    assert_eq!(stubborn["reason"], "repair_failed");
    let entry = ledger(&m, "repairable.files.stubborn");
    assert_eq!(entry["status"], "failed");
    assert_eq!(entry["before"]["status"], "fail");
    assert_eq!(entry["verification"]["status"], "fail");
    assert!(dir.path().join("unrelated").exists());

    // A failing step stops the repair: later steps never run.
    let entry = ledger(&m, "repairable.files.step-fails");
    assert_eq!(entry["steps"].as_array().unwrap().len(), 1);
    assert_eq!(entry["steps"][0]["passed"], false);
    assert!(
        entry["steps"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no permission")
    );
    assert!(!dir.path().join("step-fails").exists());
    assert!(
        o.stdout
            .contains("step 1 (A failing step) failed: exit_1: no permission"),
        "{}",
        o.stdout
    );

    // The guard refuses, and says why.
    let entry = ledger(&m, "repairable.files.guarded");
    assert_eq!(entry["status"], "refused");
    assert_eq!(
        entry["guard"]["reason"],
        "the file is protected in this lab"
    );
    assert!(!dir.path().join("guarded").exists());
    assert_eq!(check(&m, "repairable.files.guarded")["status"], "fail");

    // A repair that breaks what another check saw: the re-run catches it.
    let clumsy = check(&m, "repairable.files.clumsy");
    assert_eq!(clumsy["status"], "fail");
    assert_eq!(clumsy["reason"], "repair_broke");
    assert_eq!(ledger(&m, "repairable.files.clumsy")["status"], "failed");
    let reruns = &ledger(&m, "repairable.files.clumsy")["reruns"];
    assert_eq!(reruns[0]["check"], "repairable.files.canary");
    assert_eq!(reruns[0]["status"], "fail");
    let canary = check(&m, "repairable.files.canary");
    assert_eq!(canary["status"], "fail");
    assert!(
        canary["message"]
            .as_str()
            .unwrap()
            .starts_with("re-run after repairing repairable.files.clumsy")
    );

    // Blocked checks are never repaired.
    assert_eq!(
        check(&m, "repairable.files.cannot-inspect")["status"],
        "blocked"
    );
    assert!(!dir.path().join("repaired-a-blocked-check").exists());
    assert!(
        m["repairs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["check"] != "repairable.files.cannot-inspect")
    );
}

#[test]
fn a_second_run_finds_the_lab_repaired() {
    let dir = tempfile::tempdir().unwrap();
    certify(dir.path(), true);
    let (_, m) = certify(dir.path(), false);
    assert_eq!(check(&m, "repairable.files.present")["status"], "pass");
    assert!(
        m["repairs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["check"] != "repairable.files.present")
    );
}
