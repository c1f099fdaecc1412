//! `labcert qualify`: preflight first (no-go → `preflight_failure`, exit 4, nothing run),
//! then the qualification catalog. A failing `class: product` check is a product failure
//! (exit 1); a failing `class: substrate` check is an infra failure that stops the run at
//! once (exit 3). There is no repair here: the run is given no repairer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::preflight::{self, Verdict};
use crate::diag::Diagnostics;
use crate::error::Error;
use crate::exit::Exit;
use crate::manifest::provenance::{fmt_time, new_id};
use crate::model::Class;
use crate::run::check::Env;
use crate::run::prober::Live;
use crate::run::secrets::Secrets;
use crate::run::{Cancel, Options, Status};

pub const SCHEMA_VERSION: u32 = 1;

/// The result of a qualification run (`schemas/qualification.schema.json`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Qualification {
    pub schema_version: u32,
    pub id: String,
    /// The release (version or commit) qualified.
    pub release: String,
    /// The id of the certification manifest the run relied on (empty when unreadable).
    pub certification: String,
    pub certification_file: String,
    pub environment: String,
    pub topology: String,
    pub status: Outcome,
    pub started_at: String,
    pub finished_at: String,
    /// Why preflight said no-go (empty when it said go).
    pub preflight: Vec<String>,
    pub checks: Vec<QualCheck>,
    pub failures: Vec<Failure>,
}

impl crate::schema::Described for Qualification {
    const KIND: crate::schema::Kind = crate::schema::Kind::Qualification;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    ProductFailure,
    InfraFailure,
    PreflightFailure,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QualCheck {
    pub id: String,
    /// `product` or `substrate`.
    pub class: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::run::Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub source: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Failure {
    pub check: String,
    /// `product_failure` or `infra_failure`.
    pub classification: String,
    pub message: String,
}

/// What `labcert qualify` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The certification manifest preflight must accept first.
    pub certification: PathBuf,
    /// The release (version or commit) being qualified.
    pub release: String,
    /// The qualification catalog, where the user keeps it.
    pub catalog: PathBuf,
    /// Where to write the qualification result.
    pub out: PathBuf,
    /// Environment, topology and providers to require (default: the certification's).
    pub environment: Option<String>,
    pub topology: Option<String>,
    pub providers: Vec<String>,
    /// Inputs of the qualification catalog (`catalog.name=value`) and files of them.
    pub vars: Vec<String>,
    pub vars_files: Vec<PathBuf>,
    /// Require a valid signature by this public key.
    pub verify_key: Option<PathBuf>,
    /// Accept a replayed certification (demos and tests only).
    pub allow_replayed: bool,
}

pub fn run(args: &Request, root: &Path) -> Result<Exit, Error> {
    // The result file is checked before anything runs.
    crate::manifest::check_target(&args.out).map_err(|e| Error::Output(format!("--out: {e}")))?;
    qualify(args, root)
}

fn qualify(args: &Request, root: &Path) -> Result<Exit, Error> {
    let started = Timestamp::now();
    let manifest = crate::manifest::read(&args.certification)
        .ok()
        .map(|(_, m)| m);
    let environment = args
        .environment
        .clone()
        .or_else(|| manifest.as_ref().map(|m| m.environment.clone()))
        .unwrap_or_default();
    let topology = args
        .topology
        .clone()
        .or_else(|| manifest.as_ref().map(|m| m.topology.clone()))
        .unwrap_or_default();
    let providers = if args.providers.is_empty() {
        manifest
            .as_ref()
            .map(|m| m.providers.clone())
            .unwrap_or_default()
    } else {
        args.providers.clone()
    };
    let verdict = preflight::check(&preflight::Request {
        certification: &args.certification,
        environment: &environment,
        topology: &topology,
        providers,
        catalogs: root,
        verify_key: args.verify_key.as_deref(),
        allow_catalog_drift: false,
        allow_replayed: args.allow_replayed,
        now: started,
    });
    let mut result = Qualification {
        schema_version: SCHEMA_VERSION,
        id: new_id(started, &topology).replacen("lc-", "lq-", 1),
        release: args.release.clone(),
        certification: manifest.as_ref().map(|m| m.id.clone()).unwrap_or_default(),
        certification_file: args.certification.display().to_string(),
        environment: environment.clone(),
        topology: topology.clone(),
        status: Outcome::Pass,
        started_at: fmt_time(started),
        finished_at: String::new(),
        preflight: Vec::new(),
        checks: Vec::new(),
        failures: Vec::new(),
    };
    let go = match &verdict {
        Verdict::Go { .. } => true,
        Verdict::NoGo { reasons, .. } => {
            result.preflight = reasons.clone();
            false
        }
        Verdict::Unreadable(why) => {
            result.preflight = vec![why.clone()];
            false
        }
    };
    preflight::print(&verdict, &args.certification)?;
    if !go {
        result.status = Outcome::PreflightFailure;
        result.finished_at = fmt_time(Timestamp::now());
        write(&result, &args.out).map_err(Error::Output)?;
        eprintln!("qualify: preflight_failure — nothing was run");
        return Ok(Exit::Preflight);
    }
    run_catalog(args, &environment, &mut result).map_err(Error::Input)?;
    result.finished_at = fmt_time(Timestamp::now());
    write(&result, &args.out).map_err(Error::Output)?;
    let mut out = format!(
        "qualify: {} — release {} on {} ({} checks)\n",
        match result.status {
            Outcome::Pass => "pass",
            Outcome::ProductFailure => "product_failure",
            Outcome::InfraFailure => "infra_failure",
            Outcome::PreflightFailure => "preflight_failure",
        },
        result.release,
        result.certification,
        result.checks.len()
    );
    for f in &result.failures {
        out.push_str(&format!(
            "  ✗ [{}] {} — {}\n",
            f.classification, f.check, f.message
        ));
    }
    crate::output::stdout(&out)?;
    Ok(match result.status {
        Outcome::Pass => Exit::Ok,
        Outcome::ProductFailure => Exit::Fail,
        Outcome::InfraFailure => Exit::Blocked,
        Outcome::PreflightFailure => Exit::Preflight,
    })
}

/// The topology a qualification catalog is planned in: that catalog alone.
const TOPOLOGY: &str = "<qualification>";

/// Plans the qualification catalog on its own, read from where the user keeps it (so every
/// diagnostic and `source` names that file), and runs it without a repairer.
fn run_catalog(
    args: &Request,
    environment: &str,
    result: &mut Qualification,
) -> Result<(), String> {
    let mut diags = Diagnostics::default();
    let loaded = crate::workspace::load(&args.catalog, &mut diags);
    let Some(crate::workspace::Loaded::Catalog(cat)) = loaded else {
        for d in diags.iter() {
            eprintln!("{}", crate::diag::render(d));
        }
        return Err(match loaded {
            Some(_) => format!(
                "--catalog {}: a topology, not a qualification catalog",
                args.catalog.display()
            ),
            None => format!(
                "--catalog {}: the qualification catalog has errors",
                args.catalog.display()
            ),
        });
    };
    let id = cat.model.catalog.clone();
    let takes_release = cat.model.vars.contains_key("release");
    let topology = crate::workspace::load_source(
        Arc::new(crate::source::Source::new(
            PathBuf::from(TOPOLOGY),
            format!("topology: qualification\ncatalogs:\n  {id}: {{}}\n"),
            crate::source::Format::Yaml,
        )),
        &mut diags,
    );
    let topology = match topology {
        Some(crate::workspace::Loaded::Topology(t)) => Some(*t),
        _ => None,
    };
    let mut vars = Vec::new();
    if takes_release {
        // Given first, so an explicit --var wins.
        vars.push(format!(
            "{id}.release={}",
            serde_json::Value::String(args.release.clone())
        ));
    }
    vars.extend(args.vars.iter().cloned());
    let target = crate::plan::Target {
        topology: "qualification".into(),
        providers: Vec::new(),
        environment: Some(environment.to_string()),
        vars,
        vars_files: args.vars_files.clone(),
        bound: Default::default(),
    };
    let set = crate::validate::Set {
        catalogs: vec![*cat],
        topologies: Vec::new(),
        requested: [args.catalog.clone()].into_iter().collect(),
        root: args
            .catalog
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let planned = crate::plan::command::plan_loaded(&target, set, topology, &mut diags);
    let Some((plan, set)) = planned else {
        for d in diags.iter() {
            eprintln!("{}", crate::diag::render(d));
        }
        return Err(format!(
            "--catalog {}: the qualification catalog has errors",
            args.catalog.display()
        ));
    };
    let refs: Vec<(String, String, String)> = set
        .catalogs
        .iter()
        .flat_map(|c| {
            c.model.secrets.iter().filter_map(|(n, d)| {
                d.default
                    .clone()
                    .map(|r| (c.model.catalog.clone(), n.clone(), r))
            })
        })
        .collect();
    let env = Arc::new(Env {
        prober: Arc::new(Live::default()),
        repairer: None,
        waive: None,
        secrets: Arc::new(Secrets::resolve(&refs)),
        max_output: crate::probe::Limits::default().max_output,
    });
    let options = Options {
        stop_on_substrate_failure: true,
        ..Options::default()
    };
    let plan = Arc::new(plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cancel = Cancel::default();
    let results = runtime.block_on(async {
        tokio::spawn(crate::run::signals::watch(cancel.clone()));
        crate::run::run(plan.clone(), env, options, cancel.clone(), &mut []).await
    });
    // An interrupted run qualified nothing: what it cancelled counts against it.
    let interrupted = cancel.is_interrupted();
    let mut infra = false;
    let mut product = false;
    for (p, r) in plan.checks.iter().zip(&results) {
        let class = match p.class {
            Class::Product => "product",
            Class::Substrate => "substrate",
        };
        let classification = match (p.class, r.status) {
            (_, Status::Pass | Status::Skipped | Status::Repaired | Status::Waived) => None,
            (_, Status::Blocked)
                if !interrupted
                    && r.reason
                        .as_ref()
                        .is_some_and(crate::run::Reason::is_knock_on) =>
            {
                None
            }
            (Class::Product, Status::Fail) => Some("product_failure"),
            _ => Some("infra_failure"),
        };
        if let Some(c) = classification {
            infra |= c == "infra_failure";
            product |= c == "product_failure";
            result.failures.push(Failure {
                check: p.id.clone(),
                classification: c.into(),
                message: r
                    .message
                    .clone()
                    .unwrap_or_else(|| r.status.as_str().into()),
            });
        }
        result.checks.push(QualCheck {
            id: p.id.clone(),
            class: class.into(),
            status: r.status,
            reason: r.reason.clone(),
            message: r.message.clone(),
            source: p.source.clone(),
        });
    }
    result.status = if infra {
        Outcome::InfraFailure
    } else if product {
        Outcome::ProductFailure
    } else {
        Outcome::Pass
    };
    Ok(())
}

/// Validates against the schema, then writes atomically.
fn write(q: &Qualification, out: &Path) -> Result<(), String> {
    let v = serde_json::to_value(q).map_err(|e| e.to_string())?;
    let problems = crate::schema::violations::<Qualification>(&v);
    if !problems.is_empty() {
        return Err(format!(
            "the qualification result does not match its schema: {}",
            problems.join("; ")
        ));
    }
    let mut text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
    text.push('\n');
    crate::manifest::write_file_atomic(out, text.as_bytes())
}
