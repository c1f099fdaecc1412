//! Running one check: fill in secrets, probe, classify, judge; retry transient errors and
//! poll for the expected state as the catalog asks, recording every attempt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::prober::Prober;
use super::repair::{RepairRequest, Repairer};
use super::secrets::Secrets;
use super::{Attempt, CheckResult, Reason, Status};
use crate::judge::classify::classify;
use crate::judge::{self, Expectation, ExpectationResult, Query, Root};
use crate::model::expect::Expect;
use crate::model::probe::Outcome;
use crate::model::shapes::{Backoff, RetryLong};
use crate::plan::{Kind, Planned, ProbeCall, Spec};
use crate::probe::{Limits, Observation};

/// Reason classes retried when the catalog's `retry` does not list its own.
const TRANSIENT: &[&str] = &["timeout", "refused", "dns", "reset", "http_429"];
/// How much of stderr a failing check keeps as evidence.
const EXCERPT: usize = 512;

/// What every check of a run shares.
pub struct Env {
    pub prober: Arc<dyn Prober>,
    /// Only `certify` gives one (it also describes would-be repairs in a dry run).
    pub repairer: Option<Arc<dyn Repairer>>,
    /// Waivers: given a failing check's id, why it is waived (`certify --waivers`).
    pub waive: Option<Arc<Waive>>,
    pub secrets: Arc<Secrets>,
    pub max_output: usize,
}

/// Decides whether a failing check is waived: `Some(why)` when a waiver in force covers it.
pub type Waive = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The parts of a check that may have been rendered again with captured values.
pub struct Parts<'a> {
    pub probe: &'a ProbeCall,
    pub expect: &'a [Expectation],
    pub capture: &'a IndexMap<String, Query>,
}

/// Runs `p` and, when it fails and has a repair, hands it to the run's repairer with a
/// way to verify; `on_attempt` sees each attempt as it ends. Never panics on bad input.
pub async fn execute(
    env: &Env,
    p: &Planned,
    parts: Parts<'_>,
    checks: Option<Value>,
    on_attempt: &(dyn Fn(&Attempt) + Send + Sync),
) -> CheckResult {
    let r = observe_and_repair(env, p, parts, checks, on_attempt).await;
    waive(env, p, r)
}

/// A failure a waiver covers becomes `waived` (its evidence kept).
fn waive(env: &Env, p: &Planned, mut r: CheckResult) -> CheckResult {
    if r.status == Status::Fail
        && let Some(why) = env.waive.as_ref().and_then(|w| w(&p.id))
    {
        r.status = Status::Waived;
        let was = r.message.take().unwrap_or_default();
        r.message = Some(format!("{why}; the failure: {was}"));
        r.reason = Some(Reason::Waived);
    }
    r
}

async fn observe_and_repair(
    env: &Env,
    p: &Planned,
    parts: Parts<'_>,
    checks: Option<Value>,
    on_attempt: &(dyn Fn(&Attempt) + Send + Sync),
) -> CheckResult {
    let first = observe(env, p, &parts, on_attempt).await;
    let (Some(repairer), true) = (
        &env.repairer,
        first.status == Status::Fail && p.repair.is_some(),
    ) else {
        return first;
    };
    let verify: super::repair::Verify<'_> =
        Box::new(|| Box::pin(async { observe(env, p, &parts, on_attempt).await }));
    repairer
        .repair(RepairRequest {
            planned: p,
            checks: checks.unwrap_or_else(|| Value::Object(Map::new())),
            failed: &first,
            verify,
        })
        .await
}

/// Probes `p` and judges it, with its retries and polling.
pub async fn observe(
    env: &Env,
    p: &Planned,
    parts: &Parts<'_>,
    on_attempt: &(dyn Fn(&Attempt) + Send + Sync),
) -> CheckResult {
    let start = Instant::now();
    let spec = match env.secrets.substitute_spec(&p.catalog, &parts.probe.spec) {
        Ok(s) => s,
        Err(missing) => {
            let mut r = CheckResult::unprobed(
                Status::Blocked,
                Reason::MissingRequirement,
                Some(missing.join("; ")),
            );
            r.missing = missing;
            return r;
        }
    };
    // A tcp probe's banner pattern is one more expectation on what the server said.
    let banner = match &spec {
        Spec::Tcp(t) => t.expect.as_ref().map(|re| {
            Expectation::compile(Expect {
                query: Some("banner".into()),
                matches: Some(re.clone()),
                ..Expect::default()
            })
        }),
        _ => None,
    };
    let expects: std::borrow::Cow<'_, [Expectation]> = match banner {
        Some(b) => parts.expect.iter().cloned().chain([b]).collect(),
        None => parts.expect.into(),
    };
    let limits = Limits {
        timeout: p.timeout.0,
        max_output: env.max_output,
    };
    let judges_status = expects.iter().any(|e| e.spec().status.is_some());
    let retry = p.retry.as_ref();
    let poll_until = p.poll.as_ref().map(|pl| start + pl.within.0);
    let mut attempts = Vec::new();
    let mut retries = 0u32;
    let mut why = "first";
    loop {
        let obs = env.prober.probe(&spec, limits).await;
        let (status, reason, results) = verdict(p, &expects, &obs, judges_status);
        let attempt = Attempt {
            number: attempts.len() as u32 + 1,
            why,
            duration: obs.duration.as_millis() as u64,
            outcome: status,
            reason: reason.clone(),
        };
        on_attempt(&attempt);
        attempts.push(attempt);
        if status == Status::Blocked
            && let Some(r) = retry
            && retries < r.count
            && transient(r, reason.as_ref())
        {
            tokio::time::sleep(backoff(r, retries)).await;
            retries += 1;
            why = "retry";
            continue;
        }
        // Poll on a wrong answer, or on an error that waiting can cure (a VM still booting
        // refuses or times out); never on one it cannot (auth, usage, a missing CLI).
        if (status == Status::Fail || (status == Status::Blocked && waitable(reason.as_ref())))
            && let (Some(pl), Some(until)) = (&p.poll, poll_until)
            && Instant::now() + pl.every.0 < until
        {
            tokio::time::sleep(pl.every.0).await;
            why = "poll";
            continue;
        }
        return finish(
            env,
            p,
            parts.capture,
            spec.kind(),
            obs,
            status,
            reason,
            results,
            attempts,
            start,
        );
    }
}

/// The outcome of one observation: classification first, then the expectations.
fn verdict(
    p: &Planned,
    expects: &[Expectation],
    obs: &Observation,
    judges_status: bool,
) -> (Status, Option<Reason>, Vec<ExpectationResult>) {
    if let Some(v) = classify(&p.classify, obs, judges_status) {
        let status = match v.outcome {
            Outcome::Blocked => Status::Blocked,
            Outcome::Fail => Status::Fail,
        };
        return (status, Some(Reason::from(v.reason)), Vec::new());
    }
    let results = judge::judge_all(expects, obs);
    if results.iter().all(|r| r.passed) {
        (Status::Pass, None, results)
    } else {
        (Status::Fail, Some(Reason::Expectation), results)
    }
}

/// Errors that may clear up by themselves while polling.
fn waitable(reason: Option<&Reason>) -> bool {
    reason.map(Reason::as_str).is_some_and(|r| {
        TRANSIENT.contains(&r)
            || matches!(r, "no_route" | "connection_lost" | "unreachable")
            || r.starts_with("http_5")
    })
}

fn transient(r: &RetryLong, reason: Option<&Reason>) -> bool {
    let Some(reason) = reason.map(Reason::as_str) else {
        return false;
    };
    if r.on.is_empty() {
        TRANSIENT.contains(&reason) || reason.starts_with("http_5")
    } else {
        r.on.iter()
            .any(|x| x == reason || (x == "http_5xx" && reason.starts_with("http_5")))
    }
}

fn backoff(r: &RetryLong, done: u32) -> Duration {
    let base = r.delay.map(|d| d.0).unwrap_or(Duration::from_secs(1));
    let cap = r.max_delay.map(|d| d.0).unwrap_or(Duration::from_secs(30));
    match r.backoff {
        Backoff::Fixed => base,
        Backoff::Exponential => base.saturating_mul(1 << done.min(16)).min(cap),
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    env: &Env,
    p: &Planned,
    capture: &IndexMap<String, Query>,
    kind: Kind,
    obs: Observation,
    status: Status,
    reason: Option<Reason>,
    mut results: Vec<ExpectationResult>,
    attempts: Vec<Attempt>,
    start: Instant,
) -> CheckResult {
    let mut captures = IndexMap::new();
    if status == Status::Pass {
        let null = Value::Null;
        let root = Root::new(obs.json.as_ref().unwrap_or(&null));
        for (name, q) in capture {
            captures.insert(name.clone(), q.search(&root).unwrap_or(Value::Null));
        }
        if p.sensitive {
            env.secrets.add_sensitive(captures.values());
        }
    }
    for r in &mut results {
        env.secrets.mask_value(&mut r.actual);
        env.secrets.mask_value(&mut r.expected);
        if let Some(m) = &r.message {
            r.message = Some(env.secrets.mask(m));
        }
    }
    // Why, in words: the probe's error, else the first expectation that did not hold.
    let message = obs
        .error
        .as_ref()
        .map(|e| env.secrets.mask(&e.message))
        .or_else(|| {
            let failed: Vec<&ExpectationResult> = results.iter().filter(|r| !r.passed).collect();
            let f = failed.first()?;
            let first = if p.sensitive {
                let what = f
                    .query
                    .as_deref()
                    .map(|q| format!("{q} "))
                    .unwrap_or_default();
                format!(
                    "{what}{} did not hold (values not recorded: sensitive)",
                    f.matcher
                )
            } else {
                f.describe()
            };
            Some(match failed.len() {
                1 => first,
                n => format!("{first} (and {} more)", n - 1),
            })
        });
    // What the server said in words, for a status that did not pass.
    let said = obs
        .reason_phrase
        .as_deref()
        .zip(obs.status)
        .filter(|_| status != Status::Pass && !p.sensitive)
        .map(|(phrase, code)| format!("HTTP {code} {}", env.secrets.mask(phrase)));
    let message = match (message, said) {
        (Some(m), Some(s)) => Some(format!("{m} — {s}")),
        (m, s) => m.or(s),
    };
    CheckResult {
        status,
        reason,
        message,
        evidence: evidence(env, p, kind, &obs, status),
        missing: Vec::new(),
        attempts,
        duration: start.elapsed(),
        expectations: results,
        captures,
        probed: true,
        repair: None,
    }
}

/// The readable parts of the last observation, masked; an stderr excerpt only when the
/// check did not pass and is not sensitive.
fn evidence(
    env: &Env,
    p: &Planned,
    kind: Kind,
    obs: &Observation,
    status: Status,
) -> Option<Value> {
    let mut m = Map::new();
    if let Some(s) = obs.status {
        m.insert("status".into(), s.into());
    }
    if let Some(r) = obs.reason_phrase.as_deref().filter(|_| !p.sensitive) {
        m.insert("reasonPhrase".into(), env.secrets.mask(r).into());
    }
    if let Some(c) = obs.exit {
        m.insert("exit".into(), c.into());
    }
    if let Some(s) = obs.signal {
        m.insert("signal".into(), s.into());
    }
    if status != Status::Pass && !p.sensitive && !obs.stderr.trim().is_empty() {
        // Masked first, then cut: a cut never splits a secret, only its mask; and the cut is
        // masked again, so no prefix of a form of a secret is left where it falls.
        let mut cut = env.secrets.mask(obs.stderr.trim());
        if cut.len() > EXCERPT {
            let mut at = EXCERPT;
            while !cut.is_char_boundary(at) {
                at -= 1;
            }
            cut.truncate(at);
            cut = env.secrets.mask(&cut);
            cut.push('…');
        }
        m.insert("stderr".into(), cut.into());
    }
    // A DNS answer says what kind of "no" it was (NXDOMAIN vs no data).
    if let Some(rcode) = obs
        .json
        .as_ref()
        .filter(|_| kind == Kind::Dns)
        .and_then(|j| j.get("rcode"))
        .filter(|r| !r.is_null())
    {
        m.insert("rcode".into(), rcode.clone());
    }
    if obs.stdout_truncated || obs.stderr_truncated {
        m.insert("truncated".into(), true.into());
    }
    (!m.is_empty()).then_some(Value::Object(m))
}
