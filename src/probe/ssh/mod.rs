//! The `ssh` probe: a command on a remote host, over SSH, in pure Rust (russh; no `ssh`
//! binary).
//!
//! Every check of a run shares one [`Pool`]: one authenticated connection per host, port,
//! user, identity and jump chain, on which checks run as concurrent exec channels. The
//! host key is always verified (a pinned fingerprint, else `known_hosts`) before anything
//! is sent; there is no accept-any mode.
//!
//! | file | concept |
//! |---|---|
//! | `target.rs` | the spec read into a route (hops, identity, trust) |
//! | `pool.rs` | one shared connection per route; reconnecting once when it dies |
//! | `budget.rs` | how long a shared connect may take: the latest deadline waiting for it |
//! | `limit.rs` | the adaptive limit of channels per connection |
//! | `refusal.rs` | a session the server refused: wait, ask again, until the deadline |
//! | `connect.rs` | opening a session over TCP or through jump hosts |
//! | `hostkey.rs` | verifying the host key |
//! | `auth.rs` | public key authentication: key file or ssh-agent |
//! | `exec.rs` | one command on one channel: output caps, exit, signal, timeout |
//! | `error.rs` | reason classes of connection errors |
//!
//! Connection errors are probe errors with a reason class ([`error::Reason`]): `refused`,
//! `timeout`, `dns`, `no_route`, `hostkey`, `auth`, `ssh` (protocol), `usage` (a bad spec);
//! a channel that died mid-command is `connection_lost`; sessions the server kept refusing
//! until the deadline are `sessions_refused`; a check that outlived its timeout anywhere —
//! connecting, waiting for a channel, running — is `timeout`. A check's `timeout` bounds
//! all of it.

mod auth;
mod budget;
mod connect;
mod error;
mod exec;
mod hostkey;
mod limit;
mod pool;
mod refusal;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use pool::Pool;

use super::{Limits, Observation};
use crate::model::probe::Ssh;

/// How a [`Pool`] connects.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Concurrent exec channels per connection at most (below OpenSSH's default
    /// `MaxSessions 10`); fewer while the server refuses sessions.
    pub channels_per_connection: usize,
    /// Interval of keepalive requests while the server is silent.
    pub keepalive: Duration,
    /// The ssh-agent socket used when a check names no `identity` (default: `$SSH_AUTH_SOCK`
    /// when the pool is created).
    pub agent_socket: Option<PathBuf>,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        PoolOptions {
            channels_per_connection: 8,
            keepalive: Duration::from_secs(15),
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// Runs the command on the spec's host through the pool's shared connection. Never panics;
/// every failure is an observation.
pub async fn run(spec: &Ssh, limits: Limits, pool: &Pool) -> Observation {
    let start = Instant::now();
    let mut obs = match target::Target::from_spec(spec) {
        Ok(target) => pool.exec(&target, limits).await,
        Err(e) => Observation {
            error: Some(e),
            ..Observation::default()
        },
    };
    obs.duration = start.elapsed();
    obs
}
