//! `labcert merge`: certifications of one lab made by separate runs (PVE and cloud in
//! separate CI jobs) become one; conflicts are refused with a clear error.

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "support/manifest.rs"]
mod manifest;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{Out, labcert_env};

fn certify(dir: &Path, name: &str, env: &str, providers: &str) -> PathBuf {
    let out = dir.join(name);
    let o = labcert_env(
        &[
            "--catalogs",
            "fixtures/certify",
            "certify",
            "--environment",
            env,
            "--topology",
            "split",
            "--providers",
            providers,
            "--out",
            out.to_str().unwrap(),
        ],
        &[("CI".into(), "1".into())],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    out
}

fn merge(out: &Path, inputs: &[&Path]) -> Out {
    let mut args = vec!["merge"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    labcert_env(&args, &[])
}

#[test]
fn separate_runs_merge_into_one_certification() {
    let dir = tempfile::tempdir().unwrap();
    let pve = certify(dir.path(), "pve.json", "lab", "pve");
    let aws = certify(dir.path(), "aws.json", "lab", "aws");
    let out = dir.path().join("merged.json");
    let o = merge(&out, &[&aws, &pve]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    manifest::assert_valid(&m);
    assert_eq!(m["status"], "pass");
    assert_eq!(m["providers"], serde_json::json!(["aws", "pve"]));
    let groups: Vec<String> = m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}.{}:{}",
                g["catalog"].as_str().unwrap(),
                g["id"].as_str().unwrap(),
                g["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        groups,
        // The topology's catalog order, whatever the order of the inputs.
        [
            "split-pve.one:pass",
            "split-pve.two:pass",
            "split-aws.one:pass",
            "split-aws.two:pass"
        ]
    );
    assert_eq!(m["summary"]["pass"], 4);
    assert_eq!(m["mergedFrom"].as_array().unwrap().len(), 2);
    let expiries: Vec<String> = [&aws, &pve]
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["expiresAt"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(m["expiresAt"], *expiries.iter().min().unwrap());
    // The merged certification passes the gate for both providers.
    let o = labcert_env(
        &[
            "--catalogs",
            "fixtures/certify",
            "preflight",
            "--certification",
            out.to_str().unwrap(),
            "--environment",
            "lab",
            "--topology",
            "split",
            "--providers",
            "pve,aws",
        ],
        &[],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

#[test]
fn conflicts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pve = certify(dir.path(), "pve.json", "lab", "pve");
    let pve_again = certify(dir.path(), "pve2.json", "lab", "pve");
    let other_env = certify(dir.path(), "aws-b.json", "lab-b", "aws");
    let out = dir.path().join("merged.json");
    let o = merge(&out, &[&pve, &pve_again]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("group `split-pve.one` was certified by more than one input"),
        "{}",
        o.stderr
    );
    let o = merge(&out, &[&pve, &other_env]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("for environment `lab-b`"), "{}", o.stderr);
    assert!(!out.exists());
    let o = merge(&out, &[&pve, &dir.path().join("missing.json")]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("missing.json"), "{}", o.stderr);
}
