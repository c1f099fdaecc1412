//! A repair's `require`: checks that must pass for the repair to run at all (writes under
//! /etc/pve need a quorate cluster, a VM change needs its node online). Each is probed again,
//! with its own probe and expectations, just before the repair writes anything — what it said
//! earlier in the run may no longer hold — and the first that does not pass refuses the
//! repair, naming it and saying why.

use crate::manifest::Rerun;
use crate::plan::{Plan, Planned, State};
use crate::run::check::{Env, Parts, observe};
use crate::run::{Status, secrets::Secrets};

/// Why a precondition does not hold.
pub(super) type Unmet = String;

/// The planned checks `target` names, as `reruns` names them: an id, `group.check` (every
/// instance) or the same inside `p`'s catalog.
fn resolve<'a>(plan: &'a Plan, p: &Planned, target: &str) -> Vec<&'a Planned> {
    let full = format!("{}.{target}", p.catalog);
    plan.checks
        .iter()
        .filter(|q| q.id != p.id)
        .filter(|q| {
            [target, full.as_str()].iter().any(|t| {
                q.id == *t
                    || q.id.starts_with(&format!("{t}["))
                    || q.id.starts_with(&format!("{t}."))
            })
        })
        .collect()
}

/// Probes every check `p`'s repair requires; each result for the ledger, or the first that
/// did not pass.
pub(super) async fn check(
    plan: &Plan,
    env: &Env,
    secrets: &Secrets,
    p: &Planned,
) -> Result<Vec<Rerun>, (Vec<Rerun>, Unmet)> {
    let targets = p
        .repair
        .as_ref()
        .map(|r| r.require.clone())
        .unwrap_or_default();
    let mut held = Vec::new();
    for target in targets {
        let found = resolve(plan, p, &target);
        if found.is_empty() {
            let why = format!("the required check {target} is not in the plan");
            return Err((held, why));
        }
        for q in found {
            if !matches!(q.state, State::Planned) {
                let why = format!("the required check {} is not run on this topology", q.id);
                return Err((held, why));
            }
            if q.waits {
                let why = format!(
                    "the required check {} reads other checks' captures: it cannot be probed on its own",
                    q.id
                );
                return Err((held, why));
            }
            let Some(probe) = &q.probe else {
                let why = format!(
                    "the required check {} has no probe the plan could render",
                    q.id
                );
                return Err((held, why));
            };
            let parts = Parts {
                probe,
                expect: &q.expect,
                capture: &q.capture,
            };
            let r = observe(env, q, &parts, &|_| {}).await;
            let message = r.message.as_deref().map(|m| secrets.mask(m));
            held.push(Rerun {
                check: q.id.clone(),
                status: r.status,
                message: message.clone(),
            });
            if r.status != Status::Pass {
                let why = format!(
                    "precondition {} is {}{}",
                    q.id,
                    r.status.as_str(),
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                );
                return Err((held, why));
            }
        }
    }
    Ok(held)
}
