//! A check's repair as the plan renders it: the guard (and whether the plan can already
//! tell it refuses), the steps with their probes rendered (values only the run can know
//! shown as `<capture:…>` placeholders), the settle time and the checks to re-run. The same
//! steps are what a dry run's ledger lists ("would repair").

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::duration::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairPlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardPlan>,
    pub steps: Vec<PlannedStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Duration>,
    /// Checks (`group.check` or ids) probed again after the repair.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reruns: Vec<String>,
    /// Checks that must pass, probed again just before the repair, for it to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
}

impl RepairPlan {
    /// The id of step `i`, which later steps read as `steps.<id>.*`.
    pub fn step_id(&self, i: usize) -> Option<&str> {
        self.steps.get(i)?.id.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardPlan {
    /// The expression; true refuses the repair.
    pub refuse_if: String,
    pub reason: String,
    /// Whether it refuses, when the plan can already tell (it reads only vars and items).
    #[serde(default)]
    pub refused: Option<bool>,
}

/// One step, rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The rendered probe: `kind`, `use` (its template) and `spec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Value>,
    /// A wait for a Proxmox VE task: `api`, `upid`, `timeout`, `every`, rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pve_task: Option<Value>,
    /// Values this step captures (JMESPath), by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub capture: IndexMap<String, String>,
}
