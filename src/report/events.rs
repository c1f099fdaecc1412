//! `--events`: one NDJSON line per run start, check start, attempt and check finish, and
//! run finish, written as they happen (flushed per line so a CI log follows along).

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::run::secrets::Secrets;
use crate::run::{Event, Reporter};

pub struct Ndjson {
    out: Box<dyn Write + Send>,
    secrets: Arc<Secrets>,
    /// The first write error; later events are dropped.
    pub error: Option<String>,
}

impl Ndjson {
    pub fn new(out: Box<dyn Write + Send>, secrets: Arc<Secrets>) -> Ndjson {
        Ndjson {
            out,
            secrets,
            error: None,
        }
    }

    fn line(&mut self, mut v: Value) {
        if self.error.is_some() {
            return;
        }
        self.secrets.mask_value(&mut v);
        let mut text = v.to_string();
        text.push('\n');
        if let Err(e) = self
            .out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.flush())
        {
            self.error = Some(e.to_string());
        }
    }

    /// The last event: the run's status and where the manifest went.
    pub fn finished(&mut self, m: &Manifest, path: &str) {
        self.line(json!({
            "event": "run_finished",
            "at": now(),
            "status": m.status,
            "manifest": path,
            "id": m.id,
            "summary": m.summary,
        }));
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl Reporter for Ndjson {
    fn event(&mut self, plan: &Plan, e: &Event<'_>) {
        let v = match e {
            Event::RunStarted => json!({
                "event": "run_started",
                "at": now(),
                "topology": plan.topology,
                "environment": plan.environment,
                "providers": plan.providers,
                "checks": plan.checks.len(),
            }),
            Event::CheckStarted { index } => json!({
                "event": "check_started",
                "at": now(),
                "id": plan.checks[*index].id,
            }),
            Event::Attempt { index, attempt } => json!({
                "event": "attempt",
                "at": now(),
                "id": plan.checks[*index].id,
                "number": attempt.number,
                "why": attempt.why,
                "outcome": attempt.outcome,
                "reason": attempt.reason,
                "durationMs": attempt.duration,
            }),
            Event::CheckFinished { index, result } => json!({
                "event": "check_finished",
                "at": now(),
                "id": plan.checks[*index].id,
                "status": result.status,
                "reason": result.reason,
                "message": result.message,
                "durationMs": result.duration.as_millis() as u64,
            }),
        };
        self.line(v);
    }
}
