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
use crate::cli::{QualifyArgs, TargetArgs};
use crate::diag::Diagnostics;
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
    pub reason: Option<String>,
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

pub fn run(args: &QualifyArgs, root: &Path) -> i32 {
    match qualify(args, root) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            crate::exit::INVALID
        }
    }
}

fn qualify(args: &QualifyArgs, root: &Path) -> Result<i32, String> {
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
    preflight::print(&verdict, &args.certification);
    if !go {
        result.status = Outcome::PreflightFailure;
        result.finished_at = fmt_time(Timestamp::now());
        write(&result, &args.out)?;
        eprintln!("qualify: preflight_failure — nothing was run");
        return Ok(crate::exit::PREFLIGHT);
    }
    run_catalog(args, &environment, &mut result)?;
    result.finished_at = fmt_time(Timestamp::now());
    write(&result, &args.out)?;
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
    crate::output::stdout(&out);
    Ok(match result.status {
        Outcome::Pass => crate::exit::OK,
        Outcome::ProductFailure => crate::exit::FAIL,
        Outcome::InfraFailure => crate::exit::BLOCKED,
        Outcome::PreflightFailure => crate::exit::PREFLIGHT,
    })
}

/// Plans the qualification catalog on its own and runs it without a repairer.
fn run_catalog(
    args: &QualifyArgs,
    environment: &str,
    result: &mut Qualification,
) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.catalog)
        .map_err(|e| format!("--catalog {}: {e}", args.catalog.display()))?;
    let (id, takes_release) = catalog_id(&args.catalog, &text)?;
    let dir = tempfile_dir()?;
    let ext = args
        .catalog
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("yaml");
    std::fs::create_dir_all(dir.join("topologies")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{id}.{ext}")), &text).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("topologies/qualification.yaml"),
        format!("topology: qualification\ncatalogs:\n  {id}: {{}}\n"),
    )
    .map_err(|e| e.to_string())?;
    let mut vars = Vec::new();
    if takes_release {
        // Given first, so an explicit --var wins.
        vars.push(format!(
            "{id}.release={}",
            serde_json::Value::String(args.release.clone())
        ));
    }
    vars.extend(args.vars.iter().cloned());
    let target = TargetArgs {
        topology: "qualification".into(),
        providers: Vec::new(),
        environment: Some(environment.to_string()),
        vars,
        vars_files: args.vars_files.clone(),
    };
    let mut diags = Diagnostics::default();
    let planned = crate::plan::command::plan(&target, &dir, &mut diags);
    let _ = std::fs::remove_dir_all(&dir);
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
    let results = runtime.block_on(crate::run::run(
        plan.clone(),
        Arc::new(set.catalogs),
        env,
        options,
        Cancel::default(),
        &mut [],
    ));
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
                if matches!(r.reason.as_deref(), Some("cancelled" | "dependency")) =>
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

/// The catalog's id, and whether it declares a `release` var (it receives `--release`).
fn catalog_id(path: &Path, text: &str) -> Result<(String, bool), String> {
    let format = crate::source::Format::from_path(path).unwrap_or(crate::source::Format::Yaml);
    let source = Arc::new(crate::source::Source::new(
        path.to_path_buf(),
        text.to_string(),
        format,
    ));
    let mut diags = Diagnostics::default();
    crate::load::parse(source, &mut diags)
        .and_then(|d| {
            let id = d.value.get("catalog")?.as_str()?.to_string();
            Some((id, d.value.pointer("/vars/release").is_some()))
        })
        .ok_or_else(|| {
            format!(
                "--catalog {}: not a catalog (no `catalog:` id)",
                path.display()
            )
        })
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "labcert-qualify-{}-{}",
        std::process::id(),
        Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Validates against the schema, then writes atomically.
fn write(q: &Qualification, out: &Path) -> Result<(), String> {
    let v = serde_json::to_value(q).map_err(|e| e.to_string())?;
    let problems = crate::schema::violations(crate::schema::Kind::Qualification, &v);
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
