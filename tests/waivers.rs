//! `certify --waivers`: a failing check a waiver in force covers is `waived`, the manifest
//! lists the waivers and expires no later than the earliest used; an expired waiver waives
//! nothing and says so.

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "support/manifest.rs"]
mod manifest;

use serde_json::Value;

use common::labcert_env;
use manifest::{assert_valid, check};

fn rfc3339(offset_secs: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn waivers_apply_cap_the_expiry_and_expired_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let soon = rfc3339(2 * 3600);
    let file = dir.path().join("waivers.yaml");
    std::fs::write(
        &file,
        format!(
            "waivers:\n\
             \x20 - {{ checks: [repairable.files.stubborn, \"repairable.files.step-*\"], reason: vendor fix due, approver: alice, expires: \"{soon}\" }}\n\
             \x20 - {{ checks: [repairable.files.guarded], reason: old exception, approver: bob, expires: \"{}\" }}\n",
            rfc3339(-60)
        ),
    )
    .unwrap();
    let state = format!("repairable.state={}", dir.path().display());
    let out = dir.path().join("m.json");
    let o = labcert_env(
        &[
            "--catalogs",
            "fixtures/certify",
            "certify",
            "--environment",
            "t",
            "--topology",
            "repairable",
            "--var",
            &state,
            "--out",
            out.to_str().unwrap(),
            "--waivers",
            file.to_str().unwrap(),
        ],
        &[("CI".into(), "1".into())],
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&m);
    let stubborn = check(&m, "repairable.files.stubborn");
    assert_eq!(stubborn["status"], "waived");
    assert!(
        stubborn["message"]
            .as_str()
            .unwrap()
            .contains("vendor fix due (approved by alice)")
    );
    assert_eq!(check(&m, "repairable.files.step-fails")["status"], "waived");
    // Expired: waives nothing, and the manifest says which failure it would have covered.
    assert_eq!(check(&m, "repairable.files.guarded")["status"], "fail");
    assert_eq!(m["waivers"][1]["expired"], true);
    assert_eq!(
        m["waivers"][1]["notWaivedExpired"][0],
        "repairable.files.guarded"
    );
    assert_eq!(m["waivers"][0]["waived"].as_array().unwrap().len(), 2);
    // The manifest expires with the earliest waiver used.
    assert_eq!(m["expiresAt"], soon);
    assert_eq!(m["summary"]["waived"], 2);
    assert!(o.stdout.contains("EXPIRED, waives nothing"), "{}", o.stdout);
    assert!(
        o.stdout.contains("waived: repairable.files.stubborn"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_bad_waiver_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.yaml");
    std::fs::write(
        &file,
        "waivers:\n  - { checks: [x], reason: r, approver: a, expires: tomorrow }\n",
    )
    .unwrap();
    let out = dir.path().join("m.json");
    let o = labcert_env(
        &[
            "--catalogs",
            "fixtures/certify",
            "certify",
            "--environment",
            "t",
            "--topology",
            "repairable",
            "--var",
            "repairable.state=/tmp",
            "--out",
            out.to_str().unwrap(),
            "--waivers",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("expires `tomorrow` is not a UTC RFC 3339 time"),
        "{}",
        o.stderr
    );
    assert!(!out.exists());
}
