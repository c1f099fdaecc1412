//! Small value shapes with a short and a long form: `retry: 3` or `retry: {count: 3, …}`.
//!
//! Each is read from a JSON value (the loader's output) with an explicit visitor-like
//! match, never `untagged`, so errors say what was expected.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::duration::Duration;

/// One value or a list of them (`status: 200` or `status: [200, 204]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let items = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        items
            .into_iter()
            .map(|i| serde_json::from_value(i).map_err(serde::de::Error::custom))
            .collect::<Result<_, _>>()
            .map(OneOrMany)
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let one = g.subschema_for::<T>();
        json_schema!({ "anyOf": [one, { "type": "array", "items": one }] })
    }
}

/// A number, or a template that renders to one (`port: 22` or `port: "{{ vars.port }}"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum IntOrTemplate {
    Int(i64),
    Template(String),
}

impl IntOrTemplate {
    /// As a TCP/UDP port once rendered: 1–65535.
    pub fn port(&self) -> Option<u16> {
        let n = match self {
            IntOrTemplate::Int(n) => u16::try_from(*n).ok(),
            IntOrTemplate::Template(s) => s.trim().parse::<u16>().ok(),
        };
        n.filter(|&n| n != 0)
    }

    /// As written, for messages (`22`, `"{{ vars.port }}"`).
    pub fn shown(&self) -> String {
        match self {
            IntOrTemplate::Int(n) => n.to_string(),
            IntOrTemplate::Template(s) => format!("{s:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.is_i64() => {
                Ok(IntOrTemplate::Int(n.as_i64().unwrap_or_default()))
            }
            Value::String(s) => Ok(IntOrTemplate::Template(s)),
            _ => Err(serde::de::Error::custom(
                "expected an integer or a template string",
            )),
        }
    }
}

impl JsonSchema for IntOrTemplate {
    fn schema_name() -> Cow<'static, str> {
        "IntOrTemplate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "description": "An integer, or a template string that renders to one.", "type": ["integer", "string"] })
    }
}

/// Backoff between retries of a transient error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Fixed,
    #[default]
    Exponential,
}

/// Retry a probe whose *transport* failed (timeout, refused, 5xx…). Not for waiting on state: see `poll`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryLong {
    /// Extra attempts after the first.
    pub count: u32,
    #[serde(default)]
    pub backoff: Backoff,
    /// Delay before the first retry (default 1s).
    pub delay: Option<Duration>,
    /// Upper bound for exponential backoff.
    pub max_delay: Option<Duration>,
    /// Error reason classes that are retried (default: timeout, refused, dns, http_5xx).
    #[serde(default)]
    pub on: Vec<String>,
}

/// `retry: 3` or `retry: { count: 3, backoff: exponential, delay: 1s }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Retry(pub RetryLong);

impl<'de> Deserialize<'de> for Retry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .map(|count| {
                    Retry(RetryLong {
                        count,
                        backoff: Backoff::Exponential,
                        delay: None,
                        max_delay: None,
                        on: Vec::new(),
                    })
                })
                .ok_or_else(|| {
                    serde::de::Error::custom("a retry count must be a whole number ≥ 0")
                }),
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(Retry)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "expected a retry count or a retry table",
            )),
        }
    }
}

impl JsonSchema for Retry {
    fn schema_name() -> Cow<'static, str> {
        "Retry".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let long = g.subschema_for::<RetryLong>();
        json_schema!({
            "description": "Retry transient errors: a count, or a table with count, backoff, delay, max_delay, on.",
            "anyOf": [{ "type": "integer", "minimum": 0 }, long]
        })
    }
}

/// Re-probe until the expectations hold or the window ends (e.g. a VM booting to SSH).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Time between attempts.
    pub every: Duration,
    /// How long to keep trying.
    #[serde(rename = "for")]
    pub within: Duration,
}

/// A list given literally, or a template that renders to a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ListSource {
    List(Vec<Value>),
    Template(String),
}

impl<'de> Deserialize<'de> for ListSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Array(a) => Ok(ListSource::List(a)),
            Value::String(s) => Ok(ListSource::Template(s)),
            _ => Err(serde::de::Error::custom(
                "expected a list or a template string",
            )),
        }
    }
}

impl JsonSchema for ListSource {
    fn schema_name() -> Cow<'static, str> {
        "ListSource".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "description": "A list, or a template that renders to one (`{{ vars.nodes }}`).", "type": ["array", "string"] })
    }
}

/// Expansion of one check into many: over a list (`item`) or a matrix of named lists.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Loop variables, each over a list; every combination makes one check.
    pub matrix: IndexMap<String, ListSource>,
    /// Expressions over the loop variables; a combination for which one is true is left out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Template for the instance id suffix (default: each variable's `id`, `name` or value).
    pub id: Option<String>,
}

/// `for_each: "{{ vars.nodes }}"`, `for_each: [a, b]` or `for_each: { matrix: {…}, exclude: […] }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ForEach {
    List(ListSource),
    Matrix(Matrix),
}

impl<'de> Deserialize<'de> for ForEach {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(ForEach::Matrix)
                .map_err(serde::de::Error::custom),
            v => serde_json::from_value(v)
                .map(ForEach::List)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ForEach {
    fn schema_name() -> Cow<'static, str> {
        "ForEach".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let matrix = g.subschema_for::<Matrix>();
        json_schema!({
            "description": "One check per item of a list (bound as `item`), or per combination of a matrix.",
            "anyOf": [{ "type": ["array", "string"] }, matrix]
        })
    }
}

/// Value types a var may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    #[default]
    String,
    Integer,
    Number,
    Boolean,
    List,
    Map,
    Any,
}
