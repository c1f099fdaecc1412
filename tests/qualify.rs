//! `labcert qualify`: preflight first (no-go → preflight_failure, exit 4, nothing run); a
//! failing product check is a product failure (exit 1); a failing substrate check is an
//! infra failure that stops the run at once (exit 3). The result validates and names the
//! certification it relied on.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Out, certified_healthy, labcert_env, root};

fn certified(dir: &Path) -> PathBuf {
    certified_healthy(dir, &[])
}

/// `labcert qualify` of certification `m` with qualification catalog `catalog`, writing
/// `dir/q.json`; the smoke catalog's marker goes to `dir/ran`.
fn run_qualify(dir: &Path, m: &Path, catalog: &Path, vars: &[&str]) -> Out {
    let out = dir.join("q.json");
    let marker = format!("smoke.marker={}", dir.join("ran").display());
    let mut args = vec![
        "--catalogs",
        "fixtures/certify",
        "qualify",
        "--certification",
        m.to_str().unwrap(),
        "--release",
        "v1.5.0",
        "--catalog",
        catalog.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--var",
        &marker,
    ];
    for v in vars {
        args.extend(["--var", v]);
    }
    labcert_env(&args, &[])
}

fn qualify(dir: &Path, m: &Path, vars: &[&str]) -> (Out, Value) {
    let out = dir.join("q.json");
    let o = run_qualify(dir, m, Path::new("fixtures/qualification/smoke.yaml"), vars);
    let q: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/qualification.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&q).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    (o, q)
}

fn manifest_id(m: &Path) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(m).unwrap()).unwrap();
    v["id"].clone()
}

#[test]
fn a_good_release_passes() {
    let dir = tempfile::tempdir().unwrap();
    let m = certified(dir.path());
    let (o, q) = qualify(dir.path(), &m, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(q["status"], "pass");
    assert_eq!(q["release"], "v1.5.0");
    assert_eq!(q["certification"], manifest_id(&m));
    assert!(dir.path().join("ran").exists());
}

#[test]
fn a_failing_product_check_is_a_product_failure() {
    let dir = tempfile::tempdir().unwrap();
    let m = certified(dir.path());
    let (o, q) = qualify(dir.path(), &m, &["smoke.product_ok=false"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(q["status"], "product_failure");
    assert_eq!(q["failures"][0]["check"], "smoke.product.behaves");
    assert_eq!(q["failures"][0]["classification"], "product_failure");
    assert!(
        q["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the release misbehaved")
    );
}

#[test]
fn a_failing_substrate_check_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = certified(dir.path());
    let start = Instant::now();
    let (o, q) = qualify(dir.path(), &m, &["smoke.substrate_ok=false"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the run did not stop at once"
    );
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert_eq!(q["status"], "infra_failure");
    assert_eq!(q["failures"][0]["check"], "smoke.substrate.lab-answers");
    assert_eq!(q["failures"][0]["classification"], "infra_failure");
    let slow = q["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "smoke.product.slow")
        .unwrap();
    assert_eq!(slow["status"], "blocked");
    assert_eq!(slow["reason"], "cancelled");
    assert!(
        slow["message"].as_str().unwrap().contains("infra_failure"),
        "{slow}"
    );
}

#[test]
fn a_preflight_failure_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = certified(dir.path());
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    v["status"] = "fail".into();
    std::fs::write(&m, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (o, q) = qualify(dir.path(), &m, &[]);
    assert_eq!(o.code, 4, "{}{}", o.stdout, o.stderr);
    assert_eq!(q["status"], "preflight_failure");
    assert_eq!(
        q["preflight"][0],
        "the stored status `fail` disagrees with its checks, which make it `pass`"
    );
    assert!(q["checks"].as_array().unwrap().is_empty());
    assert!(
        !dir.path().join("ran").exists(),
        "a check ran after preflight said no-go"
    );
}

/// The qualification catalog is read where the user keeps it: its diagnostics and every
/// check's `source` name that file, never a temporary copy.
#[test]
fn a_broken_catalog_is_named_where_the_user_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = certified(dir.path());
    let mine = dir.path().join("my-qual.yaml");
    let good = std::fs::read_to_string(root().join("fixtures/qualification/smoke.yaml")).unwrap();
    std::fs::write(&mine, good.replacen("checks:", "checks:\n      - id: typo\n        probe: { command: { argv: [\"true\"] } }\n        expect: [{ exit: 0 }]\n        timout: 5s", 1)).unwrap();
    let out = dir.path().join("q.json");
    let qualify_mine = || run_qualify(dir.path(), &m, &mine, &[]);
    let o = qualify_mine();
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains(&format!("{}:", mine.display())),
        "the diagnostic names {}:\n{}",
        mine.display(),
        o.stderr
    );
    assert!(o.stderr.contains("timout"), "{}", o.stderr);
    assert!(!o.stderr.contains("labcert-qualify-"), "{}", o.stderr);

    // A good catalog kept elsewhere: every check's source is that file.
    std::fs::write(&mine, &good).unwrap();
    let o = qualify_mine();
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let q: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for c in q["checks"].as_array().unwrap() {
        let source = c["source"].as_str().unwrap();
        assert!(
            source.starts_with(&format!("{}:", mine.display())),
            "{source}"
        );
    }
}
