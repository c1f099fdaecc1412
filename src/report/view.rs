//! What every report shows of a repair ledger entry's steps, read from the typed ledger
//! once: the text, Markdown and HTML reports and the end-of-run summary render these.

use std::fmt::Write;

use serde_json::Value;

use crate::manifest::{RepairEntry, StepEntry, StepKind};

/// One repair step as a reviewer reads it.
#[derive(Debug, Clone)]
pub struct StepView {
    pub number: usize,
    /// The step's title, else what it does.
    pub title: String,
    /// The rendered request: `command touch …`, `http PUT https://…`, `wait for PVE task …`.
    pub request: String,
    /// `None`: not run (a dry run); `Some(true)`: it passed.
    pub passed: Option<bool>,
    /// What came back: `exit 0`, `HTTP 200`, `task OK`, or why it failed.
    pub result: String,
}

const PVE_TASK: &str = StepKind::PveTask.as_str();

/// The steps of a ledger entry: run (with results) or, in a dry run, rendered only.
pub fn steps(r: &RepairEntry) -> Vec<StepView> {
    r.steps
        .iter()
        .enumerate()
        .map(|(i, st)| match st {
            StepEntry::Planned(p) => {
                let (kind, request) = match (&p.probe, &p.pve_task) {
                    (Some(probe), _) => {
                        let kind = probe.kind().as_str();
                        (kind, request_line(kind, &probe.spec.to_json()))
                    }
                    (None, Some(t)) => (PVE_TASK, wait_line(Some(&t.upid))),
                    (None, None) => ("step", "step".to_string()),
                };
                StepView {
                    number: i + 1,
                    title: title(p.title.as_deref(), kind),
                    request,
                    passed: None,
                    result: String::new(),
                }
            }
            StepEntry::Ran(s) => {
                let kind = s.kind.map_or("step", StepKind::as_str);
                let request = if kind == PVE_TASK {
                    wait_line(s.upid.as_deref())
                } else {
                    request_line(kind, s.request.as_ref().unwrap_or(&serde_json::Value::Null))
                };
                let mut result = Vec::new();
                if let Some(r) = &s.result {
                    if let Some(st) = r.status {
                        result.push(format!("HTTP {st}"));
                    }
                    if let Some(e) = r.exit {
                        result.push(format!("exit {e}"));
                    }
                }
                if let Some(e) = &s.exitstatus {
                    result.push(format!("task {e}"));
                }
                for e in s.expectations.iter().filter(|e| !e.passed) {
                    result.push(crate::judge::describe(
                        e.query.as_deref(),
                        &e.matcher,
                        &e.expected,
                        &e.actual,
                        e.message.as_deref(),
                    ));
                }
                if let Some(msg) = s.message.as_deref().filter(|m| !m.is_empty()) {
                    result.push(msg.to_string());
                }
                StepView {
                    number: s.step as usize,
                    title: title(s.title.as_deref(), kind),
                    request,
                    passed: Some(s.passed),
                    result: result.join("; "),
                }
            }
        })
        .collect()
}

fn title(t: Option<&str>, kind: &str) -> String {
    match (t, kind) {
        (Some(t), _) => t.to_string(),
        (None, PVE_TASK) => "wait for the Proxmox VE task".into(),
        (None, _) => "(untitled)".into(),
    }
}

fn wait_line(upid: Option<&str>) -> String {
    format!("wait for PVE task {}", upid.unwrap_or(""))
        .trim_end()
        .to_string()
}

/// A rendered probe on one line: `command touch /x`, `http PUT https://…`, `ssh root@h: cmd`.
pub fn request_line(kind: &str, spec: &Value) -> String {
    let s = |k: &str| match &spec[k] {
        Value::String(t) => t.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let line = match kind {
        "http" => {
            let method = match s("method") {
                m if m.is_empty() => "GET".to_string(),
                m => m,
            };
            let mut line = format!("http {method} {}", s("url"));
            if let Some(b) = spec.get("form").or(spec.get("json")) {
                let _ = write!(line, " body={b}");
            }
            line
        }
        "command" => match spec["argv"].as_array() {
            Some(a) => format!(
                "command {}",
                a.iter()
                    .map(|x| x.as_str().map(String::from).unwrap_or(x.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            None => format!("shell {}", s("shell")),
        },
        "ssh" => {
            let user = match s("user") {
                u if u.is_empty() => u,
                u => format!("{u}@"),
            };
            let run = match spec["argv"].as_array() {
                Some(argv) => crate::shell::display_json(argv),
                None => s("command"),
            };
            format!("ssh {user}{}: {run}", s("host"))
        }
        "tcp" => format!("tcp {}:{}", s("host"), s("port")),
        "dns" => format!("dns {} {}", s("type"), s("name")),
        other if spec.is_null() => other.to_string(),
        other => format!("{other} {spec}"),
    };
    let line = line.replace('\n', " ");
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}…")
    } else {
        line
    }
}
