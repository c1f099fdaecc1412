//! The audit trail of a certification: the repair ledger (what each repair did, would do,
//! or why it was refused) and the waivers given with what they waived. Typed here, described
//! field by field in `schemas/manifest.schema.json`, read by every report through these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Reason, Status};
use crate::judge::ExpectationResult as Expectation;
use crate::plan::PlannedStep;

/// One check's repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepairEntry {
    /// The check repaired, `catalog.group.check[instance]`.
    pub check: String,
    /// `file:line` of the check in its catalog.
    pub source: String,
    /// What the check said before the repair.
    pub before: Before,
    pub status: RepairStatus,
    /// Why it ended as it did, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The guard, when it refused the repair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// The checks the repair required (`require`), probed again just before it: all passed,
    /// or the last one listed did not and refused it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preconditions: Vec<Rerun>,
    /// The steps: as run (with results), or, in a dry run, as they would run.
    #[serde(default)]
    pub steps: Vec<StepEntry>,
    /// The check's own probe and expectations, run again after the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Checks that had passed, probed again after the repair (the catalog's `reruns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reruns: Vec<Rerun>,
    /// UTC RFC 3339.
    pub started_at: String,
    pub finished_at: String,
}

/// How a repair ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepairStatus {
    /// Verified by the check's own probe.
    Repaired,
    /// A step failed, the check still fails, or the repair broke a re-run check.
    Failed,
    /// The guard refused it; nothing was written.
    Refused,
    /// A dry run: nothing was written (`--repair` applies it).
    WouldRepair,
    /// The repair could not be rendered or started.
    Error,
}

impl RepairStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RepairStatus::Repaired => "repaired",
            RepairStatus::Failed => "failed",
            RepairStatus::Refused => "refused",
            RepairStatus::WouldRepair => "would_repair",
            RepairStatus::Error => "error",
        }
    }
}

/// The failing check's verdict before the repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Before {
    pub status: Status,
    #[serde(default)]
    pub reason: Option<Reason>,
    #[serde(default)]
    pub message: Option<String>,
    /// The expectations that did not hold, each as a sentence.
    #[serde(default)]
    pub failed: Vec<String>,
}

/// The guard that refused a repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub refuse_if: String,
    pub reason: String,
}

/// A step of the ledger: run, or (dry run) rendered only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StepEntry {
    Ran(RanStep),
    Planned(PlannedStep),
}

/// What a repair step did: probed (by kind) or waited for a Proxmox VE task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Http,
    Command,
    Ssh,
    Tcp,
    Dns,
    PveTask,
}

impl StepKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepKind::Http => "http",
            StepKind::Command => "command",
            StepKind::Ssh => "ssh",
            StepKind::Tcp => "tcp",
            StepKind::Dns => "dns",
            StepKind::PveTask => "pve_task",
        }
    }
}

impl From<crate::plan::Kind> for StepKind {
    fn from(k: crate::plan::Kind) -> StepKind {
        use crate::plan::Kind;
        match k {
            Kind::Http => StepKind::Http,
            Kind::Command => StepKind::Command,
            Kind::Ssh => StepKind::Ssh,
            Kind::Tcp => StepKind::Tcp,
            Kind::Dns => StepKind::Dns,
        }
    }
}

/// A step that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RanStep {
    /// 1-based.
    pub step: u32,
    #[serde(default)]
    pub title: Option<String>,
    /// The probe kind (`http`, `command`, `ssh`, …) or `pve_task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StepKind>,
    /// The rendered request, secrets masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// What came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<StepResult>,
    /// The step's own expectations, judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Expectation>,
    pub passed: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// A `pve_task` step: the task waited for, its exit status and how often it was polled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exitstatus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<u32>,
}

impl RanStep {
    /// A step that failed before it could run (not rendered, no probe, a missing secret).
    pub fn failed(
        step: u32,
        title: Option<String>,
        kind: Option<StepKind>,
        message: String,
    ) -> RanStep {
        RanStep {
            step,
            title,
            kind,
            request: None,
            result: None,
            expectations: Vec::new(),
            passed: false,
            message: Some(message),
            duration_ms: None,
            upid: None,
            exitstatus: None,
            polls: None,
        }
    }
}

/// An HTTP status or an exit code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
}

/// The check run again after a repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub status: Status,
    #[serde(default)]
    pub reason: Option<Reason>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A check that passed before the repair, probed again after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rerun {
    pub check: String,
    pub status: Status,
    #[serde(default)]
    pub message: Option<String>,
}

/// A waiver given to the run, and what it waived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaiverEntry {
    /// Check ids or patterns (`*` matches any run of characters).
    pub checks: Vec<String>,
    pub reason: String,
    pub approver: String,
    /// UTC RFC 3339.
    pub expires: String,
    /// It had expired when the run started: it waived nothing.
    pub expired: bool,
    /// The failing checks it waived.
    #[serde(default)]
    pub waived: Vec<String>,
    /// The failing checks it would have waived had it not expired.
    #[serde(default)]
    pub not_waived_expired: Vec<String>,
}
