//! Connections shared by every ssh check of a run: one per [`Route`], opened and logged in
//! once. Checks that arrive while it is being opened wait for that one attempt (no herd of
//! connects) and share its result; then each runs on its own exec channel, at most
//! `channels_per_connection` at a time.
//!
//! A connection that died is replaced once for the checks that saw it die: the first of them
//! reconnects, the others wait and share that attempt's connection or error. A check whose
//! command was already running gets `connection_lost` and is not rerun (retrying is the
//! runner's decision).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::PoolOptions;
use super::connect::{self, Session};
use super::error::fail;
use super::exec::{self, Outcome};
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
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<Arc<Conn>>,
    /// The latest attempt's error, with its number.
    failed: Option<(u64, ProbeError)>,
}

struct Conn {
    session: Session,
    channels: Semaphore,
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

    /// Runs the target's command on the route's connection.
    pub(super) async fn exec(&self, target: &Target, limits: Limits) -> Observation {
        let slot = self.slot(&target.route);
        let host = target.route.host();
        // Share any attempt that finishes after this point.
        let seen = slot.attempts.load(Ordering::SeqCst);
        let mut conn = match self.connection(&slot, &target.route, seen, None).await {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        let mut retried = false;
        loop {
            // Every holder is bounded by its own timeout, so this wait is too.
            let Ok(permit) = conn.channels.acquire().await else {
                return failed(fail("ssh", "the connection pool is closed".into()));
            };
            match exec::run(&conn.session.handle, &target.command, limits, host).await {
                Outcome::Ran(obs) => return *obs,
                // Nothing ran and the connection is gone: once, on a fresh one.
                Outcome::NotStarted { dead: true, .. } if !retried => {
                    retried = true;
                    drop(permit);
                    conn = match self
                        .connection(&slot, &target.route, conn.attempt, Some(conn.attempt))
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => return failed(e),
                    };
                }
                Outcome::NotStarted { error, dead } => {
                    let error = if dead {
                        ProbeError {
                            reason: "connection_lost".into(),
                            message: error.message,
                        }
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

    /// The route's live connection, opened now if there is none. An attempt numbered above
    /// `seen` that finished while this call waited is shared, error included. `dead` names
    /// the attempt whose connection the caller saw die.
    async fn connection(
        &self,
        slot: &Slot,
        route: &Route,
        seen: u64,
        dead: Option<u64>,
    ) -> Result<Arc<Conn>, ProbeError> {
        let mut state = slot.state.lock().await;
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
        let attempt = slot.attempts.load(Ordering::SeqCst) + 1;
        let opened = connect::open(route, &self.opts).await;
        slot.attempts.store(attempt, Ordering::SeqCst);
        match opened {
            Ok(session) => {
                let conn = Arc::new(Conn {
                    session,
                    channels: Semaphore::new(self.opts.channels_per_connection.max(1)),
                    attempt,
                });
                state.conn = Some(conn.clone());
                state.failed = None;
                Ok(conn)
            }
            Err(e) => {
                state.conn = None;
                state.failed = Some((attempt, e.clone()));
                Err(e)
            }
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
            command: "true".into(),
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
