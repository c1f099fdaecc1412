//! Loading, validating and planning a generated catalog of 10,000 checks with dependencies.
//! `cargo bench --bench plan` prints, for two shapes, the median of 7 cold in-process runs
//! (the target) and of 5 runs of the whole release binary printing the JSON plan:
//!
//! - `chain`: 100 groups × 100 checks, each check needs the one before it and reads its
//!   capture (10,000 edges). Target: under 500 ms in release mode.
//! - `dense`: the same, and every group also needs the whole group before it, so each check
//!   waits for 100 others (1,000,000 edges, 10,000 waves): a stress shape, reported.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use labcert::diag::Diagnostics;
use labcert::plan::Target;

// The same allocator as the binary (src/main.rs), so the bench measures what users run.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GROUPS: usize = 100;
const PER_GROUP: usize = 100;
const TARGET: Duration = Duration::from_millis(500);

fn catalog(dense: bool) -> String {
    let mut s = String::from(
        "catalog: big\nprovider: pve\nvars:\n  url: { type: string }\nsecrets:\n  token: { default: \"env:TOKEN\" }\n\
         concurrency: { api: 4 }\nprobes:\n  api:\n    params: { path: {} }\n    http:\n      url: \"{{ vars.url }}{{ params.path }}\"\n\
         \x20     headers: { Authorization: \"Bearer {{ secrets.token }}\" }\n    concurrency: api\ngroups:\n",
    );
    for g in 0..GROUPS {
        let _ = writeln!(s, "  - id: g{g}");
        if dense && g > 0 {
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

fn measure(root: &Path, dense: bool) {
    std::fs::write(root.join("big.yaml"), catalog(dense)).unwrap();
    let args = Target {
        topology: "big".into(),
        providers: vec![],
        environment: None,
        vars: vec![],
        vars_files: vec![],
        bound: Default::default(),
    };
    // Load + validate + plan in-process, each run on a new thread so no template cache is
    // warm: the target. Then the whole CLI (process start, JSON printed), for information.
    let chain = if dense { GROUPS * PER_GROUP } else { PER_GROUP };
    let mut times = Vec::new();
    for _ in 0..7 {
        let (args, root) = (&args, root.to_path_buf());
        let elapsed = std::thread::scope(|s| {
            s.spawn(move || {
                let start = Instant::now();
                let mut diags = Diagnostics::default();
                let (plan, loaded) =
                    labcert::plan::command::plan(args, &root, &mut diags).expect("plans");
                let elapsed = start.elapsed();
                assert_eq!(plan.checks.len(), GROUPS * PER_GROUP);
                assert_eq!(
                    plan.waves.len(),
                    chain,
                    "waves follow the longest chain of needs"
                );
                drop((plan, loaded));
                elapsed
            })
            .join()
            .expect("bench thread")
        });
        times.push(elapsed);
    }
    let mut cli = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let ok = std::process::Command::new(env!("CARGO_BIN_EXE_labcert"))
            .arg("--catalogs")
            .arg(root)
            .args(["plan", "--topology", "big", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run labcert")
            .success();
        cli.push(start.elapsed());
        assert!(ok);
    }
    times.sort();
    cli.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = times[times.len() / 2];
    let verdict = match (dense, median < TARGET) {
        (true, _) => "stress shape, no target".to_string(),
        (false, met) => format!(
            "target < {} ms: {}",
            TARGET.as_millis(),
            if met { "met" } else { "MISSED" }
        ),
    };
    println!(
        "{:5} load + validate + plan, {} checks: median {:.1} ms (min {:.1}, max {:.1}) — {verdict}; \
         whole CLI with JSON output: median {:.1} ms",
        if dense { "dense" } else { "chain" },
        GROUPS * PER_GROUP,
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(cli[cli.len() / 2]),
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("topologies")).unwrap();
    std::fs::write(
        dir.path().join("topologies/big.yaml"),
        "topology: big\ncatalogs:\n  big:\n    vars: { url: \"https://api.test\" }\n    secrets: { token: \"env:TOKEN\" }\n",
    )
    .unwrap();
    measure(dir.path(), false);
    measure(dir.path(), true);
}
