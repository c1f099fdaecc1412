//! Ids are well formed and unique: catalogs across files, groups per catalog, checks per group.

use std::collections::HashMap;

use super::index::valid_id;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::workspace::LoadedCatalog;

pub(super) fn check(cats: &[LoadedCatalog], diags: &mut Diagnostics) {
    let mut catalog_ids: HashMap<&str, &LoadedCatalog> = HashMap::new();
    for c in cats {
        let doc = &c.doc;
        id_form(c, "/catalog", &c.model.catalog, diags);
        if let Some(first) = catalog_ids.insert(&c.model.catalog, c) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateCatalog,
                    format!("catalog `{}` is declared twice", c.model.catalog),
                )
                .at(&doc.source, doc.spans.value_span("/catalog"))
                .label(format!(
                    "also declared in {}",
                    first.doc.source.path.display()
                ))
                .help("catalog ids must be unique across the catalog root"),
            );
        }
        let mut groups: HashMap<&str, usize> = HashMap::new();
        for (gi, g) in c.model.groups.iter().enumerate() {
            let gp = format!("/groups/{gi}/id");
            id_form(c, &gp, &g.id, diags);
            if let Some(prev) = groups.insert(&g.id, gi) {
                duplicate(c, &gp, &format!("/groups/{prev}/id"), "group", &g.id, diags);
            }
            let mut checks: HashMap<&str, usize> = HashMap::new();
            for (ki, k) in g.checks.iter().enumerate() {
                let kp = format!("/groups/{gi}/checks/{ki}/id");
                id_form(c, &kp, &k.id, diags);
                if let Some(prev) = checks.insert(&k.id, ki) {
                    duplicate(
                        c,
                        &kp,
                        &format!("/groups/{gi}/checks/{prev}/id"),
                        "check",
                        &k.id,
                        diags,
                    );
                }
            }
        }
    }
}

fn id_form(c: &LoadedCatalog, ptr: &str, id: &str, diags: &mut Diagnostics) {
    if !valid_id(id) {
        diags.push(
            Diagnostic::error(Code::InvalidId, format!("invalid id `{id}`"))
                .at(&c.doc.source, c.doc.spans.value_span(ptr))
                .label("ids use ASCII letters, digits, `-` and `_`")
                .help(if id.contains('.') {
                    "dots separate catalog, group and check in references, so ids cannot contain them"
                } else if id.is_empty() {
                    "give it a name, e.g. `api-auth`"
                } else {
                    "ids appear in references, file names and CI output: keep them to `a-z`, `0-9`, `-`, `_`"
                }),
        );
    }
}

fn duplicate(
    c: &LoadedCatalog,
    ptr: &str,
    first: &str,
    what: &str,
    id: &str,
    diags: &mut Diagnostics,
) {
    let (line, _) = c.doc.source.line_col(c.doc.spans.value_span(first).start);
    diags.push(
        Diagnostic::error(Code::DuplicateId, format!("duplicate {what} id `{id}`"))
            .at(&c.doc.source, c.doc.spans.value_span(ptr))
            .label(format!("first used on line {line}"))
            .help(format!("give each {what} its own id")),
    );
}
