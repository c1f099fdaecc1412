//! The release policy's script contract (`contrib/routerd-labs/`), end to end: certify PVE
//! and cloud separately, merge, preflight, qualify — each script with exactly its flags.

mod common;

use std::path::Path;
use std::process::Command;

use common::root;

fn script(name: &str, args: &[&str], dir: &Path) -> (i32, String) {
    let o = Command::new("bash")
        .arg(root().join("contrib/routerd-labs").join(name))
        .args(args)
        .current_dir(root())
        .env("LABCERT", env!("CARGO_BIN_EXE_labcert"))
        .env("LABCERT_CATALOGS", "fixtures/certify")
        .env(
            "LABCERT_QUALIFICATION_CATALOG",
            "fixtures/qualification/smoke.yaml",
        )
        .env("CI", "1")
        .env("TMPDIR", dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// Without `--valid-for`, the scripts leave the validity to labcert: a topology allowing
/// less than 24 h certifies (for its own bound), it is no usage error.
#[test]
fn the_certify_scripts_default_to_the_topologys_validity() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("certify-pve-substrate.sh", vec![]),
        ("certify-cloud-substrate.sh", vec!["--providers", "aws"]),
    ] {
        let out = dir.path().join(format!("{name}.json"));
        let out = out.display().to_string();
        let mut args = vec![
            "--environment",
            "lab",
            "--topology",
            "split-short",
            "--out",
            &out,
        ];
        args.extend(extra);
        let (code, text) = script(name, &args, dir.path());
        assert_eq!(code, 0, "{name}: {text}");
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let at = |k: &str| m[k].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
        let valid = at("expiresAt").duration_since(at("finishedAt")).as_secs();
        assert_eq!(valid, 8 * 3600, "{name}");
    }
}

#[test]
fn certify_merge_preflight_qualify() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let (code, out) = script(
        "certify-pve-substrate.sh",
        &[
            "--environment",
            "lab",
            "--topology",
            "split",
            "--out",
            &p("pve.json"),
            "--valid-for",
            "12h",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = script(
        "certify-cloud-substrate.sh",
        &[
            "--environment",
            "lab",
            "--topology",
            "split",
            "--providers",
            "aws",
            "--out",
            &p("cloud.json"),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    let merged = Command::new(env!("CARGO_BIN_EXE_labcert"))
        .args([
            "merge",
            &p("pve.json"),
            &p("cloud.json"),
            "--out",
            &p("cert.json"),
        ])
        .status()
        .unwrap();
    assert!(merged.success());
    let (code, out) = script(
        "release-environment-preflight.sh",
        &[
            "--certification",
            &p("cert.json"),
            "--environment",
            "lab",
            "--topology",
            "split",
            "--providers",
            "aws,pve",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("preflight: GO"), "{out}");
    let (code, out) = script(
        "release-qualification-smoke.sh",
        &[
            "--certification",
            &p("cert.json"),
            "--release",
            "v1.5.0",
            "--out",
            &p("q.json"),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("q.json")).unwrap()).unwrap();
    assert_eq!(q["status"], "pass");
    // A mismatched request is a no-go; a qualification on it runs nothing (exit 4).
    let (code, out) = script(
        "release-environment-preflight.sh",
        &[
            "--certification",
            &p("cert.json"),
            "--environment",
            "lab",
            "--topology",
            "split",
            "--providers",
            "aws,azure,oci,pve",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("provider `azure` was not certified"), "{out}");
    let mut bad: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("cert.json")).unwrap()).unwrap();
    bad["status"] = "fail".into();
    std::fs::write(p("bad.json"), bad.to_string()).unwrap();
    let (code, out) = script(
        "release-qualification-smoke.sh",
        &[
            "--certification",
            &p("bad.json"),
            "--release",
            "v1.5.0",
            "--out",
            &p("q2.json"),
        ],
        dir.path(),
    );
    assert_eq!(code, 4, "{out}");
}

#[test]
fn the_scripts_accept_exactly_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = script(
        "certify-pve-substrate.sh",
        &["--environment", "lab", "--topology", "split"],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("missing --out") && out.contains("usage: certify-pve-substrate.sh"),
        "{out}"
    );
    let (code, out) = script(
        "certify-pve-substrate.sh",
        &["--providers", "aws"],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(out.contains("unknown argument --providers"), "{out}");
    let (code, out) = script(
        "certify-cloud-substrate.sh",
        &[
            "--environment",
            "e",
            "--topology",
            "t",
            "--providers",
            "aws,pve",
            "--out",
            "x",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("pve is certified by certify-pve-substrate.sh"),
        "{out}"
    );
}

/// The scripts on the bundled demo's recordings (replayed: preflight needs
/// LABCERT_ALLOW_REPLAYED, and says so loudly): PVE and clouds certified apart, merged, the
/// gate says go, and qualification runs.
#[test]
fn the_scripts_on_the_demo_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let run = |name: &str, args: &[&str]| {
        let o = Command::new("bash")
            .arg(root().join("contrib/routerd-labs").join(name))
            .args(args)
            .current_dir(root())
            .env("LABCERT", env!("CARGO_BIN_EXE_labcert"))
            .env("LABCERT_CATALOGS", "catalogs")
            .env(
                "LABCERT_QUALIFICATION_CATALOG",
                "fixtures/qualification/smoke.yaml",
            )
            .env("LABCERT_ALLOW_REPLAYED", "1")
            .env("CI", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code().unwrap_or(-1), text)
    };
    let (code, out) = run(
        "certify-pve-substrate.sh",
        &[
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--out",
            &p("pve.json"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let pve: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("pve.json")).unwrap()).unwrap();
    let pve_checks: Vec<&serde_json::Value> = pve["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["catalog"] == "pve")
        .flat_map(|g| g["checks"].as_array().unwrap())
        .collect();
    assert!(
        pve_checks.iter().all(|c| c["status"] == "pass"),
        "every pve check passes"
    );
    let (code, out) = run(
        "certify-cloud-substrate.sh",
        &[
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--providers",
            "aws,azure,oci",
            "--out",
            &p("cloud.json"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let merged = Command::new(env!("CARGO_BIN_EXE_labcert"))
        .args([
            "merge",
            &p("pve.json"),
            &p("cloud.json"),
            "--out",
            &p("cert.json"),
        ])
        .output()
        .unwrap();
    // Both runs certified the reachability catalog: merged check by check.
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let cert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("cert.json")).unwrap()).unwrap();
    assert_eq!(
        cert["providers"],
        serde_json::json!(["aws", "azure", "oci", "pve"])
    );
    let (code, out) = run(
        "release-environment-preflight.sh",
        &[
            "--certification",
            &p("cert.json"),
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--providers",
            "aws,azure,oci,pve",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ACCEPTED BY --allow-replayed"), "{out}");
    let (code, out) = run(
        "release-qualification-smoke.sh",
        &[
            "--certification",
            &p("cert.json"),
            "--release",
            "v1.5.0",
            "--out",
            &p("q.json"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("q.json")).unwrap()).unwrap();
    assert_eq!(q["status"], "pass", "{q:#}");
}
