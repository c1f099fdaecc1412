//! `labcert diff OLD NEW`: what changed between two certifications — checks newly failing,
//! passing, blocked or repaired (old → new status), checks added and removed, catalog
//! digests per catalog id, the repair ledger, and each side's status and expiry.
//! Informational: exit 0 whenever both manifests read, 2 when either cannot.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::text::validity;
use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::{CatalogRef, Manifest, RepairEntry, RepairStatus};
use crate::run::Status;

/// What `labcert diff` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiffFormat {
    #[default]
    Text,
    Json,
}

/// One side of the comparison.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    pub path: String,
    pub id: String,
    pub status: String,
    /// `PASS`, `FAIL`, `BLOCKED`, or `EXPIRED` for a pass past its expiry.
    pub verdict: String,
    pub expired: bool,
    pub expires_at: String,
    /// `expires in 5 h` / `EXPIRED 2 h ago`, as of the diff.
    pub expiry: String,
    pub finished_at: String,
    pub environment: String,
    pub topology: String,
    pub providers: Vec<String>,
    pub mode: String,
    pub tool: String,
    pub summary: crate::manifest::Summary,
}

/// A check in both manifests whose status changed.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub id: String,
    pub old: Status,
    pub new: Status,
    /// `file:line` in the new manifest.
    pub source: String,
    /// Why, in the new manifest (message or reason), when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A check in only one manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Present {
    pub id: String,
    pub status: Status,
}

/// A field of the run that differs (environment, topology, providers, tool, mode).
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A catalog whose digest changed, or that is in only one manifest.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogChange {
    pub id: String,
    /// `changed`, `added` or `removed`.
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<CatalogSide>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<CatalogSide>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogSide {
    pub file: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
}

/// A repair ledger entry that differs: its status on each side (`None`: no entry).
#[derive(Debug, Clone, Serialize)]
pub struct RepairChange {
    pub check: String,
    pub old: Option<RepairStatus>,
    pub new: Option<RepairStatus>,
    /// The new entry's message, else the old one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Everything that changed from `old` to `new`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub old: Side,
    pub new: Side,
    pub fields: Vec<FieldChange>,
    pub newly_failing: Vec<StatusChange>,
    pub newly_passing: Vec<StatusChange>,
    pub newly_blocked: Vec<StatusChange>,
    pub newly_repaired: Vec<StatusChange>,
    /// Other status changes: to `skipped` or `waived`.
    pub other_changes: Vec<StatusChange>,
    pub added: Vec<Present>,
    pub removed: Vec<Present>,
    pub catalogs: Vec<CatalogChange>,
    pub repairs: Vec<RepairChange>,
}

impl Diff {
    /// Nothing but the run itself (id, times) differs.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.newly_failing.is_empty()
            && self.newly_passing.is_empty()
            && self.newly_blocked.is_empty()
            && self.newly_repaired.is_empty()
            && self.other_changes.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.catalogs.is_empty()
            && self.repairs.is_empty()
            && self.old.status == self.new.status
    }
}

fn side(m: &Manifest, path: &Path, now: Timestamp) -> Side {
    let v = validity(m, now);
    Side {
        path: path.display().to_string(),
        id: m.id.clone(),
        status: m.status.as_str().into(),
        verdict: v.headline.into(),
        expired: v.expired,
        expires_at: m.expires_at.clone(),
        expiry: v.relative,
        finished_at: m.finished_at.clone(),
        environment: m.environment.clone(),
        topology: m.topology.clone(),
        providers: m.providers.clone(),
        mode: format!("{:?}", m.mode).to_lowercase(),
        tool: format!("{} {}", m.tool.name, m.tool.version),
        summary: m.summary.clone(),
    }
}

fn catalog_side(c: &CatalogRef) -> CatalogSide {
    CatalogSide {
        file: c.file.clone(),
        sha256: c.sha256.clone(),
        git: c
            .git
            .as_ref()
            .map(|g| format!("{}{}", g.revision, if g.dirty { " (dirty)" } else { "" })),
    }
}

/// Compares two manifests, as of `now` (for their expiry).
pub fn diff(
    old: &Manifest,
    old_path: &Path,
    new: &Manifest,
    new_path: &Path,
    now: Timestamp,
) -> Diff {
    let (o, n) = (side(old, old_path, now), side(new, new_path, now));
    let mut fields = Vec::new();
    for (field, a, b) in [
        ("environment", &o.environment, &n.environment),
        ("topology", &o.topology, &n.topology),
        ("providers", &o.providers.join(","), &n.providers.join(",")),
        ("mode", &o.mode, &n.mode),
        ("tool", &o.tool, &n.tool),
    ] {
        if a != b {
            fields.push(FieldChange {
                field: field.into(),
                old: a.clone(),
                new: b.clone(),
            });
        }
    }

    let before: HashMap<&str, Status> = old.checks().map(|k| (k.id.as_str(), k.status)).collect();
    let after: HashMap<&str, Status> = new.checks().map(|k| (k.id.as_str(), k.status)).collect();
    let mut d = Diff {
        old: o,
        new: n,
        fields,
        newly_failing: Vec::new(),
        newly_passing: Vec::new(),
        newly_blocked: Vec::new(),
        newly_repaired: Vec::new(),
        other_changes: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        catalogs: Vec::new(),
        repairs: Vec::new(),
    };
    for k in new.checks() {
        let Some(&was) = before.get(k.id.as_str()) else {
            d.added.push(Present {
                id: k.id.clone(),
                status: k.status,
            });
            continue;
        };
        if was == k.status {
            continue;
        }
        let change = StatusChange {
            id: k.id.clone(),
            old: was,
            new: k.status,
            source: k.source.clone(),
            why: (k.status != Status::Pass)
                .then(|| super::text::why(k).map(str::to_string))
                .flatten(),
        };
        match k.status {
            Status::Fail => d.newly_failing.push(change),
            Status::Pass => d.newly_passing.push(change),
            Status::Blocked => d.newly_blocked.push(change),
            Status::Repaired => d.newly_repaired.push(change),
            Status::Skipped | Status::Waived => d.other_changes.push(change),
        }
    }
    for k in old.checks().filter(|k| !after.contains_key(k.id.as_str())) {
        d.removed.push(Present {
            id: k.id.clone(),
            status: k.status,
        });
    }

    for c in &new.catalogs {
        match old.catalogs.iter().find(|x| x.id == c.id) {
            None => d.catalogs.push(CatalogChange {
                id: c.id.clone(),
                change: "added".into(),
                old: None,
                new: Some(catalog_side(c)),
            }),
            Some(was) if was.sha256 != c.sha256 => d.catalogs.push(CatalogChange {
                id: c.id.clone(),
                change: "changed".into(),
                old: Some(catalog_side(was)),
                new: Some(catalog_side(c)),
            }),
            Some(_) => {}
        }
    }
    for c in old
        .catalogs
        .iter()
        .filter(|c| !new.catalogs.iter().any(|x| x.id == c.id))
    {
        d.catalogs.push(CatalogChange {
            id: c.id.clone(),
            change: "removed".into(),
            old: Some(catalog_side(c)),
            new: None,
        });
    }

    let old_repairs: HashMap<&str, &RepairEntry> =
        old.repairs.iter().map(|r| (r.check.as_str(), r)).collect();
    let new_checks: Vec<&str> = new.repairs.iter().map(|r| r.check.as_str()).collect();
    for r in &new.repairs {
        let was = old_repairs.get(r.check.as_str()).map(|x| x.status);
        if was != Some(r.status) {
            d.repairs.push(RepairChange {
                check: r.check.clone(),
                old: was,
                new: Some(r.status),
                message: r.message.clone(),
            });
        }
    }
    for r in old
        .repairs
        .iter()
        .filter(|r| !new_checks.contains(&r.check.as_str()))
    {
        d.repairs.push(RepairChange {
            check: r.check.clone(),
            old: Some(r.status),
            new: None,
            message: r.message.clone(),
        });
    }
    d
}

/// The diff for a person.
pub fn text(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "labcert diff");
    for (label, x) in [("old", &d.old), ("new", &d.new)] {
        let _ = writeln!(
            s,
            "  {label}  {:<8} {}  finished {}, {} ({})\n       {}",
            x.verdict, x.id, x.finished_at, x.expiry, x.expires_at, x.path
        );
    }
    if d.old.verdict != d.new.verdict {
        let _ = writeln!(s, "  status: {} → {}", d.old.verdict, d.new.verdict);
    }
    for f in &d.fields {
        let _ = writeln!(s, "  {}: {} → {}", f.field, f.old, f.new);
    }
    let sections: [(&str, &str, &Vec<StatusChange>); 5] = [
        ("Newly failing", "✗", &d.newly_failing),
        ("Newly blocked", "!", &d.newly_blocked),
        ("Newly repaired", "R", &d.newly_repaired),
        ("Newly passing", "✓", &d.newly_passing),
        ("Other status changes", "~", &d.other_changes),
    ];
    for (title, mark, list) in sections {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title} ({}):", list.len());
        for c in list {
            let why = c
                .why
                .as_deref()
                .map(|w| format!(" — {w}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {mark} {}  {} → {}  ({}){why}",
                c.id,
                c.old.as_str(),
                c.new.as_str(),
                c.source
            );
        }
    }
    if !d.added.is_empty() {
        let _ = writeln!(s, "\nAdded checks ({}):", d.added.len());
        for p in &d.added {
            let _ = writeln!(s, "  + {}  ({})", p.id, p.status.as_str());
        }
    }
    if !d.removed.is_empty() {
        let _ = writeln!(s, "\nRemoved checks ({}):", d.removed.len());
        for p in &d.removed {
            let _ = writeln!(s, "  - {}  (was {})", p.id, p.status.as_str());
        }
    }
    if !d.catalogs.is_empty() {
        let _ = writeln!(s, "\nCatalogs:");
        for c in &d.catalogs {
            match (&c.old, &c.new) {
                (Some(a), Some(b)) => {
                    let _ = writeln!(s, "  ~ {}  digest changed ({})", c.id, b.file);
                    let _ = writeln!(s, "      sha256 {}\n          → {}", a.sha256, b.sha256);
                    if a.git != b.git {
                        let _ = writeln!(
                            s,
                            "      git {} → {}",
                            a.git.as_deref().unwrap_or("—"),
                            b.git.as_deref().unwrap_or("—")
                        );
                    }
                }
                (None, Some(b)) => {
                    let _ = writeln!(s, "  + {}  added ({}, sha256 {})", c.id, b.file, b.sha256);
                }
                (Some(a), None) => {
                    let _ = writeln!(
                        s,
                        "  - {}  removed (was {}, sha256 {})",
                        c.id, a.file, a.sha256
                    );
                }
                (None, None) => {}
            }
        }
    }
    if !d.repairs.is_empty() {
        let _ = writeln!(s, "\nRepair ledger:");
        for r in &d.repairs {
            let name = |x: &Option<RepairStatus>| {
                x.map(|v| v.as_str().replace('_', " "))
                    .unwrap_or_else(|| "no entry".into())
            };
            let mark = match (&r.old, &r.new) {
                (None, _) => "+",
                (_, None) => "-",
                _ => "~",
            };
            let msg = r
                .message
                .as_deref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {mark} {}  {} → {}{msg}",
                r.check,
                name(&r.old),
                name(&r.new)
            );
        }
    }
    if d.is_empty() {
        let _ = writeln!(s, "\nNo check, catalog or repair changed.");
    }
    s
}

/// `labcert diff OLD NEW`.
pub fn run(old_path: &Path, new_path: &Path, format: DiffFormat) -> Outcome {
    // Both are read first, so both problems are reported at once.
    let (old, new) = (
        super::command::load(old_path),
        super::command::load(new_path),
    );
    let (old, new) = match (old, new) {
        (Ok(o), Ok(n)) => (o, n),
        (o, n) => {
            let why: Vec<String> = [o.err(), n.err()].into_iter().flatten().collect();
            return Err(Error::Input(format!(
                "cannot read the manifest: {}",
                why.join("\nerror: cannot read the manifest: ")
            )));
        }
    };
    let d = diff(&old, old_path, &new, new_path, Timestamp::now());
    match format {
        DiffFormat::Text => crate::output::stdout(&text(&d)),
        DiffFormat::Json => crate::output::stdout_json(&d),
    }?;
    Ok(Exit::Ok)
}
