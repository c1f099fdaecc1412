//! A topology against the catalogs it names: known catalogs, their files, declared inputs,
//! right types, secret references, and what is left unbound.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::secrets;
use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::VarType;
use crate::source::escape_token;
use crate::workspace::{LoadedCatalog, LoadedTopology};

/// `root`: the catalog root of the command, for a topology outside a `topologies/` directory.
pub(crate) fn check(
    t: &LoadedTopology,
    root: &Path,
    cats: &HashMap<&str, &LoadedCatalog>,
    diags: &mut Diagnostics,
) {
    super::binding_file::check(t, root, cats, diags);
    let doc = &t.doc;
    for (name, binding) in &t.model.catalogs {
        let bp = format!("/catalogs/{}", escape_token(name));
        for (s, r) in &binding.secrets {
            secrets::check_ref(doc, r, &format!("{bp}/secrets/{}", escape_token(s)), diags);
        }
        let Some(cat) = cats.get(name.as_str()) else {
            let mut d =
                Diagnostic::error(Code::UnknownCatalog, format!("unknown catalog `{name}`"))
                    .at(&doc.source, doc.spans.key_span(&bp))
                    .label("no catalog with this id");
            d = match did_you_mean(name, cats.keys().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if cats.is_empty() => {
                    d.help("no catalog could be loaded; fix the catalog errors reported above")
                }
                None => d.help(format!(
                    "known catalogs: {}",
                    sorted(cats.keys().copied()).join(", ")
                )),
            };
            diags.push(d);
            continue;
        };
        let m = &cat.model;
        for (k, v) in &binding.vars {
            let p = format!("{bp}/vars/{}", escape_token(k));
            match m.vars.get(k) {
                None => diags.push(unknown(
                    doc,
                    &p,
                    "var",
                    k,
                    &m.catalog,
                    m.vars.keys().map(String::as_str),
                )),
                Some(decl) if !fits(decl.kind, v) => diags.push(
                    Diagnostic::error(
                        Code::InputType,
                        format!(
                            "var `{k}` of catalog `{}` is declared {}, but is bound to {}",
                            m.catalog,
                            kind_name(decl.kind),
                            value_kind(v)
                        ),
                    )
                    .at(&doc.source, doc.spans.value_span(&p))
                    .label(format!("expected {}", kind_name(decl.kind))),
                ),
                Some(_) => {}
            }
        }
        for k in binding.secrets.keys() {
            if !m.secrets.contains_key(k) {
                let p = format!("{bp}/secrets/{}", escape_token(k));
                diags.push(unknown(
                    doc,
                    &p,
                    "secret",
                    k,
                    &m.catalog,
                    m.secrets.keys().map(String::as_str),
                ));
            }
        }
        let unbound_vars = m
            .vars
            .iter()
            .filter(|(k, d)| d.default.is_none() && !binding.vars.contains_key(*k))
            .map(|(k, _)| format!("vars.{k}"));
        let unbound_secrets = m
            .secrets
            .iter()
            .filter(|(k, d)| d.default.is_none() && !binding.secrets.contains_key(*k))
            .map(|(k, _)| format!("secrets.{k}"));
        let unbound: Vec<String> = unbound_vars.chain(unbound_secrets).collect();
        if !unbound.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Code::UnboundInput,
                    format!(
                        "catalog `{name}` inputs left unbound: {}",
                        unbound.join(", ")
                    ),
                )
                .at(&doc.source, doc.spans.key_span(&bp))
                .label("checks reading these will be blocked (missing_requirement)")
                .help("bind them here, or pass `--var catalog.name=value` / `--vars FILE`"),
            );
        }
    }
}

fn unknown<'a>(
    doc: &crate::load::Document,
    p: &str,
    what: &str,
    k: &str,
    cat: &str,
    known: impl Iterator<Item = &'a str>,
) -> Diagnostic {
    let known: Vec<&str> = known.collect();
    let d = Diagnostic::error(
        Code::UnknownInput,
        format!("catalog `{cat}` declares no {what} `{k}`"),
    )
    .at(&doc.source, doc.spans.key_span(p))
    .label(format!("unknown {what}"));
    match did_you_mean(k, known.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "declared: {}",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )),
    }
}

fn sorted<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = it.collect();
    v.sort();
    v
}

/// Whether a bound value has the declared type. Templates are checked when rendered.
pub(crate) fn fits(kind: VarType, v: &Value) -> bool {
    if v.as_str().is_some_and(crate::template::is_template) {
        return true;
    }
    match kind {
        VarType::Any => true,
        VarType::String => v.is_string(),
        VarType::Integer => v.is_i64() || v.is_u64(),
        VarType::Number => v.is_number(),
        VarType::Boolean => v.is_boolean(),
        VarType::List => v.is_array(),
        VarType::Map => v.is_object(),
    }
}

pub(crate) fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

pub(crate) fn kind_name(k: VarType) -> &'static str {
    match k {
        VarType::String => "a string",
        VarType::Integer => "an integer",
        VarType::Number => "a number",
        VarType::Boolean => "a boolean",
        VarType::List => "a list",
        VarType::Map => "a map",
        VarType::Any => "any value",
    }
}
