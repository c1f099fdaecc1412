//! `--junit`: JUnit XML for CI test views. Each group is a suite, each check a test case;
//! `fail` is a failure (expected vs actual in the description), `blocked` an error.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::summary::expectation;
use crate::manifest::Manifest;
use crate::run::Status;

pub fn xml(m: &Manifest) -> Result<String, String> {
    let mut report = Report::new(format!("labcert {} {}", m.environment, m.topology));
    for g in &m.groups {
        if g.checks.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(format!("{}.{}", g.catalog, g.id));
        for k in &g.checks {
            let mut status = match k.status {
                Status::Pass | Status::Repaired | Status::Waived => TestCaseStatus::success(),
                Status::Skipped => TestCaseStatus::skipped(),
                Status::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Status::Blocked => TestCaseStatus::non_success(NonSuccessKind::Error),
            };
            if !matches!(k.status, Status::Pass) {
                let why = k
                    .message
                    .clone()
                    .or_else(|| k.reason.as_ref().map(|r| r.as_str().to_string()))
                    .unwrap_or_else(|| k.status.as_str().into());
                status.set_message(why);
                status.set_type(
                    k.reason
                        .as_ref()
                        .map_or(k.status.as_str(), |r| r.as_str())
                        .to_string(),
                );
                let failed: Vec<String> = k
                    .expectations
                    .iter()
                    .filter(|e| !e.passed)
                    .map(expectation)
                    .collect();
                let mut desc = failed.join("\n");
                if !desc.is_empty() {
                    desc.push('\n');
                }
                desc.push_str(&format!("at {}", k.source));
                status.set_description(desc);
            }
            let mut case = TestCase::new(k.id.clone(), status);
            case.set_classname(format!("{}.{}", g.catalog, g.id));
            case.set_time(std::time::Duration::from_millis(k.duration_ms));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}
