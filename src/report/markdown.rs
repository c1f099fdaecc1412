//! `--markdown`: a summary fit for a release pull request — the verdict and expiry, a
//! table per group, and what failed or was blocked, with expected vs actual.

use std::fmt::Write;

use super::summary::expectation;
use crate::manifest::Manifest;
use crate::run::Status;

pub fn render(m: &Manifest) -> String {
    let mut s = String::new();
    let icon = match m.status.as_str() {
        "pass" => "✅",
        "fail" => "❌",
        _ => "⛔",
    };
    let _ = writeln!(
        s,
        "## {icon} Lab certification: **{}**\n",
        m.status.as_str().to_uppercase()
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Environment | `{}` |", m.environment);
    let _ = writeln!(s, "| Topology | `{}` |", m.topology);
    let providers = if m.providers.is_empty() {
        "— (reachability only)".to_string()
    } else {
        m.providers.join(", ")
    };
    let _ = writeln!(s, "| Providers | {providers} |");
    let _ = writeln!(s, "| Manifest | `{}` |", m.id);
    let _ = writeln!(s, "| Finished | {} |", m.finished_at);
    let _ = writeln!(s, "| Expires | {} |", m.expires_at);
    let c = &m.summary;
    let _ = writeln!(
        s,
        "| Checks | {} total: {} pass, {} fail, {} blocked, {} skipped |",
        c.total, c.pass, c.fail, c.blocked, c.skipped
    );
    let _ = writeln!(s, "\n### Groups\n");
    let _ = writeln!(s, "| Group | Status | Pass | Fail | Blocked | Skipped |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    for g in m.groups.iter().filter(|g| !g.checks.is_empty()) {
        let n = |st: Status| g.checks.iter().filter(|k| k.status == st).count();
        let _ = writeln!(
            s,
            "| `{}.{}` | {} | {} | {} | {} | {} |",
            g.catalog,
            g.id,
            g.status.as_str(),
            n(Status::Pass) + n(Status::Repaired) + n(Status::Waived),
            n(Status::Fail),
            n(Status::Blocked),
            n(Status::Skipped)
        );
    }
    let failed: Vec<_> = m.checks().filter(|k| k.status == Status::Fail).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\n### Failed\n");
        for k in failed {
            let _ = writeln!(
                s,
                "- **`{}`** — {} (`{}`)",
                k.id,
                escape(&k.title),
                k.source
            );
            for e in k.expectations.iter().filter(|e| !e.passed) {
                let _ = writeln!(s, "  - {}", escape(&expectation(e)));
            }
        }
    }
    let blocked: Vec<_> = m
        .checks()
        .filter(|k| k.status == Status::Blocked && k.reason.as_deref() != Some("dependency"))
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(s, "\n### Blocked\n");
        for k in blocked {
            let why = k
                .message
                .as_deref()
                .or(k.reason.as_deref())
                .unwrap_or("blocked");
            let _ = writeln!(s, "- **`{}`** — {}", k.id, escape(why));
        }
        let deps = m
            .checks()
            .filter(|k| k.reason.as_deref() == Some("dependency"))
            .count();
        if deps > 0 {
            let _ = writeln!(s, "- {deps} more blocked by a dependency that did not pass");
        }
    }
    if !m.missing_requirements.is_empty() {
        let _ = writeln!(s, "\n### Missing requirements\n");
        for r in &m.missing_requirements {
            let _ = writeln!(s, "- {}", escape(r));
        }
    }
    s
}

/// Keeps table pipes and HTML-ish text from breaking the Markdown.
fn escape(t: &str) -> String {
    t.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}
