//! `labcert report M`: the whole manifest for a person at a terminal — a banner with the
//! verdict and how long it still holds, where it comes from (environment, topology,
//! providers, id, tool, catalog digests), a table per group, each failure with expected vs
//! actual and its catalog `file:line`, blocked checks with why, the repair ledger to review,
//! waivers, and the reachability matrix.
//!
//! The helpers here (validity, relative times, repair steps) are shared by the Markdown and
//! HTML reports and by `labcert diff`.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};

use super::matrix::{self, Matrix};
use super::summary::expectation;
use super::view;
use crate::manifest::{CheckEntry, GroupResult, Manifest, RepairStatus};
use crate::run::{Reason, Status};

/// Whether a manifest still holds, and the words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// `expiresAt` is not later than now (or cannot be read).
    pub expired: bool,
    /// `PASS`, `FAIL`, `BLOCKED`, or `EXPIRED` for a `pass` past its `expiresAt`.
    pub headline: &'static str,
    /// `expires in 5 h` or `EXPIRED 2 h ago`.
    pub relative: String,
}

/// The manifest's verdict as of `now`: a `pass` past its expiry reads `EXPIRED`.
pub fn validity(m: &Manifest, now: Timestamp) -> Validity {
    let (expired, relative) = match until(&m.expires_at, now) {
        Some(left) if left > SignedDuration::ZERO => (false, format!("expires in {}", human(left))),
        Some(left) => (true, format!("EXPIRED {} ago", human(left))),
        None => (
            true,
            format!("EXPIRED (unreadable expiresAt `{}`)", m.expires_at),
        ),
    };
    let headline = match m.status.as_str() {
        "pass" if expired => "EXPIRED",
        "pass" => "PASS",
        "fail" => "FAIL",
        _ => "BLOCKED",
    };
    Validity {
        expired,
        headline,
        relative,
    }
}

/// Time from `now` until the RFC 3339 instant `at` (negative once it is past).
pub fn until(at: &str, now: Timestamp) -> Option<SignedDuration> {
    let t: Timestamp = at.parse().ok()?;
    Some(t.duration_since(now))
}

/// `in 5 h` / `3 d ago` for any timestamp (a waiver's expiry, say); the text itself when it
/// is not a timestamp.
pub fn relative(at: &str, now: Timestamp) -> String {
    match until(at, now) {
        Some(d) if d > SignedDuration::ZERO => format!("in {}", human(d)),
        Some(d) => format!("{} ago", human(d)),
        None => at.to_string(),
    }
}

/// "12 s", "3 min", "5 h" (up to two days), "4 d".
pub fn human(d: SignedDuration) -> String {
    let s = d.as_secs().unsigned_abs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

/// Counts of a group's checks by status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub repaired: usize,
    pub blocked: usize,
    pub skipped: usize,
    pub waived: usize,
}

pub fn counts(g: &GroupResult) -> Counts {
    let mut c = Counts::default();
    for k in &g.checks {
        match k.status {
            Status::Pass => c.pass += 1,
            Status::Fail => c.fail += 1,
            Status::Repaired => c.repaired += 1,
            Status::Blocked => c.blocked += 1,
            Status::Skipped => c.skipped += 1,
            Status::Waived => c.waived += 1,
        }
    }
    c
}

/// Why a check did not pass, when no expectation says it: its message, else its reason.
pub fn why(k: &CheckEntry) -> Option<&str> {
    k.message
        .as_deref()
        .or(k.reason.as_ref().map(Reason::as_str))
}

/// The first bytes of stderr the manifest kept as evidence for a check that did not pass.
pub fn stderr(k: &CheckEntry) -> Option<&str> {
    k.evidence
        .as_ref()
        .and_then(|e| e["stderr"].as_str())
        .map(str::trim_end)
        .filter(|s| !s.is_empty())
}

/// The full text report, as of `now`.
pub fn render(m: &Manifest, now: Timestamp) -> String {
    let mut s = String::new();
    let v = validity(m, now);
    let rule = "═".repeat(72);
    let _ = writeln!(s, "{rule}");
    let verdict = if v.headline == "EXPIRED" {
        format!(
            "{} ({}) — certified pass, no longer valid",
            v.relative, m.expires_at
        )
    } else {
        format!("{} — {} ({})", v.headline, v.relative, m.expires_at)
    };
    let _ = writeln!(s, " labcert certification: {verdict}");
    if m.interrupted {
        let _ = writeln!(
            s,
            " INTERRUPTED: the run was cut short; the result is incomplete"
        );
    }
    if let Some(r) = &m.replayed_from {
        let _ = writeln!(s, " REPLAYED from {r}: certifies the recording, not a lab");
    }
    let _ = writeln!(s, "{rule}");
    let providers = if m.providers.is_empty() {
        "— (reachability only)".to_string()
    } else {
        m.providers.join(", ")
    };
    let rows: Vec<(&str, String)> = [
        ("Environment", m.environment.clone()),
        ("Topology", m.topology.clone()),
        ("Providers", providers),
        ("Manifest", m.id.clone()),
        ("Mode", format!("{:?}", m.mode).to_lowercase()),
        ("Tool", format!("{} {}", m.tool.name, m.tool.version)),
        ("Started", m.started_at.clone()),
        ("Finished", m.finished_at.clone()),
        ("Expires", format!("{} ({})", m.expires_at, v.relative)),
    ]
    .into_iter()
    .chain(m.scope.clone().map(|x| ("Scope", x)))
    .chain((!m.merged_from.is_empty()).then(|| ("Merged from", m.merged_from.join(", "))))
    .collect();
    for (k, val) in rows {
        let _ = writeln!(s, "{k:<12} {val}");
    }
    let c = &m.summary;
    let _ = writeln!(
        s,
        "{:<12} {} total: {} pass, {} fail, {} repaired, {} blocked, {} skipped, {} waived",
        "Checks", c.total, c.pass, c.fail, c.repaired, c.blocked, c.skipped, c.waived
    );

    let _ = writeln!(s, "\nCatalogs:");
    for cat in &m.catalogs {
        let git = cat
            .git
            .as_ref()
            .map(|g| {
                format!(
                    "  git {}{}",
                    g.revision.chars().take(12).collect::<String>(),
                    if g.dirty { " (dirty)" } else { "" }
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {}  [{}{}]  {}\n      sha256 {}{git}",
            cat.id,
            cat.provider,
            if cat.selected { "" } else { ", not selected" },
            cat.file,
            cat.sha256
        );
    }

    groups(&mut s, m);
    failures(&mut s, m);
    blocked(&mut s, m);
    ledger(&mut s, m);
    waivers(&mut s, m, now);
    for mx in matrix::matrices(m) {
        reachability(&mut s, &mx);
    }
    if !m.missing_requirements.is_empty() {
        let _ = writeln!(s, "\nMissing requirements:");
        for r in &m.missing_requirements {
            let _ = writeln!(s, "  - {r}");
        }
    }
    s
}

fn groups(s: &mut String, m: &Manifest) {
    let shown: Vec<&GroupResult> = m.groups.iter().filter(|g| !g.checks.is_empty()).collect();
    if shown.is_empty() {
        return;
    }
    let names: Vec<String> = shown
        .iter()
        .map(|g| format!("{}.{}", g.catalog, g.id))
        .collect();
    let w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(s, "\nGroups:");
    let _ = writeln!(
        s,
        "  {:<w$}  {:<8} {:>5} {:>5} {:>8} {:>7} {:>7} {:>6}",
        "GROUP", "STATUS", "PASS", "FAIL", "REPAIRED", "BLOCKED", "SKIPPED", "WAIVED"
    );
    for (g, name) in shown.iter().zip(&names) {
        let c = counts(g);
        let _ = writeln!(
            s,
            "  {name:<w$}  {:<8} {:>5} {:>5} {:>8} {:>7} {:>7} {:>6}",
            g.status.as_str(),
            c.pass,
            c.fail,
            c.repaired,
            c.blocked,
            c.skipped,
            c.waived
        );
    }
}

fn failures(s: &mut String, m: &Manifest) {
    let failed: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Fail).collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nFailed ({}):", failed.len());
    for k in failed {
        let adv = if k.severity == crate::model::Severity::Advisory {
            "  [advisory]"
        } else {
            ""
        };
        let _ = writeln!(s, "  ✗ {} — {}{adv}", k.id, k.title);
        let _ = writeln!(s, "      at {}", k.source);
        let bad: Vec<_> = k.expectations.iter().filter(|e| !e.passed).collect();
        for e in &bad {
            let _ = writeln!(s, "      {}", expectation(e));
        }
        if bad.is_empty()
            && let Some(w) = why(k)
        {
            let _ = writeln!(s, "      {w}");
        }
        if let Some(err) = stderr(k) {
            let _ = writeln!(s, "      stderr: {}", err.replace('\n', "\n              "));
        }
    }
}

fn blocked(s: &mut String, m: &Manifest) {
    let blocked: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Blocked).collect();
    if blocked.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nBlocked ({}):", blocked.len());
    for k in blocked {
        let reason = k.reason.as_ref().map(Reason::as_str).unwrap_or("blocked");
        let msg = k
            .message
            .as_deref()
            .map(|m| format!(" — {m}"))
            .unwrap_or_default();
        let _ = writeln!(s, "  ! {}  [{reason}]{msg}", k.id);
        let _ = writeln!(s, "      at {}", k.source);
    }
}

fn ledger(s: &mut String, m: &Manifest) {
    if m.repairs.is_empty() {
        return;
    }
    let mut tally: Vec<(String, usize)> = Vec::new();
    for r in &m.repairs {
        let st = r.status.as_str().to_string();
        match tally.iter_mut().find(|(k, _)| *k == st) {
            Some(e) => e.1 += 1,
            None => tally.push((st, 1)),
        }
    }
    let tally: Vec<String> = tally.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        s,
        "\nRepair ledger ({}: {}) — review before qualification:",
        m.repairs.len(),
        tally.join(", ")
    );
    for r in &m.repairs {
        let mark = match r.status {
            RepairStatus::Repaired => "✓",
            RepairStatus::Refused => "⊘",
            RepairStatus::WouldRepair => "~",
            RepairStatus::Failed | RepairStatus::Error => "✗",
        };
        let _ = writeln!(
            s,
            "  {mark} {}  {}",
            r.check,
            r.status.as_str().replace('_', " ")
        );
        let _ = writeln!(s, "      at {}", r.source);
        if let Some(b) = &r.before.message {
            let _ = writeln!(s, "      before: {} — {b}", r.before.status.as_str());
        }
        if let Some(g) = &r.guard {
            let _ = writeln!(s, "      guard: refuse_if {} — {}", g.refuse_if, g.reason);
        }
        for st in view::steps(r) {
            let outcome = match st.passed {
                None => String::new(),
                Some(true) => format!("  → ok{}", paren(&st.result)),
                Some(false) => format!("  → FAILED{}", paren(&st.result)),
            };
            let _ = writeln!(s, "      {}. {}{outcome}", st.number, st.title);
            let _ = writeln!(s, "         {}", st.request);
        }
        if let Some(v) = &r.verification {
            let msg = v
                .message
                .as_deref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "      verification (the check's own probe): {}{msg}",
                v.status.as_str()
            );
        }
        for rr in &r.reruns {
            let msg = rr
                .message
                .as_deref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default();
            let _ = writeln!(s, "      rerun {}: {}{msg}", rr.check, rr.status.as_str());
        }
        if r.status != RepairStatus::Refused
            && let Some(msg) = &r.message
        {
            let _ = writeln!(s, "      {msg}");
        }
    }
}

fn paren(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!(" ({t})")
    }
}

fn waivers(s: &mut String, m: &Manifest, now: Timestamp) {
    if m.waivers.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nWaivers ({}):", m.waivers.len());
    for w in &m.waivers {
        let mark = if w.expired {
            "! EXPIRED, waived nothing:"
        } else {
            "≈"
        };
        let _ = writeln!(s, "  {mark} {}", w.checks.join(", "));
        let _ = writeln!(s, "      reason:   {}", w.reason);
        let _ = writeln!(s, "      approver: {}", w.approver);
        let _ = writeln!(
            s,
            "      expires:  {} ({})",
            w.expires,
            relative(&w.expires, now)
        );
        if !w.waived.is_empty() {
            let _ = writeln!(s, "      waived:   {}", w.waived.join(", "));
        }
        if !w.not_waived_expired.is_empty() {
            let _ = writeln!(
                s,
                "      not waived (the waiver had expired): {}",
                w.not_waived_expired.join(", ")
            );
        }
    }
}

fn reachability(s: &mut String, mx: &Matrix<'_>) {
    let _ = writeln!(s, "\nReachability {} — {} (from × to):", mx.key(), mx.title);
    let _ = writeln!(s, "  {}", matrix::LEGEND);
    let head = "from \\ to";
    let w0 = mx
        .from
        .iter()
        .map(|n| n.chars().count())
        .chain([head.chars().count()])
        .max()
        .unwrap_or(4);
    let widths: Vec<usize> = mx.to.iter().map(|n| n.chars().count().max(1)).collect();
    let mut line = format!("  {head:<w0$}");
    for (t, w) in mx.to.iter().zip(&widths) {
        let _ = write!(line, "  {t:^w$}");
    }
    let _ = writeln!(s, "{}", line.trim_end());
    for f in &mx.from {
        let mut line = format!("  {f:<w0$}");
        for (t, w) in mx.to.iter().zip(&widths) {
            let mark = match mx.cell(f, t) {
                Some(c) => matrix::mark(c.status),
                None if f == t => "—",
                None => " ",
            };
            let _ = write!(line, "  {mark:^w$}");
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    for c in mx.cells().filter(|c| {
        !matches!(
            c.status,
            Status::Pass | Status::Skipped | Status::Repaired | Status::Waived
        )
    }) {
        for k in c
            .checks
            .iter()
            .filter(|k| matches!(k.status, Status::Fail | Status::Blocked))
        {
            let _ = writeln!(
                s,
                "  {} {} → {}  {}: {}{}",
                matrix::mark(k.status),
                c.from,
                c.to,
                k.id,
                k.status.as_str(),
                why(k).map(|w| format!(" — {w}")).unwrap_or_default()
            );
        }
    }
}
