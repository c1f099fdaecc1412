//! How fast a certification runs once planned: the scheduler's own overhead on 10,000
//! trivial checks (an instant prober), and 500 real `tcp` checks against loopback listeners.
//! Targets: 10k trivial checks well under 1 s; 500 tcp checks under 0.5 s (release build).
//!
//! `cargo bench --bench run`

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use labcert::diag::Diagnostics;
use labcert::plan::{Spec, Target};
use labcert::probe::{Limits, Observation};
use labcert::run::check::Env;
use labcert::run::prober::{BoxFuture, Live, Prober};
use labcert::run::secrets::Secrets;
use labcert::run::{Cancel, Options, Status};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GROUPS: usize = 100;
const PER_GROUP: usize = 100;

/// Answers at once: what is left is scheduling, rendering, judging and bookkeeping.
struct Instant0;

impl Prober for Instant0 {
    fn probe<'a>(&'a self, _: &'a Spec, _: Limits) -> BoxFuture<'a, Observation> {
        Box::pin(async {
            Observation {
                exit: Some(0),
                json: Some(serde_json::json!({"v": 1})),
                ..Default::default()
            }
        })
    }
}

/// 100 groups of 100 checks; `chained`: each check needs the one before and renders its
/// capture into its probe (the run renders it again once the value is known).
fn trivial(chained: bool) -> String {
    let mut s = String::from("catalog: big\nprovider: reachability\ngroups:\n");
    for g in 0..GROUPS {
        let _ = writeln!(s, "  - id: g{g}\n    checks:");
        for c in 0..PER_GROUP {
            let _ = writeln!(s, "      - id: c{c}");
            if chained && c > 0 {
                let _ = writeln!(
                    s,
                    "        needs: [c{p}]\n        probe: {{ command: {{ argv: [echo, \"{{{{ checks.c{p}.v }}}}\"] }} }}",
                    p = c - 1
                );
            } else {
                s.push_str("        probe: { command: { argv: [\"true\"] } }\n");
            }
            s.push_str("        expect: [ { exit: 0 }, { query: v, equals: 1 } ]\n        capture: { v: v }\n");
        }
    }
    s
}

fn tcp_catalog(ports: &[u16], checks: usize) -> String {
    let mut s =
        String::from("catalog: big\nprovider: reachability\ngroups:\n  - id: tcp\n    checks:\n");
    for c in 0..checks {
        let _ = writeln!(
            s,
            "      - {{ id: c{c}, probe: {{ tcp: {{ host: 127.0.0.1, port: {} }} }} }}",
            ports[c % ports.len()]
        );
    }
    s
}

fn setup(root: &Path, catalog: &str) {
    std::fs::create_dir_all(root.join("topologies")).unwrap();
    std::fs::write(root.join("big.yaml"), catalog).unwrap();
    std::fs::write(
        root.join("topologies/big.yaml"),
        "topology: big\ncatalogs:\n  big: {}\n",
    )
    .unwrap();
}

/// (plan time, run time) for one certification in-process.
fn once(root: &Path, prober: Arc<dyn Prober>, expect: usize) -> (Duration, Duration) {
    let args = Target {
        topology: "big".into(),
        providers: vec![],
        environment: Some("bench".into()),
        vars: vec![],
        vars_files: vec![],
        bound: Default::default(),
    };
    let start = Instant::now();
    let mut diags = Diagnostics::default();
    let (plan, set) = labcert::plan::command::plan(&args, root, &mut diags).expect("plans");
    let planned = start.elapsed();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = Arc::new(Env {
        prober,
        repairer: None,
        waive: None,
        secrets: Arc::new(Secrets::default()),
        max_output: 1 << 20,
    });
    let start = Instant::now();
    drop(set);
    let results = runtime.block_on(labcert::run::run(
        Arc::new(plan),
        env,
        Options::default(),
        Cancel::default(),
        &mut [],
    ));
    let ran = start.elapsed();
    assert_eq!(results.len(), expect);
    let passed = results.iter().filter(|r| r.status == Status::Pass).count();
    assert_eq!(passed, expect, "every check passes");
    (planned, ran)
}

fn report(name: &str, root: &Path, prober: Arc<dyn Prober>, n: usize, target: Duration) {
    let mut plans = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..7 {
        let (p, r) = once(root, prober.clone(), n);
        plans.push(p);
        runs.push(r);
    }
    plans.sort();
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let run = runs[runs.len() / 2];
    println!(
        "{name:<28} {n} checks: run median {:.1} ms (min {:.1}, max {:.1}); plan {:.1} ms; \
         target run < {} ms: {}",
        ms(run),
        ms(runs[0]),
        ms(runs[runs.len() - 1]),
        ms(plans[plans.len() / 2]),
        target.as_millis(),
        if run < target { "met" } else { "MISSED" }
    );
}

fn main() {
    for (name, chained) in [
        ("trivial, independent", false),
        ("trivial, chained captures", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path(), &trivial(chained));
        report(
            name,
            dir.path(),
            Arc::new(Instant0),
            GROUPS * PER_GROUP,
            Duration::from_millis(1000),
        );
    }
    // Real TCP connects: ten loopback listeners accepting (and closing) in the background.
    let listeners: Vec<TcpListener> = (0..10)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    for l in listeners {
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s);
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &tcp_catalog(&ports, 500));
    report(
        "tcp, loopback listeners",
        dir.path(),
        Arc::new(Live::default()),
        500,
        Duration::from_millis(500),
    );
    // The same through the CLI: process start, plan, run, manifest written.
    let out = dir.path().join("m.json");
    let mut cli = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_labcert"))
            .arg("--catalogs")
            .arg(dir.path())
            .args([
                "certify",
                "--environment",
                "bench",
                "--topology",
                "big",
                "--out",
            ])
            .arg(&out)
            .env("CI", "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        cli.push(start.elapsed());
        assert!(status.success());
    }
    cli.sort();
    println!(
        "{:<28} 500 checks: whole `labcert certify` median {:.1} ms",
        "tcp, CLI end to end",
        cli[cli.len() / 2].as_secs_f64() * 1e3
    );
}
