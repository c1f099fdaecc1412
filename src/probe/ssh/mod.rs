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
//! | `connect.rs` | opening a session over TCP or through jump hosts |
//! | `hostkey.rs` | verifying the host key |
//! | `auth.rs` | public key authentication: key file or ssh-agent |
//! | `exec.rs` | one command on one channel: output caps, exit, signal, timeout |
//! | `error.rs` | reason classes of connection errors |
//!
//! Connection errors are probe errors with a reason class: `refused`, `timeout`, `dns`,
//! `no_route`, `hostkey`, `auth`, `ssh` (protocol), `usage` (a bad spec); a channel that
//! died mid-command is `connection_lost`; a command that outlived the timeout is `timeout`.

mod auth;
mod connect;
mod error;
mod exec;
mod hostkey;
mod pool;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use pool::Pool;

use super::{Limits, Observation};
use crate::model::probe::Ssh;

/// How a [`Pool`] connects.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Concurrent exec channels per connection (below OpenSSH's default `MaxSessions 10`).
    pub channels_per_connection: usize,
    /// Limit for opening one hop: TCP connect, key exchange, host key check and login.
    pub connect_timeout: Duration,
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
            connect_timeout: Duration::from_secs(10),
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
