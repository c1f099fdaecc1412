//! Repair, which only `certify` can do. A failing check's guard is asked first; then its
//! steps run in order (probes that may write, and waits for Proxmox VE tasks), each judged;
//! then the check's own probe and expectations run again. Only that verification turns
//! `fail` into `repaired`. Without `--repair` the same path describes what would run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::judge::classify::classify;
use crate::judge::{self, Query, Root};
use crate::manifest::{
    Before, Expectation, Guard, RanStep, RepairEntry, RepairStatus, StepEntry, StepKind,
    StepResult, Verification,
};
use crate::model::repair::PveTask;
use crate::plan::{Kind, Planned, late};
use crate::probe::{Limits, Observation};
use crate::run::prober::{BoxFuture, Prober};
use crate::run::repair::{RepairRequest, Repairer};
use crate::run::secrets::Secrets;
use crate::run::{CheckResult, Reason, Status};

mod preconditions;
mod refusal;
mod said;

/// How long one repair step's probe may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
const TASK_TIMEOUT: Duration = Duration::from_secs(300);
const TASK_EVERY: Duration = Duration::from_secs(2);
const MIN_TASK_EVERY: Duration = Duration::from_millis(100);

/// The ledger's message for a repair a step's `refuse_unless` refused.
fn refused_at(i: usize, title: Option<&str>, why: &str) -> String {
    let step = match title {
        Some(t) => format!("step {} ({t})", number(i)),
        None => format!("step {}", number(i)),
    };
    format!("repair refused at {step}: {why}")
}

/// "step 2 (Write it back) failed: …", for the check's message.
fn step_failure(i: usize, r: &RanStep) -> String {
    let step = match &r.title {
        Some(t) => format!("step {} ({t})", number(i)),
        None => format!("step {}", number(i)),
    };
    let why = r.message.as_deref().unwrap_or("it did not succeed");
    format!("{step} failed: {why}")
}

/// Step `i` (0-based) as the ledger numbers it.
fn number(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

pub(super) struct Steps {
    /// The run's plan: where a repair's `require` finds the checks it names.
    pub plan: Arc<crate::plan::Plan>,
    pub prober: Arc<dyn Prober>,
    pub secrets: Arc<Secrets>,
    /// `--repair`: run the steps. Otherwise only say what would run.
    pub apply: bool,
    pub max_output: usize,
    /// Whether to give the lab time (a repair's `settle`, the pause between task polls). A
    /// replay answers from a recording made after those waits: nothing to wait for.
    pub pace: bool,
}

/// One step's outcome for the ledger.
struct StepOutcome {
    record: RanStep,
    passed: bool,
    captures: Map<String, Value>,
    /// The step's `refuse_unless` did not hold: why the repair is refused.
    refused: Option<String>,
}

impl Repairer for Steps {
    fn repair<'a>(&'a self, req: RepairRequest<'a>) -> BoxFuture<'a, CheckResult> {
        Box::pin(async move {
            let p = req.planned;
            let started = jiff::Timestamp::now();
            let plan = p.repair.as_ref();
            let mut entry = RepairEntry {
                check: p.id.clone(),
                source: p.source.clone(),
                before: self.before(req.failed),
                status: RepairStatus::Error,
                message: None,
                guard: None,
                preconditions: Vec::new(),
                steps: Vec::new(),
                verification: None,
                reruns: Vec::new(),
                started_at: String::new(),
                finished_at: String::new(),
            };
            let done = |mut entry: RepairEntry, status, mut result: CheckResult| {
                entry.status = status;
                entry.started_at = started.to_string();
                entry.finished_at = jiff::Timestamp::now().to_string();
                result.repair = Some(entry);
                result
            };
            match late::repair_guard(p, req.checks.clone()) {
                Err(why) => {
                    entry.message = Some(why);
                    return done(entry, RepairStatus::Error, req.failed.clone());
                }
                Ok(Some(g)) if g.refused => {
                    entry.message = Some(format!("repair refused: {}", g.reason));
                    entry.guard = Some(Guard {
                        refuse_if: g.refuse_if,
                        reason: g.reason,
                    });
                    return done(entry, RepairStatus::Refused, req.failed.clone());
                }
                Ok(_) => {}
            }
            if !self.apply {
                entry.steps = plan
                    .map(|r| {
                        r.steps
                            .iter()
                            .map(|st| {
                                let mut st = st.clone();
                                if let Some(probe) = st.probe.as_mut() {
                                    probe.spec.strings_mut(&mut |s| *s = self.secrets.mask(s));
                                }
                                StepEntry::Planned(st)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                entry.message = Some("would repair: run again with --repair to apply".into());
                return done(entry, RepairStatus::WouldRepair, req.failed.clone());
            }
            match self.preconditions(p).await {
                Ok(held) => entry.preconditions = held,
                Err((held, why)) => {
                    entry.preconditions = held;
                    entry.message = Some(format!("repair refused: {why}"));
                    return done(entry, RepairStatus::Refused, req.failed.clone());
                }
            }
            let n = plan.map_or(0, |r| r.steps.len());
            let mut steps = Map::new();
            let mut all_passed = true;
            let mut failed_step = None;
            for i in 0..n {
                let out = self.step(p, i, &req.checks, &steps).await;
                let title = out.record.title.clone();
                entry.steps.push(StepEntry::Ran(out.record));
                if let Some(why) = out.refused {
                    entry.message = Some(refused_at(i, title.as_deref(), &why));
                    return done(entry, RepairStatus::Refused, req.failed.clone());
                }
                if let Some(id) = plan.and_then(|r| r.step_id(i)) {
                    steps.insert(id.to_string(), Value::Object(out.captures));
                }
                if !out.passed {
                    all_passed = false;
                    failed_step = entry.steps.last().and_then(|s| match s {
                        StepEntry::Ran(r) => Some(step_failure(i, r)),
                        StepEntry::Planned(_) => None,
                    });
                    break;
                }
            }
            // Settling gives the lab time to take a change; after a failed step there is none.
            if let Some(settle) = plan
                .and_then(|r| r.settle)
                .filter(|_| self.pace && all_passed)
            {
                tokio::time::sleep(settle.0).await;
            }
            // The verification: the check's own probe and expectations, whatever the steps did.
            let mut after = (req.verify)().await;
            entry.verification = Some(Verification {
                status: after.status,
                reason: after.reason.clone(),
                message: after.message.as_deref().map(|m| self.secrets.mask(m)),
            });
            if all_passed && after.status == Status::Pass {
                after.status = Status::Repaired;
                after.reason = Some(Reason::Repaired);
                after.message = Some("repaired; verified by the check's own probe".into());
                done(entry, RepairStatus::Repaired, after)
            } else {
                let why = if all_passed {
                    "the repair ran, but the check still fails"
                } else {
                    "a repair step failed"
                };
                after.status = if after.status == Status::Pass {
                    // Verified, but a step reported failure: not a clean repair.
                    Status::Fail
                } else {
                    after.status
                };
                if after.status == Status::Fail {
                    after.reason = Some(Reason::RepairFailed);
                }
                let detail = after.message.clone().unwrap_or_default();
                after.message = Some(match &failed_step {
                    Some(step) => format!("{why}: {step}; the check after it: {detail}"),
                    None => format!("{why}: {detail}"),
                });
                done(entry, RepairStatus::Failed, after)
            }
        })
    }
}

impl Steps {
    /// The repair's `require`, probed again now (see [`preconditions`]).
    async fn preconditions(
        &self,
        p: &Planned,
    ) -> Result<Vec<crate::manifest::Rerun>, (Vec<crate::manifest::Rerun>, String)> {
        let env = crate::run::check::Env {
            prober: self.prober.clone(),
            repairer: None,
            waive: None,
            secrets: self.secrets.clone(),
            max_output: self.max_output,
        };
        preconditions::check(&self.plan, &env, &self.secrets, p).await
    }

    fn before(&self, r: &CheckResult) -> Before {
        Before {
            status: r.status,
            reason: r.reason.clone(),
            message: r.message.as_deref().map(|m| self.secrets.mask(m)),
            failed: r
                .expectations
                .iter()
                .filter(|e| !e.passed)
                .map(|e| self.secrets.mask(&e.describe()))
                .collect(),
        }
    }

    async fn step(
        &self,
        p: &Planned,
        i: usize,
        checks: &Value,
        steps: &Map<String, Value>,
    ) -> StepOutcome {
        let fail = |title: Option<String>, message: String| StepOutcome {
            record: RanStep::failed(number(i), title, None, message),
            passed: false,
            captures: Map::new(),
            refused: None,
        };
        let st = match late::repair_step(p, i, checks.clone(), Value::Object(steps.clone())) {
            Ok(s) => s,
            Err(why) => return fail(None, why),
        };
        let title = st.title.clone().or(st.id.clone());
        if let Some(task) = &st.pve_task {
            return self.pve_task(p, i, title, task).await;
        }
        let Some(probe) = &st.probe else {
            return fail(title, "the step has no probe".into());
        };
        let kind = probe.kind();
        let spec = match self.secrets.substitute_spec(&p.catalog, &probe.spec) {
            Ok(s) => s,
            Err(missing) => {
                return fail(
                    title,
                    format!("missing_requirement: {}", missing.join("; ")),
                );
            }
        };
        let limits = Limits {
            timeout: STEP_TIMEOUT,
            max_output: self.max_output,
        };
        let obs = self.prober.probe(&spec, limits).await;
        let (passed, mut message, mut results) = self.judge_step(kind, &st.expect, &obs);
        if !passed && let Some(said) = said::said(&obs) {
            message = Some(match message {
                Some(m) if !m.contains(&said) => format!("{m}; the API said {said}"),
                Some(m) => m,
                None => format!("the API said {said}"),
            });
        }
        let refusal = passed
            .then(|| refusal::judge(&self.secrets, &st.refuse_unless, &obs))
            .flatten();
        if let Some(r) = &refusal {
            results.extend(r.judged.iter().cloned());
            message = Some(r.why.clone());
        }
        let mut captures = Map::new();
        if passed {
            let null = Value::Null;
            let root = Root::new(obs.json.as_ref().unwrap_or(&null));
            for (name, q) in &st.capture {
                captures.insert(name.clone(), capture(q, &root));
            }
        }
        let mut request = spec.to_json();
        self.secrets.mask_value(&mut request);
        let record = RanStep {
            step: number(i),
            title,
            kind: Some(kind.into()),
            request: Some(request),
            result: Some(StepResult {
                status: obs.status,
                exit: obs.exit,
            }),
            expectations: results,
            passed: passed && refusal.is_none(),
            message: message.map(|m| self.secrets.mask(&m)),
            duration_ms: Some(obs.duration.as_millis() as u64),
            upid: None,
            exitstatus: None,
            polls: None,
        };
        StepOutcome {
            record,
            passed,
            captures,
            refused: refusal.map(|r| r.why),
        }
    }

    /// A step passes when its expectations hold; without any, when the probe answered
    /// without error and (HTTP) with 2xx or (command) exit 0.
    fn judge_step(
        &self,
        kind: Kind,
        expects: &[judge::Expectation],
        obs: &Observation,
    ) -> (bool, Option<String>, Vec<Expectation>) {
        let judges_status = expects.iter().any(|e| e.spec().status.is_some());
        if let Some(v) = classify(&[], obs, judges_status) {
            let why = obs
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or(v.reason);
            return (false, Some(why), Vec::new());
        }
        if expects.is_empty() {
            let ok = match kind {
                Kind::Http => obs.status.is_some_and(|s| (200..300).contains(&s)),
                Kind::Command | Kind::Ssh => obs.exit == Some(0),
                Kind::Tcp | Kind::Dns => obs.error.is_none(),
            };
            let why = (!ok).then(|| {
                let class = obs
                    .reason()
                    .unwrap_or_else(|| "the step did not succeed".into());
                let err: String = obs.stderr.trim().chars().take(200).collect();
                if err.is_empty() {
                    class
                } else {
                    format!("{class}: {err}")
                }
            });
            return (ok, why, Vec::new());
        }
        let results = judge::judge_all(expects, obs);
        let failed = results.iter().find(|r| !r.passed).map(|r| r.describe());
        let values = results
            .iter()
            .map(|r| {
                let mut e = r.clone();
                self.secrets.mask_value(&mut e.expected);
                self.secrets.mask_value(&mut e.actual);
                e.message = e.message.map(|m| self.secrets.mask(&m));
                e
            })
            .collect();
        (failed.is_none(), failed, values)
    }

    /// Waits for a Proxmox VE task until it stops; its exit status must be `OK`.
    async fn pve_task(
        &self,
        p: &Planned,
        i: usize,
        title: Option<String>,
        task: &PveTask,
    ) -> StepOutcome {
        let title = title.unwrap_or_else(|| "Wait for the Proxmox VE task".into());
        let fail = |message: String| StepOutcome {
            record: RanStep::failed(
                number(i),
                Some(title.clone()),
                Some(StepKind::PveTask),
                message,
            ),
            passed: false,
            captures: Map::new(),
            refused: None,
        };
        let api = task.api.as_str();
        let upid = task.upid.trim();
        // A pause under MIN_TASK_EVERY would hammer the API (and, unpaced, never add up).
        let (timeout, every) = (
            task.timeout.map_or(TASK_TIMEOUT, |d| d.0),
            task.every.map_or(TASK_EVERY, |d| d.0).max(MIN_TASK_EVERY),
        );
        let Some(node) = upid
            .split(':')
            .nth(1)
            .filter(|n| upid.starts_with("UPID:") && !n.is_empty())
        else {
            return fail(format!(
                "`{upid}` is not a Proxmox VE task id (UPID:node:…)"
            ));
        };
        let mut with = Map::new();
        with.insert(
            "path".into(),
            format!("/nodes/{node}/tasks/{upid}/status").into(),
        );
        let probe = match late::template_probe(p, api, with) {
            Ok(v) => v,
            Err(why) => return fail(why),
        };
        let spec = match self.secrets.substitute_spec(&p.catalog, &probe.spec) {
            Ok(s) => s,
            Err(missing) => {
                return fail(format!("missing_requirement: {}", missing.join("; ")));
            }
        };
        let start = Instant::now();
        let mut polls = 0u32;
        loop {
            polls += 1;
            let limits = Limits {
                timeout: STEP_TIMEOUT.min(timeout),
                max_output: self.max_output,
            };
            let obs = self.prober.probe(&spec, limits).await;
            if let Some(e) = &obs.error {
                return fail(format!("polling task {upid}: {}", e.message));
            }
            let data = obs.json.as_ref().and_then(|j| j.get("data"));
            let status = data.and_then(|d| d.get("status")).and_then(Value::as_str);
            if status == Some("stopped") {
                let exit = data
                    .and_then(|d| d.get("exitstatus"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let passed = exit == "OK";
                return StepOutcome {
                    record: RanStep {
                        upid: Some(upid.to_string()),
                        exitstatus: Some(exit.to_string()),
                        polls: Some(polls),
                        duration_ms: Some(start.elapsed().as_millis() as u64),
                        passed,
                        message: (!passed)
                            .then(|| format!("task {upid} ended with `{exit}`, not OK")),
                        ..RanStep::failed(
                            number(i),
                            Some(title.clone()),
                            Some(StepKind::PveTask),
                            String::new(),
                        )
                    },
                    passed,
                    captures: Map::new(),
                    refused: None,
                };
            }
            // Unpaced (a replay), the pauses before each poll so far stand for the time they
            // would have taken.
            let waited = if self.pace {
                start.elapsed()
            } else {
                every * (polls - 1)
            };
            if waited + every > timeout {
                return fail(format!(
                    "task {upid} still running after {}",
                    crate::model::duration::Duration(timeout)
                ));
            }
            if self.pace {
                tokio::time::sleep(every).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }
}

/// A step's captured value: what its query finds, or null.
fn capture(q: &Query, root: &Root<'_>) -> Value {
    q.search(root).unwrap_or(Value::Null)
}
