//! Running a plan: the scheduler ([`schedule`]) starts every check whose needs have passed,
//! at once, under the run's limits; [`check`] runs one check's attempts and judges them.
//! Reporters receive [`Event`]s and never drive the run.

mod cancel;
pub mod check;
pub mod events;
mod limits;
pub mod prober;
pub mod record;
pub mod repair;
mod schedule;
pub mod secrets;
pub mod signals;

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

pub use crate::outcome::{Reason, Status};
pub use cancel::Cancel;
pub use events::{Event, Reporter};
pub use schedule::{Options, run};

use crate::judge::ExpectationResult;

/// One probe attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// `first`, `retry` (a transient error) or `poll` (waiting for the expected state).
    pub why: &'static str,
    /// Milliseconds.
    pub duration: u64,
    pub outcome: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// What running a check produced.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub status: Status,
    /// Why, beyond the status: the run's own reason or a probe's or catalog's class.
    pub reason: Option<Reason>,
    /// Words for a person: the error message, or which dependency blocked it.
    pub message: Option<String>,
    pub attempts: Vec<Attempt>,
    pub duration: Duration,
    pub expectations: Vec<ExpectationResult>,
    pub captures: IndexMap<String, Value>,
    /// The last observation's readable parts (masked): status/exit and an output excerpt.
    pub evidence: Option<Value>,
    /// Whether the probe ran at all.
    pub probed: bool,
    /// The inputs it lacked (`catalog: secrets.name (why)`), when `missing_requirement`.
    pub missing: Vec<String>,
    /// The repair ledger entry: what ran (or would run), its steps and the verification.
    pub repair: Option<crate::manifest::RepairEntry>,
}

impl CheckResult {
    /// A result decided without probing.
    pub fn unprobed(status: Status, reason: Reason, message: Option<String>) -> Self {
        CheckResult {
            status,
            reason: Some(reason),
            message,
            attempts: Vec::new(),
            duration: Duration::ZERO,
            expectations: Vec::new(),
            captures: IndexMap::new(),
            evidence: None,
            probed: false,
            missing: Vec::new(),
            repair: None,
        }
    }
}
