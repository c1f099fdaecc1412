//! A scripted prober. Each answer is chosen by the probe's scenario name (a `command`'s
//! first argument, an `http` probe's URL, an `ssh` probe's command) and how many times that
//! name was asked before; every call is logged, so a test can say who ran, in what order
//! and how many at once, without servers or wall-clock assertions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::plan::Spec;
use crate::probe::{Limits, Observation, ProbeError};
use crate::run::Cancel;
use crate::run::cancel::RUNNING;
use crate::run::prober::{BoxFuture, Prober};

/// How long every answer but `Hang` takes: long enough that checks started together are
/// all in flight at once (the tests run on one thread, so they are), short enough to be fast.
const HOLD: Duration = Duration::from_millis(15);

/// One scripted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// Exit 0 (HTTP 200).
    Pass,
    /// Exit 1: a readable wrong answer.
    Wrong,
    /// The probe could not run, with this reason class (`timeout`, `refused`, `auth`, …).
    Error(&'static str),
    /// Never answers; only abandoning the probe ends it.
    Hang,
    /// Passes once the named scenario's probe has ended.
    PassAfter(&'static str),
    /// Passes once the run has stopped starting new checks (`--fail-fast` fired).
    PassAfterStop,
}

/// What the log says happened to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edge {
    Start,
    End,
    /// The call's future was dropped before it answered.
    Abandoned,
}

pub(super) struct Fake {
    /// Scenario → its answers in order; the last one repeats. Unlisted names pass.
    script: HashMap<String, Vec<Answer>>,
    /// Read by `PassAfterStop`.
    cancel: Cancel,
    log: Mutex<Vec<(Edge, String)>>,
}

impl Fake {
    pub(super) fn new(cancel: &Cancel, script: &[(&str, &[Answer])]) -> Arc<Fake> {
        Arc::new(Fake {
            script: script
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_vec()))
                .collect(),
            cancel: cancel.clone(),
            log: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, edge: Edge, name: &str) {
        self.log.lock().unwrap().push((edge, name.to_string()));
    }

    fn log(&self) -> Vec<(Edge, String)> {
        self.log.lock().unwrap().clone()
    }

    /// How many times `name` was probed.
    pub(super) fn calls(&self, name: &str) -> usize {
        self.count(Edge::Start, name)
    }

    /// How many of `name`'s calls ended with `edge`.
    pub(super) fn count(&self, edge: Edge, name: &str) -> usize {
        self.log()
            .iter()
            .filter(|(e, n)| *e == edge && n == name)
            .count()
    }

    /// Where `name`'s first `edge` is in the log; panics when it never happened.
    pub(super) fn at(&self, edge: Edge, name: &str) -> usize {
        self.log()
            .iter()
            .position(|(e, n)| *e == edge && n == name)
            .unwrap_or_else(|| panic!("{name} has no {edge:?} in {:?}", self.log()))
    }

    /// The most calls whose name satisfies `which` that were in flight at one moment.
    pub(super) fn max_in_flight(&self, which: impl Fn(&str) -> bool) -> usize {
        let (mut now, mut max) = (0usize, 0usize);
        for (e, _) in self.log().iter().filter(|(_, n)| which(n)) {
            match e {
                Edge::Start => now += 1,
                Edge::End | Edge::Abandoned => now -= 1,
            }
            max = max.max(now);
        }
        max
    }

    /// Calls in flight now.
    pub(super) fn in_flight(&self) -> usize {
        let log = self.log();
        let started = log.iter().filter(|(e, _)| *e == Edge::Start).count();
        started - (log.len() - started)
    }

    /// Waits (polling) until `done` holds of the fake.
    pub(super) async fn until(&self, done: impl Fn(&Fake) -> bool) {
        while !done(self) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn answer_for(&self, name: &str) -> Answer {
        let asked = self.calls(name);
        self.record(Edge::Start, name);
        match self.script.get(name) {
            Some(a) if !a.is_empty() => a[asked.min(a.len() - 1)],
            _ => Answer::Pass,
        }
    }

    async fn answer(&self, a: Answer) -> Observation {
        let passed = Observation {
            exit: Some(0),
            status: Some(200),
            duration: HOLD,
            ..Default::default()
        };
        match a {
            Answer::Pass => {
                tokio::time::sleep(HOLD).await;
                passed
            }
            Answer::Wrong => {
                tokio::time::sleep(HOLD).await;
                Observation {
                    exit: Some(1),
                    ..passed
                }
            }
            Answer::Error(reason) => {
                tokio::time::sleep(HOLD).await;
                Observation {
                    error: Some(ProbeError {
                        reason: reason.into(),
                        message: format!("scripted {reason}"),
                    }),
                    duration: HOLD,
                    ..Default::default()
                }
            }
            Answer::Hang => std::future::pending().await,
            Answer::PassAfter(other) => {
                self.until(|f| f.count(Edge::End, other) > 0).await;
                passed
            }
            Answer::PassAfterStop => {
                self.until(|f| f.cancel.state() != RUNNING).await;
                passed
            }
        }
    }
}

/// Logs `Abandoned` when a call's future is dropped before it answered.
struct Pending<'a> {
    fake: &'a Fake,
    name: Option<String>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.name.take() {
            self.fake.record(Edge::Abandoned, &n);
        }
    }
}

/// The name a probe's answer is scripted by.
fn scenario(spec: &Spec) -> String {
    match spec {
        Spec::Command(c) => c
            .argv
            .as_ref()
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or_default(),
        Spec::Http(h) => h.url.clone(),
        Spec::Ssh(s) => s
            .command
            .clone()
            .or_else(|| s.argv.as_ref().map(|a| a.join(" ")))
            .unwrap_or_default(),
        other => other.kind().as_str().to_string(),
    }
}

impl Prober for Fake {
    fn probe<'a>(&'a self, spec: &'a Spec, _: Limits) -> BoxFuture<'a, Observation> {
        Box::pin(async move {
            let name = scenario(spec);
            let a = self.answer_for(&name);
            let mut pending = Pending {
                fake: self,
                name: Some(name),
            };
            let obs = self.answer(a).await;
            if let Some(n) = pending.name.take() {
                self.record(Edge::End, &n);
            }
            obs
        })
    }
}
