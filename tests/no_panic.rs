//! Nothing panics on any input: catalogs and topologies mangled at random still produce
//! diagnostics (or a plan), never a crash.

mod common;

use std::path::Path;

use labcert::diag::Diagnostics;
use labcert::plan::Target;
use proptest::prelude::*;

/// Applies edits at character positions: delete a run, or insert text from a list of
/// catalog-ish fragments that tend to produce interesting mistakes.
fn mangle(text: &str, edits: &[(usize, usize, usize)]) -> String {
    const BITS: &[&str] = &[
        "{{",
        "}}",
        "[",
        "]",
        "{",
        "}",
        ":",
        "\"",
        "'",
        "\n",
        "  ",
        "-",
        "needs: [x]",
        "{{ vars.",
        "#",
        "=",
        ",",
        "\u{e9}",
        "\t",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for &(pos, len, bit) in edits {
        let at = pos % (chars.len() + 1);
        if bit % 3 == 0 {
            let end = (at + len % 8).min(chars.len());
            chars.drain(at..end);
        } else {
            let ins: Vec<char> = BITS[bit % BITS.len()].chars().collect();
            chars.splice(at..at, ins);
        }
    }
    chars.into_iter().collect()
}

fn run_all(dir: &Path, catalog: &str, topology: &str, ext: &str) {
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::write(dir.join(format!("lab.{ext}")), catalog).unwrap();
    std::fs::write(dir.join(format!("topologies/lab.{ext}")), topology).unwrap();
    let mut diags = Diagnostics::default();
    let _ = labcert::validate::load_set(&[dir.to_path_buf()], dir, true, &mut diags);
    let args = Target {
        topology: "lab".into(),
        providers: vec![],
        environment: None,
        vars: vec![],
        vars_files: vec![],
        bound: Default::default(),
    };
    if let Some((plan, _)) = labcert::plan::command::plan(&args, dir, &mut diags) {
        let _ = labcert::plan::render::text(&plan);
        let _ = labcert::plan::render::mermaid(&plan);
    }
    for d in diags.sorted() {
        let _ = labcert::diag::render(&d);
    }
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(common::root().join(path)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mangled_yaml_never_panics(edits in proptest::collection::vec((0usize..4000, 0usize..16, 0usize..64), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let cat = mangle(&fixture("fixtures/plan/yaml/lab.yaml"), &edits);
        run_all(dir.path(), &cat, &fixture("fixtures/plan/yaml/topologies/lab.yaml"), "yaml");
        let topo = mangle(&fixture("fixtures/plan/yaml/topologies/lab.yaml"), &edits);
        run_all(dir.path(), &fixture("fixtures/plan/yaml/lab.yaml"), &topo, "yaml");
    }

    #[test]
    fn mangled_toml_never_panics(edits in proptest::collection::vec((0usize..4000, 0usize..16, 0usize..64), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let cat = mangle(&fixture("fixtures/plan/toml/lab.toml"), &edits);
        run_all(dir.path(), &cat, &fixture("fixtures/plan/toml/topologies/lab.toml"), "toml");
    }
}
