//! One fixture per diagnostic, in YAML and in TOML: each yields its code, located, and
//! the rendered text is a snapshot (`tests/snapshots/`).
//!
//! A fixture is `fixtures/diagnostics/<CODE>-<what>.{yaml,toml}`, or a directory of that
//! name holding catalogs and `topologies/` for problems that span files.

mod common;

use std::collections::BTreeSet;

use common::{labcert, rel, root};
use labcert::diag::Code;

/// Codes that no single catalog file can produce, and where they are tested instead.
const NOT_FILE_CODES: &[(&str, &str)] = &[
    ("E001", "unreadable file: tests/cli.rs"),
    ("E265", "--var override: tests/plan.rs"),
    ("E266", "unknown --topology: tests/plan.rs"),
];

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("fixtures/diagnostics"))
        .expect("fixtures/diagnostics")
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn each_fixture_reports_its_code_with_a_location() {
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let code = &name[..4];
        let out = labcert(&["validate", &rel(&path)]);
        let want_exit = if code.starts_with('W') { 0 } else { 2 };
        assert_eq!(out.code, want_exit, "{name}: exit code\n{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("[{code}]")),
            "{name}: expected {code}\n{}",
            out.stderr
        );
        let located = out
            .stderr
            .lines()
            .any(|l| l.trim_start().starts_with("--> fixtures/diagnostics/"));
        assert!(
            located || code == "E002",
            "{name}: no file:line:col\n{}",
            out.stderr
        );
        insta::assert_snapshot!(name.replace('.', "_"), out.stderr);
    }
}

#[test]
fn every_code_has_a_yaml_and_a_toml_fixture() {
    let names: BTreeSet<String> = fixtures()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for c in Code::ALL {
        let code = c.as_str();
        if NOT_FILE_CODES.iter().any(|(n, _)| *n == code) {
            continue;
        }
        for ext in ["yaml", "toml"] {
            let has = names.iter().any(|n| {
                n.starts_with(code)
                    && (n.ends_with(&format!(".{ext}")) || (!n.contains('.') && n.ends_with(ext)))
            });
            if !has {
                missing.push(format!("{code} ({ext}): {}", c.describe()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures missing:\n{}",
        missing.join("\n")
    );
}

#[test]
fn literal_secrets_are_starred_out_of_diagnostics() {
    for f in [
        "E240-literal-secret.yaml",
        "E240-literal-secret.toml",
        "E240-literal-secret-in-topology-yaml",
        "E241-invalid-secret-ref.yaml",
    ] {
        let path = root().join("fixtures/diagnostics").join(f);
        let text = if path.is_dir() {
            std::fs::read_to_string(path.join("topologies/lab.yaml")).unwrap()
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        let out = labcert(&["validate", &rel(&path)]);
        assert!(out.stderr.contains("[E24"), "{f}: {}", out.stderr);
        // Every quoted value the fixture marks as secret must be absent from the output.
        for secret in ["3f0c2a9e", "PVE_TOKEN"]
            .iter()
            .filter(|s| text.contains(**s))
        {
            let shown = out
                .stderr
                .lines()
                .filter(|l| l.contains(" | "))
                .any(|l| l.contains(secret));
            assert!(!shown, "{f}: `{secret}` leaked into\n{}", out.stderr);
        }
    }
}

#[test]
fn ten_distinct_mistakes_give_ten_located_diagnostics_in_one_run() {
    let out = labcert(&["validate", "fixtures/ten-mistakes.yaml"]);
    assert_eq!(out.code, 2);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error["))
        .collect();
    let codes: BTreeSet<&str> = errors.iter().map(|l| &l[6..10]).collect();
    let located = out
        .stderr
        .lines()
        .filter(|l| {
            l.trim_start()
                .starts_with("--> fixtures/ten-mistakes.yaml:")
        })
        .count();
    assert_eq!(errors.len(), 10, "{}", out.stderr);
    assert_eq!(codes.len(), 10, "ten different kinds of mistake: {codes:?}");
    assert_eq!(located, 10, "each with file:line:col");
}
