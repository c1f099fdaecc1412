//! Probes: how a check observes. One file per kind; all return an [`Observation`].

pub mod command;
pub mod dns;
pub mod http;
mod observation;
pub mod ssh;
pub mod tcp;
mod tls_pin;

pub use observation::{Observation, ProbeError};

/// Limits every probe honours.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: std::time::Duration,
    /// Bytes kept of each output stream; the rest is drained and dropped.
    pub max_output: usize,
}

/// A probe's timeout when neither the check, its probe, its template nor a default says one.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            max_output: 1 << 20,
        }
    }
}
