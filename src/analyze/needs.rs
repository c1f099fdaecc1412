//! `needs`: resolve every reference, refuse self-dependencies, report every cycle whole.

use std::collections::HashMap;

use super::check_pointer;
use super::index::{DefId, Index, Target, split_selector};
use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::graph;
use crate::workspace::LoadedCatalog;

/// One resolved need of a check definition.
#[derive(Debug, Clone)]
pub struct Need {
    pub target: Target,
    /// `[…]` instance selector, still a template.
    pub selector: Option<String>,
    /// Where the entry is written (catalog index, pointer).
    pub cat: usize,
    pub pointer: String,
}

pub(super) fn resolve(
    cats: &[LoadedCatalog],
    index: &Index,
    diags: &mut Diagnostics,
) -> HashMap<DefId, Vec<Need>> {
    let mut out: HashMap<DefId, Vec<Need>> = HashMap::new();
    for (ci, c) in cats.iter().enumerate() {
        for (gi, g) in c.model.groups.iter().enumerate() {
            let group_needs = entries(
                cats,
                index,
                ci,
                gi,
                &g.needs,
                &format!("/groups/{gi}/needs"),
                diags,
            );
            for (ki, k) in g.checks.iter().enumerate() {
                let d = DefId {
                    cat: ci,
                    group: gi,
                    check: ki,
                };
                let mut all = group_needs.clone();
                all.extend(entries(
                    cats,
                    index,
                    ci,
                    gi,
                    &k.needs,
                    &format!("{}/needs", check_pointer(d)),
                    diags,
                ));
                out.insert(d, all);
            }
        }
    }
    self_and_cycles(cats, index, &out, diags);
    out
}

fn entries(
    cats: &[LoadedCatalog],
    index: &Index,
    ci: usize,
    gi: usize,
    list: &[String],
    base: &str,
    diags: &mut Diagnostics,
) -> Vec<Need> {
    let doc = &cats[ci].doc;
    let mut out = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        let pointer = format!("{base}/{i}");
        let (reference, selector) = split_selector(raw);
        match index.resolve(reference, ci, gi) {
            Some(target) => out.push(Need {
                target,
                selector: selector.map(str::to_string),
                cat: ci,
                pointer,
            }),
            None => {
                let cands = index.candidates(cats, ci, gi);
                let mut d = Diagnostic::error(
                    Code::UnknownNeed,
                    format!("`needs` names unknown check or group `{reference}`"),
                )
                .at(&doc.source, doc.spans.value_span(&pointer))
                .label("no such check or group");
                d = match did_you_mean(reference, cands.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => {
                        d.help("write `check`, `group`, `group.check` or `catalog.group.check`")
                    }
                };
                diags.push(d);
            }
        }
    }
    out
}

fn self_and_cycles(
    cats: &[LoadedCatalog],
    index: &Index,
    needs: &HashMap<DefId, Vec<Need>>,
    diags: &mut Diagnostics,
) {
    let mut ids: Vec<DefId> = needs.keys().copied().collect();
    ids.sort();
    // `ids` is sorted, so position == the index's dense number.
    debug_assert!(ids.iter().enumerate().all(|(i, d)| index.dense(*d) == i));
    let mut edges = Vec::new();
    let mut origin: Vec<&Need> = Vec::new();
    for d in &ids {
        for n in &needs[d] {
            for t in index.expand(&n.target) {
                if t == *d {
                    let doc = &cats[n.cat].doc;
                    let help = if n.pointer.contains("/checks/") {
                        "a check cannot wait for itself; name the check it really depends on"
                    } else {
                        "a group cannot need itself or one of its own checks; name a check of another group"
                    };
                    diags.push(
                        Diagnostic::error(
                            Code::SelfDependency,
                            format!("`{}` needs itself", name(cats, *d)),
                        )
                        .at(&doc.source, doc.spans.value_span(&n.pointer))
                        .label("this makes the check depend on itself")
                        .help(help),
                    );
                    continue;
                }
                edges.push((index.dense(*d), index.dense(t)));
                origin.push(n);
            }
        }
    }
    for cycle in graph::cycles(ids.len(), &edges) {
        let path: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .map(|&i| name(cats, ids[i]))
            .collect();
        let first = (cycle[0], cycle[1 % cycle.len()]);
        // Cycles are rare: find the need that wrote the closing edge only when there is one.
        let Some(n) = edges.iter().position(|e| *e == first).map(|i| origin[i]) else {
            continue;
        };
        let doc = &cats[n.cat].doc;
        diags.push(
            Diagnostic::error(
                Code::Cycle,
                format!("dependency cycle: {}", path.join(" → ")),
            )
            .at(&doc.source, doc.spans.value_span(&n.pointer))
            .label("this need closes the cycle")
            .help("remove one of these needs; a check cannot wait for something that waits for it"),
        );
    }
}

/// `catalog.group.check`.
pub(crate) fn name(cats: &[LoadedCatalog], d: DefId) -> String {
    let c = &cats[d.cat].model;
    let g = &c.groups[d.group];
    format!("{}.{}.{}", c.catalog, g.id, g.checks[d.check].id)
}
