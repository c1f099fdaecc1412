//! Deciding what an observation means before expectations are judged: the catalog's
//! classification rules first (a refused port can be the finding; an AWS credential error
//! is `blocked`), then the defaults (a transport error, 401 or 403 is `blocked`).

use crate::model::probe::{ClassifyRule, Outcome};
use crate::probe::Observation;

/// A verdict reached without judging expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reason: String,
}

/// The first matching rule's verdict, else the default one, else `None` (judge it).
/// `judges_status` says an expectation looks at the HTTP status itself, so 401/403/5xx
/// are answers to judge rather than reasons to block.
pub fn classify(rules: &[ClassifyRule], obs: &Observation, judges_status: bool) -> Option<Verdict> {
    for r in rules {
        if matches(r, obs) {
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

fn matches(r: &ClassifyRule, obs: &Observation) -> bool {
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
    for (pattern, text) in [
        (&r.stderr, &obs.stderr),
        (&r.stdout, &obs.stdout),
        (&r.body, &obs.stdout),
    ] {
        if let Some(p) = pattern {
            any = true;
            // Patterns were checked when the catalog was validated.
            let ok = regex::Regex::new(p).is_ok_and(|re| re.is_match(text));
            if !ok {
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

    fn rule(json: serde_json::Value) -> ClassifyRule {
        serde_json::from_value(json).unwrap()
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
