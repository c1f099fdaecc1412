//! A step's `refuse_unless`: what the lab must look like for the repair to go on at all.
//! Judged on the step's own result once it has passed; the first that does not hold
//! refuses the repair, and every one is kept, judged and masked, for the ledger.

use crate::judge;
use crate::manifest::Expectation;
use crate::probe::Observation;
use crate::run::secrets::Secrets;

/// Why the repair is refused, with every `refuse_unless` expectation judged.
pub(super) struct Refusal {
    pub why: String,
    pub judged: Vec<Expectation>,
}

/// `None` when every expectation of `refuse_unless` holds on `obs`.
pub(super) fn judge(
    secrets: &Secrets,
    refuse_unless: &[judge::Expectation],
    obs: &Observation,
) -> Option<Refusal> {
    let results = judge::judge_all(refuse_unless, obs);
    let why = results.iter().find(|r| !r.passed)?.describe();
    let judged = results
        .iter()
        .map(|r| {
            let mut e: Expectation = r.clone();
            secrets.mask_value(&mut e.expected);
            secrets.mask_value(&mut e.actual);
            e.message = e.message.map(|m| secrets.mask(&m));
            e
        })
        .collect();
    Some(Refusal {
        why: secrets.mask(&why),
        judged,
    })
}
