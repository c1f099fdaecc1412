//! Semantic analysis of a set of catalogs: ids, needs, cycles, templates, probes,
//! expectations and secrets. Every problem is collected; nothing stops at the first.

mod binding_file;
mod checks;
mod code;
mod ids;
pub(crate) mod index;
mod needs;
mod secret_use;
pub(crate) mod secrets;
mod shell_quoting;
mod templates;
pub(crate) mod topology;

use crate::diag::Diagnostics;
use crate::workspace::LoadedCatalog;

pub(crate) use checks::regex_problem;
pub(crate) use index::{DefId, Index, Target};
pub(crate) use needs::{Need, name as index_name};

/// What analysis learned that planning reuses.
pub struct Analysis {
    pub index: Index,
    /// Per check definition, its resolved direct needs (group-level needs included).
    pub needs: std::collections::HashMap<DefId, Vec<Need>>,
}

/// JSON pointer of a check definition inside its catalog document.
pub(crate) fn check_pointer(d: DefId) -> String {
    format!("/groups/{}/checks/{}", d.group, d.check)
}

pub(crate) fn analyze(cats: &[LoadedCatalog], diags: &mut Diagnostics) -> Analysis {
    ids::check(cats, diags);
    let index = Index::new(cats);
    let needs = needs::resolve(cats, &index, diags);
    // The per-catalog passes only read: templates (the longest) runs beside the other two.
    // Diagnostics are merged in a fixed order, so output does not depend on timing.
    let (rules, names) = std::thread::scope(|s| {
        let names = s.spawn(|| {
            let mut d = Diagnostics::default();
            for ci in 0..cats.len() {
                templates::check(cats, ci, &index, &needs, &mut d);
            }
            d
        });
        let mut rules = Diagnostics::default();
        for c in cats {
            checks::check(c, &mut rules);
            secrets::check_catalog(c, &mut rules);
            secret_use::check(c, &mut rules);
            shell_quoting::check(c, &mut rules);
        }
        (
            rules,
            names
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e)),
        )
    });
    diags.extend(rules);
    diags.extend(names);
    Analysis { index, needs }
}
