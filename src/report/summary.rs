//! The end-of-run summary: the verdict, counts, and each failure with expected vs actual
//! and the catalog line it comes from; blocked checks with why; missing requirements.

use std::fmt::Write;

use crate::manifest::{CheckEntry, Expectation, Manifest, RepairEntry, RepairStatus, StepEntry};
use crate::run::{Reason, Status};

/// Dependency-blocked checks listed by name before the rest are counted.
const LIST_DEPENDENTS: usize = 5;

pub fn text(m: &Manifest, out_path: &str) -> String {
    let mut s = String::new();
    let c = &m.summary;
    let _ = writeln!(
        s,
        "\nlabcert: {} — {} check{}: {} pass, {} fail, {} blocked, {} skipped{}{}",
        m.status.as_str().to_uppercase(),
        c.total,
        if c.total == 1 { "" } else { "s" },
        c.pass,
        c.fail,
        c.blocked,
        c.skipped,
        if c.repaired > 0 {
            format!(", {} repaired", c.repaired)
        } else {
            String::new()
        },
        if c.waived > 0 {
            format!(", {} waived", c.waived)
        } else {
            String::new()
        },
    );
    let failed: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Fail).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\nFailed:");
        for k in failed {
            let _ = writeln!(s, "  ✗ {}  ({}){}", k.id, k.source, advisory(k));
            for e in k.expectations.iter().filter(|e| !e.passed) {
                let _ = writeln!(s, "      {}", expectation(e));
            }
            if k.expectations.is_empty()
                && let Some(why) = k
                    .message
                    .as_deref()
                    .or(k.reason.as_ref().map(Reason::as_str))
            {
                let _ = writeln!(s, "      {why}");
            }
        }
    }
    let blocked: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Blocked).collect();
    let (by_dep, own): (Vec<&CheckEntry>, Vec<&CheckEntry>) = blocked
        .iter()
        .partition(|k| k.reason.as_ref().map(Reason::as_str) == Some("dependency"));
    if !own.is_empty() || !by_dep.is_empty() {
        let _ = writeln!(s, "\nBlocked:");
        for k in own {
            let reason = k.reason.as_ref().map(Reason::as_str).unwrap_or("blocked");
            let msg = k
                .message
                .as_deref()
                .map(|m| format!(" — {}", one_line(m)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  ! {}  ({}) [{reason}]{msg}{}",
                k.id,
                k.source,
                advisory(k)
            );
        }
        for k in by_dep.iter().take(LIST_DEPENDENTS) {
            let msg = k.message.as_deref().unwrap_or("a dependency did not pass");
            let _ = writeln!(s, "  ! {}  ({msg})", k.id);
        }
        if by_dep.len() > LIST_DEPENDENTS {
            let _ = writeln!(
                s,
                "  … and {} more blocked by a dependency that did not pass",
                by_dep.len() - LIST_DEPENDENTS
            );
        }
    }
    repairs(&mut s, m);
    waivers(&mut s, m);
    if !m.missing_requirements.is_empty() {
        let _ = writeln!(s, "\nMissing requirements (fix them all, then run again):");
        for r in &m.missing_requirements {
            let _ = writeln!(s, "  - {r}");
        }
    }
    let _ = writeln!(
        s,
        "\nmanifest {} → {out_path} (expires {})",
        m.id, m.expires_at
    );
    s
}

fn advisory(k: &CheckEntry) -> &'static str {
    if k.severity == crate::model::Severity::Advisory {
        "  [advisory]"
    } else {
        ""
    }
}

/// `query matcher: expected …, got …` with the catalog's message when it has one.
pub fn expectation(e: &Expectation) -> String {
    crate::judge::describe(
        e.query.as_deref(),
        &e.matcher,
        &e.expected,
        &e.actual,
        e.message.as_deref(),
    )
}

/// The repair ledger in short: what was repaired, what failed or was refused, and (in a
/// dry run) what `--repair` would do.
fn repairs(s: &mut String, m: &Manifest) {
    let (would, done): (Vec<&RepairEntry>, Vec<&RepairEntry>) = m
        .repairs
        .iter()
        .partition(|r| r.status == RepairStatus::WouldRepair);
    if !done.is_empty() {
        let _ = writeln!(s, "\nRepairs:");
        for r in done {
            let steps = r.steps.len();
            let line = match r.status {
                RepairStatus::Repaired => format!(
                    "verified by the check's own probe after {steps} step{}",
                    if steps == 1 { "" } else { "s" }
                ),
                RepairStatus::Refused => r.message.clone().unwrap_or_else(|| "refused".into()),
                other => match r.steps.iter().find_map(|st| match st {
                    StepEntry::Ran(st) if !st.passed => Some(st),
                    _ => None,
                }) {
                    Some(st) => format!(
                        "step {} ({}) failed: {}",
                        st.step,
                        st.title.as_deref().unwrap_or("untitled"),
                        st.message.as_deref().unwrap_or("")
                    ),
                    None => format!(
                        "{}: still fails after the repair: {}",
                        other.as_str(),
                        r.verification
                            .as_ref()
                            .and_then(|v| v.message.as_deref())
                            .or(r.message.as_deref())
                            .unwrap_or("")
                    ),
                },
            };
            let _ = writeln!(s, "  {} {}  {line}", mark(r.status), r.check);
        }
    }
    if !would.is_empty() {
        let _ = writeln!(s, "\nWould repair (run again with --repair to apply):");
        for r in would {
            let _ = writeln!(s, "  ~ {}", r.check);
            for (i, st) in r.steps.iter().enumerate() {
                let what = match st {
                    StepEntry::Planned(p) => p.title.clone().unwrap_or_else(|| match &p.probe {
                        _ if p.pve_task.is_some() => "wait for the Proxmox VE task".into(),
                        Some(probe) => probe.kind().as_str().to_string(),
                        None => "step".into(),
                    }),
                    StepEntry::Ran(r) => r.title.clone().unwrap_or_else(|| "step".into()),
                };
                let _ = writeln!(s, "      {}. {what}", i + 1);
            }
        }
    }
}

fn mark(status: RepairStatus) -> &'static str {
    match status {
        RepairStatus::Repaired => "✓",
        RepairStatus::Refused => "⊘",
        _ => "✗",
    }
}

/// Waivers, prominently: what each waived, and the expired ones that waived nothing.
fn waivers(s: &mut String, m: &Manifest) {
    if m.waivers.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nWaivers:");
    for w in &m.waivers {
        let (waived, refused) = (&w.waived, &w.not_waived_expired);
        let head = format!(
            "{} — {} (approved by {}, expires {})",
            w.checks.join(", "),
            w.reason,
            w.approver,
            w.expires
        );
        if w.expired {
            let _ = writeln!(s, "  ! EXPIRED, waives nothing: {head}");
            for id in refused {
                let _ = writeln!(s, "      not waived: {id}");
            }
        } else {
            let _ = writeln!(s, "  ~ {head}");
            for id in waived {
                let _ = writeln!(s, "      waived: {id}");
            }
        }
    }
}

/// A message cut to one readable line for the summary (the manifest keeps it whole).
fn one_line(m: &str) -> String {
    let m = m.lines().next().unwrap_or("");
    if m.chars().count() > 160 {
        let cut: String = m.chars().take(157).collect();
        format!("{cut}…")
    } else {
        m.to_string()
    }
}
