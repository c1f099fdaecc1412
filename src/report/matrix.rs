//! The reachability catalog as from × to matrices, shared by the text, Markdown and HTML
//! reports.
//!
//! # The convention
//!
//! A check takes part when it belongs to the catalog whose id is `reachability` and its
//! instance key — the `[...]` suffix of its id, `reachability.mesh.from-pve[vm1,vm2]` —
//! names a pair. That key is what `for_each` gives a check:
//!
//! - a `for_each: { matrix: { from: …, to: … } }` without an `id:` template keys each instance
//!   by its loop variables' item ids joined with `,`, **in the order the matrix declares them**,
//!   so the first is the source and the second the target (`mesh.from-*` declare `from`, `to`;
//!   `pve.l2-same-vlan`, `pve.l3-cross-vlan` and `pve.mtu` declare `a`, `b` and probe from `a`);
//! - an `id:` template may say it outright: `vm1->vm2` or `vm1→vm2` is read as from → to too.
//!
//! So a key is a pair when it splits into exactly two non-empty names on `->`, else on `→`,
//! else on `,`. A `#2`, `#3`… ending (added when two instances derive the same key) is
//! dropped, so duplicates land in the same cell. Anything else — a single item
//! (`dns.resolves[pve1.lab]`), a three-variable matrix, a templated id like
//! `deny.closed[mgmt-api]` — is not a pair and stays out of the matrix.
//!
//! Each group of the catalog with at least one pair check gets its own matrix (`mesh`:
//! endpoint to endpoint; `pve`: layer 2, layer 3 and MTU inside the lab). A cell holds every
//! check of its (from, to) pair in that group, and shows the worst of their statuses.

use std::collections::BTreeMap;

use crate::manifest::{CheckEntry, Manifest};
use crate::run::Status;

/// The catalog whose pair checks make the matrices.
pub const CATALOG: &str = "reachability";

/// One group's pair checks laid out from × to.
#[derive(Debug, Clone)]
pub struct Matrix<'a> {
    pub catalog: String,
    pub group: String,
    pub title: String,
    /// Row labels: sources, in the order endpoints first appear in the group.
    pub from: Vec<String>,
    /// Column labels: targets, in the same order.
    pub to: Vec<String>,
    cells: BTreeMap<(usize, usize), Cell<'a>>,
}

/// The checks of one (from, to) pair.
#[derive(Debug, Clone)]
pub struct Cell<'a> {
    pub from: String,
    pub to: String,
    /// The worst status of `checks`: fail, blocked, waived, repaired, pass, skipped.
    pub status: Status,
    pub checks: Vec<&'a CheckEntry>,
}

impl<'a> Matrix<'a> {
    /// The cell of a pair, if any check covers it.
    pub fn cell(&self, from: &str, to: &str) -> Option<&Cell<'a>> {
        let r = self.from.iter().position(|x| x == from)?;
        let c = self.to.iter().position(|x| x == to)?;
        self.cells.get(&(r, c))
    }

    /// Every cell, row by row.
    pub fn cells(&self) -> impl Iterator<Item = &Cell<'a>> {
        self.cells.values()
    }

    /// `reachability.mesh`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.catalog, self.group)
    }
}

/// The (from, to) a check's instance key names, by the convention above.
pub fn pair(key: &str) -> Option<(String, String)> {
    let key = strip_dedupe(key.trim());
    for sep in ["->", "→", ","] {
        if key.contains(sep) {
            let parts: Vec<&str> = key.split(sep).map(str::trim).collect();
            return match parts.as_slice() {
                [a, b] if !a.is_empty() && !b.is_empty() => Some((a.to_string(), b.to_string())),
                _ => None,
            };
        }
    }
    None
}

/// A check's instance key: its `instance`, else the `[...]` ending of its id.
pub fn instance_key(k: &CheckEntry) -> Option<&str> {
    if let Some(i) = k.instance.as_deref() {
        return Some(i);
    }
    let open = k.id.find('[')?;
    k.id[open + 1..].strip_suffix(']')
}

fn strip_dedupe(key: &str) -> &str {
    match key.rsplit_once('#') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => key,
    }
}

/// How bad a status is for a cell: the worst check decides the cell.
fn rank(s: Status) -> u8 {
    match s {
        Status::Fail => 5,
        Status::Blocked => 4,
        Status::Waived => 3,
        Status::Repaired => 2,
        Status::Pass => 1,
        Status::Skipped => 0,
    }
}

/// One matrix per group of the `reachability` catalog that has pair checks, in catalog order.
pub fn matrices(m: &Manifest) -> Vec<Matrix<'_>> {
    let mut out = Vec::new();
    for g in m.groups.iter().filter(|g| g.catalog == CATALOG) {
        let pairs: Vec<(String, String, &CheckEntry)> = g
            .checks
            .iter()
            .filter_map(|k| instance_key(k).and_then(pair).map(|(f, t)| (f, t, k)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        // One order for both axes: first appearance, sources before targets.
        let mut order: Vec<String> = Vec::new();
        for (f, t, _) in &pairs {
            for n in [f, t] {
                if !order.contains(n) {
                    order.push(n.clone());
                }
            }
        }
        let from: Vec<String> = order
            .iter()
            .filter(|n| pairs.iter().any(|(f, _, _)| f == *n))
            .cloned()
            .collect();
        let to: Vec<String> = order
            .iter()
            .filter(|n| pairs.iter().any(|(_, t, _)| t == *n))
            .cloned()
            .collect();
        let mut cells: BTreeMap<(usize, usize), Cell<'_>> = BTreeMap::new();
        for (f, t, k) in pairs {
            let r = from.iter().position(|x| *x == f).unwrap_or(0);
            let c = to.iter().position(|x| *x == t).unwrap_or(0);
            let cell = cells.entry((r, c)).or_insert_with(|| Cell {
                from: f.clone(),
                to: t.clone(),
                status: k.status,
                checks: Vec::new(),
            });
            if rank(k.status) > rank(cell.status) {
                cell.status = k.status;
            }
            cell.checks.push(k);
        }
        out.push(Matrix {
            catalog: g.catalog.clone(),
            group: g.id.clone(),
            title: g.title.clone(),
            from,
            to,
            cells,
        });
    }
    out
}

/// A one-character mark for a cell's status.
pub fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Repaired => "R",
        Status::Blocked => "!",
        Status::Skipped => "·",
        Status::Waived => "W",
    }
}

/// The legend for [`mark`].
pub const LEGEND: &str =
    "✓ pass  ✗ fail  ! blocked  R repaired  W waived  · skipped  (blank: no check)";

#[cfg(test)]
mod tests {
    use super::pair;

    #[test]
    fn pairs_follow_the_convention() {
        let p = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(pair("vm1,vm2"), p("vm1", "vm2"));
        assert_eq!(pair("vm1->vm2"), p("vm1", "vm2"));
        assert_eq!(pair("vm1 → vm2"), p("vm1", "vm2"));
        assert_eq!(pair("vm1,vm2#2"), p("vm1", "vm2"));
        assert_eq!(pair("a-b->c,d"), p("a-b", "c,d"));
        assert_eq!(pair("pve1.lab"), None);
        assert_eq!(pair("a,b,c"), None);
        assert_eq!(pair("a,"), None);
        assert_eq!(pair("mgmt-api"), None);
    }
}
