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
