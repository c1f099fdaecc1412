//! Semantic analysis of a set of catalogs: ids, needs, cycles, templates, probes,
//! expectations and secrets. Every problem is collected; nothing stops at the first.

mod checks;
mod ids;
pub mod index;
mod needs;
pub mod secrets;
mod templates;
pub mod topology;

use crate::diag::Diagnostics;
use crate::workspace::LoadedCatalog;

pub use checks::regex_problem;
pub use index::{DefId, Index, Target};
pub use needs::{Need, name as index_name};

/// What analysis learned that planning reuses.
pub struct Analysis {
    pub index: Index,
    /// Per check definition, its resolved direct needs (group-level needs included).
    pub needs: std::collections::HashMap<DefId, Vec<Need>>,
}

/// JSON pointer of a check definition inside its catalog document.
pub fn check_pointer(d: DefId) -> String {
    format!("/groups/{}/checks/{}", d.group, d.check)
}

pub fn analyze(cats: &[LoadedCatalog], diags: &mut Diagnostics) -> Analysis {
    ids::check(cats, diags);
    let index = Index::new(cats);
    let needs = needs::resolve(cats, &index, diags);
    for (ci, c) in cats.iter().enumerate() {
        checks::check(c, diags);
        templates::check(cats, ci, &index, &needs, diags);
        secrets::check_catalog(c, diags);
    }
    Analysis { index, needs }
}
