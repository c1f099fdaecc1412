//! One matcher against one value.

use serde_json::Value;

use super::ExpectationResult;
use super::compare::{as_number, loosely_equal};
use super::compiled::Patterns;
use crate::model::expect::{LengthMatch, Matcher};

fn done(
    matcher: &str,
    expected: Value,
    actual: &Value,
    passed: bool,
    why: Option<String>,
) -> ExpectationResult {
    ExpectationResult {
        query: None,
        matcher: matcher.to_string(),
        expected,
        actual: actual.clone(),
        passed,
        message: if passed { None } else { why },
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Applies the single matcher set in `m` (analysis guarantees there is exactly one).
pub(super) fn apply(m: &Matcher, actual: &Value, patterns: &Patterns) -> ExpectationResult {
    if let Some(x) = m.equals.as_deref() {
        return done("equals", x.clone(), actual, loosely_equal(actual, x), None);
    }
    if let Some(x) = m.not_equals.as_deref() {
        return done(
            "not_equals",
            x.clone(),
            actual,
            !loosely_equal(actual, x),
            None,
        );
    }
    if let Some(x) = m.one_of.as_deref() {
        let passed = list(x).iter().any(|o| loosely_equal(actual, o));
        return done("in", x.clone(), actual, passed, None);
    }
    if let Some(x) = m.contains.as_deref() {
        let passed = match actual {
            Value::Array(items) => items.iter().any(|i| loosely_equal(i, x)),
            Value::String(s) => text(x).is_some_and(|t| s.contains(&t)),
            Value::Object(o) => x.as_str().is_some_and(|k| o.contains_key(k)),
            _ => false,
        };
        return done("contains", x.clone(), actual, passed, None);
    }
    if let Some(re) = &m.matches {
        let expected = Value::String(re.clone());
        return match (patterns.get(re), text(actual)) {
            (Err(e), _) => done(
                "matches",
                expected,
                actual,
                false,
                Some(format!("invalid regular expression: {e}")),
            ),
            (Ok(_), None) => done("matches", expected, actual, false, Some("not text".into())),
            (Ok(r), Some(t)) => done("matches", expected, actual, r.is_match(&t), None),
        };
    }
    if let Some(want) = m.exists {
        return done(
            "exists",
            Value::Bool(want),
            actual,
            actual.is_null() != want,
            None,
        );
    }
    if let Some(want) = m.absent {
        return done(
            "absent",
            Value::Bool(want),
            actual,
            actual.is_null() == want,
            None,
        );
    }
    for (name, bound, ok) in [
        (
            "gt",
            m.gt.as_deref(),
            (|a: f64, b: f64| a > b) as fn(f64, f64) -> bool,
        ),
        ("ge", m.ge.as_deref(), |a, b| a >= b),
        ("lt", m.lt.as_deref(), |a, b| a < b),
        ("le", m.le.as_deref(), |a, b| a <= b),
    ] {
        if let Some(b) = bound {
            return match (as_number(actual), as_number(b)) {
                (Some(x), Some(y)) => done(name, b.clone(), actual, ok(x, y), None),
                (None, _) => done(name, b.clone(), actual, false, Some("not a number".into())),
                (_, None) => done(
                    name,
                    b.clone(),
                    actual,
                    false,
                    Some("the expected bound is not a number".into()),
                ),
            };
        }
    }
    if let Some(l) = &m.length {
        let len = match actual {
            Value::Array(a) => Some(a.len()),
            Value::String(s) => Some(s.chars().count()),
            Value::Object(o) => Some(o.len()),
            Value::Null => Some(0),
            _ => None,
        };
        let Some(n) = len else {
            return done(
                "length",
                Value::Null,
                actual,
                false,
                Some("has no length".into()),
            );
        };
        let mut r = match l.as_ref() {
            LengthMatch::Exactly(want) => done(
                "length",
                Value::from(*want),
                &Value::from(n),
                n as u64 == *want,
                None,
            ),
            LengthMatch::Matcher(inner) => {
                let mut r = apply(inner, &Value::from(n), patterns);
                r.matcher = format!("length {}", r.matcher);
                r
            }
        };
        if !r.passed && r.message.is_none() {
            r.message = Some(format!("length is {n}"));
        }
        return r;
    }
    for (name, inner, all) in [("all", &m.all, true), ("any", &m.any, false)] {
        if let Some(inner) = inner {
            let items = list(actual);
            let results: Vec<ExpectationResult> =
                items.iter().map(|i| apply(inner, i, patterns)).collect();
            let passed = if all {
                results.iter().all(|r| r.passed)
            } else {
                results.iter().any(|r| r.passed)
            };
            let sub = results
                .first()
                .map(|r| r.matcher.clone())
                .unwrap_or_else(|| inner.set_names().first().copied().unwrap_or("").to_string());
            let expected = results
                .first()
                .map(|r| r.expected.clone())
                .unwrap_or(Value::Null);
            let why = if all {
                results
                    .iter()
                    .position(|r| !r.passed)
                    .map(|i| format!("element {i} is {}", items[i]))
            } else {
                Some("no element matches".to_string())
            };
            return done(&format!("{name} {sub}"), expected, actual, passed, why);
        }
    }
    if let Some(x) = m.subset_of.as_deref() {
        let want = list(x);
        let missing: Vec<Value> = list(actual)
            .into_iter()
            .filter(|a| !want.iter().any(|w| loosely_equal(a, w)))
            .collect();
        let why = (!missing.is_empty())
            .then(|| format!("not allowed: {}", Value::Array(missing.clone())));
        return done("subset_of", x.clone(), actual, missing.is_empty(), why);
    }
    if let Some(x) = m.superset_of.as_deref() {
        let have = list(actual);
        let missing: Vec<Value> = list(x)
            .into_iter()
            .filter(|w| !have.iter().any(|a| loosely_equal(a, w)))
            .collect();
        let why =
            (!missing.is_empty()).then(|| format!("missing: {}", Value::Array(missing.clone())));
        return done("superset_of", x.clone(), actual, missing.is_empty(), why);
    }
    if let Some(req) = &m.semver {
        let expected = Value::String(req.clone());
        let Ok(r) = semver::VersionReq::parse(req) else {
            return done(
                "semver",
                expected,
                actual,
                false,
                Some(format!("invalid requirement `{req}`")),
            );
        };
        return match text(actual).as_deref().and_then(version) {
            Some(v) => done("semver", expected, actual, r.matches(&v), None),
            None => done(
                "semver",
                expected,
                actual,
                false,
                Some("not a version".into()),
            ),
        };
    }
    if let Some(c) = &m.cidr_contains {
        let expected = Value::String(c.clone());
        return match (
            text(actual),
            cidr_contains(c, &text(actual).unwrap_or_default()),
        ) {
            (None, _) => done(
                "cidr_contains",
                expected,
                actual,
                false,
                Some("not an address".into()),
            ),
            (_, Err(why)) => done("cidr_contains", expected, actual, false, Some(why)),
            (_, Ok(inside)) => done("cidr_contains", expected, actual, inside, None),
        };
    }
    done(
        "none",
        Value::Null,
        actual,
        false,
        Some("the expectation has no matcher".into()),
    )
}

/// `8.2` → 8.2.0, `v1.4.0` → 1.4.0, `8.2.4-1` → 8.2.4 (Debian revisions are not pre-releases).
fn version(text: &str) -> Option<semver::Version> {
    let t = text.trim().trim_start_matches(['v', 'V']);
    let core: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    semver::Version::parse(&parts.join(".")).ok()
}

/// Whether `inner` (an address or a CIDR) lies inside `outer` (a CIDR) — or, when `outer`
/// is an address, whether `inner` is a CIDR containing it.
fn cidr_contains(outer: &str, inner: &str) -> Result<bool, String> {
    use ipnet::IpNet;
    use std::net::IpAddr;
    let net = |s: &str| {
        s.trim()
            .parse::<IpNet>()
            .ok()
            .or_else(|| s.trim().parse::<IpAddr>().ok().map(IpNet::from))
    };
    let (Some(o), Some(i)) = (net(outer), net(inner)) else {
        return Err(format!(
            "cannot read `{inner}` or `{outer}` as an address or CIDR"
        ));
    };
    if outer.contains('/') || !inner.contains('/') {
        Ok(o.contains(&i))
    } else {
        Ok(i.contains(&o))
    }
}
