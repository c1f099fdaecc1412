//! Planning: a topology's catalogs, expanded and rendered into a DAG of concrete checks,
//! ordered in waves. No network access; secrets stay masked.

pub mod build;
mod captures;
pub mod command;
mod expand;
pub mod inputs;
pub mod late;
pub mod probe;
pub mod render;
mod repair;
mod target;
mod templating;

pub use probe::{Kind, ProbeCall, Spec};
pub use repair::{GuardPlan, PlannedStep, RepairPlan};
pub use target::Target;

use indexmap::IndexMap;
use serde::Serialize;

use crate::judge::{Expectation, Query, Rule};

use crate::model::shapes::{Poll, RetryLong};
use crate::model::{Class, Severity};

/// The documented, stable JSON shape of `labcert plan --format json` (see README).
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub plan_version: u32,
    /// The vars the topology and the command line bound, per catalog: what a certification
    /// records so its check set can be planned again exactly. Not part of the plan's JSON.
    #[serde(skip)]
    pub inputs: indexmap::IndexMap<String, indexmap::IndexMap<String, serde_json::Value>>,
    pub topology: String,
    pub environment: Option<String>,
    /// Selected providers, sorted.
    pub providers: Vec<String>,
    pub catalogs: Vec<PlanCatalog>,
    /// Indexes into `checks`, one list per wave; a wave needs only earlier waves.
    pub waves: Vec<Vec<usize>>,
    pub checks: Vec<Planned>,
    /// Every input that is missing, at once (`catalog: vars.name`).
    pub missing_requirements: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanCatalog {
    pub id: String,
    pub provider: String,
    pub file: String,
    pub selected: bool,
}

/// What the plan expects to happen to a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum State {
    /// Will be probed.
    Planned,
    /// Will not run: not selected, `when` false, or needs something skipped.
    Skipped(Skipped),
    /// Will be blocked before probing: a missing requirement or a blocked dependency.
    Blocked(Blocked),
}

/// Why the plan already knows a check will be blocked. In the plan's JSON, the `reason`
/// string it always was (`missing_requirement: pve: vars.url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// Inputs no binding, flag or default gives (`catalog: vars.name`).
    MissingRequirement(Vec<String>),
    /// A need (its id) that will be blocked.
    Dependency(String),
}

/// Why the plan skips a check. In the plan's JSON and the manifest, the sentence it always
/// was (`when \`x\` is false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// The catalog's provider is not among those certified.
    NotSelected { provider: String },
    /// The check's `when` expression is false.
    WhenFalse { when: String },
    /// It needs checks of catalogs the topology does not name.
    OutsideTopology {
        needs: Vec<String>,
        topology: String,
    },
    /// A check it needs (this id) is skipped.
    NeedSkipped { need: String },
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::NotSelected { provider } => write!(f, "provider {provider} not selected"),
            Skipped::WhenFalse { when } => write!(f, "when `{when}` is false"),
            Skipped::OutsideTopology { needs, topology } => write!(
                f,
                "needs {}, whose catalog is not in topology {topology}",
                needs.join(", ")
            ),
            Skipped::NeedSkipped { need } => write!(f, "needs {need}, which is skipped"),
        }
    }
}

impl Serialize for Skipped {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocked::MissingRequirement(what) => {
                write!(f, "missing_requirement: {}", what.join(", "))
            }
            Blocked::Dependency(need) => write!(f, "dependency {need} would be blocked"),
        }
    }
}

impl Serialize for Blocked {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Serialize)]
pub struct Planned {
    /// `catalog.group.check` or `catalog.group.check[instance]`.
    pub id: String,
    pub catalog: String,
    pub group: String,
    pub check: String,
    pub instance: Option<String>,
    pub title: String,
    pub severity: Severity,
    pub class: Class,
    #[serde(flatten)]
    pub state: State,
    pub wave: Option<usize>,
    /// Ids of the checks this one needs.
    pub needs: Vec<String>,
    #[serde(skip)]
    pub need_index: Vec<usize>,
    /// The rendered probe (`{kind, use?, spec}` in JSON); none when it could not be rendered.
    pub probe: Option<ProbeCall>,
    pub expect: Vec<Expectation>,
    /// Values taken from the result when the check passes, by name.
    pub capture: IndexMap<String, Query>,
    pub timeout: crate::model::duration::Duration,
    pub retry: Option<RetryLong>,
    pub poll: Option<Poll>,
    pub concurrency: Option<String>,
    /// Rules deciding which errors are `blocked` and which `fail`, patterns compiled.
    pub classify: Vec<Rule>,
    /// Expected/actual values and captures are not recorded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// The repair that would run if the check failed (only with `certify --repair`).
    pub repair: Option<RepairPlan>,
    /// `file:line` of the check's definition.
    pub source: String,
    /// Whether the probe, expectations or captures still hold values only the run knows.
    #[serde(skip)]
    pub waits: bool,
    /// Set when the probe or expectations read captures, or the check has a repair: what the
    /// run renders again (the check's templates and its context).
    #[serde(skip)]
    pub late: Option<std::sync::Arc<late::Late>>,
}

impl Plan {
    pub fn count(&self, pred: impl Fn(&State) -> bool) -> usize {
        self.checks.iter().filter(|c| pred(&c.state)).count()
    }
}
