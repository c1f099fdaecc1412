//! `--markdown` and `report --format markdown`: a summary fit for a release pull request —
//! the verdict and expiry, a table per group, what failed or was blocked (expected vs
//! actual), the repair ledger, waivers and the reachability matrix.

use std::fmt::Write;

use jiff::Timestamp;

use super::matrix;
use super::summary::expectation;
use super::text::{self, validity};
use crate::manifest::Manifest;
use crate::run::{Reason, Status};

/// The summary as of now.
pub fn render(m: &Manifest) -> String {
    render_at(m, Timestamp::now())
}

/// The summary as of `now`: a `pass` past its `expiresAt` reads EXPIRED.
pub fn render_at(m: &Manifest, now: Timestamp) -> String {
    let mut s = String::new();
    let v = validity(m, now);
    let icon = match v.headline {
        "PASS" => "✅",
        "FAIL" => "❌",
        "EXPIRED" => "⌛",
        _ => "⛔",
    };
    if v.headline == "EXPIRED" {
        let _ = writeln!(
            s,
            "## {icon} Lab certification: **EXPIRED** (certified pass, {})\n",
            v.relative.to_lowercase()
        );
    } else {
        let _ = writeln!(
            s,
            "## {icon} Lab certification: **{}**\n",
            m.status.as_str().to_uppercase()
        );
    }
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
    let _ = writeln!(s, "| Expires | {} ({}) |", m.expires_at, v.relative);
    let _ = writeln!(
        s,
        "| Tool | {} {} |",
        escape(&m.tool.name),
        escape(&m.tool.version)
    );
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
        .filter(|k| {
            k.status == Status::Blocked
                && k.reason.as_ref().map(Reason::as_str) != Some("dependency")
        })
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(s, "\n### Blocked\n");
        for k in blocked {
            let why = k
                .message
                .as_deref()
                .or(k.reason.as_ref().map(Reason::as_str))
                .unwrap_or("blocked");
            let _ = writeln!(s, "- **`{}`** — {}", k.id, escape(why));
        }
        let deps = m
            .checks()
            .filter(|k| k.reason.as_ref().map(Reason::as_str) == Some("dependency"))
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
    repairs(&mut s, m);
    waivers(&mut s, m, now);
    reachability(&mut s, m);
    catalogs(&mut s, m);
    s
}

/// The repair ledger: each entry's status, steps and verification.
fn repairs(s: &mut String, m: &Manifest) {
    if m.repairs.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n### Repair ledger\n");
    for r in &m.repairs {
        let _ = writeln!(
            s,
            "- **`{}`** — {}",
            r.check,
            r.status.as_str().replace('_', " ")
        );
        if let Some(msg) = &r.message {
            let _ = writeln!(s, "  - {}", escape(msg));
        }
        for st in super::view::steps(r) {
            let outcome = match st.passed {
                None => String::new(),
                Some(true) => " → ok".into(),
                Some(false) => " → **failed**".into(),
            };
            let result = if st.result.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&st.result))
            };
            let _ = writeln!(
                s,
                "  {}. {}: `{}`{outcome}{result}",
                st.number,
                escape(&st.title),
                st.request.replace('`', "'")
            );
        }
        if let Some(v) = &r.verification {
            let _ = writeln!(
                s,
                "  - verification (the check's own probe): {}",
                v.status.as_str()
            );
        }
    }
}

fn waivers(s: &mut String, m: &Manifest, now: Timestamp) {
    if m.waivers.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n### Waivers\n");
    let _ = writeln!(
        s,
        "| Checks | Reason | Approver | Expires | Waived |\n|---|---|---|---|---|"
    );
    for w in &m.waivers {
        let exp = &w.expires;
        let used = if w.expired {
            "**expired**: waived nothing".to_string()
        } else {
            w.waived.join(", ")
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} ({}) | {} |",
            escape(&w.checks.join(", ")),
            escape(&w.reason),
            escape(&w.approver),
            escape(exp),
            text::relative(exp, now),
            escape(&used)
        );
    }
}

/// One from × to table per reachability group with pair checks.
fn reachability(s: &mut String, m: &Manifest) {
    let all = matrix::matrices(m);
    if all.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n### Reachability\n\n{}", matrix::LEGEND);
    for mx in all {
        let _ = writeln!(
            s,
            "\n**`{}`** — {} (rows: from, columns: to)\n",
            mx.key(),
            escape(&mx.title)
        );
        let _ = write!(s, "| from \\ to |");
        for t in &mx.to {
            let _ = write!(s, " {} |", escape(t));
        }
        let _ = write!(s, "\n|---|");
        for _ in &mx.to {
            let _ = write!(s, ":---:|");
        }
        let _ = writeln!(s);
        for f in &mx.from {
            let _ = write!(s, "| **{}** |", escape(f));
            for t in &mx.to {
                let mark = match mx.cell(f, t) {
                    Some(c) => matrix::mark(c.status),
                    None if f == t => "—",
                    None => " ",
                };
                let _ = write!(s, " {mark} |");
            }
            let _ = writeln!(s);
        }
    }
}

fn catalogs(s: &mut String, m: &Manifest) {
    if m.catalogs.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n<details><summary>Catalogs</summary>\n");
    let _ = writeln!(s, "| Catalog | File | sha256 | git |\n|---|---|---|---|");
    for c in &m.catalogs {
        let git = c
            .git
            .as_ref()
            .map(|g| {
                format!(
                    "`{}`{}",
                    g.revision.chars().take(12).collect::<String>(),
                    if g.dirty { " (dirty)" } else { "" }
                )
            })
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(s, "| `{}` | `{}` | `{}` | {git} |", c.id, c.file, c.sha256);
    }
    let _ = writeln!(s, "\n</details>");
}

/// Keeps table pipes and HTML-ish text from breaking the Markdown.
fn escape(t: &str) -> String {
    t.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}
