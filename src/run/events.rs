//! What the run tells its reporters, in order, as it happens.

use super::{Attempt, CheckResult};
use crate::plan::Plan;

/// One thing that happened. `index` is the check's position in `plan.checks`.
#[derive(Debug)]
pub enum Event<'a> {
    RunStarted,
    /// The check got its permits and its probe is about to run.
    CheckStarted {
        index: usize,
    },
    Attempt {
        index: usize,
        attempt: &'a Attempt,
    },
    CheckFinished {
        index: usize,
        result: &'a CheckResult,
    },
}

/// A consumer of events: the terminal view, NDJSON, … Reporters never drive the run.
pub trait Reporter: Send {
    fn event(&mut self, plan: &Plan, event: &Event<'_>);
}

/// A reporter shared with its owner, who reads it back after the run.
impl<R: Reporter> Reporter for std::sync::Arc<std::sync::Mutex<R>> {
    fn event(&mut self, plan: &Plan, event: &Event<'_>) {
        self.lock()
            .unwrap_or_else(|p| p.into_inner())
            .event(plan, event);
    }
}
