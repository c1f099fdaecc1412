//! The scheduler. One coordinator owns the DAG's state; every check whose needs have
//! passed is started at once as a task that waits for its permits. A check whose need did
//! not pass is `blocked` naming that need, and is never probed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::cancel::{Cancel, RUNNING};
use super::check::{Env, Parts, execute, observe};
use super::events::{Event, Reporter};
use super::limits::Limits;
use super::{Attempt, CheckResult, Reason, Status};
use crate::model::Severity;
use crate::plan::{Blocked, Plan, State, late};

#[derive(Debug, Clone)]
pub struct Options {
    /// Checks running at once.
    pub jobs: usize,
    /// Checks talking to one API endpoint or SSH host at once.
    pub per_endpoint: usize,
    /// Commands in flight on one SSH host.
    pub ssh_channels: usize,
    /// Stop starting checks after the first required failure.
    pub fail_fast: bool,
    /// `catalog/name` → how many checks of that concurrency group run at once.
    pub groups: HashMap<String, usize>,
    /// Qualification: a failing `class: substrate` check stops the run at once (in-flight
    /// checks are cancelled and marked so).
    pub stop_on_substrate_failure: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jobs: 64,
            per_endpoint: 8,
            ssh_channels: 8,
            fail_fast: false,
            groups: HashMap::new(),
            stop_on_substrate_failure: false,
        }
    }
}

/// What every launch needs besides the coordinator's own state.
struct Shared {
    env: Arc<Env>,
    limits: Arc<Limits>,
    tx: mpsc::UnboundedSender<Msg>,
}

enum Msg {
    Started(usize),
    Attempt(usize, Attempt),
}

/// Runs every check of `plan`; the results are in `plan.checks` order.
pub async fn run(
    plan: Arc<Plan>,
    env: Arc<Env>,
    opts: Options,
    cancel: Cancel,
    reporters: &mut [Box<dyn Reporter>],
) -> Vec<CheckResult> {
    let n = plan.checks.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (i, c) in plan.checks.iter().enumerate() {
        waiting[i] = c.need_index.len();
        for &j in &c.need_index {
            dependents[j].push(i);
        }
    }
    let limits = Arc::new(Limits::new(
        opts.jobs,
        opts.per_endpoint,
        opts.ssh_channels,
        opts.groups.clone(),
    ));
    let mut st = Coordinator {
        plan: plan.clone(),
        results: (0..n).map(|_| None).collect(),
        dependents,
        waiting,
        done: 0,
        tasks: JoinSet::new(),
        task_index: HashMap::new(),
        rerun_of: HashMap::new(),
        launched: vec![false; n],
        cancel: cancel.clone(),
        stops: Stops {
            fail_fast: opts.fail_fast,
            on_substrate: opts.stop_on_substrate_failure,
        },
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let sh = Shared {
        env: env.clone(),
        limits: limits.clone(),
        tx,
    };
    emit(reporters, &plan, &Event::RunStarted);
    for i in 0..n {
        let early = match &plan.checks[i].state {
            State::Planned => None,
            State::Skipped(why) => Some(CheckResult::unprobed(
                Status::Skipped,
                Reason::Skipped,
                Some(why.to_string()),
            )),
            State::Blocked(why) => Some(blocked_early(why)),
        };
        if let Some(r) = early {
            st.finish(i, r, reporters);
        }
    }
    for i in 0..n {
        if st.results[i].is_none() && st.waiting[i] == 0 {
            st.launch(i, &sh, reporters);
        }
    }
    let mut aborted = false;
    // Every attempt each check has made so far: a check cut off mid-run (an interrupt)
    // keeps the attempts it made in its result.
    let mut made: Vec<Vec<Attempt>> = vec![Vec::new(); n];
    while !st.tasks.is_empty() {
        tokio::select! {
            biased;
            Some(msg) = rx.recv() => relay(msg, reporters, &plan, &mut made),
            Some(joined) = st.tasks.join_next_with_id() => {
                let rerun = match &joined {
                    Ok((id, _)) => st.rerun_of.remove(id),
                    Err(e) => st.rerun_of.remove(&e.id()),
                };
                let (i, r) = match joined {
                    Ok((id, (i, r))) => { st.task_index.remove(&id); (i, r) }
                    Err(e) => {
                        let i = st.task_index.remove(&e.id()).unwrap_or(usize::MAX);
                        let why = if e.is_cancelled() { cancel.reason().to_string() } else { format!("internal error: the check panicked: {e}") };
                        (i, CheckResult::unprobed(Status::Blocked, if e.is_cancelled() { Reason::Cancelled } else { Reason::Internal }, Some(why)))
                    }
                };
                if i == usize::MAX { continue; }
                // Events the task sent before it ended come first.
                while let Ok(msg) = rx.try_recv() {
                    relay(msg, reporters, &plan, &mut made);
                }
                let mut r = r;
                if r.attempts.is_empty() && rerun.is_none() {
                    r.attempts = std::mem::take(&mut made[i]);
                    r.probed |= !r.attempts.is_empty();
                }
                if let Some(origin) = rerun {
                    st.rerun_done(origin, i, r, reporters);
                    continue;
                }
                let repaired = r.status == Status::Repaired;
                let ready = st.finish(i, r, reporters);
                for j in ready {
                    st.launch(j, &sh, reporters);
                }
                if repaired {
                    st.rerun_after_repair(i, &sh);
                }
            },
            _ = cancel.interrupted(), if !aborted => {
                aborted = true;
                st.tasks.abort_all();
            },
        }
    }
    // Anything left (only after an interrupt with nothing in flight) is cancelled.
    for i in 0..n {
        if st.results[i].is_none() {
            let r = CheckResult::unprobed(
                Status::Blocked,
                Reason::Cancelled,
                Some(cancel.reason().into()),
            );
            st.finish(i, r, reporters);
        }
    }
    st.results
        .into_iter()
        .map(|r| r.expect("every check finished"))
        .collect()
}

/// Passes a task's message on to the reporters, keeping its attempts.
fn relay(msg: Msg, reporters: &mut [Box<dyn Reporter>], plan: &Plan, made: &mut [Vec<Attempt>]) {
    match msg {
        Msg::Started(i) => emit(reporters, plan, &Event::CheckStarted { index: i }),
        Msg::Attempt(i, a) => {
            emit(
                reporters,
                plan,
                &Event::Attempt {
                    index: i,
                    attempt: &a,
                },
            );
            if let Some(list) = made.get_mut(i) {
                list.push(a);
            }
        }
    }
}

fn emit(reporters: &mut [Box<dyn Reporter>], plan: &Plan, e: &Event<'_>) {
    for r in reporters.iter_mut() {
        r.event(plan, e);
    }
}

fn blocked_early(why: &Blocked) -> CheckResult {
    match why {
        Blocked::MissingRequirement(what) => CheckResult::unprobed(
            Status::Blocked,
            Reason::MissingRequirement,
            Some(what.join(", ")),
        ),
        Blocked::Dependency(_) => {
            CheckResult::unprobed(Status::Blocked, Reason::Dependency, Some(why.to_string()))
        }
    }
}

struct Coordinator {
    plan: Arc<Plan>,
    results: Vec<Option<CheckResult>>,
    dependents: Vec<Vec<usize>>,
    waiting: Vec<usize>,
    done: usize,
    tasks: JoinSet<(usize, CheckResult)>,
    task_index: HashMap<tokio::task::Id, usize>,
    /// Re-runs after a repair: task → the repaired check that asked for it.
    rerun_of: HashMap<tokio::task::Id, usize>,
    launched: Vec<bool>,
    cancel: Cancel,
    stops: Stops,
}

/// What a finished check stops: `--fail-fast` starts nothing new after a required failure;
/// qualification stops everything after a substrate failure. Applied by the check's own
/// task before it frees its permits (so no queued check starts in between) and again when
/// the coordinator records the result.
#[derive(Clone, Copy)]
struct Stops {
    fail_fast: bool,
    on_substrate: bool,
}

impl Stops {
    fn apply(self, c: &crate::plan::Planned, r: &CheckResult, cancel: &Cancel) {
        if self.fail_fast && r.status == Status::Fail && c.severity == Severity::Required {
            cancel.stop_new();
        }
        if self.on_substrate
            && matches!(r.status, Status::Fail | Status::Blocked)
            && !r.reason.as_ref().is_some_and(Reason::is_knock_on)
            && c.class == crate::model::Class::Substrate
        {
            cancel.infra_failure();
        }
    }
}

impl Coordinator {
    /// Records a result and settles its dependents: those whose need did not pass are
    /// blocked (transitively); the ones now free to run are returned.
    fn finish(
        &mut self,
        i: usize,
        r: CheckResult,
        reporters: &mut [Box<dyn Reporter>],
    ) -> Vec<usize> {
        let mut ready = Vec::new();
        let mut stack = vec![(i, r)];
        while let Some((i, r)) = stack.pop() {
            if self.results[i].is_some() {
                continue;
            }
            let c = &self.plan.checks[i];
            self.stops.apply(c, &r, &self.cancel);
            let passes = r.status.lets_dependents_run();
            let status = r.status;
            emit(
                reporters,
                &self.plan,
                &Event::CheckFinished {
                    index: i,
                    result: &r,
                },
            );
            self.results[i] = Some(r);
            self.done += 1;
            for &d in &self.dependents[i] {
                if self.results[d].is_some() {
                    continue;
                }
                if passes {
                    self.waiting[d] -= 1;
                    if self.waiting[d] == 0 {
                        ready.push(d);
                    }
                } else if self.plan.checks[d].state == State::Planned {
                    let msg = format!("needs {}, which is {}", c.id, status.as_str());
                    stack.push((
                        d,
                        CheckResult::unprobed(Status::Blocked, Reason::Dependency, Some(msg)),
                    ));
                }
            }
        }
        ready.retain(|&d| self.results[d].is_none());
        ready
    }

    fn launch(&mut self, i: usize, sh: &Shared, reporters: &mut [Box<dyn Reporter>]) {
        if std::mem::replace(&mut self.launched[i], true) || self.results[i].is_some() {
            return;
        }
        if self.cancel.state() != RUNNING {
            let r = CheckResult::unprobed(
                Status::Blocked,
                Reason::Cancelled,
                Some(self.cancel.reason().into()),
            );
            for j in self.finish(i, r, reporters) {
                self.launch(j, sh, reporters);
            }
            return;
        }
        match self.render(i) {
            Ok((rendered, checks)) => self.spawn(i, rendered, checks, None, sh),
            Err(why) => {
                let r = CheckResult::unprobed(Status::Blocked, Reason::Render, Some(why));
                for j in self.finish(i, r, reporters) {
                    self.launch(j, sh, reporters);
                }
            }
        }
    }

    /// A check's parts rendered again with its needs' captures (only when it reads them).
    fn render(
        &self,
        i: usize,
    ) -> Result<(Option<late::Rendered>, Option<serde_json::Value>), String> {
        let p = &self.plan.checks[i];
        if p.late.is_none() {
            return Ok((None, None));
        }
        let needed = p.need_index.iter().filter_map(|&j| {
            self.results[j]
                .as_ref()
                .map(|r| (&self.plan.checks[j], &r.captures))
        });
        let checks = late::checks_value(p, needed);
        // A check that has a repair but reads no capture is as the plan rendered it.
        let rendered = if p.waits {
            Some(late::rerender(p, checks.clone())?)
        } else {
            None
        };
        Ok((rendered, Some(checks)))
    }

    /// Starts check `i`'s task; a re-run (`rerun_for` the repaired check) only observes.
    fn spawn(
        &mut self,
        i: usize,
        rendered: Option<late::Rendered>,
        checks: Option<serde_json::Value>,
        rerun_for: Option<usize>,
        sh: &Shared,
    ) {
        let plan = self.plan.clone();
        let env = sh.env.clone();
        let limits = sh.limits.clone();
        let tx = sh.tx.clone();
        let cancel = self.cancel.clone();
        let stops = self.stops;
        let handle = self.tasks.spawn(async move {
            let p = &plan.checks[i];
            let parts = match (&rendered, &p.probe) {
                (Some(r), _) => Parts {
                    probe: &r.probe,
                    expect: &r.expect,
                    capture: &r.capture,
                },
                (None, Some(probe)) => Parts {
                    probe,
                    expect: &p.expect,
                    capture: &p.capture,
                },
                (None, None) => {
                    let why = format!("{} has no probe the plan could render", p.id);
                    return (
                        i,
                        CheckResult::unprobed(Status::Blocked, Reason::Render, Some(why)),
                    );
                }
            };
            let ep = parts.probe.spec.endpoint();
            let group = p.concurrency.as_ref().map(|g| format!("{}/{g}", p.catalog));
            let _permits = limits.acquire(group.as_deref(), ep.as_deref()).await;
            if cancel.state() != RUNNING {
                return (
                    i,
                    CheckResult::unprobed(
                        Status::Blocked,
                        Reason::Cancelled,
                        Some(cancel.reason().into()),
                    ),
                );
            }
            let _ = tx.send(Msg::Started(i));
            let on_attempt = |a: &Attempt| {
                let _ = tx.send(Msg::Attempt(i, a.clone()));
            };
            let r = if rerun_for.is_some() {
                observe(&env, p, &parts, &on_attempt).await
            } else {
                execute(&env, p, parts, checks, &on_attempt).await
            };
            // Before `_permits` go: a check waiting for them must see what this one stops.
            stops.apply(p, &r, &cancel);
            (i, r)
        });
        self.task_index.insert(handle.id(), i);
        if let Some(origin) = rerun_for {
            self.rerun_of.insert(handle.id(), origin);
        }
    }

    /// A repair may change what checks that already passed saw (the catalog's `reruns`):
    /// they are probed again.
    fn rerun_after_repair(&mut self, origin: usize, sh: &Shared) {
        let plan = self.plan.clone();
        let p = &plan.checks[origin];
        let targets: Vec<String> = p
            .repair
            .as_ref()
            .map(|r| r.reruns.clone())
            .unwrap_or_default();
        for target in targets {
            let full = format!("{}.{target}", p.catalog);
            let matches: Vec<usize> = (0..self.plan.checks.len())
                .filter(|&j| j != origin)
                .filter(|&j| {
                    let id = &self.plan.checks[j].id;
                    [&target, &full].iter().any(|t| {
                        id == *t
                            || id.starts_with(&format!("{t}["))
                            || id.starts_with(&format!("{t}."))
                    })
                })
                .filter(|&j| {
                    self.results[j]
                        .as_ref()
                        .is_some_and(|r| r.status.lets_dependents_run())
                })
                .collect();
            for j in matches {
                if let Ok((rendered, checks)) = self.render(j) {
                    self.spawn(j, rendered, checks, Some(origin), sh);
                }
            }
        }
    }

    /// A re-run after a repair ended: recorded in the repair's ledger entry; if the check
    /// no longer passes, the repair broke it — both results say so.
    fn rerun_done(
        &mut self,
        origin: usize,
        j: usize,
        r: CheckResult,
        reporters: &mut [Box<dyn Reporter>],
    ) {
        let id = self.plan.checks[j].id.clone();
        let origin_id = self.plan.checks[origin].id.clone();
        if let Some(o) = self.results[origin].as_mut()
            && let Some(entry) = o.repair.as_mut()
        {
            entry.reruns.push(crate::manifest::Rerun {
                check: id.clone(),
                status: r.status,
                message: r.message.clone(),
            });
        }
        if r.status.lets_dependents_run() {
            return;
        }
        if let Some(o) = self.results[origin].as_mut() {
            o.status = Status::Fail;
            o.reason = Some(Reason::RepairBroke);
            o.message = Some(format!("after the repair, {id} no longer passes"));
            if let Some(entry) = o.repair.as_mut() {
                entry.status = crate::manifest::RepairStatus::Failed;
                entry.message = Some(format!("the repair broke {id}, which passed before it"));
            }
        }
        let mut r = r;
        r.message = Some(format!(
            "re-run after repairing {origin_id}: {}",
            r.message.as_deref().unwrap_or(r.status.as_str())
        ));
        emit(
            reporters,
            &self.plan,
            &Event::CheckFinished {
                index: j,
                result: &r,
            },
        );
        self.results[j] = Some(r);
    }
}

#[cfg(test)]
mod tests;
