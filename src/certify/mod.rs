//! `labcert certify`: plan, probe the lab, judge, and write the certification manifest
//! (plus any JUnit, NDJSON events and Markdown asked for). Exit 0 pass, 1 fail, 3 blocked,
//! 2 when the input is unusable.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod outputs;
mod repair;
mod request;

pub use request::Request;

use crate::diag::{Diagnostics, render as render_diag};
use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::{self, RunStatus};
use crate::plan::command::plan;
use crate::report;
use crate::run::check::Env;
use crate::run::prober::{Live, Prober};
use crate::run::record::{Recorder, Replay};
use crate::run::secrets::Secrets;
use crate::run::{self, Cancel, Options, Reporter};
use crate::validate::Set;

use crate::model::topology::DEFAULT_MAX_VALID;

pub fn run(args: &Request, root: &Path) -> Outcome {
    certify(args, root, Arc::new(Live::new(args.ssh_channels)))
}

/// Runs a certification with `prober`; `Err` is unusable input (exit 2).
pub fn certify(args: &Request, root: &Path, prober: Arc<dyn Prober>) -> Outcome {
    let Some(environment) = args.target.environment.clone() else {
        return Err(Error::Usage(
            "certify needs --environment NAME (the manifest is for one environment)".into(),
        ));
    };
    if args.jobs == 0 || args.per_endpoint == 0 || args.ssh_channels == 0 {
        return Err(Error::Usage(
            "--jobs, --per-endpoint and --ssh-channels must be at least 1".into(),
        ));
    }
    if let Some(key) = &args.sign {
        // A key that cannot sign is found before the lab is probed, not after.
        crate::gate::signing::sign(key, b"").map_err(Error::Input)?;
    }
    outputs::check(args).map_err(Error::Output)?;
    let mut diags = Diagnostics::default();
    let planned = plan(&args.target, root, &mut diags);
    for d in diags.iter().filter(|d| !d.is_error() || planned.is_none()) {
        eprintln!("{}", render_diag(d));
    }
    let Some((plan, set)) = planned else {
        return Err(Error::Input(format!(
            "{} error{} in the catalogs or topology; nothing certified",
            diags.error_count(),
            if diags.error_count() == 1 { "" } else { "s" }
        )));
    };
    let valid_for = validity(&args.valid_for, &set).map_err(Error::Usage)?;
    let refs = secret_refs(&set, &plan);
    let secrets = Arc::new(if replay_dir(args, &set).is_some() {
        Secrets::resolve_for_replay(&refs)
    } else {
        Secrets::resolve(&refs)
    });
    let human_to_stdout = args.events.as_deref() != Some(Path::new("-"));
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    let live = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let plain: Box<dyn std::io::Write + Send> = if human_to_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::stderr())
    };
    reporters.push(Box::new(report::terminal::Terminal::new(
        &plan,
        live,
        plain,
        secrets.clone(),
    )));
    let events = match &args.events {
        None => None,
        Some(p) => {
            let out: Box<dyn std::io::Write + Send> = if p == Path::new("-") {
                Box::new(std::io::stdout())
            } else {
                let f = std::fs::File::create(p)
                    .map_err(|e| Error::Output(format!("--events {}: {e}", p.display())))?;
                Box::new(std::io::LineWriter::new(f))
            };
            Some(Arc::new(Mutex::new(report::events::Ndjson::new(
                out,
                secrets.clone(),
            ))))
        }
    };
    if let Some(e) = &events {
        reporters.push(Box::new(e.clone()));
    }
    let options = Options {
        jobs: args.jobs,
        per_endpoint: args.per_endpoint,
        ssh_channels: args.ssh_channels,
        fail_fast: args.fail_fast,
        stop_on_substrate_failure: false,
        groups: set
            .catalogs
            .iter()
            .flat_map(|c| {
                c.model
                    .concurrency
                    .iter()
                    .map(move |(n, l)| (format!("{}/{n}", c.model.catalog), *l as usize))
            })
            .collect(),
    };
    let (prober, recorder, replay) = probers(args, &set, prober, &secrets).map_err(Error::Input)?;
    let plan = Arc::new(plan);
    let cats = Arc::new(set.catalogs);
    let repairer = repair::Steps {
        cats: cats.clone(),
        prober: prober.clone(),
        secrets: secrets.clone(),
        apply: args.repair,
        max_output: crate::probe::Limits::default().max_output,
        pace: replay.is_none(),
    };
    let waivers = match &args.waivers {
        Some(f) => Some(Arc::new(
            crate::gate::waivers::Waivers::load(f, jiff::Timestamp::now()).map_err(Error::Input)?,
        )),
        None => None,
    };
    let waive: Option<Arc<crate::run::check::Waive>> = waivers.clone().map(|w| {
        let f: Arc<crate::run::check::Waive> = Arc::new(move |id: &str| w.waive(id));
        f
    });
    let env = Arc::new(Env {
        prober,
        repairer: Some(Arc::new(repairer)),
        waive,
        secrets: secrets.clone(),
        max_output: crate::probe::Limits::default().max_output,
    });
    let cancel = Cancel::default();
    let started = jiff::Timestamp::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::System(format!("cannot start the runtime: {e}")))?;
    let results = runtime.block_on(async {
        tokio::spawn(run::signals::watch(cancel.clone()));
        run::run(
            plan.clone(),
            cats.clone(),
            env,
            options,
            cancel.clone(),
            &mut reporters,
        )
        .await
    });
    drop(reporters);
    runtime.shutdown_timeout(Duration::from_millis(200));
    let finished = jiff::Timestamp::now();
    // Inputs found missing while running (secrets that did not resolve); those the plan
    // found are already in `plan.missing_requirements`.
    let missing: Vec<String> = results.iter().flat_map(|r| r.missing.clone()).collect();
    let m = manifest::build(
        &plan,
        &cats,
        &results,
        &secrets,
        manifest::Inputs {
            environment: &environment,
            started,
            finished,
            valid_for,
            scope: args.scope.clone(),
            interrupted: cancel.is_interrupted(),
            mode: if args.repair {
                manifest::Mode::Repair
            } else {
                manifest::Mode::Inspect
            },
            waivers: waivers.as_ref().map(|w| w.ledger()).unwrap_or_default(),
            expires_cap: waivers.as_ref().and_then(|w| w.cap()),
            replayed_from: replay.as_ref().map(|(dir, _)| dir.display().to_string()),
            missing,
        },
    );
    let out = args.out.display().to_string();
    let mut failed = outputs::Failures::default();
    let written = manifest::write_atomic(&m, &args.out);
    let manifest_written = written.is_ok();
    failed.note(written);
    // Test-coverage collection (scripts/coverage.sh): a copy of every manifest.
    if let Some(dir) = std::env::var_os("LABCERT_COVERAGE_DIR") {
        let copy = Path::new(&dir).join(format!("{}.json", m.id));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&args.out, copy);
    }
    if let (Some(key), true) = (&args.sign, manifest_written) {
        failed.note((|| {
            let bytes = std::fs::read(&args.out).map_err(|e| format!("{out}: {e}"))?;
            let sig = crate::gate::signing::sign(key, &bytes)?;
            manifest::write_file_atomic(&crate::gate::signing::sig_path(&args.out), sig.as_bytes())
        })());
    }
    if let (Some(rec), Some(dir)) = (&recorder, &args.record) {
        match rec.write(dir) {
            Ok(n) => eprintln!("recorded {n} exchanges in {}", dir.display()),
            Err(e) => failed.note(Err(e)),
        }
    }
    if let Some((dir, r)) = &replay {
        let missing = r.missing.lock().unwrap_or_else(|p| p.into_inner()).len();
        if missing > 0 {
            eprintln!(
                "replay: {missing} request{} had no recorded exchange in {} (those checks are blocked: not_recorded)",
                if missing == 1 { "" } else { "s" },
                dir.display()
            );
        }
    }
    if let Some(e) = &events {
        let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
        e.finished(&m, &out);
        if let Some(err) = &e.error {
            failed.note(Err(format!("--events: {err}")));
        }
    }
    if let Some(p) = &args.junit {
        failed.note(report::junit::xml(&m).and_then(|xml| write_report(p, &xml)));
    }
    if let Some(p) = &args.markdown {
        failed.note(write_report(p, &report::markdown::render(&m)));
    }
    let summary = report::summary::text(&m, &out);
    if human_to_stdout {
        failed.note(crate::output::stdout(&summary).map_err(|e| e.to_string()));
    } else {
        eprint!("{summary}");
    }
    failed.outcome(match m.status {
        RunStatus::Pass => Exit::Ok,
        RunStatus::Fail => Exit::Fail,
        RunStatus::Blocked => Exit::Blocked,
    })
}

fn write_report(path: &Path, text: &str) -> Result<(), String> {
    manifest::write_file_atomic(path, text.as_bytes())
}

type Probers = (
    Arc<dyn Prober>,
    Option<Arc<Recorder>>,
    Option<(PathBuf, Arc<Replay>)>,
);

/// The prober for this run: live (optionally recorded), or a replay of a recording —
/// `--replay DIR`, else the topology's `replay` unless `--live`.
fn probers(
    args: &Request,
    set: &Set,
    live: Arc<dyn Prober>,
    secrets: &Arc<Secrets>,
) -> Result<Probers, String> {
    if let Some(dir) = replay_dir(args, set) {
        let r = Arc::new(Replay::load(&dir, secrets.clone())?);
        return Ok((r.clone(), None, Some((dir, r))));
    }
    if args.record.is_some() {
        let rec = Arc::new(Recorder::new(live, secrets.clone()));
        return Ok((rec.clone(), Some(rec), None));
    }
    Ok((live, None, None))
}

/// The recording to replay: `--replay DIR`, else the topology's `replay` unless `--live`
/// or `--record`.
fn replay_dir(args: &Request, set: &Set) -> Option<PathBuf> {
    let from_topology = || {
        let t = set.topologies.last()?;
        let rel = t.model.replay.as_ref()?;
        let base = t.doc.source.path.parent().unwrap_or(Path::new("."));
        Some(base.join(rel))
    };
    match (&args.replay, args.live || args.record.is_some()) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => from_topology(),
        (None, true) => None,
    }
}

/// `--valid-for`, bounded by the topology's `max_valid_for` (default 24 h); without it, 24 h
/// or the topology's bound when that is shorter.
fn validity(text: &Option<String>, set: &Set) -> Result<Duration, String> {
    let topo = set.topologies.last();
    let max = topo.map_or(DEFAULT_MAX_VALID, |t| t.model.max_valid());
    if max.is_zero() {
        let name = topo.map_or("", |t| t.model.topology.as_str());
        return Err(format!(
            "topology `{name}` sets max_valid_for to 0: no certification of it could be valid; \
             raise `max_valid_for` in the topology"
        ));
    }
    let Some(text) = text else {
        return Ok(max.min(DEFAULT_MAX_VALID));
    };
    let d = crate::model::duration::parse(text)
        .map_err(|e| format!("--valid-for `{text}`: {e}"))?
        .0;
    if d.is_zero() {
        return Err("--valid-for must be longer than zero".into());
    }
    if d > max {
        return Err(format!(
            "--valid-for {text} is longer than this topology allows ({}); raise `max_valid_for` in the topology to allow it",
            crate::model::duration::Duration(max)
        ));
    }
    Ok(d)
}

/// Secret references of the selected catalogs: the topology's binding, else the default.
fn secret_refs(set: &Set, plan: &crate::plan::Plan) -> Vec<(String, String, String)> {
    let Some(topo) = set.topologies.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pc in plan.catalogs.iter().filter(|c| c.selected) {
        let Some(c) = set.catalogs.iter().find(|c| c.model.catalog == pc.id) else {
            continue;
        };
        let binding = topo.model.catalogs.get(&pc.id);
        for (name, decl) in &c.model.secrets {
            let reference = binding
                .and_then(|b| b.secrets.get(name))
                .or(decl.default.as_ref());
            if let Some(r) = reference {
                out.push((pc.id.clone(), name.clone(), r.clone()));
            }
        }
    }
    out
}
