//! Rendering at run time. A check whose probe or expectations read `checks.<id>.<capture>`
//! is planned with placeholders; once the checks it needs have run, it is rendered again
//! with the values they captured.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::Planned;
use super::probe::ProbeCall;
use super::templating::{Mode, RawCache, Templates, compact, probe, query_text, render_mode};
use crate::analyze::DefId;
use crate::judge::{Expectation, Query};
use crate::model::expect::Expect;
use crate::model::probe::Probe;
use crate::model::repair::{PveTask, Repair};
use crate::template::{Ctx, ctx_value, to_ctx};

/// The templates a check is rendered from again at run time: its own, and its catalog's
/// probe templates. Shared by every instance of one definition.
#[derive(Debug)]
pub struct Source {
    catalog: String,
    probes: Templates,
    probe: Probe,
    expect: Vec<Expect>,
    capture: IndexMap<String, String>,
    repair: Option<Repair>,
}

impl Source {
    /// The templates of check `d` of catalog `m`.
    pub(super) fn of(m: &crate::model::Catalog, d: DefId) -> Source {
        let k = &m.groups[d.group].checks[d.check];
        Source {
            catalog: m.catalog.clone(),
            probes: m.probes.clone(),
            probe: k.probe.clone(),
            expect: k.expect.clone(),
            capture: k.capture.clone(),
            repair: k.repair.clone(),
        }
    }
}

/// What a second rendering needs: the check's templates and the instance's context.
#[derive(Debug)]
pub struct Late {
    pub source: std::sync::Arc<Source>,
    pub ctx: Ctx,
}

/// The parts of a check that the run renders again.
#[derive(Debug)]
pub struct Rendered {
    pub probe: ProbeCall,
    pub expect: Vec<Expectation>,
    pub capture: IndexMap<String, Query>,
}

/// One repair step, rendered with the values the run knows by now.
#[derive(Debug)]
pub struct RenderedStep {
    pub id: Option<String>,
    pub title: Option<String>,
    pub probe: Option<ProbeCall>,
    pub pve_task: Option<PveTask>,
    pub expect: Vec<Expectation>,
    /// Expectations that refuse the repair when they do not hold.
    pub refuse_unless: Vec<Expectation>,
    pub capture: IndexMap<String, Query>,
}

/// The repair's guard, as the run evaluates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardVerdict {
    pub refuse_if: String,
    pub reason: String,
    pub refused: bool,
}

/// The repair's guard evaluated with the needed checks' captures, or `None` without a guard.
pub fn repair_guard(p: &Planned, checks: Value) -> Result<Option<GuardVerdict>, String> {
    let (src, mut ctx) = parts(p)?;
    let Some(g) = src.repair.as_ref().and_then(|r| r.guard.as_ref()) else {
        return Ok(None);
    };
    ctx.insert("checks".into(), to_ctx(checks));
    let refused = crate::template::truthy(&g.refuse_if, &ctx_value(&ctx))
        .map_err(|e| format!("cannot evaluate the repair guard `{}`: {e}", g.refuse_if))?;
    Ok(Some(GuardVerdict {
        refuse_if: g.refuse_if.clone(),
        reason: g.reason.clone(),
        refused,
    }))
}

/// Renders repair step `i` of `p` with the needed checks' captures and the earlier steps'.
pub fn repair_step(
    p: &Planned,
    i: usize,
    checks: Value,
    steps: Value,
) -> Result<RenderedStep, String> {
    let (src, mut ctx) = parts(p)?;
    let step = src
        .repair
        .as_ref()
        .and_then(|r| r.steps.get(i))
        .ok_or_else(|| format!("no repair step {i}"))?;
    ctx.insert("checks".into(), to_ctx(checks));
    ctx.insert("steps".into(), to_ctx(steps));
    let mctx = ctx_value(&ctx);
    let n = i + 1;
    let why = |e: minijinja::Error| format!("cannot render repair step {n}: {e}");
    let probe = match &step.probe {
        Some(pr) => {
            let v =
                probe(&src.probes, pr, &ctx, Mode::Run, &mut RawCache::default()).map_err(why)?;
            Some(ProbeCall::from_json(v).map_err(|e| format!("repair step {n}: {e}"))?)
        }
        None => None,
    };
    let pve_task = match &step.pve_task {
        Some(t) => {
            let raw = compact(serde_json::to_value(t).unwrap_or_default());
            let v = render_mode(&raw, &mctx, Mode::Run).map_err(why)?;
            Some(
                serde_json::from_value(v)
                    .map_err(|e| format!("repair step {n}: the pve_task: {e}"))?,
            )
        }
        None => None,
    };
    let expect = expectations(&step.expect, &mctx).map_err(|e| format!("repair step {n}: {e}"))?;
    let refuse_unless =
        expectations(&step.refuse_unless, &mctx).map_err(|e| format!("repair step {n}: {e}"))?;
    let capture = captures(&step.capture, &mctx).map_err(why)?;
    Ok(RenderedStep {
        id: step.id.clone(),
        title: step.title.clone(),
        probe,
        pve_task,
        expect,
        refuse_unless,
        capture,
    })
}

/// Renders the catalog's probe template `name` called `with` these params, in `p`'s context.
pub fn template_probe(
    p: &Planned,
    name: &str,
    with: Map<String, Value>,
) -> Result<ProbeCall, String> {
    let (src, ctx) = parts(p)?;
    let pr: Probe = serde_json::from_value(serde_json::json!({"use": name, "with": with}))
        .map_err(|e| e.to_string())?;
    if !src.probes.contains_key(name) {
        return Err(format!(
            "catalog `{}` has no probe template `{name}`",
            src.catalog
        ));
    }
    let v = probe(&src.probes, &pr, &ctx, Mode::Run, &mut RawCache::default())
        .map_err(|e| e.to_string())?;
    ProbeCall::from_json(v)
}

fn parts(p: &Planned) -> Result<(&Source, Ctx), String> {
    let late = p
        .late
        .as_ref()
        .ok_or_else(|| format!("{} keeps no context for the run", p.id))?;
    Ok((&late.source, late.ctx.clone()))
}

/// Renders `p` again with `checks` (local check id → its captures) in the context.
pub fn rerender(p: &Planned, checks: Value) -> Result<Rendered, String> {
    let (src, mut ctx) = parts(p)?;
    ctx.insert("checks".into(), to_ctx(checks));
    let mctx = ctx_value(&ctx);
    let why = |e: minijinja::Error| format!("cannot render with the captured values: {e}");
    let v = probe(
        &src.probes,
        &src.probe,
        &ctx,
        Mode::Run,
        &mut RawCache::default(),
    )
    .map_err(why)?;
    let probe = ProbeCall::from_json(v)
        .map_err(|e| format!("the probe rendered with the captured values: {e}"))?;
    Ok(Rendered {
        probe,
        expect: expectations(&src.expect, &mctx)?,
        capture: captures(&src.capture, &mctx).map_err(why)?,
    })
}

fn expectations(list: &[Expect], mctx: &minijinja::Value) -> Result<Vec<Expectation>, String> {
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let raw = compact(serde_json::to_value(e).unwrap_or_default());
        let v = render_mode(&raw, mctx, Mode::Run)
            .map_err(|e| format!("cannot render with the captured values: {e}"))?;
        let e: Expect = serde_json::from_value(v)
            .map_err(|err| format!("expectation {} is not valid after rendering: {err}", i + 1))?;
        out.push(Expectation::compile(e));
    }
    Ok(out)
}

fn captures(
    list: &IndexMap<String, String>,
    mctx: &minijinja::Value,
) -> Result<IndexMap<String, Query>, minijinja::Error> {
    let mut out = IndexMap::with_capacity(list.len());
    for (name, q) in list {
        let v = render_mode(&Value::String(q.clone()), mctx, Mode::Run)?;
        out.insert(name.clone(), Query::compile(&query_text(&v)));
    }
    Ok(out)
}

type Needed<'a> = (&'a Planned, &'a IndexMap<String, Value>);

/// The `checks` value a dependent sees: each needed check's captures under its local id.
/// When several instances of one check are needed, the one with the dependent's own
/// instance key wins; otherwise each capture becomes the list of the instances' values.
pub fn checks_value<'a>(
    me: &Planned,
    needed: impl Iterator<Item = (&'a Planned, &'a IndexMap<String, Value>)>,
) -> Value {
    let mut by_id: IndexMap<&str, Vec<Needed<'a>>> = IndexMap::new();
    for (p, caps) in needed {
        by_id.entry(p.check.as_str()).or_default().push((p, caps));
    }
    let mut out = Map::new();
    for (id, list) in by_id {
        let own = list
            .iter()
            .find(|(p, _)| p.instance.is_some() && p.instance == me.instance);
        let v = match (list.as_slice(), own) {
            ([(_, caps)], _) | (_, Some((_, caps))) => to_object(caps),
            (many, None) => {
                let mut merged: IndexMap<String, Vec<Value>> = IndexMap::new();
                for (_, caps) in many {
                    for (k, v) in caps.iter() {
                        merged.entry(k.clone()).or_default().push(v.clone());
                    }
                }
                Value::Object(
                    merged
                        .into_iter()
                        .map(|(k, v)| (k, Value::Array(v)))
                        .collect(),
                )
            }
        };
        out.insert(id.to_string(), v);
    }
    Value::Object(out)
}

fn to_object(caps: &IndexMap<String, Value>) -> Value {
    Value::Object(caps.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}
