//! What to plan: a topology, its providers, environment and inputs. The command line maps
//! its flags to one (`cli::TargetArgs`); preflight and qualify build their own.

use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Topology name (under `<catalogs>/topologies/`) or path.
    pub topology: String,
    /// Providers to certify (empty: the topology's).
    pub providers: Vec<String>,
    /// Shown to templates as `env.environment`.
    pub environment: Option<String>,
    /// `catalog.var=value` overrides (the value read as JSON when it parses).
    pub vars: Vec<String>,
    /// `{ catalog: { var: value } }` files, applied before `vars`.
    pub vars_files: Vec<PathBuf>,
    /// Values already bound, per catalog, applied before the files and flags: the inputs a
    /// certification recorded, when preflight plans its check set again.
    pub bound: indexmap::IndexMap<String, indexmap::IndexMap<String, serde_json::Value>>,
}
