//! Rendering a catalog's templates into values: for the plan (values only the run knows
//! shown as placeholders), leniently (repair steps reading earlier steps' results), or for
//! the run (everything known). Probes resolve `use` against the catalog's probe templates.

use indexmap::IndexMap;
use minijinja::Value as MjValue;
use serde_json::{Map, Value};

use crate::analyze::DefId;
use crate::model::probe::{Probe, ProbeTemplate};
use crate::template::{self, Ctx, ctx_value, to_ctx};

/// A catalog's probe templates, by name.
pub(crate) type Templates = IndexMap<String, ProbeTemplate>;

/// How strings are rendered: for the plan (computations on captures shown as written),
/// leniently (repair steps reading earlier steps' results), or for the run (everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Plan,
    Lenient,
    Run,
}

pub(crate) fn render_mode(v: &Value, c: &MjValue, mode: Mode) -> Result<Value, minijinja::Error> {
    match mode {
        Mode::Plan => render_plan(v, c),
        Mode::Lenient => Ok(render_lenient(v, c)),
        Mode::Run => render_run(v, c),
    }
}

/// Renders a probe, resolving `use` against the catalog's templates.
pub(crate) fn probe(
    probes: &Templates,
    pr: &Probe,
    ctx: &Ctx,
    mode: Mode,
    raw: &mut RawCache,
) -> Result<Value, minijinja::Error> {
    let mctx = ctx_value(ctx);
    let render = |v: &Value, c: &MjValue| render_mode(v, c, mode);
    let (kind, spec, used) = match pr.uses.as_ref().and_then(|u| probes.get(u).map(|t| (u, t))) {
        Some((name, t)) => {
            let mut params = Map::new();
            for (pn, decl) in &t.params {
                if let Some(d) = &decl.default {
                    params.insert(pn.clone(), d.clone());
                }
            }
            for (pn, v) in &pr.with {
                params.insert(pn.clone(), render(v, &mctx)?);
            }
            let mut inner = ctx.clone();
            inner.insert("params".into(), to_ctx(Value::Object(params)));
            let (kind, spec) = raw.spec(t as *const _ as usize, || {
                let (k, v) = t.kind_json();
                (k, compact(v))
            });
            (kind, render(&spec, &ctx_value(&inner))?, Some(name.clone()))
        }
        None => {
            let (kind, spec) = raw.spec(pr as *const _ as usize, || {
                let (k, v) = pr.kind_json();
                (k, compact(v))
            });
            (kind, render(&spec, &mctx)?, None)
        }
    };
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(kind.into()));
    if let Some(u) = used {
        out.insert("use".into(), Value::String(u));
    }
    let spec = if kind == "command" || kind == "ssh" {
        flatten_argv(spec)
    } else {
        spec
    };
    out.insert("spec".into(), spec);
    Ok(Value::Object(out))
}

/// `argv` elements (of a `command` or an `ssh` probe) that render to lists become several
/// arguments, so one probe template can run commands of different lengths
/// (`argv: [az, "{{ params.args }}", -o, json]`).
fn flatten_argv(mut spec: Value) -> Value {
    if let Some(Value::Array(argv)) = spec.get_mut("argv") {
        let flat: Vec<Value> = argv
            .drain(..)
            .flat_map(|a| match a {
                Value::Array(items) => items,
                other => vec![other],
            })
            .map(|a| match a {
                Value::String(_) => a,
                other => Value::String(other.to_string()),
            })
            .collect();
        *argv = flat;
    }
    spec
}

/// Probe specs and expectations as JSON, made once per definition and rendered per instance.
#[derive(Default)]
pub(crate) struct RawCache {
    /// Keyed by the address of the probe or template they come from (alive for the whole build).
    specs: std::collections::HashMap<usize, (&'static str, Value)>,
    pub(crate) expects: std::collections::HashMap<DefId, Vec<Value>>,
    /// A definition's expectations and capture queries that hold no template, compiled
    /// once for all its instances.
    pub(crate) compiled: std::collections::HashMap<(DefId, usize), crate::judge::Expectation>,
    pub(crate) queries: std::collections::HashMap<(DefId, String), crate::judge::Query>,
}

impl RawCache {
    pub(crate) fn spec(
        &mut self,
        key: usize,
        make: impl FnOnce() -> (&'static str, Value),
    ) -> (&'static str, Value) {
        self.specs.entry(key).or_insert_with(make).clone()
    }
}

/// Renders for the plan. A string that computes with captured values (`checks.x.n - 1`)
/// cannot be evaluated before the run, where those values are placeholders: it is shown
/// as written. Every other failure is an error.
pub(crate) fn render_plan(v: &Value, ctx: &MjValue) -> Result<Value, minijinja::Error> {
    Ok(match v {
        Value::String(s) => match template::render(s, ctx) {
            Ok(r) => r,
            Err(_) if reads_captures(s) => v.clone(),
            Err(e) => return Err(e),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_plan(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, x) in m {
                out.insert(k.clone(), render_plan(x, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

pub(crate) fn reads_captures(s: &str) -> bool {
    template::names(s).is_ok_and(|names| {
        names
            .iter()
            .any(|n| n == "checks" || n.starts_with("checks."))
    })
}

/// Renders for the run: captured values are known, so every template must render.
pub(crate) fn render_run(v: &Value, ctx: &MjValue) -> Result<Value, minijinja::Error> {
    Ok(match v {
        Value::String(s) => template::render(s, ctx)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_run(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, x) in m {
                out.insert(k.clone(), render_run(x, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

pub(crate) fn render_lenient(v: &Value, ctx: &MjValue) -> Value {
    match v {
        Value::String(s) => template::render(s, ctx).unwrap_or_else(|_| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_lenient(x, ctx)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), render_lenient(x, ctx)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Drops nulls and empty collections, so rendered specs show what was written.
pub(crate) fn compact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, compact(x)))
                .filter(|(_, x)| {
                    !(x.is_null()
                        || x.as_object().is_some_and(Map::is_empty)
                        || x.as_array().is_some_and(Vec::is_empty))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

/// A capture's query as text (one rendered to a non-string finds nothing).
pub(crate) fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arithmetic_on_captures_waits_for_the_run() {
        let ctx = to_ctx(
            json!({"checks": {"quota": {"cores": "<capture:checks.quota.cores>"}}, "vars": {"need": 4}}),
        );
        let raw = json!({"query": "x", "ge": "{{ checks.quota.cores - vars.need }}"});
        assert_eq!(render_plan(&raw, &ctx).unwrap(), raw);
        assert!(
            render_plan(&json!("{{ vars.need - 'a' }}"), &ctx).is_err(),
            "other errors still fail"
        );
    }

    #[test]
    fn list_arguments_become_several() {
        let spec = json!({"argv": ["az", ["vm", "show", "--name", "a b"], "-o", 5]});
        assert_eq!(
            flatten_argv(spec),
            json!({"argv": ["az", "vm", "show", "--name", "a b", "-o", "5"]})
        );
    }
}
