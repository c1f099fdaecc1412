//! From a plan and its results to a manifest: groups mirroring the catalogs, the roll-up,
//! provenance, and nothing secret or sensitive.

use indexmap::IndexMap;
use jiff::Timestamp;
use serde_json::Value;

use super::provenance::{self, fmt_time};
use super::{
    AttemptEntry, CatalogRef, CheckEntry, Expectation, GroupResult, Manifest, Mode, RunStatus,
    SCHEMA_VERSION, Summary, Tool,
};
use crate::plan::Plan;
use crate::run::secrets::Secrets;
use crate::run::{CheckResult, Status};
use crate::workspace::LoadedCatalog;

/// What the manifest says about the run beyond the results.
pub struct Inputs<'a> {
    pub environment: &'a str,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub valid_for: std::time::Duration,
    pub scope: Option<String>,
    pub interrupted: bool,
    pub replayed_from: Option<String>,
    pub mode: Mode,
    /// Every waiver given, with what it waived.
    pub waivers: Vec<super::WaiverEntry>,
    /// The earliest expiry of the waivers used: the manifest expires no later.
    pub expires_cap: Option<Timestamp>,
    /// Missing requirements found while running (unresolvable secrets), added to the plan's.
    pub missing: Vec<String>,
}

const SENSITIVE: &str = "<sensitive>";

pub fn build(
    plan: &Plan,
    cats: &[LoadedCatalog],
    results: &[CheckResult],
    secrets: &Secrets,
    inputs: Inputs<'_>,
) -> Manifest {
    let mut groups: IndexMap<(String, String), GroupResult> = IndexMap::new();
    // Groups in catalog order, even those with no checks in this plan.
    for pc in &plan.catalogs {
        if let Some(c) = cats.iter().find(|c| c.model.catalog == pc.id) {
            for g in &c.model.groups {
                groups.insert(
                    (pc.id.clone(), g.id.clone()),
                    GroupResult {
                        catalog: pc.id.clone(),
                        id: g.id.clone(),
                        title: g.title.clone().unwrap_or_else(|| g.id.clone()),
                        status: Status::Skipped,
                        checks: Vec::new(),
                    },
                );
            }
        }
    }
    for (p, r) in plan.checks.iter().zip(results) {
        let entry = entry(p, r, secrets);
        if let Some(g) = groups.get_mut(&(p.catalog.clone(), p.group.clone())) {
            g.checks.push(entry);
        }
    }
    let mut missing = plan.missing_requirements.clone();
    missing.extend(inputs.missing);
    missing.sort();
    missing.dedup();
    let expires = inputs
        .finished
        .checked_add(jiff::SignedDuration::try_from(inputs.valid_for).unwrap_or_default())
        .unwrap_or(inputs.finished);
    let expires = match inputs.expires_cap {
        Some(cap) if cap < expires => cap,
        _ => expires,
    };
    let mut m = Manifest {
        schema_version: SCHEMA_VERSION,
        id: provenance::new_id(inputs.finished, &plan.topology),
        // Derived from the checks below, by the one rule.
        status: RunStatus::Blocked,
        environment: inputs.environment.to_string(),
        topology: plan.topology.clone(),
        providers: plan.providers.clone(),
        mode: inputs.mode,
        created_at: fmt_time(Timestamp::now()),
        started_at: fmt_time(inputs.started),
        finished_at: fmt_time(inputs.finished),
        expires_at: fmt_time(expires),
        tool: Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        catalogs: plan
            .catalogs
            .iter()
            .filter_map(|pc| {
                let c = cats.iter().find(|c| c.model.catalog == pc.id)?;
                Some(CatalogRef {
                    id: pc.id.clone(),
                    provider: pc.provider.clone(),
                    file: pc.file.clone(),
                    sha256: provenance::sha256_hex(c.doc.source.text.as_bytes()),
                    selected: pc.selected,
                    git: provenance::git(&c.doc.source.path),
                })
            })
            .collect(),
        groups: groups.into_values().collect(),
        summary: Summary::default(),
        missing_requirements: missing,
        repairs: results.iter().filter_map(|r| r.repair.clone()).collect(),
        waivers: inputs.waivers,
        inputs: plan
            .inputs
            .iter()
            .map(|(cat, vars)| {
                let vars = vars
                    .iter()
                    .map(|(k, v)| {
                        let mut v = v.clone();
                        secrets.mask_value(&mut v);
                        (k.clone(), v)
                    })
                    .collect();
                (cat.clone(), vars)
            })
            .collect(),
        scope: inputs.scope,
        replayed_from: inputs.replayed_from,
        merged_from: Vec::new(),
        interrupted: inputs.interrupted,
    };
    super::verdict::apply(&mut m);
    m
}

fn entry(p: &crate::plan::Planned, r: &CheckResult, secrets: &Secrets) -> CheckEntry {
    let hide = |mut v: Value| {
        if p.sensitive {
            Value::String(SENSITIVE.into())
        } else {
            secrets.mask_value(&mut v);
            v
        }
    };
    CheckEntry {
        id: p.id.clone(),
        check: p.check.clone(),
        instance: p.instance.clone(),
        title: secrets.mask(&p.title),
        severity: p.severity,
        status: r.status,
        reason: r.reason.clone(),
        message: r.message.as_deref().map(|m| secrets.mask(m)),
        attempts: r
            .attempts
            .iter()
            .map(|a| AttemptEntry {
                number: a.number,
                why: a.why.into(),
                duration_ms: a.duration,
                outcome: a.outcome,
                reason: a.reason.clone(),
            })
            .collect(),
        duration_ms: r.duration.as_millis() as u64,
        expectations: r
            .expectations
            .iter()
            .map(|e| Expectation {
                query: e.query.clone(),
                matcher: e.matcher.clone(),
                expected: hide(e.expected.clone()),
                actual: hide(e.actual.clone()),
                passed: e.passed,
                message: e.message.as_deref().map(|m| secrets.mask(m)),
            })
            .collect(),
        captures: r
            .captures
            .iter()
            .map(|(k, v)| (k.clone(), hide(v.clone())))
            .collect(),
        evidence: r.evidence.clone().map(hide),
        source: p.source.clone(),
        repair: r.repair.clone(),
    }
}
