//! The shipped catalogs and topologies: clean under `validate`, and the demo topology plans.

mod common;

use common::labcert;

fn shipped(args: &[&str]) -> common::Out {
    let mut all = vec!["--catalogs", "catalogs"];
    all.extend_from_slice(args);
    labcert(&all)
}

#[test]
fn shipped_catalogs_and_topologies_validate_without_warnings() {
    let out = shipped(&["validate", "catalogs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("0 errors, 0 warnings"),
        "{}",
        out.stderr
    );
    for provider in ["pve", "aws", "azure", "oci", "reachability"] {
        let files: Vec<_> = std::fs::read_dir(common::root().join("catalogs"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(provider))
            .collect();
        assert_eq!(files.len(), 1, "one catalog file for {provider}");
    }
}

#[test]
fn demo_topology_plans_in_every_format_with_every_check_rendered() {
    for format in ["text", "json", "mermaid", "dot"] {
        let out = shipped(&["plan", "--topology", "demo", "--format", format]);
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        assert!(!out.stdout.is_empty());
    }
    let out = shipped(&["plan", "--topology", "demo", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["missingRequirements"].as_array().unwrap().is_empty(),
        "demo binds every input"
    );
    let checks = v["checks"].as_array().unwrap();
    let catalogs: std::collections::BTreeSet<&str> = checks
        .iter()
        .filter_map(|c| c["catalog"].as_str())
        .collect();
    assert_eq!(catalogs.len(), 5, "all five catalogs: {catalogs:?}");
    assert!(
        checks.iter().all(|c| c["state"] != "blocked"),
        "nothing blocked in the demo"
    );
    assert!(!out.stdout.contains("{{"), "every template rendered");
    let mermaid = shipped(&["plan", "--topology", "demo", "--format", "mermaid"]).stdout;
    assert!(
        mermaid.starts_with("flowchart LR\n")
            && mermaid.contains("subgraph")
            && mermaid.contains(" --> ")
    );
}

#[test]
fn secrets_never_appear_in_a_plan() {
    // Give every secret the demo references a recognisable value, then look for it.
    let topo =
        std::fs::read_to_string(common::root().join("catalogs/topologies/demo.yaml")).unwrap();
    let names: Vec<String> = topo
        .split("env:")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    assert!(
        !names.is_empty(),
        "the demo binds secrets by env: reference"
    );
    let envs: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), format!("LEAK-{n}-7f3a")))
        .collect();
    let out = common::labcert_env(
        &[
            "--catalogs",
            "catalogs",
            "plan",
            "--topology",
            "demo",
            "--format",
            "json",
        ],
        &envs,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("<secret:"), "secrets are shown masked");
    assert!(
        !out.stdout.contains("LEAK-") && !out.stderr.contains("LEAK-"),
        "a secret value leaked"
    );
}
