//! A rendered probe, typed by its kind. The plan renders a check's probe once and parses it
//! here; the run hands this to the prober as it is (no JSON parsed again per attempt).
//! Its JSON (`{kind, use?, spec}`) is the plan's documented shape, the recordings' request
//! key and the ledger's request: one rendering, [`ProbeCall::to_json`].

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::probe::{Command, Dns, Http, Ssh, Tcp};
use crate::model::shapes::IntOrTemplate;

/// The probe kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Http,
    Command,
    Ssh,
    Tcp,
    Dns,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Http, Kind::Command, Kind::Ssh, Kind::Tcp, Kind::Dns];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Command => "command",
            Kind::Ssh => "ssh",
            Kind::Tcp => "tcp",
            Kind::Dns => "dns",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One probe's fields, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Http(Box<Http>),
    Command(Box<Command>),
    Ssh(Box<Ssh>),
    Tcp(Box<Tcp>),
    Dns(Box<Dns>),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Http(_) => Kind::Http,
            Spec::Command(_) => Kind::Command,
            Spec::Ssh(_) => Kind::Ssh,
            Spec::Tcp(_) => Kind::Tcp,
            Spec::Dns(_) => Kind::Dns,
        }
    }

    /// Parses a rendered spec of `kind`.
    pub fn from_json(kind: Kind, spec: Value) -> Result<Spec, serde_json::Error> {
        Ok(match kind {
            Kind::Http => Spec::Http(Box::new(serde_json::from_value(spec)?)),
            Kind::Command => Spec::Command(Box::new(serde_json::from_value(spec)?)),
            Kind::Ssh => Spec::Ssh(Box::new(serde_json::from_value(spec)?)),
            Kind::Tcp => Spec::Tcp(Box::new(serde_json::from_value(spec)?)),
            Kind::Dns => Spec::Dns(Box::new(serde_json::from_value(spec)?)),
        })
    }

    /// The fields as written: unset ones and empty tables left out.
    pub fn to_json(&self) -> Value {
        let v = match self {
            Spec::Http(h) => serde_json::to_value(h),
            Spec::Command(c) => serde_json::to_value(c),
            Spec::Ssh(s) => serde_json::to_value(s),
            Spec::Tcp(t) => serde_json::to_value(t),
            Spec::Dns(d) => serde_json::to_value(d),
        };
        written(v.unwrap_or_default())
    }

    /// Every string the probe will send or use, for substituting or masking secrets in place.
    /// Table keys are not visited (a secret is never a header name).
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        let opt = |s: &mut Option<String>, f: &mut dyn FnMut(&mut String)| {
            if let Some(s) = s {
                f(s);
            }
        };
        let port = |p: &mut Option<IntOrTemplate>, f: &mut dyn FnMut(&mut String)| {
            if let Some(IntOrTemplate::Template(s)) = p {
                f(s);
            }
        };
        match self {
            Spec::Http(h) => {
                opt(&mut h.method, f);
                f(&mut h.url);
                h.headers.values_mut().for_each(&mut *f);
                h.query.values_mut().for_each(&mut *f);
                for v in [&mut h.json, &mut h.form].into_iter().flatten() {
                    json_strings_mut(v, f);
                }
                opt(&mut h.body, f);
                if let Some(t) = &mut h.tls {
                    opt(&mut t.ca_file, f);
                    opt(&mut t.fingerprint, f);
                }
            }
            Spec::Command(c) => {
                c.argv.iter_mut().flatten().for_each(&mut *f);
                opt(&mut c.shell, f);
                c.env.values_mut().for_each(&mut *f);
                opt(&mut c.stdin, f);
                opt(&mut c.cwd, f);
            }
            Spec::Ssh(s) => {
                f(&mut s.host);
                port(&mut s.port, f);
                opt(&mut s.user, f);
                opt(&mut s.command, f);
                s.argv.iter_mut().flatten().for_each(&mut *f);
                opt(&mut s.identity, f);
                opt(&mut s.passphrase, f);
                s.jump.iter_mut().for_each(&mut *f);
                opt(&mut s.host_key, f);
                opt(&mut s.known_hosts, f);
            }
            Spec::Tcp(t) => {
                f(&mut t.host);
                if let IntOrTemplate::Template(s) = &mut t.port {
                    f(s);
                }
                opt(&mut t.send, f);
                opt(&mut t.expect, f);
            }
            Spec::Dns(d) => {
                f(&mut d.name);
                opt(&mut d.server, f);
                port(&mut d.port, f);
            }
        }
    }

    /// The per-endpoint limit's key: control-plane APIs and SSH hosts are protected from a
    /// burst of concurrent checks; other probes are bounded only by `--jobs`.
    pub fn endpoint(&self) -> Option<String> {
        match self {
            Spec::Http(h) => {
                let url = h.url.as_str();
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
                let host = authority.rsplit('@').next().unwrap_or(authority);
                Some(format!("http:{host}"))
            }
            Spec::Ssh(s) => Some(format!(
                "ssh:{}@{}:{}",
                s.user.as_deref().unwrap_or(""),
                s.host,
                s.port.as_ref().map_or_else(
                    || "22".into(),
                    |p| match p {
                        IntOrTemplate::Int(n) => n.to_string(),
                        IntOrTemplate::Template(t) => Value::String(t.clone()).to_string(),
                    }
                )
            )),
            _ => None,
        }
    }
}

/// A probe as the plan rendered it: its spec and the catalog template it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeCall {
    /// The probe template (`use`) it was made from.
    pub uses: Option<String>,
    pub spec: Spec,
}

impl ProbeCall {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// `{kind, use?, spec}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), self.kind().as_str().into());
        if let Some(u) = &self.uses {
            out.insert("use".into(), u.clone().into());
        }
        out.insert("spec".into(), self.spec.to_json());
        Value::Object(out)
    }

    /// Parses `{kind, use?, spec}` (a rendered probe, or one a ledger holds).
    pub fn from_json(v: Value) -> Result<ProbeCall, String> {
        let Value::Object(mut m) = v else {
            return Err("a probe is an object with `kind` and `spec`".into());
        };
        let kind = m
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("a probe has no `kind`")?;
        let kind = Kind::parse(kind).ok_or_else(|| {
            format!(
                "`{kind}` is not a probe kind (one of {})",
                Kind::ALL.map(Kind::as_str).join(", ")
            )
        })?;
        let uses = match m.remove("use") {
            None | Some(Value::Null) => None,
            Some(Value::String(u)) => Some(u),
            Some(other) => return Err(format!("`use` is a template name, not {other}")),
        };
        let spec = m.remove("spec").unwrap_or(Value::Object(Map::new()));
        let spec = Spec::from_json(kind, spec).map_err(|e| format!("the {kind} probe: {e}"))?;
        Ok(ProbeCall { uses, spec })
    }
}

impl Serialize for ProbeCall {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ProbeCall {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProbeCall::from_json(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ProbeCall {
    fn schema_name() -> Cow<'static, str> {
        "ProbeCall".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A rendered probe: its kind, the probe template it came from, and its fields as sent (secrets masked).",
            "type": "object",
            "required": ["kind", "spec"],
            "additionalProperties": false,
            "properties": {
                "kind": { "description": "The probe kind.", "enum": ["http", "command", "ssh", "tcp", "dns"] },
                "use": { "description": "The catalog's probe template it was made from.", "type": "string" },
                "spec": { "description": "The probe's fields, rendered (as in the catalog schema for that kind).", "type": "object" }
            }
        })
    }
}

/// Fields that are tables or lists by default (never unset): empty means not written.
const DEFAULT_EMPTY: [&str; 4] = ["headers", "query", "env", "jump"];

/// Leaves out unset fields and empty default tables, as a catalog author would write the
/// probe. A value rendered empty on purpose (`form: {}`, `argv: []`) stays.
fn written(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter_map(|(k, x)| {
                    let x = match x {
                        // The TLS table's own unset fields.
                        Value::Object(inner) if k == "tls" => {
                            Value::Object(inner.into_iter().filter(|(_, y)| !y.is_null()).collect())
                        }
                        other => other,
                    };
                    let empty = x.as_object().is_some_and(Map::is_empty)
                        || x.as_array().is_some_and(Vec::is_empty);
                    let unset = x.is_null() || (empty && DEFAULT_EMPTY.contains(&k.as_str()));
                    (!unset).then_some((k, x))
                })
                .collect(),
        ),
        other => other,
    }
}

fn json_strings_mut(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| json_strings_mut(x, f)),
        Value::Object(m) => m.values_mut().for_each(|x| json_strings_mut(x, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rendered_probe_reads_back_as_it_was_written() {
        let v = json!({"kind": "http", "use": "api", "spec": {
            "method": "POST", "url": "https://h:8006/x", "headers": {"A": "<secret:t>"},
            "json": {"k": [1, "v"]}, "form": {}, "tls": {"fingerprint": "AB"}
        }});
        let p = ProbeCall::from_json(v.clone()).unwrap();
        assert_eq!(p.kind(), Kind::Http);
        assert_eq!(p.to_json(), v);
        assert_eq!(p.spec.endpoint().as_deref(), Some("http:h:8006"));
    }

    #[test]
    fn every_string_is_visited_once() {
        let v = json!({"kind": "ssh", "spec": {"host": "h", "port": "{{ p }}", "user": "u",
            "command": "c", "jump": ["j"]}});
        let mut p = ProbeCall::from_json(v).unwrap();
        let mut seen = Vec::new();
        p.spec.strings_mut(&mut |s| {
            seen.push(s.clone());
            s.push('!');
        });
        assert_eq!(seen, ["h", "{{ p }}", "u", "c", "j"]);
        assert_eq!(p.to_json()["spec"]["command"], "c!");
    }

    #[test]
    fn a_bad_kind_or_field_is_said() {
        let e = ProbeCall::from_json(json!({"kind": "ftp", "spec": {}})).unwrap_err();
        assert!(e.contains("one of http, command"), "{e}");
        let e = ProbeCall::from_json(json!({"kind": "tcp", "spec": {"host": "h"}})).unwrap_err();
        assert!(e.contains("port"), "{e}");
    }
}
