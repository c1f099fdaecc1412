//! Building a plan from validated catalogs and a topology.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::expand::{self, Instance};
use super::inputs::Overrides;
use super::late::{Late, Source};
use super::probe::ProbeCall;
use super::templating::{Mode, RawCache, compact, probe, query_text, render_plan};
use super::{Blocked, PLAN_VERSION, Plan, PlanCatalog, Planned, Skipped, State};
use crate::analyze::{Analysis, DefId, check_pointer};
use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::judge::{Expectation, Query};
use crate::model::expect::Expect;
use crate::model::{Catalog, Provider};
use crate::template::{self, Ctx, ctx_value, to_ctx};
use crate::workspace::{LoadedCatalog, LoadedTopology};

/// Per catalog, the vars bound by the topology or the command line.
type Inputs = IndexMap<String, IndexMap<String, Value>>;

/// What the user asked for.
pub struct Request<'a> {
    pub providers: &'a [String],
    pub environment: Option<&'a str>,
    pub overrides: &'a Overrides,
}

/// One catalog as the plan sees it.
struct Scope {
    cat: usize,
    selected: bool,
    /// `vars`, `secrets` (masked) and `env`.
    base: Ctx,
    missing: BTreeSet<String>,
}

pub fn build(
    cats: &[LoadedCatalog],
    analysis: &Analysis,
    topo: &LoadedTopology,
    req: &Request<'_>,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let t = &topo.model;
    let providers = providers(cats, analysis, topo, req, diags)?;
    let (scopes, inputs) = scopes(cats, analysis, topo, req, &providers, diags);
    if diags.has_errors() {
        return None;
    }
    let (jobs, by_def, in_plan) = instances(cats, analysis, &scopes, diags);
    let rendered = render_jobs(cats, &jobs);
    let mut checks: Vec<Planned> = Vec::with_capacity(jobs.len());
    let mut contexts: Vec<Ctx> = Vec::with_capacity(jobs.len());
    let mut defs: Vec<DefId> = Vec::with_capacity(jobs.len());
    for (job, (p, found)) in jobs.into_iter().zip(rendered) {
        diags.extend(found);
        checks.push(p);
        contexts.push(job.ctx);
        defs.push(job.d);
    }
    let graph = Graph {
        by_def: &by_def,
        in_plan: &in_plan,
        defs: &defs,
        contexts: &contexts,
    };
    link(cats, analysis, t, &graph, &mut checks, diags);
    if diags.has_errors() {
        return None;
    }
    let waves = order(&mut checks, diags)?;
    let mut missing: Vec<String> = scopes
        .iter()
        .filter(|s| s.selected)
        .flat_map(|s| {
            s.missing
                .iter()
                .map(move |m| format!("{}: {m}", cats[s.cat].model.catalog))
        })
        .collect();
    missing.sort();
    let mut sources = std::collections::HashMap::new();
    for (i, p) in checks.iter_mut().enumerate() {
        if p.state == State::Planned && (p.repair.is_some() || p.waits) {
            let d = defs[i];
            let source = sources
                .entry(d)
                .or_insert_with(|| std::sync::Arc::new(Source::of(&cats[d.cat].model, d)))
                .clone();
            p.late = Some(std::sync::Arc::new(Late {
                source,
                ctx: std::mem::take(&mut contexts[i]),
            }));
        }
    }
    Some(Plan {
        plan_version: PLAN_VERSION,
        inputs,
        topology: t.topology.clone(),
        environment: req.environment.map(str::to_string),
        providers,
        catalogs: scopes
            .iter()
            .map(|s| PlanCatalog {
                id: cats[s.cat].model.catalog.clone(),
                provider: cats[s.cat].model.provider.as_str().into(),
                file: cats[s.cat].doc.source.path.display().to_string(),
                selected: s.selected,
            })
            .collect(),
        waves,
        checks,
        missing_requirements: missing,
    })
}

/// One scope per catalog the topology names: whether it is selected, its inputs (and which
/// are missing), its secrets as placeholders; with the vars the topology and the command
/// line bound, which a certification records.
fn scopes(
    cats: &[LoadedCatalog],
    analysis: &Analysis,
    topo: &LoadedTopology,
    req: &Request<'_>,
    providers: &[String],
    diags: &mut Diagnostics,
) -> (Vec<Scope>, Inputs) {
    let t = &topo.model;
    let env = json!({
        "environment": req.environment.unwrap_or(""),
        "topology": t.topology,
        "providers": providers,
    });
    let mut scopes: Vec<Scope> = Vec::new();
    let mut inputs: Inputs = IndexMap::new();
    for (id, binding) in &t.catalogs {
        let Some(&ci) = analysis.index.catalogs.get(id) else {
            diags.push(
                Diagnostic::error(
                    Code::UnknownCatalog,
                    format!("topology `{}` names unknown catalog `{id}`", t.topology),
                )
                .at(
                    &topo.doc.source,
                    topo.doc.spans.key_span(&format!("/catalogs/{id}")),
                ),
            );
            continue;
        };
        let m = &cats[ci].model;
        let selected = m.provider == Provider::Reachability
            || providers.iter().any(|p| p == m.provider.as_str());
        let overrides = req.overrides.vars.get(id);
        let mut vars = Map::new();
        let mut missing = BTreeSet::new();
        for (name, decl) in &m.vars {
            let v = overrides
                .and_then(|o| o.get(name))
                .or_else(|| binding.vars.get(name))
                .or(decl.default.as_ref());
            match v {
                Some(v) => {
                    if overrides.is_some_and(|o| o.contains_key(name))
                        || binding.vars.contains_key(name)
                    {
                        inputs
                            .entry(id.clone())
                            .or_default()
                            .insert(name.clone(), v.clone());
                    }
                    vars.insert(name.clone(), v.clone());
                }
                None => {
                    missing.insert(format!("vars.{name}"));
                }
            }
        }
        for (name, v) in overrides.into_iter().flat_map(|o| o.iter()) {
            if let Some(decl) = m.vars.get(name)
                && !crate::analyze::topology::fits(decl.kind, v)
            {
                diags.push(Diagnostic::error(
                    Code::BadOverride,
                    format!(
                        "--var {id}.{name}: declared {}, but given {}",
                        crate::analyze::topology::kind_name(decl.kind),
                        crate::analyze::topology::value_kind(v)
                    ),
                ));
            }
            if !m.vars.contains_key(name) {
                let mut d = Diagnostic::error(
                    Code::BadOverride,
                    format!("--var {id}.{name}: catalog `{id}` declares no var `{name}`"),
                );
                if let Some(s) = did_you_mean(name, m.vars.keys().map(String::as_str)) {
                    d = d.help(format!("did you mean `{id}.{s}`?"));
                }
                diags.push(d);
            }
        }
        let mut secrets = Map::new();
        for (name, decl) in &m.secrets {
            if binding.secrets.contains_key(name) || decl.default.is_some() {
                secrets.insert(name.clone(), Value::String(format!("<secret:{name}>")));
            } else {
                missing.insert(format!("secrets.{name}"));
            }
        }
        let mut base = Ctx::new();
        base.insert("vars".into(), to_ctx(Value::Object(vars)));
        base.insert("secrets".into(), to_ctx(Value::Object(secrets)));
        base.insert("env".into(), to_ctx(env.clone()));
        scopes.push(Scope {
            cat: ci,
            selected,
            base,
            missing,
        });
    }
    for id in req.overrides.vars.keys() {
        if !t.catalogs.contains_key(id) {
            diags.push(Diagnostic::error(
                Code::BadOverride,
                format!(
                    "--var {id}.…: topology `{}` has no catalog `{id}`",
                    t.topology
                ),
            ));
        }
    }
    (scopes, inputs)
}

/// The check instances, in catalog order: `for_each` expanded, each with its context, or a
/// single stand-in for a check the plan already decides (not selected, inputs missing).
/// Also, per definition, its instances' indexes, and whether the definition is planned.
fn instances(
    cats: &[LoadedCatalog],
    analysis: &Analysis,
    scopes: &[Scope],
    diags: &mut Diagnostics,
) -> (Vec<Job>, Vec<Vec<usize>>, Vec<bool>) {
    // Instances, in catalog order: expanded here, rendered below (in parallel when many).
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_def: Vec<Vec<usize>> = vec![Vec::new(); analysis.index.count()];
    let mut in_plan = vec![false; analysis.index.count()];
    let mut placeholders = super::captures::Builder::default();
    for scope in scopes {
        let c = &cats[scope.cat];
        for (gi, g) in c.model.groups.iter().enumerate() {
            for (ki, k) in g.checks.iter().enumerate() {
                let d = DefId {
                    cat: scope.cat,
                    group: gi,
                    check: ki,
                };
                let uses = if scope.missing.is_empty() {
                    BTreeSet::new()
                } else {
                    inputs_used(c, d)
                };
                let lacking: Vec<&String> = scope.missing.intersection(&uses).collect();
                in_plan[analysis.index.dense(d)] = true;
                let mut base = scope.base.clone();
                base.insert("checks".into(), placeholders.for_check(cats, analysis, d));
                let (instances, early) = if !scope.selected {
                    (
                        vec![single()],
                        Some(State::Skipped(Skipped::NotSelected {
                            provider: c.model.provider.as_str().into(),
                        })),
                    )
                } else if !lacking.is_empty() {
                    let names: Vec<String> = lacking
                        .iter()
                        .map(|l| format!("{}: {l}", c.model.catalog))
                        .collect();
                    (
                        vec![single()],
                        Some(State::Blocked(Blocked::MissingRequirement(names))),
                    )
                } else {
                    match expand::expand(k.for_each.as_ref(), &base) {
                        Ok(list) => (list, None),
                        Err(e) => {
                            diags.push(located(
                                c,
                                &format!("{}/for_each", check_pointer(d)),
                                Code::UndefinedName,
                                e,
                            ));
                            continue;
                        }
                    }
                };
                for inst in instances {
                    let mut ctx = base.clone();
                    ctx.extend(
                        inst.bindings
                            .iter()
                            .map(|(k, v)| (k.clone(), to_ctx(v.clone()))),
                    );
                    by_def[analysis.index.dense(d)].push(jobs.len());
                    jobs.push(Job {
                        cat: scope.cat,
                        d,
                        inst,
                        ctx,
                        early: early.clone(),
                    });
                }
            }
        }
    }
    (jobs, by_def, in_plan)
}

/// What linking the instances needs to know about them.
struct Graph<'a> {
    by_def: &'a [Vec<usize>],
    in_plan: &'a [bool],
    defs: &'a [DefId],
    contexts: &'a [Ctx],
}

/// Each instance's needs, resolved to instances (an instance selector picks one); a need on
/// a catalog the topology does not run skips the check.
fn link(
    cats: &[LoadedCatalog],
    analysis: &Analysis,
    t: &crate::model::Topology,
    g: &Graph<'_>,
    checks: &mut [Planned],
    diags: &mut Diagnostics,
) {
    for i in 0..checks.len() {
        let d = g.defs[i];
        let mut need_index = Vec::new();
        let mut outside = Vec::new();
        for n in analysis.needs.get(&d).into_iter().flatten() {
            for td in analysis.index.expand(&n.target) {
                let list = &g.by_def[analysis.index.dense(td)];
                if !g.in_plan[analysis.index.dense(td)] {
                    outside.push(crate::analyze::index_name(cats, td));
                    continue;
                };
                // An instance that was never expanded (not selected, missing inputs) has no
                // loop variables to select with: it stands for all, and so do its needs.
                let expanded = checks[i].state == State::Planned;
                match n.selector.as_ref().filter(|_| expanded) {
                    None => need_index.extend(list.iter().copied().filter(|&j| j != i)),
                    Some(sel) => {
                        let want = match template::render(sel, &ctx_value(&g.contexts[i])) {
                            Ok(Value::String(s)) => s,
                            Ok(v) => v.to_string(),
                            Err(e) => {
                                diags.push(located(
                                    &cats[n.cat],
                                    &n.pointer,
                                    Code::UndefinedName,
                                    format!("instance selector `[{sel}]`: {e}"),
                                ));
                                continue;
                            }
                        };
                        match list
                            .iter()
                            .find(|&&j| checks[j].instance.as_deref() == Some(want.as_str()))
                        {
                            Some(&j) => need_index.push(j),
                            None => {
                                let have: Vec<&str> = list
                                    .iter()
                                    .filter_map(|&j| checks[j].instance.as_deref())
                                    .collect();
                                let msg = format!(
                                    "`{}` needs instance `[{want}]`, which does not exist",
                                    checks[i].id
                                );
                                let help = if have.is_empty() {
                                    "that check has no instances in this topology".to_string()
                                } else {
                                    format!("its instances: {}", have.join(", "))
                                };
                                diags.push(
                                    located(&cats[n.cat], &n.pointer, Code::UnknownNeed, msg)
                                        .help(help),
                                );
                            }
                        }
                    }
                }
            }
        }
        need_index.sort_unstable();
        need_index.dedup();
        if !outside.is_empty() && checks[i].state == State::Planned {
            checks[i].state = State::Skipped(Skipped::OutsideTopology {
                needs: outside,
                topology: t.topology.clone(),
            });
        }
        checks[i].needs = need_index.iter().map(|&j| checks[j].id.clone()).collect();
        checks[i].need_index = need_index;
    }
}

/// Waves from the needs; a planned check whose need will not run is skipped or blocked
/// with it. `None` (with a diagnostic) if instances form a cycle.
fn order(checks: &mut [Planned], diags: &mut Diagnostics) -> Option<Vec<Vec<usize>>> {
    let edges: Vec<(usize, usize)> = checks
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.need_index.iter().map(move |&j| (i, j)))
        .collect();
    // Definition-level cycles are load errors, so instances cannot form one; say so if they do.
    let order = match crate::graph::waves(checks.len(), &edges) {
        Ok(o) => o,
        Err(cycles) => {
            for c in cycles {
                let path: Vec<&str> = c.iter().map(|&i| checks[i].id.as_str()).collect();
                diags.push(Diagnostic::error(
                    Code::Cycle,
                    format!(
                        "instances depend on each other in a cycle: {}",
                        path.join(" → ")
                    ),
                ));
            }
            return None;
        }
    };
    for wave in &order {
        for &i in wave {
            if checks[i].state != State::Planned {
                continue;
            }
            let first_bad = checks[i]
                .need_index
                .iter()
                .map(|&j| (j, &checks[j].state))
                .find(|(_, s)| **s != State::Planned)
                .map(|(j, s)| (j, s.clone()));
            if let Some((j, s)) = first_bad {
                let dep = checks[j].id.clone();
                checks[i].state = match s {
                    State::Skipped(_) => State::Skipped(Skipped::NeedSkipped { need: dep }),
                    _ => State::Blocked(Blocked::Dependency(dep)),
                };
            }
        }
    }
    let live: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| {
            !matches!(checks[a].state, State::Skipped(_))
                && !matches!(checks[b].state, State::Skipped(_))
        })
        .collect();
    // A subset of the edges above: acyclic too.
    let waves_all = crate::graph::waves(checks.len(), &live).unwrap_or_default();
    let mut waves = Vec::new();
    for w in waves_all {
        let w: Vec<usize> = w
            .into_iter()
            .filter(|&i| !matches!(checks[i].state, State::Skipped(_)))
            .collect();
        if !w.is_empty() {
            for &i in &w {
                checks[i].wave = Some(waves.len() + 1);
            }
            waves.push(w);
        }
    }
    Some(waves)
}

/// One check instance to render.
struct Job {
    cat: usize,
    d: DefId,
    inst: Instance,
    ctx: Ctx,
    early: Option<State>,
}

/// Below this many instances one thread renders them all; above, the work is split in
/// contiguous chunks across the cores and the results are put back in order.
const PARALLEL_FROM: usize = 512;

fn render_jobs(cats: &[LoadedCatalog], jobs: &[Job]) -> Vec<(Planned, Diagnostics)> {
    let chunk = |part: &[Job]| -> Vec<(Planned, Diagnostics)> {
        let mut raw = RawCache::default();
        part.iter()
            .map(|j| {
                let mut found = Diagnostics::default();
                let p = planned(
                    &cats[j.cat],
                    j.d,
                    &j.inst,
                    &j.ctx,
                    j.early.clone(),
                    &mut raw,
                    &mut found,
                );
                (p, found)
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if jobs.len() < PARALLEL_FROM || threads < 2 {
        return chunk(jobs);
    }
    let size = jobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(size)
            .map(|part| s.spawn(move || chunk(part)))
            .collect();
        // A panic in a worker is a bug; re-raise it rather than return a partial plan.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn single() -> Instance {
    Instance {
        suffix: None,
        bindings: Map::new(),
    }
}

fn providers(
    cats: &[LoadedCatalog],
    analysis: &Analysis,
    topo: &LoadedTopology,
    req: &Request<'_>,
    diags: &mut Diagnostics,
) -> Option<Vec<String>> {
    let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    let mut out: Vec<String> = if !req.providers.is_empty() {
        req.providers
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    } else if !topo.model.providers.is_empty() {
        topo.model
            .providers
            .iter()
            .map(|p| p.as_str().to_string())
            .collect()
    } else {
        topo.model
            .catalogs
            .keys()
            .filter_map(|id| analysis.index.catalogs.get(id))
            .map(|&ci| cats[ci].model.provider)
            .filter(|p| *p != Provider::Reachability)
            .map(|p| p.as_str().to_string())
            .collect()
    };
    let mut ok = true;
    for p in &out {
        if !known.contains(&p.as_str()) {
            ok = false;
            let mut d = Diagnostic::error(
                Code::InvalidValue,
                format!("--providers: unknown provider `{p}`"),
            );
            d = match did_you_mean(p, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("known providers: {}", known.join(", "))),
            };
            diags.push(d);
        }
    }
    out.sort();
    out.dedup();
    ok.then_some(out)
}

/// `vars.x` / `secrets.x` names a check reads, directly or through its probe template.
/// Read from the typed model (the document tree is gone by now); only runs when a catalog
/// has unbound inputs.
fn inputs_used(c: &LoadedCatalog, d: DefId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let k = &c.model.groups[d.group].checks[d.check];
    let check = serde_json::to_value(k).unwrap_or_default();
    let template = k
        .probe
        .uses
        .as_ref()
        .and_then(|u| c.model.probes.get(u))
        .map(|t| serde_json::to_value(t).unwrap_or_default());
    let mut strings = Vec::new();
    collect_strings(&check, &mut strings);
    if let Some(t) = &template {
        collect_strings(t, &mut strings);
    }
    // `when` is an expression, usually written without braces.
    let when = k
        .when
        .as_deref()
        .and_then(|w| template::expression_names(w).ok())
        .unwrap_or_default();
    let names = strings
        .into_iter()
        .filter_map(|s| template::names(s).ok())
        .chain(std::iter::once(when));
    for n in names.flatten() {
        let mut parts = n.splitn(3, '.');
        if let (Some(root @ ("vars" | "secrets")), Some(f)) = (parts.next(), parts.next()) {
            out.insert(format!("{root}.{f}"));
        }
    }
    out
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if template::is_template(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn located(c: &LoadedCatalog, ptr: &str, code: Code, msg: String) -> Diagnostic {
    Diagnostic::error(code, msg)
        .at(&c.doc.source, c.doc.spans.value_span(ptr))
        .label("while planning this")
}

/// Renders one instance of a check. Rendering errors are diagnostics at the check.
fn planned(
    c: &LoadedCatalog,
    d: DefId,
    inst: &Instance,
    ctx: &Ctx,
    early: Option<State>,
    raw: &mut RawCache,
    diags: &mut Diagnostics,
) -> Planned {
    let m = &c.model;
    let g = &m.groups[d.group];
    let k = &g.checks[d.check];
    let id = match &inst.suffix {
        Some(s) => format!("{}.{}.{}[{s}]", m.catalog, g.id, k.id),
        None => format!("{}.{}.{}", m.catalog, g.id, k.id),
    };
    let template = k.probe.uses.as_ref().and_then(|u| m.probes.get(u));
    let timeout = k
        .timeout
        .or(k.probe.timeout)
        .or(template.and_then(|t| t.timeout))
        .or(g.defaults.timeout)
        .or(m.defaults.timeout)
        .unwrap_or(crate::model::duration::Duration(
            crate::probe::DEFAULT_TIMEOUT,
        ));
    let retry = k
        .retry
        .clone()
        .or(k.probe.retry.clone())
        .or(template.and_then(|t| t.retry.clone()))
        .or(g.defaults.retry.clone())
        .or(m.defaults.retry.clone())
        .map(|r| r.0);
    let concurrency = k
        .concurrency
        .clone()
        .or(k.probe.concurrency.clone())
        .or(template.and_then(|t| t.concurrency.clone()))
        .or(g.defaults.concurrency.clone())
        .or(m.defaults.concurrency.clone());
    let classify = k
        .probe
        .classify
        .iter()
        .chain(template.iter().flat_map(|t| &t.classify))
        .cloned()
        .map(crate::judge::Rule::compile)
        .collect();
    let (line, _) = c
        .doc
        .source
        .line_col(c.doc.spans.value_span(&check_pointer(d)).start);
    let mut p = Planned {
        id,
        catalog: m.catalog.clone(),
        group: g.id.clone(),
        check: k.id.clone(),
        instance: inst.suffix.clone(),
        title: k.title.clone().unwrap_or_else(|| k.id.clone()),
        severity: k
            .severity
            .or(g.defaults.severity)
            .or(m.defaults.severity)
            .unwrap_or_default(),
        class: k
            .class
            .or(g.defaults.class)
            .or(m.defaults.class)
            .unwrap_or_default(),
        state: State::Planned,
        wave: None,
        needs: Vec::new(),
        need_index: Vec::new(),
        probe: None,
        expect: Vec::new(),
        capture: IndexMap::new(),
        timeout,
        retry,
        poll: k.poll.clone(),
        concurrency,
        classify,
        repair: None,
        sensitive: k.sensitive,
        waits: false,
        late: None,
        source: format!("{}:{line}", c.doc.source.path.display()),
    };
    if let Some(s) = early {
        p.state = s;
        return p;
    }
    let mctx = ctx_value(ctx);
    let base = check_pointer(d);
    let mut fail = |ptr: String, e: minijinja::Error| {
        diags.push(located(
            c,
            &ptr,
            Code::UndefinedName,
            format!("cannot render `{}`: {e}", p_id(m, g, k, inst)),
        ));
    };
    // A title that reads loop values the item lacks falls back to the instance id.
    p.title = match template::render(&title_src(k), &mctx) {
        Ok(Value::String(t)) => t,
        _ => p.id.clone(),
    };
    if let Some(w) = &k.when {
        match template::truthy(w, &mctx) {
            Ok(true) => {}
            Ok(false) => {
                p.state = State::Skipped(Skipped::WhenFalse { when: w.clone() });
                return p;
            }
            Err(e) => fail(format!("{base}/when"), e),
        }
    }
    let rendered = match probe(&m.probes, &k.probe, ctx, Mode::Plan, raw) {
        Ok(v) => Some(v),
        Err(e) => {
            fail(format!("{base}/probe"), e);
            None
        }
    };
    let expects = raw
        .expects
        .entry(d)
        .or_insert_with(|| {
            k.expect
                .iter()
                .map(|e| compact(serde_json::to_value(e).unwrap_or_default()))
                .collect()
        })
        .clone();
    let mut late = Vec::new();
    let mut expect = Vec::with_capacity(expects.len());
    for (i, e) in expects.iter().enumerate() {
        match render_plan(e, &mctx) {
            Ok(v) => {
                // Templated queries and patterns could not be checked before rendering.
                if let Some(why) = rendered_problem(e, &v) {
                    late.push(located(
                        c,
                        &format!("{base}/expect/{i}"),
                        why.0,
                        format!("{}: {}", p.id, why.1),
                    ));
                }
                expect.push((i, v));
            }
            Err(err) => fail(format!("{base}/expect/{i}"), err),
        }
    }
    let mut capture = IndexMap::new();
    for (name, q) in &k.capture {
        match render_plan(&Value::String(q.clone()), &mctx) {
            Ok(v) => {
                capture.insert(name.clone(), v);
            }
            Err(err) => fail(format!("{base}/capture/{name}"), err),
        }
    }
    // What still holds values only the run knows is rendered again then.
    p.waits = rendered
        .iter()
        .chain(expect.iter().map(|(_, v)| v))
        .chain(capture.values())
        .any(waits);
    if let Some(v) = rendered {
        match ProbeCall::from_json(v) {
            Ok(call) => p.probe = Some(call),
            Err(why) => late.push(located(
                c,
                &format!("{base}/probe"),
                Code::WrongType,
                format!("{}: the rendered probe is not valid: {why}", p.id),
            )),
        }
    }
    // `i` is the expectation's place in the catalog (one that failed to render is missing).
    for (i, v) in expect {
        // Written without a template: the definition's own, compiled once for every instance.
        if v == expects[i] {
            let c = raw
                .compiled
                .entry((d, i))
                .or_insert_with(|| Expectation::compile(k.expect[i].clone()));
            p.expect.push(c.clone());
            continue;
        }
        match serde_json::from_value::<Expect>(v) {
            Ok(e) => p.expect.push(Expectation::compile(e)),
            // A placeholder where a number or a table goes: the run renders it properly.
            Err(_) if p.waits => p.expect.push(Expectation::compile(k.expect[i].clone())),
            Err(why) => late.push(located(
                c,
                &format!("{base}/expect/{i}"),
                Code::WrongType,
                format!(
                    "{}: expectation {} is not valid once rendered: {why}",
                    p.id,
                    i + 1
                ),
            )),
        }
    }
    p.capture = capture
        .into_iter()
        .map(|(name, q)| {
            let text = query_text(&q);
            let query = match k.capture.get(&name) {
                Some(raw_q) if *raw_q == text => raw
                    .queries
                    .entry((d, name.clone()))
                    .or_insert_with(|| Query::compile(&text))
                    .clone(),
                _ => Query::compile(&text),
            };
            (name, query)
        })
        .collect();
    if let Some(r) = &k.repair {
        p.repair = Some(super::repair::plan(&m.probes, r, ctx, raw));
    }
    for d in late {
        diags.push(d);
    }
    p
}

fn p_id(m: &Catalog, g: &crate::model::Group, k: &crate::model::Check, inst: &Instance) -> String {
    match &inst.suffix {
        Some(s) => format!("{}.{}.{}[{s}]", m.catalog, g.id, k.id),
        None => format!("{}.{}.{}", m.catalog, g.id, k.id),
    }
}

fn title_src(k: &crate::model::Check) -> String {
    k.title.clone().unwrap_or_else(|| k.id.clone())
}

/// Whether a rendered value still holds a capture placeholder or an unrendered template.
fn waits(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("<capture:") || s.contains("{{") || s.contains("{%"),
        Value::Array(a) => a.iter().any(waits),
        Value::Object(m) => m.values().any(waits),
        _ => false,
    }
}

/// A rendered expectation whose query or pattern came from a template and does not compile.
fn rendered_problem(raw: &Value, rendered: &Value) -> Option<(Code, String)> {
    let templated = |k: &str| {
        raw.get(k)
            .and_then(Value::as_str)
            .is_some_and(template::is_template)
    };
    if templated("query")
        && let Some(q) = rendered.get("query").and_then(Value::as_str)
        && let Err(e) = jmespath::compile(q)
    {
        return Some((
            Code::InvalidJmespath,
            format!("rendered query `{q}` does not parse: {}", e.reason),
        ));
    }
    if templated("matches")
        && let Some(re) = rendered.get("matches").and_then(Value::as_str)
        && let Some(why) = crate::analyze::regex_problem(re)
    {
        return Some((
            Code::InvalidRegex,
            format!("rendered pattern `{re}` does not compile: {why}"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_queries_and_patterns_are_checked() {
        let raw = json!({"query": "data[?iface=='{{ item }}'", "equals": 1});
        let rendered = json!({"query": "data[?iface=='vmbr0'", "equals": 1});
        assert_eq!(
            rendered_problem(&raw, &rendered).map(|p| p.0),
            Some(Code::InvalidJmespath)
        );
        let ok = json!({"query": "data[?iface=='vmbr0']", "equals": 1});
        assert!(rendered_problem(&raw, &ok).is_none());
        let raw = json!({"matches": "^{{ item }}$"});
        assert_eq!(
            rendered_problem(&raw, &json!({"matches": "^(x$"})).map(|p| p.0),
            Some(Code::InvalidRegex)
        );
    }
}
