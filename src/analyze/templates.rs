//! Every templated string: it parses, and every name it reads is defined where it is used.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use serde_json::Value;

use super::check_pointer;
use super::index::{DefId, Index};
use super::needs::Need;
use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::Catalog;
use crate::model::shapes::ForEach;
use crate::template::{self, BUILTINS};
use crate::workspace::LoadedCatalog;

pub(super) const ENV_FIELDS: &[&str] = &["environment", "topology", "providers"];

/// Names visible at one place in a catalog.
type Captured<'a> = HashMap<&'a str, Vec<&'a str>>;

#[derive(Default)]
struct Scope<'a> {
    loop_vars: Vec<String>,
    params: Option<Vec<String>>,
    /// check local id → capture names, for the checks this one needs, in layers:
    /// the group's needs (shared by all its checks) and the check's own.
    checks: Option<Vec<Rc<Captured<'a>>>>,
    /// repair step id → capture names, for the steps before this one.
    steps: Option<HashMap<String, Vec<String>>>,
}

pub(super) fn check(
    cats: &[LoadedCatalog],
    ci: usize,
    index: &Index,
    needs: &HashMap<DefId, Vec<Need>>,
    diags: &mut Diagnostics,
) {
    let c = &cats[ci];
    let model = &c.model;
    for (name, t) in &model.probes {
        let scope = Scope {
            loop_vars: vec!["item".into()],
            params: Some(t.params.keys().cloned().collect()),
            ..Scope::default()
        };
        let ptr = format!("/probes/{}", crate::source::escape_token(name));
        if let Some(v) = c.doc.value.pointer(&ptr) {
            walk(c, &scope, v, &ptr, diags);
        }
    }
    for (gi, g) in model.groups.iter().enumerate() {
        let mut group_layer: Option<Rc<Captured<'_>>> = None;
        for (ki, k) in g.checks.iter().enumerate() {
            let d = DefId {
                cat: ci,
                group: gi,
                check: ki,
            };
            let mut loop_vars = vec!["item".to_string()];
            if let Some(ForEach::Matrix(m)) = &k.for_each {
                loop_vars.extend(m.matrix.keys().cloned());
            }
            let needs_here = needs.get(&d).map(Vec::as_slice).unwrap_or_default();
            let prefix = format!("/groups/{gi}/needs/");
            let (group_needs, own): (Vec<&Need>, Vec<&Need>) = needs_here
                .iter()
                .partition(|n| n.pointer.starts_with(&prefix));
            let mut layers = Vec::new();
            if !group_needs.is_empty() {
                let layer =
                    group_layer.get_or_insert_with(|| Rc::new(captured(cats, index, &group_needs)));
                layers.push(layer.clone());
            }
            if !own.is_empty() {
                layers.push(Rc::new(captured(cats, index, &own)));
            }
            let scope = Scope {
                loop_vars,
                checks: Some(layers),
                ..Scope::default()
            };
            let base = check_pointer(d);
            let Some(Value::Object(fields)) = c.doc.value.pointer(&base) else {
                continue;
            };
            for (key, v) in fields {
                let p = format!("{base}/{key}");
                match key.as_str() {
                    "id" | "capture" => {}
                    "when" => expression(c, &scope, v, &p, diags),
                    "for_each" => for_each(c, v, &p, diags),
                    "repair" => repair(c, &scope, v, &p, diags),
                    _ => walk(c, &scope, v, &p, diags),
                }
            }
        }
    }
}

/// Capture names of the checks some needs name, by local check id.
fn captured<'a>(cats: &'a [LoadedCatalog], index: &Index, needs: &[&Need]) -> Captured<'a> {
    let mut out: Captured<'a> = HashMap::new();
    for n in needs {
        for t in index.expand(&n.target) {
            let tk = &cats[t.cat].model.groups[t.group].checks[t.check];
            out.entry(tk.id.as_str())
                .or_default()
                .extend(tk.capture.keys().map(String::as_str));
        }
    }
    out
}

/// The lists of a `for_each` see no loop variables; `exclude` and `id` see them all.
fn for_each(c: &LoadedCatalog, v: &Value, p: &str, diags: &mut Diagnostics) {
    let outer = Scope::default();
    match v {
        Value::Object(m) => {
            let mut inner = Scope {
                loop_vars: vec!["item".into()],
                ..Scope::default()
            };
            if let Some(Value::Object(mx)) = m.get("matrix") {
                inner.loop_vars.extend(mx.keys().cloned());
                walk(c, &outer, &m["matrix"], &format!("{p}/matrix"), diags);
            }
            if let Some(Value::Array(ex)) = m.get("exclude") {
                for (i, e) in ex.iter().enumerate() {
                    expression(c, &inner, e, &format!("{p}/exclude/{i}"), diags);
                }
            }
            if let Some(id) = m.get("id") {
                walk(c, &inner, id, &format!("{p}/id"), diags);
            }
        }
        other => walk(c, &outer, other, p, diags),
    }
}

fn repair(c: &LoadedCatalog, scope: &Scope<'_>, v: &Value, p: &str, diags: &mut Diagnostics) {
    let Value::Object(m) = v else { return };
    if let Some(g) = m.get("guard").and_then(|g| g.get("refuse_if")) {
        expression(c, scope, g, &format!("{p}/guard/refuse_if"), diags);
    }
    let mut steps: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(Value::Array(list)) = m.get("steps") {
        for (i, step) in list.iter().enumerate() {
            let s = Scope {
                loop_vars: scope.loop_vars.clone(),
                checks: scope.checks.clone(),
                steps: Some(steps.clone()),
                params: None,
            };
            let sp = format!("{p}/steps/{i}");
            if let Value::Object(fields) = step {
                for (k, fv) in fields {
                    if k != "id" && k != "capture" {
                        walk(c, &s, fv, &format!("{sp}/{k}"), diags);
                    }
                }
                if let Some(id) = fields.get("id").and_then(Value::as_str) {
                    let caps = fields
                        .get("capture")
                        .and_then(Value::as_object)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    steps.insert(id.to_string(), caps);
                }
            }
        }
    }
}

fn walk(c: &LoadedCatalog, scope: &Scope, v: &Value, p: &str, diags: &mut Diagnostics) {
    walk_in(c, scope, v, &mut p.to_string(), diags);
}

/// Walks with one pointer buffer, grown and shrunk in place: no string per node.
fn walk_in(c: &LoadedCatalog, scope: &Scope, v: &Value, p: &mut String, diags: &mut Diagnostics) {
    match v {
        Value::String(s) if template::is_template(s) => match template::names(s) {
            Ok(names) => {
                check_names(c, scope, &names, s, p, diags);
                check_filters(c, &filter_names(s, false), p, diags);
            }
            Err(e) => syntax(c, &e, p, diags),
        },
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = p.len();
                crate::source::push_token(p, &i.to_string());
                walk_in(c, scope, x, p, diags);
                p.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let len = p.len();
                crate::source::push_token(p, k);
                walk_in(c, scope, x, p, diags);
                p.truncate(len);
            }
        }
        _ => {}
    }
}

fn expression(c: &LoadedCatalog, scope: &Scope, v: &Value, p: &str, diags: &mut Diagnostics) {
    let Some(s) = v.as_str() else { return };
    match template::expression_names(s) {
        Ok(names) => {
            check_names(c, scope, &names, s, p, diags);
            check_filters(c, &filter_names(s, true), p, diags);
        }
        Err(e) => syntax(c, &e, p, diags),
    }
}

fn syntax(c: &LoadedCatalog, e: &minijinja::Error, p: &str, diags: &mut Diagnostics) {
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    diags.push(
        Diagnostic::error(
            Code::TemplateSyntax,
            format!("template does not parse: {detail}"),
        )
        .at(&c.doc.source, c.doc.spans.value_span(p))
        .label("in this template"),
    );
}

fn check_names(
    c: &LoadedCatalog,
    scope: &Scope,
    names: &BTreeSet<String>,
    text: &str,
    p: &str,
    diags: &mut Diagnostics,
) {
    for name in names {
        if let Some((code, msg, help)) = problem(&c.model, scope, name) {
            let span = narrow(c, p, name);
            let mut d = Diagnostic::error(code, msg)
                .at(&c.doc.source, span)
                .label("not defined here");
            if let Some(h) = help {
                d = d.help(h);
            }
            let _ = text;
            diags.push(d);
        }
    }
}

/// The problem with one dotted name, if any: (code, message, help).
fn problem(model: &Catalog, scope: &Scope, name: &str) -> Option<(Code, String, Option<String>)> {
    let mut parts = name.split('.');
    let root = parts.next().unwrap_or_default();
    let second = parts.next();
    let third = parts.next();
    let undefined = |what: String, known: Vec<&str>, field: &str| {
        let help = match did_you_mean(field, known.iter().copied()) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if known.is_empty() => None,
            None => Some(format!("defined here: {}", known.join(", "))),
        };
        Some((Code::UndefinedName, what, help))
    };
    match root {
        r if BUILTINS.contains(&r) => None,
        r if scope.loop_vars.iter().any(|v| v == r) => None,
        "vars" => {
            let f = second?;
            if model.vars.contains_key(f) {
                return None;
            }
            undefined(
                format!("undefined var `vars.{f}`"),
                model.vars.keys().map(String::as_str).collect(),
                f,
            )
            .map(|(c, m, h)| {
                (
                    c,
                    m,
                    h.or(Some(format!(
                        "declare it under `vars:` in catalog `{}`",
                        model.catalog
                    ))),
                )
            })
        }
        "secrets" => {
            let f = second?;
            if model.secrets.contains_key(f) {
                return None;
            }
            undefined(
                format!("undefined secret `secrets.{f}`"),
                model.secrets.keys().map(String::as_str).collect(),
                f,
            )
        }
        "env" => {
            let f = second?;
            if ENV_FIELDS.contains(&f) {
                return None;
            }
            undefined(format!("undefined name `env.{f}`"), ENV_FIELDS.to_vec(), f)
        }
        "params" => match &scope.params {
            None => Some((
                Code::UndefinedName,
                "`params` is only defined inside probe templates".into(),
                Some("pass values to a template with `with:` and read them there".into()),
            )),
            Some(ps) => {
                let f = second?;
                if ps.iter().any(|p| p == f) {
                    return None;
                }
                undefined(
                    format!("undefined parameter `params.{f}`"),
                    ps.iter().map(String::as_str).collect(),
                    f,
                )
                .map(|(_, m, h)| {
                    (
                        Code::UnknownParameter,
                        m,
                        h.or(Some("declare it under the template's `params:`".into())),
                    )
                })
            }
        },
        "checks" => {
            let Some(layers) = &scope.checks else {
                return Some((
                    Code::UnknownCapture,
                    "captures are only visible to checks".into(),
                    None,
                ));
            };
            let id = second?;
            let found: Vec<&str> = layers
                .iter()
                .filter_map(|l| l.get(id))
                .flatten()
                .copied()
                .collect();
            let names = (layers.iter().any(|l| l.contains_key(id))).then_some(found);
            let Some(names) = names else {
                let mut known: Vec<&str> = layers.iter().flat_map(|l| l.keys().copied()).collect();
                known.sort_unstable();
                known.dedup();
                return undefined(
                    format!("`checks.{id}` is not a check this one needs"),
                    known,
                    id,
                )
                .map(|(_, m, h)| {
                    (
                        Code::UnknownCapture,
                        m,
                        h.or(Some(format!("add `{id}` to `needs` to read its captures"))),
                    )
                });
            };
            let cap = third?;
            if names.contains(&cap) {
                return None;
            }
            let help = match did_you_mean(cap, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => {
                    format!("`{id}` captures nothing; add `capture: {{ {cap}: <query> }}` to it")
                }
                None => format!("`{id}` captures: {}", names.join(", ")),
            };
            Some((
                Code::UnknownCapture,
                format!("check `{id}` captures no `{cap}`"),
                Some(help),
            ))
        }
        "steps" => {
            let Some(steps) = &scope.steps else {
                return Some((
                    Code::UndefinedName,
                    "`steps` is only defined inside repair steps".into(),
                    None,
                ));
            };
            let id = second?;
            let Some(names) = steps.get(id) else {
                return undefined(
                    format!("no earlier repair step `{id}`"),
                    steps.keys().map(String::as_str).collect(),
                    id,
                );
            };
            let cap = third?;
            if names.iter().any(|n| n == cap) {
                return None;
            }
            undefined(
                format!("step `{id}` captures no `{cap}`"),
                names.iter().map(String::as_str).collect(),
                cap,
            )
        }
        other => {
            let mut known = vec!["vars", "secrets", "env", "item", "checks"];
            known.extend(scope.loop_vars.iter().map(String::as_str));
            if scope.params.is_some() {
                known.push("params");
            }
            if scope.steps.is_some() {
                known.push("steps");
            }
            undefined(format!("undefined name `{other}`"), known, other)
        }
    }
}

/// Narrows a value's span to where `name` is written inside it, when it can be found.
fn narrow(c: &LoadedCatalog, p: &str, name: &str) -> std::ops::Range<usize> {
    let span = c.doc.spans.value_span(p);
    let text = c.doc.source.text.get(span.clone()).unwrap_or_default();
    let mut parts: Vec<&str> = name.split('.').collect();
    while !parts.is_empty() {
        let probe = parts.join(".");
        if let Some(i) = text.find(&probe) {
            return span.start + i..span.start + i + probe.len();
        }
        parts.pop();
    }
    span
}

/// Filters minijinja and labcert provide, as candidates for "did you mean"; each is
/// confirmed against the environment, so a name a minijinja release drops is not offered.
const FILTER_CANDIDATES: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "shquote",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "with",
    "zip",
];

/// Whether the template environment knows a filter: minijinja looks filters up when it
/// renders, so a one-filter template on `none` says whether the name resolves.
fn filter_exists(name: &str) -> bool {
    use std::cell::RefCell;
    thread_local! {
        static KNOWN: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
    }
    if let Some(k) = KNOWN.with(|m| m.borrow().get(name).copied()) {
        return k;
    }
    let known = !matches!(
        template::env().render_str(&format!("{{{{ none | {name} }}}}"), ()),
        Err(e) if e.kind() == minijinja::ErrorKind::UnknownFilter
    );
    KNOWN.with(|m| m.borrow_mut().insert(name.to_string(), known));
    known
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Names applied as filters (`x | name`), in order, each once. `expr`: the whole string is an
/// expression; otherwise only the inside of `{{ }}` and `{% %}` is code.
fn filter_names(s: &str, expr: bool) -> Vec<String> {
    let b = s.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut in_code = expr;
    while i < b.len() {
        if !in_code {
            match (b[i], b.get(i + 1)) {
                (b'{', Some(b'{' | b'%')) => {
                    in_code = true;
                    i += 2;
                }
                (b'{', Some(b'#')) => match s[i + 2..].find("#}") {
                    Some(j) => i += j + 4,
                    None => break,
                },
                _ => i += 1,
            }
            continue;
        }
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'}' | b'%' if !expr && b.get(i + 1) == Some(&b'}') => {
                in_code = false;
                i += 2;
            }
            b'|' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let start = i;
                if i < b.len() && is_ident_start(b[i]) {
                    while i < b.len() && is_ident(b[i]) {
                        i += 1;
                    }
                    let name = &s[start..i];
                    if !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn check_filters(c: &LoadedCatalog, filters: &[String], p: &str, diags: &mut Diagnostics) {
    for name in filters.iter().filter(|f| !filter_exists(f)) {
        let known = FILTER_CANDIDATES
            .iter()
            .copied()
            .filter(|f| filter_exists(f));
        let help = match did_you_mean(name, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "see the minijinja filter list; labcert adds `with` and `shquote`".to_string(),
        };
        diags.push(
            Diagnostic::error(Code::UnknownFilter, format!("unknown filter `{name}`"))
                .at(&c.doc.source, filter_span(c, p, name))
                .label("no such filter")
                .help(help),
        );
    }
}

/// Where `| name` is written inside a value's span, else the whole value.
fn filter_span(c: &LoadedCatalog, p: &str, name: &str) -> std::ops::Range<usize> {
    let span = c.doc.spans.value_span(p);
    let text = c.doc.source.text.get(span.clone()).unwrap_or_default();
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(name).map(|i| i + from) {
        let end = i + name.len();
        let before = text[..i].trim_end();
        if before.ends_with('|')
            && !before.ends_with("||")
            && (i == 0 || !is_ident(b[i - 1]))
            && b.get(end).is_none_or(|x| !is_ident(*x))
        {
            return span.start + i..span.start + end;
        }
        from = end;
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_found_in_code_only() {
        assert_eq!(
            filter_names("echo a | grep {{ vars.x | sortt }} | wc", false),
            vec!["sortt"]
        );
        assert_eq!(
            filter_names(
                "{{ a|upper | replace('|x', 'y') }}{% if b | length %}",
                false
            ),
            vec!["upper", "replace", "length"]
        );
        assert_eq!(
            filter_names("{# a | b #}{{ 'a | b' }}", false),
            Vec::<String>::new()
        );
        assert_eq!(filter_names("vars.x | lenght > 1", true), vec!["lenght"]);
    }

    #[test]
    fn filters_resolve_against_the_environment() {
        assert!(filter_exists("upper"));
        assert!(filter_exists("with"));
        assert!(filter_exists("sort"));
        assert!(!filter_exists("sortt"));
        assert_eq!(
            did_you_mean(
                "sortt",
                FILTER_CANDIDATES
                    .iter()
                    .copied()
                    .filter(|f| filter_exists(f))
            ),
            Some("sort")
        );
    }
}
