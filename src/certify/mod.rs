//! `labcert certify`: plan, probe the lab, judge, and write the certification manifest
//! (plus any JUnit, NDJSON events and Markdown asked for). Exit 0 pass, 1 fail, 3 blocked,
//! 2 when the input is unusable. Each stage is its own function below.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod outputs;
mod repair;
mod reporters;
mod request;
mod setup;

pub(crate) use request::Request;

use crate::diag::{Diagnostics, render as render_diag};
use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::{self, Manifest, RunStatus};
use crate::plan::Plan;
use crate::run::check::Env;
use crate::run::prober::{Live, Prober};
use crate::run::{self, Cancel, CheckResult, Options, Reporter};
use crate::validate::Set;
use crate::workspace::LoadedCatalog;

pub(crate) fn run(args: &Request, root: &Path) -> Outcome {
    certify(args, root, Arc::new(Live::new(args.ssh_channels)))
}

/// Runs a certification with `prober`; `Err` is unusable input (exit 2).
pub(crate) fn certify(args: &Request, root: &Path, prober: Arc<dyn Prober>) -> Outcome {
    let environment = check_request(args)?;
    let (plan, set) = plan_target(args, root)?;
    let setup = setup::prepare(args, &set, &plan, prober)?;
    let mut out = reporters::open(args, &plan, &setup.secrets)?;
    let options = options(args, &set);
    let plan = Arc::new(plan);
    let cats = Arc::new(set.catalogs);
    let env = environment_of(args, &plan, &setup);
    let started = jiff::Timestamp::now();
    let (results, cancel) = probe(&plan, env, options, &mut out.list)?;
    drop(std::mem::take(&mut out.list));
    let m = record(
        args,
        &environment,
        &plan,
        &cats,
        &results,
        &setup,
        started,
        &cancel,
    );
    let failed = outputs::write(args, &m, &setup, out.events.as_ref(), out.human_to_stdout);
    failed.outcome(match m.status {
        RunStatus::Pass => Exit::Ok,
        RunStatus::Fail => Exit::Fail,
        RunStatus::Blocked => Exit::Blocked,
    })
}

/// What must hold before anything is read or probed: an environment, sane limits, a key
/// that signs, outputs that can be written. Returns the environment.
fn check_request(args: &Request) -> Result<String, Error> {
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
    Ok(environment)
}

/// Plans the target; every diagnostic printed, errors end it.
fn plan_target(args: &Request, root: &Path) -> Result<(Plan, Set), Error> {
    let mut diags = Diagnostics::default();
    let planned = crate::plan::command::plan(&args.target, root, &mut diags);
    for d in diags.iter().filter(|d| !d.is_error() || planned.is_none()) {
        eprintln!("{}", render_diag(d));
    }
    planned.ok_or_else(|| {
        Error::Input(format!(
            "{} error{} in the catalogs or topology; nothing certified",
            diags.error_count(),
            if diags.error_count() == 1 { "" } else { "s" }
        ))
    })
}

/// The scheduler's limits: the flags, and each catalog's named concurrency groups.
fn options(args: &Request, set: &Set) -> Options {
    Options {
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
    }
}

/// What the checks run with: the prober, the repairer (only certify makes one), waivers.
fn environment_of(args: &Request, plan: &Arc<Plan>, setup: &setup::Setup) -> Arc<Env> {
    let max_output = crate::probe::Limits::default().max_output;
    let repairer = repair::Steps {
        plan: plan.clone(),
        prober: setup.prober.clone(),
        secrets: setup.secrets.clone(),
        apply: args.repair,
        max_output,
        pace: setup.replay.is_none(),
    };
    let waive: Option<Arc<crate::run::check::Waive>> = setup.waivers.clone().map(|w| {
        let f: Arc<crate::run::check::Waive> = Arc::new(move |id: &str| w.waive(id));
        f
    });
    Arc::new(Env {
        prober: setup.prober.clone(),
        repairer: Some(Arc::new(repairer)),
        waive,
        secrets: setup.secrets.clone(),
        max_output,
    })
}

/// Probes the lab: the scheduler on its own runtime, stopped by SIGINT, SIGTERM or SIGHUP.
fn probe(
    plan: &Arc<Plan>,
    env: Arc<Env>,
    options: Options,
    reporters: &mut [Box<dyn Reporter>],
) -> Result<(Vec<CheckResult>, Cancel), Error> {
    let cancel = Cancel::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::System(format!("cannot start the runtime: {e}")))?;
    let results = runtime.block_on(async {
        tokio::spawn(run::signals::watch(cancel.clone()));
        run::run(plan.clone(), env, options, cancel.clone(), reporters).await
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok((results, cancel))
}

/// The manifest of this run.
#[allow(clippy::too_many_arguments)]
fn record(
    args: &Request,
    environment: &str,
    plan: &Plan,
    cats: &[LoadedCatalog],
    results: &[CheckResult],
    setup: &setup::Setup,
    started: jiff::Timestamp,
    cancel: &Cancel,
) -> Manifest {
    let waivers = setup.waivers.as_ref();
    manifest::build(
        plan,
        cats,
        results,
        &setup.secrets,
        manifest::Inputs {
            environment,
            started,
            finished: jiff::Timestamp::now(),
            valid_for: setup.valid_for,
            scope: args.scope.clone(),
            interrupted: cancel.is_interrupted(),
            mode: if args.repair {
                manifest::Mode::Repair
            } else {
                manifest::Mode::Inspect
            },
            waivers: waivers.map(|w| w.ledger()).unwrap_or_default(),
            expires_cap: waivers.and_then(|w| w.cap()),
            replayed_from: setup
                .replay
                .as_ref()
                .map(|(dir, _)| dir.display().to_string()),
            // Inputs found missing while running (secrets that did not resolve); those the
            // plan found are already in `plan.missing_requirements`.
            missing: results.iter().flat_map(|r| r.missing.clone()).collect(),
        },
    )
}
