//! The certification manifest (PRODUCT.md "The manifest"): what `certify` writes and a
//! release gate reads. `schemas/manifest.schema.json` is generated from these types.

mod build;
pub mod provenance;
pub mod verdict;
mod write;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::judge::ExpectationResult as Expectation;
pub use crate::outcome::ledger::{
    Before, Guard, RanStep, RepairEntry, RepairStatus, Rerun, StepEntry, StepKind, StepResult,
    Verification, WaiverEntry,
};
pub use build::{Inputs, build};
pub use write::{ReadError, check_target, read, validate, write_atomic, write_file_atomic};

use crate::model::Severity;
use crate::outcome::{Reason, Status};

pub const SCHEMA_VERSION: u32 = 1;

/// A certification: the substrate's state at one time, valid until `expiresAt`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Version of this format.
    pub schema_version: u32,
    /// Unique; qualification results refer to it.
    pub id: String,
    pub status: RunStatus,
    pub environment: String,
    pub topology: String,
    /// Certified providers, sorted.
    pub providers: Vec<String>,
    pub mode: Mode,
    /// UTC RFC 3339 timestamps.
    pub created_at: String,
    pub started_at: String,
    pub finished_at: String,
    pub expires_at: String,
    pub tool: Tool,
    pub catalogs: Vec<CatalogRef>,
    /// The catalogs' group trees, same ids and order.
    pub groups: Vec<GroupResult>,
    pub summary: Summary,
    /// Every input the run lacked (`catalog: secrets.token (why)`), all at once.
    pub missing_requirements: Vec<String>,
    /// Repair ledger: every repair that ran (`certify --repair`) with its steps and the
    /// verification that followed, or that would run (`would_repair`) or was refused.
    pub repairs: Vec<RepairEntry>,
    /// Every waiver given, with what it waived.
    pub waivers: Vec<WaiverEntry>,
    /// The vars the topology and the command line (`--vars`, `--var`) bound, per catalog
    /// (never secrets): preflight plans the check set again from them, exactly.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: PlanInputs,
    /// The release or commit range this certification is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The recording this manifest was replayed from: it certifies the recording, not a lab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
    /// The certifications this one was merged from (`labcert merge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The run was interrupted: the result is incomplete (never `pass`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl crate::schema::Described for Manifest {
    const KIND: crate::schema::Kind = crate::schema::Kind::Manifest;
}

/// Vars per catalog, by name.
pub type PlanInputs = IndexMap<String, IndexMap<String, Value>>;

/// The roll-up: `fail` if a required check failed, else `blocked` if one is blocked, else `pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pass,
    Fail,
    Blocked,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pass => "pass",
            RunStatus::Fail => "fail",
            RunStatus::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Inspect,
    Repair,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// Which catalog file was used, byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogRef {
    pub id: String,
    pub provider: String,
    /// Path as given to labcert.
    pub file: String,
    /// SHA-256 of the file's bytes, lower-case hex.
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// Whether the catalog's provider was certified in this run.
    pub selected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitRef {
    /// Commit of the catalog tree.
    pub revision: String,
    /// The file differs from that commit.
    pub dirty: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupResult {
    pub catalog: String,
    pub id: String,
    pub title: String,
    /// Roll-up of the group's required checks (`skipped` when none ran).
    pub status: Status,
    pub checks: Vec<CheckEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckEntry {
    /// `catalog.group.check[instance]`.
    pub id: String,
    pub check: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub title: String,
    /// `required` checks decide the status; `advisory` ones never do.
    pub severity: Severity,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub attempts: Vec<AttemptEntry>,
    pub duration_ms: u64,
    pub expectations: Vec<Expectation>,
    pub captures: IndexMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Value>,
    /// `file:line` of the check in its catalog.
    pub source: String,
    /// This check's entry of the repair ledger (also listed in `repairs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptEntry {
    pub number: u32,
    /// `first`, `retry` or `poll`.
    pub why: String,
    pub duration_ms: u64,
    pub outcome: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// Counts per status; `required*` count only required checks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub repaired: usize,
    pub blocked: usize,
    pub skipped: usize,
    pub waived: usize,
    pub required_fail: usize,
    pub required_blocked: usize,
}

impl Manifest {
    /// Every check, in order.
    pub fn checks(&self) -> impl Iterator<Item = &CheckEntry> {
        self.groups.iter().flat_map(|g| g.checks.iter())
    }
}
