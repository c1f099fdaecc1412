//! `labcert plan`: snapshots of every format, YAML and TOML give the same plan, and the
//! graph outputs are well formed.

mod common;

use common::labcert;

fn plan(format_dir: &str, format: &str) -> common::Out {
    labcert(&[
        "--catalogs",
        &format!("fixtures/plan/{format_dir}"),
        "plan",
        "--topology",
        "lab",
        "--format",
        format,
    ])
}

/// The plan without where it came from (file paths differ between the twins).
fn without_sources(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json).expect("plan JSON");
    for c in v["checks"].as_array_mut().expect("checks") {
        c.as_object_mut().unwrap().remove("source");
    }
    for c in v["catalogs"].as_array_mut().expect("catalogs") {
        c.as_object_mut().unwrap().remove("file");
    }
    v
}

#[test]
fn yaml_and_toml_catalogs_plan_the_same() {
    let y = plan("yaml", "json");
    let t = plan("toml", "json");
    assert_eq!(y.code, 0, "{}", y.stderr);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert_eq!(without_sources(&y.stdout), without_sources(&t.stdout));
}

#[test]
fn plan_snapshots() {
    for format in ["text", "json", "mermaid", "dot"] {
        let out = plan("yaml", format);
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        insta::assert_snapshot!(format!("plan_{format}"), out.stdout);
    }
}

#[test]
fn plan_orders_needs_before_dependents_and_masks_secrets() {
    let out = plan("yaml", "json");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let wave_of = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .and_then(|c| c["wave"].as_u64())
            .unwrap()
    };
    for c in checks {
        for n in c["needs"].as_array().unwrap() {
            assert!(
                wave_of(n.as_str().unwrap()) < c["wave"].as_u64().unwrap(),
                "{} after {n}",
                c["id"]
            );
        }
    }
    assert!(
        out.stdout.contains("PVEAPIToken=<secret:token>"),
        "secret shown masked"
    );
    // The matrix exclusion keeps vmbr2 on pve2 only: 2 nodes × 2 bridges + 1.
    let vlan = checks.iter().filter(|c| c["check"] == "vlan-aware").count();
    assert_eq!(vlan, 5);
    let refused = checks
        .iter()
        .filter(|c| c["repair"]["guard"]["refused"] == true)
        .count();
    assert_eq!(
        refused, 2,
        "the management bridge's repair is refused on both nodes"
    );
}

#[test]
fn mermaid_is_a_well_formed_flowchart() {
    let out = plan("yaml", "mermaid");
    let text = out.stdout;
    assert!(text.starts_with("flowchart LR\n"));
    let mut depth = 0i32;
    let mut nodes = std::collections::HashSet::new();
    for line in text.lines().skip(1) {
        let l = line.trim();
        if l.starts_with("subgraph ") {
            depth += 1;
        } else if l == "end" {
            depth -= 1;
            assert!(depth >= 0, "unbalanced end");
        } else if let Some((from, to)) = l.split_once(" --> ") {
            assert!(
                nodes.contains(from) && nodes.contains(to),
                "edge to undeclared node: {l}"
            );
        } else if let Some((id, rest)) = l.split_once('[') {
            assert!(
                rest.starts_with('"') && rest.ends_with("\"]"),
                "node label quoted: {l}"
            );
            assert!(
                !rest[1..rest.len() - 2].contains('"'),
                "no raw quotes in labels: {l}"
            );
            nodes.insert(id.to_string());
        } else {
            assert!(
                l.starts_with("classDef ") || l.starts_with("class "),
                "unexpected line: {l}"
            );
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(nodes.len(), 10);
}

/// `labcert --catalogs fixtures/plan/yaml plan ARGS…`.
fn plan_yaml(args: &[&str]) -> common::Out {
    let mut all = vec!["--catalogs", "fixtures/plan/yaml", "plan"];
    all.extend_from_slice(args);
    labcert(&all)
}

#[test]
fn missing_inputs_block_only_their_checks_and_are_listed_together() {
    let out = plan_yaml(&["--topology", "partial", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["missingRequirements"],
        serde_json::json!(["lab: vars.url"])
    );
    let state = |id: &str| {
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"));
        (
            c["state"].as_str().unwrap().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(
        state("lab.access.auth"),
        (
            "blocked".into(),
            "missing_requirement: lab: vars.url".into()
        )
    );
    assert_eq!(
        state("lab.nodes.release-known").0,
        "blocked",
        "its dependency is blocked"
    );
    assert_eq!(
        state("lab.network.dns").0,
        "planned",
        "a check that does not read `url` still runs"
    );
    let text = plan_yaml(&["--topology", "partial"]).stdout;
    assert!(
        text.contains("missing requirements") && text.contains("lab: vars.url"),
        "{text}"
    );
}

#[test]
fn var_overrides_apply_and_mistakes_are_reported() {
    let out = plan_yaml(&[
        "--topology",
        "lab",
        "--var",
        "lab.url=https://pve9.lab.test:8006",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("pve9.lab.test"),
        "--var overrides the topology"
    );
    let bad = plan_yaml(&["--topology", "lab", "--var", "lab.ur=x"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("[E265]") && bad.stderr.contains("did you mean `lab.url`"),
        "{}",
        bad.stderr
    );
    let none = plan_yaml(&["--topology", "nope"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("[E266]"), "{}", none.stderr);
}

#[test]
fn unselected_providers_are_skipped() {
    let out = plan_yaml(&[
        "--topology",
        "lab",
        "--providers",
        "aws",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "skipped")
    );
    let typo = plan_yaml(&["--topology", "lab", "--providers", "pvee"]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr.contains("did you mean `pve`"),
        "{}",
        typo.stderr
    );
}

#[test]
fn large_plans_render_in_parallel_in_order() {
    // 1,200 instances: above the threshold where rendering is split across threads.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("topologies")).unwrap();
    let items: Vec<String> = (0..1200).map(|i| format!("n{i}")).collect();
    std::fs::write(
        dir.path().join("big.yaml"),
        "catalog: big\nprovider: pve\nvars:\n  nodes: { type: list }\ngroups:\n  - id: g\n    checks:\n      - id: first\n        probe: { tcp: { host: first.test, port: 1 } }\n        capture: { v: x }\n      - id: each\n        needs: [first]\n        for_each: \"{{ vars.nodes }}\"\n        probe: { http: { url: \"https://{{ item }}.test/{{ checks.first.v }}\" } }\n        expect: [ { status: 200 } ]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("topologies/big.yaml"),
        format!(
            "topology: big\ncatalogs:\n  big:\n    vars: {{ nodes: [{}] }}\n",
            items.join(", ")
        ),
    )
    .unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let out = labcert(&[
        "--catalogs",
        &root,
        "plan",
        "--topology",
        "big",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1201);
    for (i, c) in checks.iter().skip(1).enumerate() {
        assert_eq!(c["id"], format!("big.g.each[n{i}]"));
        assert_eq!(
            c["probe"]["spec"]["url"],
            format!("https://n{i}.test/<capture:checks.first.v>")
        );
        assert_eq!(c["wave"], 2);
    }
}

#[test]
fn a_when_on_an_unbound_var_blocks_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("topologies")).unwrap();
    std::fs::write(
        dir.path().join("t.yaml"),
        "catalog: t\nprovider: pve\nvars:\n  flag: { type: boolean }\ngroups:\n  - id: g\n    checks:\n      - id: gated\n        when: vars.flag\n        probe: { tcp: { host: x.test, port: 22 } }\n      - id: free\n        probe: { tcp: { host: y.test, port: 22 } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("topologies/t.yaml"),
        "topology: t\ncatalogs:\n  t: {}\n",
    )
    .unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let out = labcert(&["--catalogs", &root, "plan", "--topology", "t"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("t.g.gated  [blocked: missing_requirement: t: vars.flag]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 wave,"), "{}", out.stdout);
    let off = labcert(&[
        "--catalogs",
        &root,
        "plan",
        "--topology",
        "t",
        "--var",
        "t.flag=false",
    ]);
    assert!(
        off.stdout.contains("t.g.gated — when `vars.flag` is false"),
        "{}",
        off.stdout
    );
}

/// A topology's `file:` for a catalog is checked before anything is planned: one that leaves
/// the catalog root or does not exist is an error at its line (E267), and the file that
/// really defines the catalog plans as before.
#[test]
fn a_catalog_file_outside_the_root_or_missing_stops_the_plan() {
    let root = "fixtures/diagnostics/E267-catalog-file-yaml";
    let out = labcert(&["--catalogs", root, "plan", "--topology", "lab"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("error[E267]").count(),
        2,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("topologies/lab.yaml:4:17"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("topologies/lab.yaml:5:18"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing planned"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("topologies")).unwrap();
    std::fs::copy(
        common::root().join("fixtures/plan/yaml/lab.yaml"),
        dir.path().join("lab.yaml"),
    )
    .unwrap();
    let topology =
        std::fs::read_to_string(common::root().join("fixtures/plan/yaml/topologies/lab.yaml"))
            .unwrap()
            .replace("  lab:\n", "  lab:\n    file: ./lab.yaml\n");
    std::fs::write(dir.path().join("topologies/lab.yaml"), topology).unwrap();
    let root = dir.path().display().to_string();
    let out = labcert(&["--catalogs", &root, "plan", "--topology", "lab"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
