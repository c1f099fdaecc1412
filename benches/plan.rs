//! Loading, validating and planning a generated catalog of 10,000 checks with dependencies.
//! Target: under 500 ms in release mode (`cargo bench --bench plan`).

use std::fmt::Write;
use std::time::{Duration, Instant};

use labcert::cli::{PlanArgs, PlanFormat};
use labcert::diag::Diagnostics;

const GROUPS: usize = 100;
const PER_GROUP: usize = 100;
const TARGET: Duration = Duration::from_millis(500);

/// 100 groups × 100 checks; each check needs the one before it, each group the one before,
/// every probe a template with parameters, a capture read by the next check.
fn catalog() -> String {
    let mut s = String::from(
        "catalog: big\nprovider: pve\nvars:\n  url: { type: string }\nsecrets:\n  token: { default: \"env:TOKEN\" }\n\
         concurrency: { api: 4 }\nprobes:\n  api:\n    params: { path: {} }\n    http:\n      url: \"{{ vars.url }}{{ params.path }}\"\n\
         \x20     headers: { Authorization: \"Bearer {{ secrets.token }}\" }\n    concurrency: api\ngroups:\n",
    );
    for g in 0..GROUPS {
        let _ = writeln!(s, "  - id: g{g}");
        if g > 0 {
            let _ = writeln!(s, "    needs: [g{}]", g - 1);
        }
        s.push_str("    checks:\n");
        for c in 0..PER_GROUP {
            let _ = writeln!(s, "      - id: c{c}");
            if c > 0 {
                let _ = writeln!(s, "        needs: [c{}]", c - 1);
                let _ = writeln!(
                    s,
                    "        probe: {{ use: api, with: {{ path: \"/g{g}/c{c}?after={{{{ checks.c{}.v }}}}\" }} }}",
                    c - 1
                );
            } else {
                let _ = writeln!(
                    s,
                    "        probe: {{ use: api, with: {{ path: \"/g{g}/c{c}\" }} }}"
                );
            }
            s.push_str("        expect: [ { status: 200 }, { query: data.value, ge: 1 } ]\n        capture: { v: data.value }\n");
        }
    }
    s
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("topologies")).unwrap();
    std::fs::write(dir.path().join("big.yaml"), catalog()).unwrap();
    std::fs::write(
        dir.path().join("topologies/big.yaml"),
        "topology: big\ncatalogs:\n  big:\n    vars: { url: \"https://api.test\" }\n    secrets: { token: \"env:TOKEN\" }\n",
    )
    .unwrap();
    let args = PlanArgs {
        topology: "big".into(),
        providers: vec![],
        environment: None,
        vars: vec![],
        vars_files: vec![],
        format: PlanFormat::Json,
    };
    if std::env::var("PHASES").is_ok() {
        let mut d = Diagnostics::default();
        let t = Instant::now();
        let set = labcert::validate::load_set(
            &[dir.path().join("topologies/big.yaml")],
            dir.path(),
            false,
            &mut d,
        );
        eprintln!("load {:?}", t.elapsed());
        let t = Instant::now();
        let _a = labcert::analyze::analyze(&set.catalogs, &mut d);
        eprintln!("analyze {:?}", t.elapsed());
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut diags = Diagnostics::default();
        let plan = labcert::plan::command::plan(&args, dir.path(), &mut diags).expect("plans");
        times.push(start.elapsed());
        assert_eq!(plan.checks.len(), GROUPS * PER_GROUP);
        assert_eq!(
            plan.waves.len(),
            GROUPS * PER_GROUP,
            "a chain of 10,000 needs is 10,000 waves"
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "load + validate + plan, {} checks: median {:.1} ms (min {:.1}, max {:.1}) — target < {} ms: {}",
        GROUPS * PER_GROUP,
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        TARGET.as_millis(),
        if median < TARGET { "met" } else { "MISSED" }
    );
}
