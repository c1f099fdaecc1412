//! The DAG as a mermaid flowchart or a Graphviz digraph, groups as subgraphs.
//! Skipped checks are left out: they will not run.

use std::fmt::Write;

use indexmap::IndexMap;

use crate::plan::{Plan, State};

/// Checks that will run or be blocked, grouped by `catalog.group` in plan order.
fn groups(plan: &Plan) -> IndexMap<String, Vec<usize>> {
    let mut g: IndexMap<String, Vec<usize>> = IndexMap::new();
    for (i, c) in plan.checks.iter().enumerate() {
        if !matches!(c.state, State::Skipped(_)) {
            g.entry(format!("{}.{}", c.catalog, c.group))
                .or_default()
                .push(i);
        }
    }
    g
}

fn label(plan: &Plan, i: usize) -> String {
    let c = &plan.checks[i];
    match &c.instance {
        Some(s) => format!("{}[{s}]", c.check),
        None => c.check.clone(),
    }
}

fn edges(plan: &Plan) -> impl Iterator<Item = (usize, usize)> + '_ {
    plan.checks
        .iter()
        .enumerate()
        .filter(|(_, c)| !matches!(c.state, State::Skipped(_)))
        .flat_map(|(i, c)| c.need_index.iter().map(move |&j| (j, i)))
}

pub fn mermaid(plan: &Plan) -> String {
    let esc = |s: &str| {
        s.replace('"', "#quot;")
            .replace('<', "#lt;")
            .replace('>', "#gt;")
    };
    let mut out = String::from("flowchart LR\n");
    for (gi, (name, members)) in groups(plan).iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{gi}[\"{}\"]", esc(name));
        for &i in members {
            let _ = writeln!(out, "    c{i}[\"{}\"]", esc(&label(plan, i)));
        }
        let _ = writeln!(out, "  end");
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  c{from} --> c{to}");
    }
    let blocked: Vec<String> = plan
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.state, State::Blocked(_)))
        .map(|(i, _)| format!("c{i}"))
        .collect();
    if !blocked.is_empty() {
        out.push_str("  classDef blocked stroke-dasharray: 5 5,stroke:#b45309\n");
        let _ = writeln!(out, "  class {} blocked", blocked.join(","));
    }
    out
}

pub fn dot(plan: &Plan) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from(
        "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
    );
    for (gi, (name, members)) in groups(plan).iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{gi} {{\n    label=\"{}\";",
            esc(name)
        );
        for &i in members {
            let style = if matches!(plan.checks[i].state, State::Blocked(_)) {
                ", style=dashed"
            } else {
                ""
            };
            let _ = writeln!(out, "    c{i} [label=\"{}\"{style}];", esc(&label(plan, i)));
        }
        out.push_str("  }\n");
    }
    for (from, to) in edges(plan) {
        let _ = writeln!(out, "  c{from} -> c{to};");
    }
    out.push_str("}\n");
    out
}
