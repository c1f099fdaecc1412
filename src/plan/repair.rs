//! A check's repair as the plan renders it: the guard (and whether the plan can already
//! tell it refuses), the steps with their probes rendered (values only the run can know
//! shown as `<capture:…>` placeholders), the settle time and the checks to re-run. The same
//! steps are what a dry run's ledger lists ("would repair").

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::probe::ProbeCall;
use super::templating::{Mode, RawCache, Templates, compact, probe, render_lenient};
use crate::model::duration::Duration;
use crate::model::repair::{PveTask, Repair};
use crate::template::{self, Ctx, ctx_value, to_ctx};

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
    pub probe: Option<ProbeCall>,
    /// A wait for a Proxmox VE task: `api`, `upid`, `timeout`, `every`, rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pve_task: Option<PveTask>,
    /// Values this step captures (JMESPath), by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub capture: IndexMap<String, String>,
}

/// The plan of repair `r`, rendered in the check's context; what only the run can know is
/// left as written or as a placeholder.
pub(super) fn plan(probes: &Templates, r: &Repair, ctx: &Ctx, raw: &mut RawCache) -> RepairPlan {
    // Earlier steps' results are unknown before the run: show them as placeholders.
    let mut ctx = ctx.clone();
    let mut steps_ph = Map::new();
    for s in &r.steps {
        if let Some(id) = &s.id {
            let caps: Map<String, Value> = s
                .capture
                .keys()
                .map(|c| {
                    (
                        c.clone(),
                        Value::String(format!("<capture:steps.{id}.{c}>")),
                    )
                })
                .collect();
            steps_ph.insert(id.clone(), Value::Object(caps));
        }
    }
    ctx.insert("steps".into(), to_ctx(Value::Object(steps_ph)));
    let ctx = &ctx;
    let mctx = ctx_value(ctx);
    let steps = r
        .steps
        .iter()
        .map(|s| PlannedStep {
            id: s.id.clone(),
            title: s.title.clone(),
            probe: s
                .probe
                .as_ref()
                .and_then(|p| probe(probes, p, ctx, Mode::Lenient, raw).ok())
                .and_then(|v| ProbeCall::from_json(v).ok()),
            pve_task: s.pve_task.as_ref().map(|t| {
                let v =
                    render_lenient(&compact(serde_json::to_value(t).unwrap_or_default()), &mctx);
                serde_json::from_value(v).unwrap_or_else(|_| t.clone())
            }),
            capture: s
                .capture
                .iter()
                .map(|(name, q)| {
                    let q = render_lenient(&Value::String(q.clone()), &mctx);
                    (
                        name.clone(),
                        q.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| q.to_string()),
                    )
                })
                .collect(),
        })
        .collect();
    RepairPlan {
        // The guard usually reads only vars and items, so the plan can already tell.
        guard: r.guard.as_ref().map(|g| GuardPlan {
            refuse_if: g.refuse_if.clone(),
            reason: g.reason.clone(),
            refused: template::truthy(&g.refuse_if, &mctx).ok(),
        }),
        steps,
        settle: r.settle,
        reruns: check_names(&r.reruns, &mctx),
        require: check_names(&r.require, &mctx),
    }
}

/// Check references (`group.check`, ids), rendered leniently.
fn check_names(list: &[String], mctx: &minijinja::Value) -> Vec<String> {
    list.iter()
        .map(|t| {
            let v = render_lenient(&Value::String(t.clone()), mctx);
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .collect()
}
