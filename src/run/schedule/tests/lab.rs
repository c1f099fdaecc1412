//! A one-catalog lab planned in-process from YAML written to a temporary directory, run by
//! the real scheduler against a [`Fake`] prober.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::fake::Fake;
use crate::diag::{Diagnostics, render};
use crate::plan::{Plan, Target};
use crate::run::check::Env;
use crate::run::secrets::Secrets;
use crate::run::{Attempt, Cancel, CheckResult, Options, Reason, Status, run};

/// A run that takes longer than this is stuck: the test fails instead of hanging.
const STUCK: Duration = Duration::from_secs(10);

/// One check in group `g` of catalog `t`, probed as `command: [id]` and passing on exit 0;
/// `extra` is more of its YAML flow mapping (`needs: [a], retry: 2`).
pub(super) fn check(id: &str, extra: &str) -> String {
    check_probe(id, extra, &format!("command: {{ argv: [{id}] }}"))
}

/// Like [`check`], with its own probe (`http: { url: … }`) and no expectation.
pub(super) fn check_probe(id: &str, extra: &str, probe: &str) -> String {
    let expect = if probe.starts_with("command") {
        ", expect: [ { exit: 0 } ]"
    } else {
        ""
    };
    let sep = if extra.is_empty() { "" } else { ", " };
    format!("      - {{ id: {id}{sep}{extra}, probe: {{ {probe} }}{expect} }}\n")
}

pub(super) struct Lab {
    plan: Arc<Plan>,
    groups: HashMap<String, usize>,
}

impl Lab {
    /// Plans catalog `t` (`head`: catalog-level YAML such as `concurrency: { api: 2 }`)
    /// with one group `g` holding `checks`.
    pub(super) fn new(head: &str, checks: &[String]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let catalog = format!(
            "catalog: t\nprovider: reachability\n{head}\ngroups:\n  - id: g\n    checks:\n{}",
            checks.concat()
        );
        std::fs::create_dir_all(root.join("topologies")).unwrap();
        std::fs::write(root.join("t.yaml"), &catalog).unwrap();
        std::fs::write(
            root.join("topologies/t.yaml"),
            "topology: t\ncatalogs:\n  t: {}\n",
        )
        .unwrap();
        let target = Target {
            topology: "t".into(),
            environment: Some("test".into()),
            bound: Default::default(),
            ..Target::default()
        };
        let mut diags = Diagnostics::default();
        let Some((plan, set)) = crate::plan::command::plan(&target, root, &mut diags) else {
            let all: Vec<String> = diags.iter().map(render).collect();
            panic!("the catalog does not plan:\n{catalog}\n{}", all.join("\n"));
        };
        // As certify does: `catalog/name` → limit.
        let groups = set
            .catalogs
            .iter()
            .flat_map(|c| {
                let id = c.model.catalog.clone();
                c.model
                    .concurrency
                    .iter()
                    .map(move |(n, l)| (format!("{id}/{n}"), *l as usize))
            })
            .collect();
        Lab {
            plan: Arc::new(plan),
            groups,
        }
    }

    /// Runs the plan with `fake`; `opts.groups` come from the catalog.
    pub(super) async fn run(&self, fake: &Arc<Fake>, opts: Options, cancel: &Cancel) -> Outcome {
        let env = Arc::new(Env {
            prober: fake.clone(),
            repairer: None,
            waive: None,
            secrets: Arc::new(Secrets::default()),
            max_output: 1 << 16,
        });
        let opts = Options {
            groups: self.groups.clone(),
            ..opts
        };
        let results = tokio::time::timeout(
            STUCK,
            run(self.plan.clone(), env, opts, cancel.clone(), &mut []),
        )
        .await
        .expect("the run ends");
        assert_eq!(
            results.len(),
            self.plan.checks.len(),
            "one result per check"
        );
        Outcome {
            results: self
                .plan
                .checks
                .iter()
                .map(|c| c.id.clone())
                .zip(results)
                .collect(),
        }
    }
}

/// The results, by check id (`a` for `t.g.a`).
pub(super) struct Outcome {
    results: HashMap<String, CheckResult>,
}

impl Outcome {
    pub(super) fn get(&self, id: &str) -> &CheckResult {
        let full = format!("t.g.{id}");
        self.results
            .get(&full)
            .unwrap_or_else(|| panic!("no check {full}"))
    }

    pub(super) fn status(&self, id: &str) -> Status {
        self.get(id).status
    }

    /// Status, reason and message: what a blocked check says.
    pub(super) fn said(&self, id: &str) -> (Status, Option<&str>, Option<&str>) {
        let r = self.get(id);
        (
            r.status,
            r.reason.as_ref().map(Reason::as_str),
            r.message.as_deref(),
        )
    }

    /// Each attempt as (why, outcome, reason).
    pub(super) fn attempts(&self, id: &str) -> Vec<(&'static str, Status, Option<&str>)> {
        self.get(id)
            .attempts
            .iter()
            .map(|a: &Attempt| (a.why, a.outcome, a.reason.as_ref().map(Reason::as_str)))
            .collect()
    }

    /// How many checks ended with `status`.
    pub(super) fn count(&self, status: Status) -> usize {
        self.results.values().filter(|r| r.status == status).count()
    }
}
