//! Split certification covers the whole fabric: on the demo, a PVE run and a cloud run
//! (the release contract's two jobs), merged, hold exactly the checks one full run holds —
//! every PVE↔cloud reachability pair included — and a merge missing one pair is no GO.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use support::demo::{replay, root};

/// `status` of every check that ran (not skipped), by id.
fn certified(m: &Value) -> BTreeMap<String, String> {
    m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap())
        .filter(|c| c["status"] != "skipped")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn labcert(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args(args)
        .env("CI", "true")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn merge(a: &Path, b: &Path, out: &Path) -> (i32, String) {
    labcert(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn preflight(cert: &Path) -> (i32, String) {
    labcert(&[
        "--catalogs",
        "catalogs",
        "preflight",
        "--certification",
        cert.to_str().unwrap(),
        "--environment",
        "demo",
        "--topology",
        "demo",
        "--providers",
        "aws,azure,oci,pve",
        "--allow-replayed",
    ])
}

#[test]
fn a_pve_run_and_a_cloud_run_merged_hold_every_check_of_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = replay(None, &[]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let pve = replay(None, &["--providers", "pve"]);
    assert_eq!(pve.code, 0, "{}", pve.stderr);
    let cloud = replay(None, &["--providers", "aws,azure,oci"]);
    assert_eq!(cloud.code, 0, "{}", cloud.stderr);
    let (p, c, m) = (
        dir.path().join("pve.json"),
        dir.path().join("cloud.json"),
        dir.path().join("merged.json"),
    );
    write(&p, &pve.manifest);
    write(&c, &cloud.manifest);
    let (code, out) = merge(&p, &c, &m);
    assert_eq!(code, 0, "{out}");
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    let want = certified(&full.manifest);
    let got = certified(&merged);
    let only_full: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let only_merged: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        only_full.is_empty() && only_merged.is_empty(),
        "only in the full run: {only_full:?}\nonly in the merge: {only_merged:?}"
    );
    assert_eq!(got, want);
    // The cross-substrate pairs, both ways, are among them.
    for pair in [
        "reachability.mesh.from-pve[cert-a,cert-aws-a]",
        "reachability.mesh.from-aws[cert-aws-a,cert-a]",
        "reachability.mesh.from-azure[cert-az-a,cert-b]",
        "reachability.mesh.from-oci[cert-oci-a,cert-c]",
    ] {
        assert_eq!(got.get(pair).map(String::as_str), Some("pass"), "{pair}");
    }
    assert_eq!(merged["status"], "pass");
    let (code, out) = preflight(&m);
    assert_eq!(code, 0, "{out}");

    // A PVE run that did not certify one PVE→cloud pair (as the catalogs once planned it):
    // its own verdict is consistent, the merge still says pass, but the gate says no.
    let mut short = pve.manifest.clone();
    let pair = "reachability.mesh.from-pve[cert-a,cert-aws-a]";
    let mut removed = false;
    for g in short["groups"].as_array_mut().unwrap() {
        let checks = g["checks"].as_array_mut().unwrap();
        let before = checks.len();
        checks.retain(|c| c["id"] != pair);
        removed |= checks.len() < before;
    }
    assert!(removed, "{pair} is in the PVE run");
    let s = &mut short["summary"];
    s["total"] = json!(s["total"].as_u64().unwrap() - 1);
    s["pass"] = json!(s["pass"].as_u64().unwrap() - 1);
    write(&p, &short);
    let (code, out) = merge(&p, &c, &m);
    assert_eq!(code, 0, "{out}");
    let (code, out) = preflight(&m);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NO-GO"), "{out}");
    // The cloud run planned the pair as skipped (not its source's provider): the merge
    // holds it skipped, which the gate names.
    assert!(out.contains("skipped in the certification"), "{out}");
    assert!(out.contains(pair), "{out}");
}
