//! The one rule for a certification's verdict: each group's roll-up, the summary counts and
//! the whole status are derived from the checks — never read from a stored field. certify
//! and merge write what this computes; preflight and report recompute it from the checks
//! they read and say when a manifest's stored verdict disagrees.

use super::{CheckEntry, GroupResult, Manifest, RunStatus, Summary};
use crate::model::Severity;
use crate::run::Status;

/// A group's roll-up of its required checks: `fail` if one failed, else `blocked` if one is
/// blocked, else `repaired` if one was repaired, else `pass` if one passed or was waived,
/// else `skipped` (nothing required ran). Advisory checks never decide it.
pub fn group_status<'a>(checks: impl IntoIterator<Item = &'a CheckEntry>) -> Status {
    let mut worst = Status::Skipped;
    for c in checks
        .into_iter()
        .filter(|c| c.severity == Severity::Required)
    {
        if rank(c.status) > rank(worst) {
            worst = c.status;
        }
    }
    if worst == Status::Waived {
        Status::Pass
    } else {
        worst
    }
}

/// Order of a required check's weight in a group roll-up. A waived check counts as a pass
/// (it no longer decides), so a repaired one outranks it.
fn rank(s: Status) -> u8 {
    match s {
        Status::Skipped => 0,
        Status::Waived => 1,
        Status::Pass => 2,
        Status::Repaired => 3,
        Status::Blocked => 4,
        Status::Fail => 5,
    }
}

/// The counts of every check, per status; `required*` count only required checks.
pub fn summary<'a>(checks: impl IntoIterator<Item = &'a CheckEntry>) -> Summary {
    let mut s = Summary::default();
    for c in checks {
        let required = c.severity == Severity::Required;
        s.total += 1;
        match c.status {
            Status::Pass => s.pass += 1,
            Status::Fail => {
                s.fail += 1;
                s.required_fail += usize::from(required);
            }
            Status::Repaired => s.repaired += 1,
            Status::Blocked => {
                s.blocked += 1;
                s.required_blocked += usize::from(required);
            }
            Status::Skipped => s.skipped += 1,
            Status::Waived => s.waived += 1,
        }
    }
    s
}

/// The whole status: `fail` if a required check failed, else `blocked` if one is blocked or
/// the run was interrupted, else `pass`.
pub fn status(summary: &Summary, interrupted: bool) -> RunStatus {
    if summary.required_fail > 0 {
        RunStatus::Fail
    } else if summary.required_blocked > 0 || interrupted {
        RunStatus::Blocked
    } else {
        RunStatus::Pass
    }
}

/// Sets every group's roll-up, the summary and the status from the checks.
pub fn apply(m: &mut Manifest) {
    for g in &mut m.groups {
        g.status = group_status(&g.checks);
    }
    m.summary = summary(m.checks());
    m.status = status(&m.summary, m.interrupted);
}

/// What a manifest's stored verdict says that its checks do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    Status {
        stored: RunStatus,
        derived: RunStatus,
    },
    Group {
        catalog: String,
        group: String,
        stored: Status,
        derived: Status,
    },
    Summary {
        field: &'static str,
        stored: usize,
        derived: usize,
    },
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disagreement::Status { stored, derived } => write!(
                f,
                "the stored status `{}` disagrees with its checks, which make it `{}`",
                stored.as_str(),
                derived.as_str()
            ),
            Disagreement::Group {
                catalog,
                group,
                stored,
                derived,
            } => write!(
                f,
                "group `{catalog}.{group}` is stored as `{}` but its checks make it `{}`",
                stored.as_str(),
                derived.as_str()
            ),
            Disagreement::Summary {
                field,
                stored,
                derived,
            } => write!(
                f,
                "summary.{field} is stored as {stored} but the checks count {derived}"
            ),
        }
    }
}

/// Every place where the stored verdict differs from the one derived from the checks.
pub fn disagreements(m: &Manifest) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for g in &m.groups {
        group_disagreement(g, &mut out);
    }
    let derived = summary(m.checks());
    let s = &m.summary;
    for (field, stored, derived) in [
        ("total", s.total, derived.total),
        ("pass", s.pass, derived.pass),
        ("fail", s.fail, derived.fail),
        ("repaired", s.repaired, derived.repaired),
        ("blocked", s.blocked, derived.blocked),
        ("skipped", s.skipped, derived.skipped),
        ("waived", s.waived, derived.waived),
        ("requiredFail", s.required_fail, derived.required_fail),
        (
            "requiredBlocked",
            s.required_blocked,
            derived.required_blocked,
        ),
    ] {
        if stored != derived {
            out.push(Disagreement::Summary {
                field,
                stored,
                derived,
            });
        }
    }
    let st = status(&derived, m.interrupted);
    if st != m.status {
        out.push(Disagreement::Status {
            stored: m.status,
            derived: st,
        });
    }
    out
}

fn group_disagreement(g: &GroupResult, out: &mut Vec<Disagreement>) {
    let derived = group_status(&g.checks);
    if derived != g.status {
        out.push(Disagreement::Group {
            catalog: g.catalog.clone(),
            group: g.id.clone(),
            stored: g.status,
            derived,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: Status, severity: &str) -> CheckEntry {
        serde_json::from_value(serde_json::json!({
            "id": "c", "check": "c", "title": "c", "severity": severity, "status": status,
            "attempts": [], "durationMs": 0, "expectations": [], "captures": {}, "source": "x:1"
        }))
        .unwrap()
    }

    #[test]
    fn a_group_rolls_up_its_required_checks() {
        let g = |v: &[(Status, &str)]| {
            let checks: Vec<CheckEntry> = v.iter().map(|(s, sev)| check(*s, sev)).collect();
            group_status(&checks)
        };
        use Status::*;
        // The case certify and merge once disagreed on.
        assert_eq!(g(&[(Waived, "required"), (Repaired, "required")]), Repaired);
        assert_eq!(g(&[(Waived, "required")]), Pass);
        assert_eq!(g(&[(Pass, "required"), (Fail, "advisory")]), Pass);
        assert_eq!(g(&[(Blocked, "required"), (Fail, "required")]), Fail);
        assert_eq!(g(&[(Pass, "required"), (Blocked, "required")]), Blocked);
        assert_eq!(g(&[(Fail, "advisory")]), Skipped);
        assert_eq!(g(&[]), Skipped);
    }

    #[test]
    fn status_follows_required_counts_and_interruption() {
        let checks = [
            check(Status::Pass, "required"),
            check(Status::Fail, "advisory"),
        ];
        let s = summary(&checks);
        assert_eq!((s.total, s.fail, s.required_fail), (2, 1, 0));
        assert_eq!(status(&s, false), RunStatus::Pass);
        assert_eq!(status(&s, true), RunStatus::Blocked);
        let s = summary(&[
            check(Status::Blocked, "required"),
            check(Status::Fail, "required"),
        ]);
        assert_eq!(status(&s, false), RunStatus::Fail);
    }
}
