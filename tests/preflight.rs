//! Preflight, table-driven: each way a certification can be unfit gives no-go with its
//! reason (exit 1), an unreadable one exit 2, and a valid one go (exit 0).

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use common::{Out, certified_healthy, labcert_env};

/// A fresh, valid, signed certification of the `healthy` fixture topology.
fn certified(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("key");
    let out = labcert_env(&["keygen", key.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = certified_healthy(dir, &["--sign", key.to_str().unwrap()]);
    (m, dir.join("key.pub"))
}

fn preflight(m: &Path, extra: &[&str]) -> Out {
    let mut args = vec![
        "--catalogs",
        "fixtures/certify",
        "preflight",
        "--certification",
        m.to_str().unwrap(),
        "--environment",
        "lab-a",
        "--topology",
        "healthy",
    ];
    args.extend_from_slice(extra);
    labcert_env(&args, &[])
}

fn edit(m: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(m).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(m, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn rfc3339(offset_secs: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn a_valid_signed_certification_is_go() {
    let dir = tempfile::tempdir().unwrap();
    let (m, public) = certified(dir.path());
    let o = preflight(&m, &["--verify-key", public.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.starts_with("preflight: GO"), "{}", o.stdout);
    assert!(o.stdout.contains("expires in 23 h"), "{}", o.stdout);
}

#[test]
fn every_unfit_certification_is_no_go_with_its_reason() {
    type Case = (
        &'static str,
        fn(&Path),
        Vec<&'static str>,
        i32,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "missing file",
            |m| std::fs::remove_file(m).unwrap(),
            vec![],
            2,
            "cannot read the certification",
        ),
        (
            "invalid JSON",
            |m| std::fs::write(m, "{ not json").unwrap(),
            vec![],
            2,
            "not JSON",
        ),
        (
            "schema-invalid",
            |m| {
                edit(m, |v| {
                    v.as_object_mut().unwrap().remove("id");
                });
            },
            vec![],
            2,
            "not a valid manifest",
        ),
        (
            "fail",
            |m| edit(m, |v| v["status"] = json!("fail")),
            vec![],
            1,
            "the stored status `fail` disagrees with its checks, which make it `pass`",
        ),
        (
            "blocked",
            |m| edit(m, |v| v["status"] = json!("blocked")),
            vec![],
            1,
            "the stored status `blocked` disagrees with its checks",
        ),
        (
            "a required check fails under a passing verdict",
            |m| edit(m, |v| v["groups"][0]["checks"][0]["status"] = json!("fail")),
            vec![],
            1,
            "status (from its checks) is fail, not pass",
        ),
        (
            "a group roll-up that hides its failing check",
            |m| edit(m, |v| v["groups"][0]["checks"][0]["status"] = json!("fail")),
            vec![],
            1,
            "is stored as `pass` but its checks make it `fail`",
        ),
        (
            "a summary that hides a failing check",
            |m| edit(m, |v| v["groups"][0]["checks"][0]["status"] = json!("fail")),
            vec![],
            1,
            "summary.requiredFail is stored as 0 but the checks count 1",
        ),
        (
            "valid for ten years",
            |m| edit(m, |v| v["expiresAt"] = json!(rfc3339(10 * 365 * 86400))),
            vec![],
            1,
            "longer than topology `healthy` allows (24 h)",
        ),
        (
            "a planned check removed, counts adjusted",
            |m| {
                edit(m, |v| {
                    let checks = v["groups"][0]["checks"].as_array_mut().unwrap();
                    let gone = checks.remove(0);
                    assert_eq!(gone["status"], "pass");
                    let s = &mut v["summary"];
                    s["total"] = json!(s["total"].as_u64().unwrap() - 1);
                    s["pass"] = json!(s["pass"].as_u64().unwrap() - 1);
                });
            },
            vec![],
            1,
            "the catalogs plan for these providers is not in the certification",
        ),
        (
            "expired by one second",
            |m| edit(m, |v| v["expiresAt"] = json!(rfc3339(-1))),
            vec![],
            1,
            "expired at",
        ),
        (
            "from the future",
            |m| {
                edit(m, |v| {
                    v["finishedAt"] = json!(rfc3339(3600));
                    v["createdAt"] = json!(rfc3339(3600));
                });
            },
            vec![],
            1,
            "is in the future",
        ),
        (
            "environment mismatch",
            |m| edit(m, |v| v["environment"] = json!("lab-b")),
            vec![],
            1,
            "environment: certified `lab-b`, requested `lab-a`",
        ),
        (
            "topology mismatch",
            |m| edit(m, |v| v["topology"] = json!("other")),
            vec![],
            1,
            "topology: certified `other`, requested `healthy`",
        ),
        (
            "provider missing",
            |_| {},
            vec!["--providers", "oci"],
            1,
            "provider `oci` was not certified",
        ),
        (
            "provider added",
            |m| edit(m, |v| v["providers"] = json!(["aws"])),
            vec![],
            1,
            "provider `aws` was certified but not requested",
        ),
        (
            "missing required group",
            |m| {
                edit(m, |v| {
                    v["groups"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|g| g["id"] != "network");
                });
            },
            vec![],
            1,
            "required group `healthy.network` is missing",
        ),
        (
            "failing required group",
            |m| {
                edit(m, |v| {
                    let g = &mut v["groups"][1];
                    g["checks"][0]["status"] = json!("fail");
                    g["status"] = json!("fail");
                    v["status"] = json!("fail");
                    v["summary"]["pass"] = json!(v["summary"]["pass"].as_u64().unwrap() - 1);
                    v["summary"]["fail"] = json!(1);
                    v["summary"]["requiredFail"] = json!(1);
                });
            },
            vec![],
            1,
            "required group `healthy.network` is fail",
        ),
        (
            "catalog digest changed",
            |m| edit(m, |v| v["catalogs"][0]["sha256"] = json!("0".repeat(64))),
            vec![],
            1,
            "catalog `healthy` changed since certification",
        ),
        (
            "digest that is not a digest",
            |m| edit(m, |v| v["catalogs"][0]["sha256"] = json!("aé".repeat(20))),
            vec![],
            2,
            "not a valid manifest",
        ),
        (
            "older major tool",
            |m| edit(m, |v| v["tool"]["version"] = json!("9.0.0")),
            vec![],
            1,
            "does not accept",
        ),
        (
            "replayed",
            |m| edit(m, |v| v["replayedFrom"] = json!("fixtures/demo")),
            vec![],
            1,
            "it certifies a recording, not a lab",
        ),
        (
            "tampered after signing",
            |m| {
                let mut t = std::fs::read_to_string(m).unwrap();
                t.push(' ');
                std::fs::write(m, t).unwrap();
            },
            vec!["--verify-key", "KEY"],
            1,
            "the manifest changed after signing",
        ),
        (
            "wrong key",
            |m| {
                let other = m.with_file_name("other");
                labcert_env(&["keygen", other.to_str().unwrap()], &[]);
            },
            vec!["--verify-key", "OTHER"],
            1,
            "another key signed it",
        ),
        (
            "no signature",
            |m| std::fs::remove_file(labcert::gate::signing::sig_path(m)).unwrap(),
            vec!["--verify-key", "KEY"],
            1,
            "no signature at",
        ),
    ];
    for (name, break_it, extra, code, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (m, public) = certified(dir.path());
        break_it(&m);
        let other = dir.path().join("other.pub").display().to_string();
        let key = public.display().to_string();
        let extra: Vec<&str> = extra
            .iter()
            .map(|a| match *a {
                "KEY" => key.as_str(),
                "OTHER" => other.as_str(),
                a => a,
            })
            .collect();
        let o = preflight(&m, &extra);
        let text = format!("{}{}", o.stdout, o.stderr);
        assert_eq!(o.code, code, "{name}: {text}");
        assert!(text.contains("NO-GO"), "{name}: {text}");
        assert!(
            text.contains(reason),
            "{name}: expected `{reason}` in:\n{text}"
        );
    }
}

#[test]
fn every_reason_is_listed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = certified(dir.path());
    edit(&m, |v| {
        v["status"] = json!("fail");
        v["environment"] = json!("lab-b");
        v["expiresAt"] = json!(rfc3339(-10));
    });
    let o = preflight(&m, &[]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("3 reasons"), "{}", o.stdout);
}

#[test]
fn catalog_drift_can_be_accepted_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = certified(dir.path());
    edit(&m, |v| v["catalogs"][0]["sha256"] = json!("0".repeat(64)));
    let o = preflight(&m, &["--allow-catalog-drift"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("ACCEPTED BY --allow-catalog-drift"),
        "{}",
        o.stderr
    );
}
