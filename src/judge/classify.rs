//! Deciding what an observation means before expectations are judged: the catalog's
//! classification rules first (a refused port can be the finding; an AWS credential error
//! is `blocked`), then the defaults (a transport error, 401 or 403 is `blocked`).

use regex::Regex;
use serde::{Serialize, Serializer};

use crate::model::probe::{ClassifyRule, Outcome};
use crate::probe::Observation;

/// A classification rule with its patterns compiled once, when the plan is made.
#[derive(Debug, Clone)]
pub struct Rule {
    spec: ClassifyRule,
    /// stderr, stdout and body patterns; one that does not compile never matches
    /// (validate has refused it already).
    patterns: [Option<Result<Regex, String>>; 3],
}

impl Rule {
    pub fn compile(spec: ClassifyRule) -> Rule {
        let re = |p: &Option<String>| {
            p.as_deref()
                .map(|p| Regex::new(p).map_err(|e| e.to_string()))
        };
        Rule {
            patterns: [re(&spec.stderr), re(&spec.stdout), re(&spec.body)],
            spec,
        }
    }

    pub fn spec(&self) -> &ClassifyRule {
        &self.spec
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.spec == other.spec
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(s)
    }
}

/// A verdict reached without judging expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reason: String,
}

/// The first matching rule's verdict, else the default one, else `None` (judge it).
/// `judges_status` says an expectation looks at the HTTP status itself, so 401/403/5xx
/// are answers to judge rather than reasons to block.
pub fn classify(rules: &[Rule], obs: &Observation, judges_status: bool) -> Option<Verdict> {
    for rule in rules {
        if matches(rule, obs) {
            let r = &rule.spec;
            let reason = r
                .reason
                .clone()
                .or_else(|| obs.reason())
                .unwrap_or_else(|| "classified".into());
            return Some(Verdict {
                outcome: r.outcome,
                reason,
            });
        }
    }
    if let Some(e) = &obs.error {
        return Some(Verdict {
            outcome: Outcome::Blocked,
            reason: e.reason.clone(),
        });
    }
    match obs.status {
        Some(401) if !judges_status => Some(blocked("auth")),
        Some(403) if !judges_status => Some(blocked("permission")),
        Some(s) if s >= 500 && !judges_status => Some(blocked(&format!("http_{s}"))),
        _ => None,
    }
}

fn blocked(reason: &str) -> Verdict {
    Verdict {
        outcome: Outcome::Blocked,
        reason: reason.into(),
    }
}

fn matches(rule: &Rule, obs: &Observation) -> bool {
    let r = &rule.spec;
    let mut any = false;
    if let Some(codes) = &r.status {
        any = true;
        if !obs.status.is_some_and(|s| codes.0.contains(&s)) {
            return false;
        }
    }
    if let Some(codes) = &r.exit {
        any = true;
        if !obs.exit.is_some_and(|c| codes.0.contains(&c)) {
            return false;
        }
    }
    if let Some(reasons) = &r.error {
        any = true;
        let Some(e) = &obs.error else { return false };
        if !reasons.0.contains(&e.reason) {
            return false;
        }
    }
    for (pattern, text) in rule
        .patterns
        .iter()
        .zip([&obs.stderr, &obs.stdout, &obs.stdout])
    {
        if let Some(p) = pattern {
            any = true;
            if !p.as_ref().is_ok_and(|re| re.is_match(text)) {
                return false;
            }
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeError;

    fn rule(json: serde_json::Value) -> Rule {
        Rule::compile(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn rules_then_defaults() {
        let refused = Observation {
            error: Some(ProbeError {
                reason: "refused".into(),
                message: "connection refused".into(),
            }),
            ..Default::default()
        };
        let as_fail = rule(serde_json::json!({"error": "refused", "as": "fail"}));
        assert_eq!(
            classify(&[as_fail], &refused, false).unwrap().outcome,
            Outcome::Fail
        );
        assert_eq!(
            classify(&[], &refused, false),
            Some(Verdict {
                outcome: Outcome::Blocked,
                reason: "refused".into()
            })
        );
        let aws = Observation {
            exit: Some(254),
            stderr: "An error occurred (InvalidClientTokenId) when calling".into(),
            ..Default::default()
        };
        let creds = rule(
            serde_json::json!({"stderr": "InvalidClientTokenId", "as": "blocked", "reason": "auth"}),
        );
        assert_eq!(classify(&[creds], &aws, false).unwrap().reason, "auth");
        assert_eq!(classify(&[], &aws, false), None);
        let denied = Observation {
            status: Some(403),
            ..Default::default()
        };
        assert_eq!(classify(&[], &denied, false).unwrap().reason, "permission");
        assert_eq!(classify(&[], &denied, true), None);
    }
}
