//! The seam through which a failing check may be repaired. The scheduler only calls a
//! [`Repairer`] when one is given; `certify` is the only command that makes one, so
//! preflight and qualification cannot reach repair at all.

use serde_json::Value;

use super::CheckResult;
use super::prober::BoxFuture;
use crate::plan::Planned;

/// Re-runs the check's own probe and expectations (the verification after a repair).
pub type Verify<'a> = Box<dyn FnOnce() -> BoxFuture<'a, CheckResult> + Send + 'a>;

/// What a repairer is given for one failing check.
pub struct RepairRequest<'a> {
    pub planned: &'a Planned,
    /// The needed checks' captures (`checks.<id>.<name>`), as the check itself saw them.
    pub checks: Value,
    /// The failing result: the evidence before any repair.
    pub failed: &'a CheckResult,
    pub verify: Verify<'a>,
}

/// Runs (or, in a dry run, describes) a failing check's repair. The returned result is the
/// check's final one: `repaired` only when the verification passed; its `repair` field holds
/// the ledger entry.
pub trait Repairer: Send + Sync {
    fn repair<'a>(&'a self, req: RepairRequest<'a>) -> BoxFuture<'a, CheckResult>;
}
