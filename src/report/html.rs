//! `report --format html`: one self-contained page — inline CSS, no script, no external
//! asset — that a release manager opens in a browser or attaches to a ticket: the banner,
//! where the manifest comes from, a table per group, failures with expected vs actual and
//! their catalog line, blocked checks, the repair ledger, waivers and the reachability
//! matrix. Every piece of manifest text is escaped.

use std::fmt::Write;

use jiff::Timestamp;

use super::matrix::{self, Matrix};
use super::text::{self, counts, validity};
use super::view;
use crate::manifest::{CheckEntry, Manifest};
use crate::run::{Reason, Status};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for ch in t.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg:#1b1f24; --muted:#57606a; --bg:#ffffff; --panel:#f6f8fa; --line:#d0d7de;
  --pass:#1a7f37; --pass-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9;
  --blocked:#9a6700; --blocked-bg:#fff8c5; --repaired:#0969da; --repaired-bg:#ddf4ff;
  --skipped:#6e7781; --skipped-bg:#eaeef2; --waived:#8250df; --waived-bg:#fbefff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px 24px 48px; }
h1 { font-size:28px; margin:0; letter-spacing:.02em; }
h2 { font-size:19px; margin:32px 0 10px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:0 0 6px; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace; font-size:13px; }
.banner { border-radius:10px; padding:18px 22px; margin-bottom:20px; border:2px solid; }
.banner p { margin:6px 0 0; font-size:16px; }
.banner .sub { color:var(--muted); font-size:14px; }
.b-pass { background:var(--pass-bg); border-color:var(--pass); color:var(--pass); }
.b-fail { background:var(--fail-bg); border-color:var(--fail); color:var(--fail); }
.b-blocked { background:var(--blocked-bg); border-color:var(--blocked); color:var(--blocked); }
.b-expired { background:var(--fail); border-color:var(--fail); color:#fff; }
.b-expired .sub { color:#ffe3e0; }
.warn { font-weight:600; }
table { border-collapse:collapse; width:100%; margin:6px 0 12px; }
th, td { border:1px solid var(--line); padding:5px 9px; text-align:left; vertical-align:top; }
th { background:var(--panel); font-weight:600; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
td.z { color:#afb8c1; }
.hash { word-break:break-all; }
table.kv th { width:160px; }
.st { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  text-transform:uppercase; letter-spacing:.03em; }
.s-pass { background:var(--pass-bg); color:var(--pass); }
.s-fail, .s-failed, .s-error, .s-expired { background:var(--fail-bg); color:var(--fail); }
.s-blocked, .s-refused { background:var(--blocked-bg); color:var(--blocked); }
.s-repaired { background:var(--repaired-bg); color:var(--repaired); }
.s-would_repair { background:var(--repaired-bg); color:var(--repaired); }
.s-skipped { background:var(--skipped-bg); color:var(--skipped); }
.s-waived { background:var(--waived-bg); color:var(--waived); }
.card { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:6px;
  padding:10px 14px; margin:10px 0; }
.card.c-fail, .card.c-failed, .card.c-error { border-left-color:var(--fail); }
.card.c-repaired { border-left-color:var(--pass); }
.card.c-refused { border-left-color:var(--blocked); }
.card.c-would_repair { border-left-color:var(--repaired); }
.src { color:var(--muted); font-size:13px; margin:2px 0 8px; }
pre { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 10px;
  margin:6px 0; white-space:pre-wrap; word-break:break-word; }
ol.steps { margin:6px 0; padding-left:22px; }
ol.steps li { margin:4px 0; }
.ok { color:var(--pass); font-weight:600; }
.bad { color:var(--fail); font-weight:600; }
.muted { color:var(--muted); }
table.matrix { width:auto; }
table.matrix td { text-align:center; min-width:46px; font-weight:700; }
table.matrix td.m-pass { background:var(--pass-bg); color:var(--pass); }
table.matrix td.m-fail { background:var(--fail-bg); color:var(--fail); }
table.matrix td.m-blocked { background:var(--blocked-bg); color:var(--blocked); }
table.matrix td.m-repaired { background:var(--repaired-bg); color:var(--repaired); }
table.matrix td.m-waived { background:var(--waived-bg); color:var(--waived); }
table.matrix td.m-skipped { background:var(--skipped-bg); color:var(--skipped); }
table.matrix td.m-self { background:var(--panel); color:#afb8c1; }
.legend { color:var(--muted); font-size:13px; }
footer { margin-top:40px; color:var(--muted); font-size:12px; }
@media print { .banner { break-inside:avoid; } .card { break-inside:avoid; } }
"#;

/// The report as one HTML document, as of `now`.
pub fn render(m: &Manifest, now: Timestamp) -> String {
    let mut s = String::new();
    let v = validity(m, now);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>labcert {} — {} / {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        v.headline,
        esc(&m.environment),
        esc(&m.topology)
    );
    banner(&mut s, m, &v);
    overview(&mut s, m, &v);
    groups(&mut s, m);
    failures(&mut s, m);
    blocked(&mut s, m);
    ledger(&mut s, m);
    waivers(&mut s, m, now);
    let all = matrix::matrices(m);
    if !all.is_empty() {
        s.push_str("<section id=\"reachability\">\n<h2>Reachability</h2>\n");
        let _ = writeln!(
            s,
            "<p class=\"legend\">Rows: from, columns: to. {}</p>",
            esc(matrix::LEGEND)
        );
        for mx in &all {
            reachability(&mut s, mx);
        }
        s.push_str("</section>\n");
    }
    if !m.missing_requirements.is_empty() {
        s.push_str("<section id=\"missing\">\n<h2>Missing requirements</h2>\n<ul>\n");
        for r in &m.missing_requirements {
            let _ = writeln!(s, "<li>{}</li>", esc(r));
        }
        s.push_str("</ul>\n</section>\n");
    }
    let _ = write!(
        s,
        "<footer>Rendered by labcert {} at {} from manifest <code>{}</code> ({} {}).</footer>\n\
         </main>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        esc(&m.id),
        esc(&m.tool.name),
        esc(&m.tool.version)
    );
    s
}

fn status_chip(status: &str) -> String {
    format!(
        "<span class=\"st s-{}\">{}</span>",
        esc(status),
        esc(&status.replace('_', " "))
    )
}

fn banner(s: &mut String, m: &Manifest, v: &text::Validity) {
    let class = match v.headline {
        "PASS" => "b-pass",
        "FAIL" => "b-fail",
        "EXPIRED" => "b-expired",
        _ => "b-blocked",
    };
    let _ = writeln!(
        s,
        "<header class=\"banner {class}\" id=\"banner\">\n<h1>{}</h1>",
        v.headline
    );
    if v.headline == "EXPIRED" {
        let _ = writeln!(
            s,
            "<p class=\"warn\">Certified pass, but {} ({}): no longer valid; preflight refuses it.</p>",
            esc(&v.relative.to_lowercase()),
            esc(&m.expires_at)
        );
    } else {
        let _ = writeln!(
            s,
            "<p>Lab certification {} — {} ({})</p>",
            esc(m.status.as_str()),
            esc(&v.relative),
            esc(&m.expires_at)
        );
    }
    let _ = writeln!(
        s,
        "<p class=\"sub\">{} / {} · {} checks: {} pass, {} fail, {} repaired, {} blocked, {} skipped, {} waived</p>",
        esc(&m.environment),
        esc(&m.topology),
        m.summary.total,
        m.summary.pass,
        m.summary.fail,
        m.summary.repaired,
        m.summary.blocked,
        m.summary.skipped,
        m.summary.waived
    );
    if m.interrupted {
        s.push_str(
            "<p class=\"warn\">Interrupted: the run was cut short; the result is incomplete.</p>\n",
        );
    }
    if let Some(r) = &m.replayed_from {
        let _ = writeln!(
            s,
            "<p class=\"warn\">Replayed from {}: certifies the recording, not a lab.</p>",
            esc(r)
        );
    }
    s.push_str("</header>\n");
}

fn overview(s: &mut String, m: &Manifest, v: &text::Validity) {
    s.push_str(
        "<section id=\"overview\">\n<h2>Certification</h2>\n<table class=\"kv\">\n<tbody>\n",
    );
    let providers = if m.providers.is_empty() {
        "— (reachability only)".to_string()
    } else {
        m.providers.join(", ")
    };
    let mut rows = vec![
        ("Environment", esc(&m.environment)),
        ("Topology", esc(&m.topology)),
        ("Providers", esc(&providers)),
        ("Manifest id", format!("<code>{}</code>", esc(&m.id))),
        ("Mode", esc(&format!("{:?}", m.mode).to_lowercase())),
        (
            "Tool",
            format!("{} {}", esc(&m.tool.name), esc(&m.tool.version)),
        ),
        ("Started", esc(&m.started_at)),
        ("Finished", esc(&m.finished_at)),
        (
            "Expires",
            format!(
                "{} <span class=\"muted\">({})</span>",
                esc(&m.expires_at),
                esc(&v.relative)
            ),
        ),
    ];
    if let Some(scope) = &m.scope {
        rows.push(("Scope", esc(scope)));
    }
    if !m.merged_from.is_empty() {
        rows.push(("Merged from", esc(&m.merged_from.join(", "))));
    }
    for (k, val) in rows {
        let _ = writeln!(s, "<tr><th>{k}</th><td>{val}</td></tr>");
    }
    s.push_str("</tbody>\n</table>\n");
    if !m.catalogs.is_empty() {
        s.push_str(
            "<h3>Catalogs</h3>\n<table>\n<thead><tr><th>Catalog</th><th>Provider</th><th>File</th>\
             <th>sha256</th><th>git</th></tr></thead>\n<tbody>\n",
        );
        for c in &m.catalogs {
            let git = c
                .git
                .as_ref()
                .map(|g| {
                    format!(
                        "<code>{}</code>{}",
                        esc(&g.revision.chars().take(12).collect::<String>()),
                        if g.dirty { " (dirty)" } else { "" }
                    )
                })
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td><code>{}</code></td><td><code class=\"hash\">{}</code></td><td>{git}</td></tr>",
                esc(&c.id),
                if c.selected {
                    ""
                } else {
                    " <span class=\"muted\">(not selected)</span>"
                },
                esc(&c.provider),
                esc(&c.file),
                esc(&c.sha256)
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s.push_str("</section>\n");
}

fn groups(s: &mut String, m: &Manifest) {
    s.push_str(
        "<section id=\"groups\">\n<h2>Groups</h2>\n<table>\n<thead><tr><th>Group</th><th>Title</th>\
         <th>Status</th><th class=\"n\">Pass</th><th class=\"n\">Fail</th><th class=\"n\">Repaired</th>\
         <th class=\"n\">Blocked</th><th class=\"n\">Skipped</th><th class=\"n\">Waived</th></tr></thead>\n<tbody>\n",
    );
    for g in m.groups.iter().filter(|g| !g.checks.is_empty()) {
        let c = counts(g);
        let n = |x: usize| {
            if x == 0 {
                "<td class=\"n z\">0</td>".to_string()
            } else {
                format!("<td class=\"n\">{x}</td>")
            }
        };
        let _ = writeln!(
            s,
            "<tr><td><code>{}.{}</code></td><td>{}</td><td>{}</td>{}{}{}{}{}{}</tr>",
            esc(&g.catalog),
            esc(&g.id),
            esc(&g.title),
            status_chip(g.status.as_str()),
            n(c.pass),
            n(c.fail),
            n(c.repaired),
            n(c.blocked),
            n(c.skipped),
            n(c.waived)
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

fn failures(s: &mut String, m: &Manifest) {
    let failed: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Fail).collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<section id=\"failures\">\n<h2>Failures ({})</h2>",
        failed.len()
    );
    for k in failed {
        let _ = writeln!(
            s,
            "<article class=\"card c-fail\">\n<h3><code>{}</code> — {}{}</h3>\n<p class=\"src\">at <code>{}</code></p>",
            esc(&k.id),
            esc(&k.title),
            if k.severity == crate::model::Severity::Advisory {
                " <span class=\"st s-skipped\">advisory</span>"
            } else {
                ""
            },
            esc(&k.source)
        );
        let bad: Vec<_> = k.expectations.iter().filter(|e| !e.passed).collect();
        if !bad.is_empty() {
            s.push_str(
                "<table>\n<thead><tr><th>Query</th><th>Matcher</th><th>Expected</th><th>Actual</th>\
                 <th>Note</th></tr></thead>\n<tbody>\n",
            );
            for e in bad {
                let _ = writeln!(
                    s,
                    "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                    esc(e.query.as_deref().unwrap_or("—")),
                    esc(&e.matcher),
                    esc(&crate::judge::short(&e.expected)),
                    esc(&crate::judge::short(&e.actual)),
                    esc(e.message.as_deref().unwrap_or(""))
                );
            }
            s.push_str("</tbody>\n</table>\n");
        } else if let Some(w) = text::why(k) {
            let _ = writeln!(s, "<p>{}</p>", esc(w));
        }
        if let Some(err) = text::stderr(k) {
            let _ = writeln!(s, "<pre>stderr: {}</pre>", esc(err));
        }
        s.push_str("</article>\n");
    }
    s.push_str("</section>\n");
}

fn blocked(s: &mut String, m: &Manifest) {
    let blocked: Vec<&CheckEntry> = m.checks().filter(|k| k.status == Status::Blocked).collect();
    if blocked.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<section id=\"blocked\">\n<h2>Blocked ({})</h2>\n<table>\n<thead><tr><th>Check</th><th>Reason</th>\
         <th>Why</th><th>Source</th></tr></thead>\n<tbody>",
        blocked.len()
    );
    for k in blocked {
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&k.id),
            esc(k.reason.as_ref().map(Reason::as_str).unwrap_or("blocked")),
            esc(k.message.as_deref().unwrap_or("")),
            esc(&k.source)
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

fn ledger(s: &mut String, m: &Manifest) {
    if m.repairs.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<section id=\"repairs\">\n<h2>Repair ledger ({})</h2>\n<p class=\"muted\">Review every entry before qualification: \
         what ran, what it returned, and the check's own probe that verified it.</p>",
        m.repairs.len()
    );
    for r in &m.repairs {
        let st = r.status.as_str();
        let _ = writeln!(
            s,
            "<article class=\"card c-{}\">\n<h3><code>{}</code> {}</h3>",
            esc(st),
            esc(&r.check),
            status_chip(st)
        );
        let _ = writeln!(s, "<p class=\"src\">at <code>{}</code></p>", esc(&r.source));
        if let Some(b) = &r.before.message {
            let _ = writeln!(
                s,
                "<p>Before: {} — {}</p>",
                status_chip(r.before.status.as_str()),
                esc(b)
            );
        }
        if let Some(g) = &r.guard {
            let _ = writeln!(
                s,
                "<p>Guard: <code>refuse_if {}</code> — {}</p>",
                esc(&g.refuse_if),
                esc(&g.reason)
            );
        }
        let steps = view::steps(r);
        if !steps.is_empty() {
            s.push_str("<ol class=\"steps\">\n");
            for st in steps {
                let outcome = match st.passed {
                    None => "<span class=\"muted\">not run</span>".to_string(),
                    Some(true) => "<span class=\"ok\">ok</span>".to_string(),
                    Some(false) => "<span class=\"bad\">failed</span>".to_string(),
                };
                let result = if st.result.is_empty() {
                    String::new()
                } else {
                    format!(" <span class=\"muted\">({})</span>", esc(&st.result))
                };
                let _ = writeln!(
                    s,
                    "<li value=\"{}\"><strong>{}</strong> — {outcome}{result}<br><code>{}</code></li>",
                    st.number,
                    esc(&st.title),
                    esc(&st.request)
                );
            }
            s.push_str("</ol>\n");
        }
        if let Some(v) = &r.verification {
            let _ = writeln!(
                s,
                "<p>Verification (the check's own probe): {}{}</p>",
                status_chip(v.status.as_str()),
                v.message
                    .as_deref()
                    .map(|m| format!(" — {}", esc(m)))
                    .unwrap_or_default()
            );
        }
        for rr in &r.reruns {
            let _ = writeln!(
                s,
                "<p>Rerun <code>{}</code>: {}{}</p>",
                esc(&rr.check),
                status_chip(rr.status.as_str()),
                rr.message
                    .as_deref()
                    .map(|m| format!(" — {}", esc(m)))
                    .unwrap_or_default()
            );
        }
        if let Some(msg) = &r.message {
            let _ = writeln!(s, "<p class=\"muted\">{}</p>", esc(msg));
        }
        s.push_str("</article>\n");
    }
    s.push_str("</section>\n");
}

fn waivers(s: &mut String, m: &Manifest, now: Timestamp) {
    if m.waivers.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<section id=\"waivers\">\n<h2>Waivers ({})</h2>\n<table>\n<thead><tr><th>Checks</th><th>Reason</th>\
         <th>Approver</th><th>Expires</th><th>Waived</th></tr></thead>\n<tbody>",
        m.waivers.len()
    );
    for w in &m.waivers {
        let exp = &w.expires;
        let mut used: Vec<String> = w
            .waived
            .iter()
            .map(|id| format!("<code>{}</code>", esc(id)))
            .collect();
        if w.expired {
            used.insert(0, status_chip("expired"));
            used.extend(
                w.not_waived_expired
                    .iter()
                    .map(|id| format!("not waived: <code>{}</code>", esc(id))),
            );
        }
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{}</td></tr>",
            esc(&w.checks.join(", ")),
            esc(&w.reason),
            esc(&w.approver),
            esc(exp),
            esc(&text::relative(exp, now)),
            used.join("<br>")
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

fn reachability(s: &mut String, mx: &Matrix<'_>) {
    let _ = writeln!(
        s,
        "<h3><code>{}</code> — {}</h3>\n<table class=\"matrix\">\n<thead><tr><th>from \\ to</th>",
        esc(&mx.key()),
        esc(&mx.title)
    );
    for t in &mx.to {
        let _ = write!(s, "<th>{}</th>", esc(t));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for f in &mx.from {
        let _ = write!(s, "<tr><th>{}</th>", esc(f));
        for t in &mx.to {
            match mx.cell(f, t) {
                Some(c) => {
                    let tip: Vec<String> = c
                        .checks
                        .iter()
                        .map(|k| format!("{}: {}", k.id, k.status.as_str()))
                        .collect();
                    let _ = write!(
                        s,
                        "<td class=\"m-{}\" title=\"{}\">{}</td>",
                        c.status.as_str(),
                        esc(&tip.join("\n")),
                        matrix::mark(c.status)
                    );
                }
                None if f == t => s.push_str("<td class=\"m-self\">—</td>"),
                None => s.push_str("<td></td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    let bad: Vec<(&matrix::Cell<'_>, &&CheckEntry)> = mx
        .cells()
        .flat_map(|c| c.checks.iter().map(move |k| (c, k)))
        .filter(|(_, k)| matches!(k.status, Status::Fail | Status::Blocked))
        .collect();
    if !bad.is_empty() {
        s.push_str("<ul>\n");
        for (c, k) in bad {
            let _ = writeln!(
                s,
                "<li>{} → {}: <code>{}</code> {}{}</li>",
                esc(&c.from),
                esc(&c.to),
                esc(&k.id),
                status_chip(k.status.as_str()),
                text::why(k)
                    .map(|w| format!(" — {}", esc(w)))
                    .unwrap_or_default()
            );
        }
        s.push_str("</ul>\n");
    }
}
