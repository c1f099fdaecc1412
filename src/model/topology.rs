//! A topology: which catalogs run for a lab, for which providers, with what inputs.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalog::Provider;
use super::duration::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "labcert topology")]
pub struct Topology {
    /// Editor hint; ignored by labcert.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Topology name, as given to `--topology`.
    pub topology: String,
    pub description: Option<String>,
    /// Providers certified when `--providers` is not given (default: those of the catalogs).
    #[serde(default)]
    pub providers: Vec<Provider>,
    /// The catalogs this topology runs, by catalog id, each with its inputs.
    pub catalogs: IndexMap<String, Binding>,
    /// Longest validity a manifest for this topology may be given (default 24h).
    pub max_valid_for: Option<Duration>,
    /// Directory of recorded probe exchanges replayed by default (relative to this file).
    pub replay: Option<String>,
}

/// The longest validity without the topology's say-so.
pub const DEFAULT_MAX_VALID: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Topology {
    /// The longest validity a certification of this topology may have: its `max_valid_for`,
    /// else 24 h. certify bounds `--valid-for` by it and preflight refuses a longer window.
    pub fn max_valid(&self) -> std::time::Duration {
        self.max_valid_for.map(|d| d.0).unwrap_or(DEFAULT_MAX_VALID)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The file that defines this catalog, relative to the catalog root (the directory holding
    /// this topology's `topologies/`) and inside it; checked, never used to load another file.
    pub file: Option<String>,
    #[serde(default)]
    pub vars: IndexMap<String, Value>,
    /// Secret references: `env:NAME`, `file:PATH` or `command:CMD`. Never a literal.
    #[serde(default)]
    pub secrets: IndexMap<String, String>,
}
