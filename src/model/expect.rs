//! Expectations on a probe result: a JMESPath query and one matcher, or a shortcut.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::shapes::OneOrMany;

/// Declares a struct holding every matcher field, plus the extra fields given.
macro_rules! with_matchers {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Equal to this value (numbers coerce: "5", 5 and 5.0 are equal).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub equals: Option<Box<Value>>,
            /// Not equal to this value.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub not_equals: Option<Box<Value>>,
            /// One of these values.
            #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
            pub one_of: Option<Box<Value>>,
            /// A string containing this text, or a list containing this element.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub contains: Option<Box<Value>>,
            /// A string matching this regular expression.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub matches: Option<String>,
            /// `true`: the query finds a value (not null). `false`: it finds none.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub exists: Option<bool>,
            /// `true`: the query finds nothing (null or missing).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub absent: Option<bool>,
            /// Greater than (numbers coerce from strings).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub gt: Option<Box<Value>>,
            /// Greater than or equal.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub ge: Option<Box<Value>>,
            /// Less than.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub lt: Option<Box<Value>>,
            /// Less than or equal.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub le: Option<Box<Value>>,
            /// Length of a string, list or object: a number, or a matcher on the length.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub length: Option<Box<LengthMatch>>,
            /// Every element of the list satisfies this matcher.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub all: Option<Box<Matcher>>,
            /// At least one element of the list satisfies this matcher.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub any: Option<Box<Matcher>>,
            /// The list (as a set) is contained in this one.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub subset_of: Option<Box<Value>>,
            /// The list (as a set) contains every element of this one.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub superset_of: Option<Box<Value>>,
            /// A version satisfying this semver requirement (`>=8.1`); `8.2` reads as `8.2.0`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub semver: Option<String>,
            /// An address inside this CIDR, or a CIDR containing this address (`10.0.0.0/16`).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub cidr_contains: Option<String>,
        }
    };
}

with_matchers! {
    /// A matcher without a query, applied to a value chosen by its context.
    pub struct Matcher {}
}

with_matchers! {
    /// One expectation. Give `query` plus exactly one matcher, or one shortcut
    /// (`status`, `exit`, `stdout`, `stderr`).
    pub struct Expect {
        /// JMESPath over the result's JSON (HTTP body, or command/SSH stdout parsed as JSON).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub query: Option<String>,
        /// The value to assume when the query finds nothing (PVE omits keys at their default).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub absent_means: Option<Box<Value>>,
        /// Text shown when the expectation fails, instead of the generated one.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
        /// HTTP status shortcut: one code or a list.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub status: Option<OneOrMany<u16>>,
        /// Exit code shortcut (command and ssh probes): one code or a list.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub exit: Option<OneOrMany<i32>>,
        /// A matcher on standard output as text.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stdout: Option<Box<Matcher>>,
        /// A matcher on standard error as text.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stderr: Option<Box<Matcher>>,
    }
}

/// `length: 3` or `length: { ge: 1 }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LengthMatch {
    Exactly(u64),
    Matcher(Box<Matcher>),
}

impl<'de> Deserialize<'de> for LengthMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(LengthMatch::Exactly)
                .ok_or_else(|| serde::de::Error::custom("a length must be a whole number ≥ 0")),
            v => serde_json::from_value(v)
                .map(|m| LengthMatch::Matcher(Box::new(m)))
                .map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for LengthMatch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LengthMatch".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let m = g.subschema_for::<Matcher>();
        schemars::json_schema!({ "anyOf": [{ "type": "integer", "minimum": 0 }, m] })
    }
}

impl Matcher {
    /// Names of the matcher fields that are set, in declaration order.
    pub fn set_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        macro_rules! check {
            ($($f:ident => $n:literal),*) => { $(if self.$f.is_some() { v.push($n); })* };
        }
        check!(equals => "equals", not_equals => "not_equals", one_of => "in", contains => "contains",
            matches => "matches", exists => "exists", absent => "absent", gt => "gt", ge => "ge",
            lt => "lt", le => "le", length => "length", all => "all", any => "any",
            subset_of => "subset_of", superset_of => "superset_of", semver => "semver",
            cidr_contains => "cidr_contains");
        v
    }
}

impl Expect {
    /// The matcher part of this expectation.
    pub fn matcher(&self) -> Matcher {
        Matcher {
            equals: self.equals.clone(),
            not_equals: self.not_equals.clone(),
            one_of: self.one_of.clone(),
            contains: self.contains.clone(),
            matches: self.matches.clone(),
            exists: self.exists,
            absent: self.absent,
            gt: self.gt.clone(),
            ge: self.ge.clone(),
            lt: self.lt.clone(),
            le: self.le.clone(),
            length: self.length.clone(),
            all: self.all.clone(),
            any: self.any.clone(),
            subset_of: self.subset_of.clone(),
            superset_of: self.superset_of.clone(),
            semver: self.semver.clone(),
            cidr_contains: self.cidr_contains.clone(),
        }
    }

    /// Shortcut names that are set.
    pub fn shortcut_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.status.is_some() {
            v.push("status");
        }
        if self.exit.is_some() {
            v.push("exit");
        }
        if self.stdout.is_some() {
            v.push("stdout");
        }
        if self.stderr.is_some() {
            v.push("stderr");
        }
        v
    }
}
