//! Judging a probe's observation against expectations: a JMESPath query and one matcher,
//! with the coercions real APIs need ("5", 5 and 5.0 are equal; PVE's 0/1 and "1" are
//! booleans). Every result carries the query, matcher, expected and actual values.

pub mod classify;
mod compare;
mod compiled;
mod matchers;

pub use classify::Rule;
pub use compiled::{Expectation, Query, Root};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::expect::Matcher;

pub(crate) use crate::probe::Observation;

/// One expectation's result: the query, matcher, expected and actual values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Expectation")]
pub struct ExpectationResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub matcher: String,
    pub expected: Value,
    pub actual: Value,
    pub passed: bool,
    /// Why it failed, in words, when the values alone do not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Judges every expectation against one observation, its JSON converted once.
pub(crate) fn judge_all(expects: &[Expectation], obs: &Observation) -> Vec<ExpectationResult> {
    let null = Value::Null;
    let root = Root::new(obs.json.as_ref().unwrap_or(&null));
    expects.iter().map(|e| judge(e, obs, &root)).collect()
}

/// Judges one expectation. Never panics; a bad query or value is a failed result that says so.
pub(crate) fn judge(c: &Expectation, obs: &Observation, root: &Root<'_>) -> ExpectationResult {
    let e = c.spec();
    if let Some(codes) = &e.status {
        let actual = obs.status.map(Value::from).unwrap_or(Value::Null);
        let passed = obs.status.is_some_and(|s| codes.0.contains(&s));
        return result(
            None,
            "status",
            Value::from(codes.0.clone()),
            actual,
            passed,
            e.message.clone(),
        );
    }
    if let Some(codes) = &e.exit {
        let actual = obs.exit.map(Value::from).unwrap_or(Value::Null);
        let passed = obs.exit.is_some_and(|c| codes.0.contains(&c));
        return result(
            None,
            "exit",
            Value::from(codes.0.clone()),
            actual,
            passed,
            e.message.clone(),
        );
    }
    for (name, m, text) in [
        ("stdout", &e.stdout, &obs.stdout),
        ("stderr", &e.stderr, &obs.stderr),
    ] {
        if let Some(m) = m {
            // A command's output ends with a newline the catalog should not have to spell.
            let text = text.trim_end_matches(['\n', '\r']);
            let mut r = matchers::apply(m, &Value::String(text.to_string()), &c.patterns);
            r.matcher = format!("{name} {}", r.matcher);
            r.message = e.message.clone().or(r.message);
            return r;
        }
    }
    let mut actual = match &c.query {
        None => root.json().clone(),
        Some(q) => match q.search(root) {
            Ok(v) => v,
            Err(why) => {
                let mut r = result(
                    e.query.clone(),
                    "query",
                    Value::Null,
                    Value::Null,
                    false,
                    Some(why),
                );
                r.matcher = matcher_name(&c.matcher);
                return r;
            }
        },
    };
    if actual.is_null()
        && let Some(default) = &e.absent_means
    {
        actual = (**default).clone();
    }
    let mut r = matchers::apply(&c.matcher, &actual, &c.patterns);
    r.query = e.query.clone();
    if e.message.is_some() && !r.passed {
        r.message = e.message.clone();
    }
    r
}

/// One line for a person: `query matcher: expected X, got Y — message`.
pub(crate) fn describe(
    query: Option<&str>,
    matcher: &str,
    expected: &Value,
    actual: &Value,
    message: Option<&str>,
) -> String {
    let what = match query {
        Some(q) => format!("{q} {matcher}"),
        None => matcher.to_string(),
    };
    let mut line = format!(
        "{what}: expected {}, got {}",
        short(expected),
        short(actual)
    );
    if let Some(m) = message {
        line.push_str(" — ");
        line.push_str(m);
    }
    line
}

/// A value on one line, cut to a readable length.
pub(crate) fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}…")
    } else {
        text
    }
}

impl ExpectationResult {
    pub fn describe(&self) -> String {
        describe(
            self.query.as_deref(),
            &self.matcher,
            &self.expected,
            &self.actual,
            self.message.as_deref(),
        )
    }
}

fn matcher_name(m: &Matcher) -> String {
    m.set_names().first().copied().unwrap_or("none").to_string()
}

fn result(
    query: Option<String>,
    matcher: &str,
    expected: Value,
    actual: Value,
    passed: bool,
    message: Option<String>,
) -> ExpectationResult {
    ExpectationResult {
        query,
        matcher: matcher.to_string(),
        expected,
        actual,
        passed,
        message: if passed { None } else { message },
    }
}

#[cfg(test)]
mod tests;
