//! The plan for people: waves of checks, each with its rendered probe, expectations and repair.

use std::fmt::Write;

use serde_json::Value;

use crate::plan::{Plan, State};

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let planned = plan.count(|s| *s == State::Planned);
    let skipped = plan.count(|s| matches!(s, State::Skipped(_)));
    let blocked = plan.count(|s| matches!(s, State::Blocked(_)));
    let _ = writeln!(
        out,
        "plan for topology {}{} — providers: {}",
        plan.topology,
        plan.environment
            .as_deref()
            .map(|e| format!(", environment {e}"))
            .unwrap_or_default(),
        if plan.providers.is_empty() {
            "none".into()
        } else {
            plan.providers.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "{} check{}: {planned} to run in {} wave{}, {blocked} blocked, {skipped} skipped",
        plan.checks.len(),
        if plan.checks.len() == 1 { "" } else { "s" },
        plan.waves.len(),
        if plan.waves.len() == 1 { "" } else { "s" }
    );
    for (wi, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "\nwave {}", wi + 1);
        for &i in wave {
            let c = &plan.checks[i];
            let marker = match &c.state {
                State::Blocked(r) => format!("  [blocked: {r}]"),
                _ => String::new(),
            };
            let sev = if c.severity == crate::model::Severity::Advisory {
                " (advisory)"
            } else {
                ""
            };
            let _ = writeln!(out, "  {}{sev}{marker}", c.id);
            if c.title != c.check {
                let _ = writeln!(out, "      {}", c.title);
            }
            if let Some(p) = &c.probe {
                let _ = writeln!(out, "      probe   {}", probe_line(&p.to_json()));
            }
            for e in &c.expect {
                let e = serde_json::to_value(e).unwrap_or_default();
                let _ = writeln!(out, "      expect  {}", expect_line(&e));
            }
            if !c.needs.is_empty() {
                let _ = writeln!(out, "      needs   {}", c.needs.join(", "));
            }
            if let Some(r) = &c.repair {
                repair_lines(&mut out, r);
            }
        }
    }
    let skipped: Vec<_> = plan
        .checks
        .iter()
        .filter_map(|c| match &c.state {
            State::Skipped(r) => Some((c, r)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        out.push_str("\nskipped\n");
        for (c, r) in skipped {
            let _ = writeln!(out, "  {} — {r}", c.id);
        }
    }
    if !plan.missing_requirements.is_empty() {
        out.push_str("\nmissing requirements (bind them in the topology or with --var)\n");
        for m in &plan.missing_requirements {
            let _ = writeln!(out, "  {m}");
        }
    }
    out
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One line per probe kind, the way an operator would say it.
pub(super) fn probe_line(p: &Value) -> String {
    let spec = p.get("spec").cloned().unwrap_or(Value::Null);
    let via = p
        .get("use")
        .and_then(Value::as_str)
        .map(|u| format!("  (via {u})"))
        .unwrap_or_default();
    let body = match s(p, "kind") {
        "http" => {
            let method = match s(&spec, "method") {
                "" => "GET",
                m => m,
            };
            let mut line = format!("http {method} {}", s(&spec, "url"));
            if let Some(f) = spec.get("form").or(spec.get("json")) {
                let _ = write!(line, " body={}", inline(f));
            }
            line
        }
        "command" => match spec.get("argv").and_then(Value::as_array) {
            Some(a) => format!(
                "command {}",
                a.iter()
                    .map(|x| x.as_str().map(String::from).unwrap_or(x.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            None => format!("shell {}", s(&spec, "shell")),
        },
        "ssh" => {
            let user = match s(&spec, "user") {
                "" => String::new(),
                u => format!("{u}@"),
            };
            let port = spec
                .get("port")
                .map(|p| format!(":{}", p.as_str().map(String::from).unwrap_or(p.to_string())))
                .unwrap_or_default();
            let run = match spec.get("argv").and_then(Value::as_array) {
                Some(argv) => crate::shell::display_json(argv),
                None => s(&spec, "command").to_string(),
            };
            format!("ssh {user}{}{port}: {run}", s(&spec, "host"))
        }
        "tcp" => {
            let port = spec
                .get("port")
                .map(|p| p.as_str().map(String::from).unwrap_or(p.to_string()))
                .unwrap_or_default();
            format!("tcp {}:{port}", s(&spec, "host"))
        }
        "dns" => {
            let server = match s(&spec, "server") {
                "" => String::new(),
                v => format!(" @{v}"),
            };
            format!("dns {} {}{server}", s(&spec, "type"), s(&spec, "name"))
        }
        other => other.to_string(),
    };
    format!("{body}{via}")
}

fn repair_lines(out: &mut String, r: &crate::plan::RepairPlan) {
    if let Some(g) = &r.guard {
        match g.refused {
            Some(true) => {
                let _ = writeln!(
                    out,
                    "      repair  REFUSED: {} (guard `{}` is true)",
                    g.reason, g.refuse_if
                );
                return;
            }
            Some(false) => {}
            None => {
                let _ = writeln!(
                    out,
                    "      repair  refused at run time if {} ({})",
                    g.refuse_if, g.reason
                );
            }
        }
    }
    for (i, step) in r.steps.iter().enumerate() {
        let what = match (&step.probe, &step.pve_task) {
            (Some(p), _) => probe_line(&p.to_json()),
            (_, Some(t)) => format!("wait for PVE task {}", t.upid),
            _ => String::new(),
        };
        let _ = writeln!(out, "      repair  {}. {what}", i + 1);
    }
}

/// `data.release semver >=8.1`, `status 200`, `data.x equals 1 (absent: 0)`.
fn expect_line(e: &Value) -> String {
    let Value::Object(m) = e else {
        return inline(e);
    };
    let mut parts = Vec::new();
    if let Some(q) = m.get("query") {
        parts.push(inline(q));
    }
    for (k, v) in m {
        if !matches!(k.as_str(), "query" | "absent_means" | "message") {
            parts.push(format!("{k} {}", inline(v)));
        }
    }
    if let Some(a) = m.get("absent_means") {
        parts.push(format!("(absent: {})", inline(a)));
    }
    if let Some(msg) = m.get("message") {
        parts.push(format!("— {}", inline(msg)));
    }
    parts.join(" ")
}

/// Compact one-line JSON without quotes around simple keys.
fn inline(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| format!("{k}: {}", inline(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
