//! Connections shared by every ssh check of a run: one per [`Route`], opened and logged in
//! once. Checks that arrive while it is being opened wait for that one attempt (no herd of
//! connects) and share its result; then each runs on its own exec channel, under the
//! connection's adaptive channel [`Limit`].
//!
//! Every check has one deadline, its start plus its `timeout`, and ends by it whatever the
//! server does: waiting for the connection, for a channel, the command itself. The connect
//! attempt runs on a task of its own for as long as the most patient waiting check allows
//! ([`Budget`]), so a check that gives up does not end the attempt for the others.
//!
//! A connection that died is replaced once for the checks that saw it die: the first of them
//! reconnects, the others wait and share that attempt's connection or error. A check whose
//! command was already running gets `connection_lost` and is not rerun (retrying is the
//! runner's decision). A channel the server refuses as over its session limit is asked for
//! again (`refusal.rs`) until the check's deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::PoolOptions;
use super::budget::Budget;
use super::connect::{self, Session};
use super::error::{Reason, fail};
use super::exec::{self, Outcome};
use super::limit::Limit;
use super::refusal::Refusals;
use super::target::{Route, Target};
use crate::probe::{Limits, Observation, ProbeError};

/// Connections shared by every ssh check of a run: one per (host, port, user, identity,
/// jump chain, host key trust). `Send + Sync`; share it by reference or `Arc`.
pub struct Pool {
    opts: PoolOptions,
    slots: Mutex<HashMap<Route, Arc<Slot>>>,
}

/// The connection of one route, and the attempts to open it.
#[derive(Default)]
struct Slot {
    /// Connect attempts finished so far.
    attempts: AtomicU64,
    /// How long the attempt in progress may take.
    budget: Budget,
    /// Held by the attempt in progress.
    state: Arc<tokio::sync::Mutex<State>>,
}

#[derive(Default)]
struct State {
    conn: Option<Arc<Conn>>,
    /// The latest attempt's error, with its number.
    failed: Option<(u64, ProbeError)>,
}

struct Conn {
    session: Arc<Session>,
    channels: Limit,
    /// The attempt that opened it.
    attempt: u64,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool::new(PoolOptions::default())
    }
}

impl Pool {
    pub fn new(opts: PoolOptions) -> Pool {
        Pool {
            opts,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Runs the target's command on the route's connection, all within `limits.timeout`.
    pub(super) async fn exec(&self, target: &Target, limits: Limits) -> Observation {
        let deadline = Instant::now() + limits.timeout;
        let slot = self.slot(&target.route);
        let host = target.route.host();
        // Share any attempt that finishes after this point.
        let seen = slot.attempts.load(Ordering::SeqCst);
        let mut conn = match self
            .connection(&slot, &target.route, seen, None, deadline)
            .await
        {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        let mut retried = false;
        let mut refusals = Refusals::default();
        loop {
            let mut place = match tokio::time::timeout_at(deadline, conn.channels.place()).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return failed(fail(Reason::Ssh, "the connection pool is closed".into()));
                }
                Err(_) => return failed(refusals.busy(host, &conn.channels, limits.timeout)),
            };
            let outcome = exec::run(
                &conn.session,
                &mut place,
                &target.command,
                deadline,
                limits,
                host,
            )
            .await;
            match outcome {
                Outcome::Ran(obs) => return *obs,
                Outcome::Refused(why) => {
                    place.refused();
                    refusals.add(why);
                    if !refusals.pause(&conn.channels, deadline).await {
                        return failed(refusals.error(host, &conn.channels, limits.timeout));
                    }
                }
                Outcome::Expired => {
                    return failed(refusals.unopened(host, &conn.channels, limits.timeout));
                }
                // Nothing ran and the connection is gone: once, on a fresh one.
                Outcome::NotStarted { dead: true, .. } if !retried => {
                    retried = true;
                    drop(place);
                    let dead = Some(conn.attempt);
                    conn = match self
                        .connection(&slot, &target.route, conn.attempt, dead, deadline)
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => return failed(e),
                    };
                }
                Outcome::NotStarted { error, dead } => {
                    let error = if dead {
                        fail(Reason::ConnectionLost, error.message)
                    } else {
                        error
                    };
                    return failed(error);
                }
            }
        }
    }

    fn slot(&self, route: &Route) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(route.clone()).or_default().clone()
    }

    /// The route's live connection, opened now if there is none, or the error of an attempt
    /// numbered above `seen` that finished while this call waited. `dead` names the attempt
    /// whose connection the caller saw die. Waits until `deadline` at most.
    async fn connection(
        &self,
        slot: &Arc<Slot>,
        route: &Route,
        seen: u64,
        dead: Option<u64>,
        deadline: Instant,
    ) -> Result<Arc<Conn>, ProbeError> {
        // An attempt in progress now lasts at least as long as this check may wait.
        slot.budget.extend(deadline);
        let gave_up = || {
            fail(
                Reason::Timeout,
                format!(
                    "no SSH session with {} within the check's timeout (connect, key exchange \
                     and login)",
                    route.host()
                ),
            )
        };
        let state = tokio::time::timeout_at(deadline, slot.state.clone().lock_owned())
            .await
            .map_err(|_| gave_up())?;
        if let Some(c) = &state.conn
            && !c.session.is_closed()
            && Some(c.attempt) != dead
        {
            return Ok(c.clone());
        }
        if let Some((n, e)) = &state.failed
            && *n > seen
        {
            return Err(e.clone());
        }
        let attempt = tokio::spawn(attempt(
            state,
            slot.clone(),
            route.clone(),
            self.opts.clone(),
        ));
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(fail(
                Reason::Ssh,
                format!("the connect attempt failed: {e}"),
            )),
            Err(_) => Err(gave_up()),
        }
    }
}

/// One connect attempt, holding the route's state until it is done.
async fn attempt(
    mut state: OwnedMutexGuard<State>,
    slot: Arc<Slot>,
    route: Route,
    opts: PoolOptions,
) -> Result<Arc<Conn>, ProbeError> {
    let number = slot.attempts.load(Ordering::SeqCst) + 1;
    let opened = connect::open(&route, &opts, &slot.budget).await;
    slot.attempts.store(number, Ordering::SeqCst);
    match opened {
        Ok(session) => {
            let conn = Arc::new(Conn {
                session: Arc::new(session),
                channels: Limit::new(opts.channels_per_connection),
                attempt: number,
            });
            state.conn = Some(conn.clone());
            state.failed = None;
            Ok(conn)
        }
        Err(e) => {
            state.conn = None;
            state.failed = Some((number, e.clone()));
            Err(e)
        }
    }
}

fn failed(error: ProbeError) -> Observation {
    Observation {
        error: Some(error),
        ..Observation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Pool>();
    }

    #[test]
    fn run_is_send() {
        fn send<T: Send>(_: &T) {}
        let pool = Pool::default();
        let spec = crate::model::probe::Ssh {
            host: "h".into(),
            port: None,
            user: None,
            command: Some("true".into()),
            argv: None,
            identity: None,
            passphrase: None,
            jump: vec![],
            host_key: None,
            known_hosts: None,
        };
        let fut = super::super::run(&spec, Limits::default(), &pool);
        send(&fut);
    }
}
