//! A check's status: what it came to, for the scheduler, the manifest and every report.

use schemars::JsonSchema;
use serde::Serialize;

/// A check's status (PRODUCT.md "Check statuses and roll-up").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Repaired,
    Blocked,
    Skipped,
    Waived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Repaired => "repaired",
            Status::Blocked => "blocked",
            Status::Skipped => "skipped",
            Status::Waived => "waived",
        }
    }

    /// Whether dependents may run after it.
    pub fn lets_dependents_run(self) -> bool {
        matches!(self, Status::Pass | Status::Repaired | Status::Waived)
    }
}
