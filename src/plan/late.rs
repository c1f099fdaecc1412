//! Rendering at run time. A check whose probe or expectations read `checks.<id>.<capture>`
//! is planned with placeholders; once the checks it needs have run, it is rendered again
//! with the values they captured.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::Planned;
use super::build::{Mode, RawCache, compact, probe, render_mode};
use crate::analyze::DefId;
use crate::template::{Ctx, ctx_value, to_ctx};

use crate::workspace::LoadedCatalog;

/// What a second rendering needs: the definition and the instance's template context.
#[derive(Debug)]
pub struct Late {
    pub def: DefId,
    pub ctx: Ctx,
}

/// The parts of a check that the run renders again.
#[derive(Debug)]
pub struct Rendered {
    pub probe: Value,
    pub expect: Vec<Value>,
    pub capture: IndexMap<String, Value>,
}

/// One repair step, rendered with the values the run knows by now.
#[derive(Debug)]
pub struct RenderedStep {
    pub id: Option<String>,
    pub title: Option<String>,
    /// `{kind, use?, spec}` like a check's probe.
    pub probe: Option<Value>,
    /// `{api, upid, timeout?, every?}`.
    pub pve_task: Option<Value>,
    pub expect: Vec<Value>,
    /// Expectations that refuse the repair when they do not hold.
    pub refuse_unless: Vec<Value>,
    pub capture: IndexMap<String, Value>,
}

/// The repair's guard: `(refuse_if, reason, refused)`, or `None` without a guard.
pub fn repair_guard(
    cats: &[LoadedCatalog],
    p: &Planned,
    checks: Value,
) -> Result<Option<(String, String, bool)>, String> {
    let (_, k, mut ctx) = parts(cats, p)?;
    let Some(g) = k.repair.as_ref().and_then(|r| r.guard.as_ref()) else {
        return Ok(None);
    };
    ctx.insert("checks".into(), to_ctx(checks));
    let refused = crate::template::truthy(&g.refuse_if, &ctx_value(&ctx))
        .map_err(|e| format!("cannot evaluate the repair guard `{}`: {e}", g.refuse_if))?;
    Ok(Some((g.refuse_if.clone(), g.reason.clone(), refused)))
}

/// Renders repair step `i` of `p` with the needed checks' captures and the earlier steps'.
pub fn repair_step(
    cats: &[LoadedCatalog],
    p: &Planned,
    i: usize,
    checks: Value,
    steps: Value,
) -> Result<RenderedStep, String> {
    let (m, k, mut ctx) = parts(cats, p)?;
    let step = k
        .repair
        .as_ref()
        .and_then(|r| r.steps.get(i))
        .ok_or_else(|| format!("no repair step {i}"))?;
    ctx.insert("checks".into(), to_ctx(checks));
    ctx.insert("steps".into(), to_ctx(steps));
    let mctx = ctx_value(&ctx);
    let why = |e: minijinja::Error| format!("cannot render repair step {}: {e}", i + 1);
    let probe = match &step.probe {
        Some(pr) => Some(probe(m, pr, &ctx, Mode::Run, &mut RawCache::default()).map_err(why)?),
        None => None,
    };
    let pve_task = match &step.pve_task {
        Some(t) => {
            let raw = compact(serde_json::to_value(t).unwrap_or_default());
            Some(render_mode(&raw, &mctx, Mode::Run).map_err(why)?)
        }
        None => None,
    };
    let mut expect = Vec::new();
    for e in &step.expect {
        let raw = compact(serde_json::to_value(e).unwrap_or_default());
        expect.push(render_mode(&raw, &mctx, Mode::Run).map_err(why)?);
    }
    let mut refuse_unless = Vec::new();
    for e in &step.refuse_unless {
        let raw = compact(serde_json::to_value(e).unwrap_or_default());
        refuse_unless.push(render_mode(&raw, &mctx, Mode::Run).map_err(why)?);
    }
    let mut capture = IndexMap::new();
    for (name, q) in &step.capture {
        capture.insert(
            name.clone(),
            render_mode(&Value::String(q.clone()), &mctx, Mode::Run).map_err(why)?,
        );
    }
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
    cats: &[LoadedCatalog],
    p: &Planned,
    name: &str,
    with: Map<String, Value>,
) -> Result<Value, String> {
    let (m, _, ctx) = parts(cats, p)?;
    let pr: crate::model::probe::Probe =
        serde_json::from_value(serde_json::json!({"use": name, "with": with}))
            .map_err(|e| e.to_string())?;
    if !m.probes.contains_key(name) {
        return Err(format!(
            "catalog `{}` has no probe template `{name}`",
            m.catalog
        ));
    }
    probe(m, &pr, &ctx, Mode::Run, &mut RawCache::default()).map_err(|e| e.to_string())
}

type Parts<'c> = (&'c crate::model::Catalog, &'c crate::model::Check, Ctx);

fn parts<'c>(cats: &'c [LoadedCatalog], p: &Planned) -> Result<Parts<'c>, String> {
    let late = p
        .late
        .as_ref()
        .ok_or_else(|| format!("{} keeps no context for the run", p.id))?;
    let d = late.def;
    let m = &cats[d.cat].model;
    let k = &m.groups[d.group].checks[d.check];
    Ok((m, k, late.ctx.clone()))
}

/// Whether a planned check still holds capture placeholders or unrendered templates.
pub fn waits_for_captures(p: &Planned) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains("<capture:") || s.contains("{{") || s.contains("{%"),
            Value::Array(a) => a.iter().any(walk),
            Value::Object(m) => m.values().any(walk),
            _ => false,
        }
    }
    walk(&p.probe) || p.expect.iter().any(walk) || p.capture.values().any(walk)
}

/// Renders `p` again with `checks` (local check id → its captures) in the context.
pub fn rerender(cats: &[LoadedCatalog], p: &Planned, checks: Value) -> Result<Rendered, String> {
    if p.late.is_none() {
        return Ok(Rendered {
            probe: p.probe.clone(),
            expect: p.expect.clone(),
            capture: p.capture.clone(),
        });
    }
    let (m, k, mut ctx) = parts(cats, p)?;
    ctx.insert("checks".into(), to_ctx(checks));
    let mctx = ctx_value(&ctx);
    let why = |e: minijinja::Error| format!("cannot render with the captured values: {e}");
    let probe = probe(m, &k.probe, &ctx, Mode::Run, &mut RawCache::default()).map_err(why)?;
    let mut expect = Vec::with_capacity(k.expect.len());
    for e in &k.expect {
        let raw = compact(serde_json::to_value(e).unwrap_or_default());
        expect.push(render_mode(&raw, &mctx, Mode::Run).map_err(why)?);
    }
    let mut capture = IndexMap::new();
    for (name, q) in &k.capture {
        let v = render_mode(&Value::String(q.clone()), &mctx, Mode::Run).map_err(why)?;
        capture.insert(name.clone(), v);
    }
    Ok(Rendered {
        probe,
        expect,
        capture,
    })
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
