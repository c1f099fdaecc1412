//! Names: catalog, group and check ids, and resolving `needs` references to them.

use indexmap::IndexMap;

use crate::workspace::LoadedCatalog;

/// A check definition (before `for_each` expansion): catalog, group and check positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId {
    pub cat: usize,
    pub group: usize,
    pub check: usize,
}

/// What a `needs` entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Check(DefId),
    Group { cat: usize, group: usize },
}

/// Every id of a set of catalogs, for lookups. The first of duplicates wins.
#[derive(Debug, Default)]
pub struct Index {
    pub catalogs: IndexMap<String, usize>,
    pub groups: Vec<IndexMap<String, usize>>,
    pub checks: Vec<Vec<IndexMap<String, usize>>>,
    /// Dense number of the first check of each group, per catalog: `dense()` without hashing.
    offsets: Vec<Vec<usize>>,
    count: usize,
}

impl Index {
    pub fn new(cats: &[LoadedCatalog]) -> Index {
        let mut ix = Index::default();
        for (ci, c) in cats.iter().enumerate() {
            ix.catalogs.entry(c.model.catalog.clone()).or_insert(ci);
            let mut groups = IndexMap::new();
            let mut checks = Vec::new();
            for (gi, g) in c.model.groups.iter().enumerate() {
                groups.entry(g.id.clone()).or_insert(gi);
                let mut m = IndexMap::new();
                for (ki, k) in g.checks.iter().enumerate() {
                    m.entry(k.id.clone()).or_insert(ki);
                }
                checks.push(m);
            }
            let mut offsets = Vec::new();
            for g in &c.model.groups {
                offsets.push(ix.count);
                ix.count += g.checks.len();
            }
            ix.offsets.push(offsets);
            ix.groups.push(groups);
            ix.checks.push(checks);
        }
        ix
    }

    /// How many check definitions there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// A number in `0..count()` for a definition, in catalog, group, check order.
    pub fn dense(&self, d: DefId) -> usize {
        self.offsets[d.cat][d.group] + d.check
    }

    /// Resolves `reference` (without any `[instance]` suffix) as seen from a check in `cat`/`group`.
    pub fn resolve(&self, reference: &str, cat: usize, group: usize) -> Option<Target> {
        let parts: Vec<&str> = reference.split('.').collect();
        let check_in = |c: usize, g: usize, k: &str| {
            self.checks[c][g].get(k).map(|&check| {
                Target::Check(DefId {
                    cat: c,
                    group: g,
                    check,
                })
            })
        };
        let group_in = |c: usize, g: &str| {
            self.groups[c]
                .get(g)
                .map(|&group| Target::Group { cat: c, group })
        };
        match parts.as_slice() {
            [one] => check_in(cat, group, one).or_else(|| group_in(cat, one)),
            [a, b] => self.groups[cat]
                .get(*a)
                .and_then(|&g| check_in(cat, g, b))
                .or_else(|| self.catalogs.get(*a).and_then(|&c| group_in(c, b))),
            [a, b, k] => {
                let c = *self.catalogs.get(*a)?;
                let g = *self.groups[c].get(*b)?;
                check_in(c, g, k)
            }
            _ => None,
        }
    }

    /// Every reference a user could have meant, for did-you-mean.
    pub fn candidates(&self, cats: &[LoadedCatalog], cat: usize, group: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (ci, c) in cats.iter().enumerate() {
            for (gi, g) in c.model.groups.iter().enumerate() {
                let full = format!("{}.{}", c.model.catalog, g.id);
                if ci == cat {
                    out.push(g.id.clone());
                } else {
                    out.push(full.clone());
                }
                for k in &g.checks {
                    if ci == cat && gi == group {
                        out.push(k.id.clone());
                    }
                    if ci == cat {
                        out.push(format!("{}.{}", g.id, k.id));
                    }
                    out.push(format!("{full}.{}", k.id));
                }
            }
        }
        out
    }

    /// All check definitions a target stands for.
    pub fn expand(&self, t: &Target) -> Vec<DefId> {
        match *t {
            Target::Check(d) => vec![d],
            Target::Group { cat, group } => (0..self.checks[cat][group].len())
                .map(|check| DefId { cat, group, check })
                .collect(),
        }
    }
}

/// Splits `group.check[pve1]` into the reference and its optional instance selector.
pub(crate) fn split_selector(need: &str) -> (&str, Option<&str>) {
    match need.find('[') {
        Some(i) if need.ends_with(']') => (&need[..i], Some(&need[i + 1..need.len() - 1])),
        _ => (need, None),
    }
}

/// Ids: letters, digits, `-` and `_`, starting with a letter or digit.
pub(crate) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
