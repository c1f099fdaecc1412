//! A catalog file: inputs, probe templates, and an ordered list of groups of checks.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;
use super::expect::Expect;
use super::probe::{Probe, ProbeTemplate};
use super::repair::Repair;
use super::shapes::{ForEach, Poll, Retry};

/// The systems labcert certifies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Pve,
    Aws,
    Azure,
    Oci,
    /// Spans the others; always selected, its checks skip when what they need is not.
    Reachability,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Pve => "pve",
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Oci => "oci",
            Provider::Reachability => "reachability",
        }
    }

    pub const ALL: [Provider; 5] = [
        Provider::Pve,
        Provider::Aws,
        Provider::Azure,
        Provider::Oci,
        Provider::Reachability,
    ];
}

/// A labcert catalog.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "labcert catalog")]
pub struct Catalog {
    /// Editor hint; ignored by labcert.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Catalog id: checks are addressed as `<catalog>.<group>.<check>`.
    pub catalog: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub provider: Provider,
    /// Non-secret inputs, bound by a topology; templates read them as `vars.<name>`.
    #[serde(default)]
    pub vars: IndexMap<String, VarDecl>,
    /// Secret inputs, bound by reference only; templates read them as `secrets.<name>`.
    #[serde(default)]
    pub secrets: IndexMap<String, SecretDecl>,
    #[serde(default)]
    pub defaults: Defaults,
    /// Named concurrency groups and how many checks of each may run at once.
    #[serde(default)]
    pub concurrency: IndexMap<String, u32>,
    /// Probe templates, used by checks as `probe: { use: <name>, with: {…} }`.
    #[serde(default)]
    pub probes: IndexMap<String, ProbeTemplate>,
    pub groups: Vec<Group>,
}

pub use super::shapes::VarType;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VarDecl {
    #[serde(default, rename = "type")]
    pub kind: VarType,
    pub description: Option<String>,
    /// Used when the topology does not bind the var; without it the var is required.
    pub default: Option<Value>,
    /// Shown in documentation and `plan`.
    pub example: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretDecl {
    pub description: Option<String>,
    /// A reference used when the topology binds none: `env:NAME`, `file:PATH` or `command:CMD`.
    pub default: Option<String>,
}

/// Defaults for every check of a catalog or group.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub concurrency: Option<String>,
    pub severity: Option<Severity>,
    pub class: Option<Class>,
}

/// Whether a check decides the certification status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Required,
    Advisory,
}

/// For qualification: a failing `product` check is a product failure, a `substrate` one an infra failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Product,
    #[default]
    Substrate,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Checks or groups every check of this group needs (`check`, `group`, `group.check`, `catalog.group.check`).
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub defaults: Defaults,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub class: Option<Class>,
    /// Checks or groups this check needs; they must pass first. May end in `[<instance>]`.
    #[serde(default)]
    pub needs: Vec<String>,
    /// An expression over vars, env and item; when false the check is `skipped`.
    pub when: Option<String>,
    pub for_each: Option<ForEach>,
    pub probe: Probe,
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// Named values (JMESPath) that dependents read as `checks.<id>.<name>`.
    #[serde(default)]
    pub capture: IndexMap<String, String>,
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub poll: Option<Poll>,
    pub concurrency: Option<String>,
    pub repair: Option<Repair>,
    /// The evidence is sensitive: expected/actual values and captures are not recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}
