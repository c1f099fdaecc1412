//! Repair: ordered steps that may write, a guard that refuses, verification by the check itself.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::expect::Expect;
use super::probe::Probe;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    pub guard: Option<Guard>,
    pub steps: Vec<RepairStep>,
    /// Wait this long after the last step before verifying.
    pub settle: Option<Duration>,
    /// Checks whose earlier results this repair invalidates; they run again after it.
    #[serde(default)]
    pub reruns: Vec<String>,
    /// Preconditions: checks (`group.check`, an instance `group.check[i]`, or a whole
    /// `group.check` family) probed again just before the repair writes anything; one that
    /// does not pass refuses the repair, naming it (e.g. writes under /etc/pve need quorum).
    #[serde(default)]
    pub require: Vec<String>,
}

/// When repair must be refused, e.g. the bridge carries the node's management address.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// An expression; when it is true, the repair is refused.
    pub refuse_if: String,
    /// Why, recorded in the ledger.
    pub reason: String,
}

/// One repair step: a probe (which may write), or a wait for a Proxmox VE task.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairStep {
    /// Later steps read this step's captures as `steps.<id>.<name>`.
    pub id: Option<String>,
    pub title: Option<String>,
    pub probe: Option<Probe>,
    /// Wait for a PVE task (UPID) until it stops; its exit status must be `OK`.
    pub pve_task: Option<PveTask>,
    /// Values taken from this step's result (JMESPath).
    #[serde(default)]
    pub capture: IndexMap<String, String>,
    /// What this step's own result must satisfy for the repair to go on.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// What the lab must look like for the repair to go on at all: when one of these does
    /// not hold on this step's result, the repair is *refused* there (nothing after it
    /// runs), with the failed expectations — expected and actual — in the ledger. For what a
    /// repair must not touch (changes someone else staged, the management interface).
    #[serde(default)]
    pub refuse_unless: Vec<Expect>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PveTask {
    /// The probe template that reaches the PVE API (called with `path`).
    pub api: String,
    /// The UPID to wait for, usually `{{ steps.<id>.upid }}`.
    pub upid: String,
    /// How long to wait (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Poll interval (default 2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
}
