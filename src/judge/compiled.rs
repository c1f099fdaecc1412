//! Expectations and captures compiled once, when the plan renders them: the JMESPath query
//! parsed, every regular expression of the matcher tree built. A query or pattern that does
//! not compile is kept as its error and judged as a failure that says so (validate has
//! usually refused it already; one made by a template can only be known once rendered).

use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::model::expect::{Expect, LengthMatch, Matcher};

/// A JMESPath query, parsed.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: Result<Arc<jmespath::Expression<'static>>, String>,
}

impl Query {
    pub fn compile(text: &str) -> Query {
        Query {
            text: text.to_string(),
            expr: jmespath::compile(text)
                .map(Arc::new)
                .map_err(|e| format!("invalid JMESPath `{text}`: {}", e.reason)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Searches `root`; an error says why in words.
    pub fn search(&self, root: &Root<'_>) -> Result<Value, String> {
        let expr = self.expr.as_ref().map_err(Clone::clone)?;
        let data = root.var()?;
        let mut ctx = jmespath::Context::new(&self.text, &jmespath::DEFAULT_RUNTIME);
        let found = jmespath::interpret(data, expr.as_ast(), &mut ctx)
            .map_err(|e| format!("query `{}` failed: {}", self.text, e.reason))?;
        serde_json::to_value(&*found).map_err(|e| e.to_string())
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Query) -> bool {
        self.text == other.text
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// An observation's JSON, turned into JMESPath's form once for every query that reads it.
pub struct Root<'a> {
    json: &'a Value,
    var: OnceLock<Result<jmespath::Rcvar, String>>,
}

impl<'a> Root<'a> {
    pub fn new(json: &'a Value) -> Root<'a> {
        Root {
            json,
            var: OnceLock::new(),
        }
    }

    pub fn json(&self) -> &'a Value {
        self.json
    }

    fn var(&self) -> Result<&jmespath::Rcvar, String> {
        self.var
            .get_or_init(|| {
                jmespath::Variable::try_from(self.json.clone())
                    .map(jmespath::Rcvar::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The regular expressions of one matcher tree, by pattern.
#[derive(Debug, Clone, Default)]
pub(crate) struct Patterns(Vec<(String, Result<Regex, String>)>);

impl Patterns {
    fn collect(m: &Matcher, into: &mut Patterns) {
        if let Some(re) = &m.matches
            && !into.0.iter().any(|(p, _)| p == re)
        {
            into.0
                .push((re.clone(), Regex::new(re).map_err(|e| e.to_string())));
        }
        if let Some(LengthMatch::Matcher(inner)) = m.length.as_deref() {
            Patterns::collect(inner, into);
        }
        for inner in [&m.all, &m.any].into_iter().flatten() {
            Patterns::collect(inner, into);
        }
    }

    /// The compiled pattern, or why it does not compile.
    pub(crate) fn get(&self, re: &str) -> Result<Regex, String> {
        match self.0.iter().find(|(p, _)| p == re) {
            Some((_, r)) => r.clone(),
            None => Regex::new(re).map_err(|e| e.to_string()),
        }
    }
}

/// One expectation, ready to judge.
#[derive(Debug, Clone)]
pub struct Expectation {
    spec: Expect,
    /// The matcher part of `spec`, taken apart once.
    pub(crate) matcher: Matcher,
    pub(crate) query: Option<Query>,
    pub(crate) patterns: Patterns,
}

impl Expectation {
    pub fn compile(spec: Expect) -> Expectation {
        let matcher = spec.matcher();
        let mut patterns = Patterns::default();
        Patterns::collect(&matcher, &mut patterns);
        for m in [&spec.stdout, &spec.stderr].into_iter().flatten() {
            Patterns::collect(m, &mut patterns);
        }
        Expectation {
            query: spec.query.as_deref().map(Query::compile),
            spec,
            matcher,
            patterns,
        }
    }

    /// As written (rendered).
    pub fn spec(&self) -> &Expect {
        &self.spec
    }
}

impl PartialEq for Expectation {
    fn eq(&self, other: &Expectation) -> bool {
        self.spec == other.spec
    }
}

impl Serialize for Expectation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_pattern_of_the_tree_is_compiled_once() {
        let e: Expect = serde_json::from_value(json!({
            "query": "a", "all": {"matches": "^x"}
        }))
        .unwrap();
        let c = Expectation::compile(e);
        assert_eq!(c.patterns.0.len(), 1);
        assert!(c.patterns.get("^x").unwrap().is_match("xy"));
    }

    #[test]
    fn a_bad_query_is_kept_as_its_error() {
        let q = Query::compile("a[");
        let root = Value::Null;
        let err = q.search(&Root::new(&root)).unwrap_err();
        assert!(err.contains("invalid JMESPath `a[`"), "{err}");
    }

    #[test]
    fn one_root_serves_many_queries() {
        let data = json!({"a": 1, "b": [2, 3]});
        let root = Root::new(&data);
        assert_eq!(Query::compile("a").search(&root).unwrap(), json!(1));
        assert_eq!(Query::compile("b[1]").search(&root).unwrap(), json!(3));
    }
}
