//! `labcert plan`: validate, then plan and print.

use std::collections::HashMap;
use std::path::Path;

use super::Target;
use super::build::{Request, build};
use super::inputs::Overrides;
use super::render;
use crate::analyze;
use crate::diag::{Code, Diagnostic, Diagnostics, render as render_diag};
use crate::error::Outcome;
use crate::exit::Exit;
use crate::validate::{Set, load_set};
use crate::workspace::{self, LoadedCatalog};

/// How `labcert plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Mermaid,
    Dot,
}

pub fn run(target: &Target, format: Format, root: &Path) -> Outcome {
    let mut diags = Diagnostics::default();
    let plan = plan(target, root, &mut diags).map(|(p, _)| p);
    for d in diags.iter().filter(|d| !d.is_error() || plan.is_none()) {
        eprintln!("{}", render_diag(d));
    }
    let Some(plan) = plan else {
        eprintln!(
            "plan: {} error{}; nothing planned",
            diags.error_count(),
            if diags.error_count() == 1 { "" } else { "s" }
        );
        // The diagnostics above are the answer: exit 2.
        return Ok(Exit::Invalid);
    };
    match format {
        Format::Text => crate::output::stdout(&render::text(&plan)),
        Format::Json => crate::output::stdout_json(&plan),
        Format::Mermaid => crate::output::stdout(&render::mermaid(&plan)),
        Format::Dot => crate::output::stdout(&render::dot(&plan)),
    }?;
    Ok(Exit::Ok)
}

/// Loads, validates and plans; `None` when there are errors (all of them in `diags`).
/// The loaded files come back too: running the plan needs them.
pub fn plan(args: &Target, root: &Path, diags: &mut Diagnostics) -> Option<(super::Plan, Set)> {
    let Some(topo_path) = workspace::find_topology(root, &args.topology) else {
        diags.push(
            Diagnostic::error(
                Code::UnknownTopology,
                format!("topology `{}` not found", args.topology),
            )
            .help(format!(
                "looked for {}/topologies/{}.{{yaml,yml,toml}}; pass a name there or a path",
                root.display(),
                args.topology
            )),
        );
        return None;
    };
    let mut set = load_set(&[topo_path], root, false, diags);
    let topo = set.topologies.pop();
    plan_loaded(args, set, topo, diags)
}

/// Plans `topo` over the catalogs already loaded in `set` (wherever they were read from,
/// so every diagnostic and `source` names their own files).
pub fn plan_loaded(
    args: &Target,
    mut set: Set,
    topo: Option<workspace::LoadedTopology>,
    diags: &mut Diagnostics,
) -> Option<(super::Plan, Set)> {
    let mut overrides = Overrides {
        vars: args.bound.clone(),
    };
    for (cat, vars) in Overrides::read(&args.vars, &args.vars_files, diags).vars {
        overrides.vars.entry(cat).or_default().extend(vars);
    }
    let analysis = analyze::analyze(&set.catalogs, diags);
    let topo = topo?;
    let by_id: HashMap<&str, &LoadedCatalog> = set
        .catalogs
        .iter()
        .map(|c| (c.model.catalog.as_str(), c))
        .collect();
    // Unbound inputs are the plan's own `missingRequirements` (after --var and --vars),
    // so the topology-only warning would be stale here.
    let mut topo_diags = Diagnostics::default();
    analyze::topology::check(&topo, &set.root, &by_id, &mut topo_diags);
    for d in topo_diags.sorted() {
        if d.code != Code::UnboundInput {
            diags.push(d);
        }
    }
    if diags.has_errors() {
        return None;
    }
    // The document trees were needed to check and type the files; planning works on the
    // typed model, and a large catalog's tree is tens of megabytes.
    for c in &mut set.catalogs {
        c.doc.value = serde_json::Value::Null;
    }
    let req = Request {
        providers: &args.providers,
        environment: args.environment.as_deref(),
        overrides: &overrides,
    };
    let plan = build(&set.catalogs, &analysis, &topo, &req, diags)?;
    set.topologies.push(topo);
    Some((plan, set))
}
