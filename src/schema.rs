//! JSON Schemas generated from the types of the documents labcert reads and writes, and
//! schema validation mapped to located diagnostics. A document type says which kind it is
//! ([`Described`]); this module knows only the catalog language's own types, so the input
//! side (workspace) and the output side (manifest, qualification) both build on it.

use std::sync::{Arc, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::load::Document;
use crate::model::{Catalog, Topology, duration};
use crate::source::Format;

/// The kinds of files with a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Catalog,
    Topology,
    Manifest,
    Qualification,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Catalog => "catalog",
            Kind::Topology => "topology",
            Kind::Manifest => "manifest",
            Kind::Qualification => "qualification",
        }
    }
}

/// A document type with a schema of its own.
pub trait Described: schemars::JsonSchema {
    const KIND: Kind;
}

impl Described for Catalog {
    const KIND: Kind = Kind::Catalog;
}

impl Described for Topology {
    const KIND: Kind = Kind::Topology;
}

/// The schema of `T` as JSON, the way `schemas/<kind>.schema.json` holds it.
pub fn generate<T: Described>() -> Value {
    let mut v = schemars::schema_for!(T).to_value();
    strip_object_defaults(&mut v);
    if let Value::Object(m) = &mut v {
        m.insert(
            "$id".into(),
            Value::String(format!(
                "https://labcert.dev/schemas/{}.schema.json",
                T::KIND.name()
            )),
        );
    }
    v
}

/// `default: {…nulls}` from `Default` impls says nothing an editor can use; drop it.
fn strip_object_defaults(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("default").is_some_and(Value::is_object) {
                m.remove("default");
            }
            for (k, x) in m.iter_mut() {
                if k == "properties" {
                    // Keys here are property names (a field may be called `default`), not keywords.
                    if let Value::Object(props) = x {
                        props.values_mut().for_each(strip_object_defaults);
                    }
                } else {
                    strip_object_defaults(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_object_defaults),
        _ => {}
    }
}

/// A schema as pretty JSON text with a trailing newline.
pub fn text(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

struct Compiled {
    schema: Value,
    validator: Validator,
}

fn compiled<T: Described>() -> &'static Compiled {
    static CATALOG: OnceLock<Compiled> = OnceLock::new();
    static TOPOLOGY: OnceLock<Compiled> = OnceLock::new();
    static MANIFEST: OnceLock<Compiled> = OnceLock::new();
    static QUALIFICATION: OnceLock<Compiled> = OnceLock::new();
    let cell = match T::KIND {
        Kind::Catalog => &CATALOG,
        Kind::Topology => &TOPOLOGY,
        Kind::Manifest => &MANIFEST,
        Kind::Qualification => &QUALIFICATION,
    };
    cell.get_or_init(|| {
        let schema = generate::<T>();
        let validator = jsonschema::draft202012::new(&schema).expect("generated schema compiles");
        Compiled { schema, validator }
    })
}

/// Every way `value` breaks `T`'s schema, as `pointer: message` lines (empty when it fits).
pub fn violations<T: Described>(value: &Value) -> Vec<String> {
    compiled::<T>()
        .validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Validates a document against its schema; every violation becomes a diagnostic.
/// Returns the pointers of the offending values, so a caller can drop them and go on
/// to semantic analysis of the rest.
/// `kind` is what the file says it is: a catalog or a topology (the documents labcert reads).
pub fn check(doc: &Document, kind: Kind, diags: &mut Diagnostics) -> Vec<String> {
    let c = match kind {
        Kind::Catalog => compiled::<Catalog>(),
        Kind::Topology => compiled::<Topology>(),
        // Manifests and qualifications are read through their types, not as catalog files.
        Kind::Manifest | Kind::Qualification => return Vec::new(),
    };
    let mut prune = Vec::new();
    for err in c.validator.iter_errors(&doc.value) {
        let ptr = err.instance_path().as_str().to_string();
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                prune.extend(
                    unexpected
                        .iter()
                        .map(|k| format!("{ptr}/{}", crate::source::escape_token(k))),
                );
            }
            ValidationErrorKind::Required { .. } => {}
            _ => prune.push(ptr),
        }
        report(doc, &c.schema, &err, diags);
    }
    prune
}

/// Removes the values at `pointers` (deepest first); a root pointer empties nothing.
pub fn prune(value: &mut Value, mut pointers: Vec<String>) {
    pointers.sort_by(|a, b| b.len().cmp(&a.len()).then(b.cmp(a)));
    pointers.dedup();
    for p in pointers {
        let Some(i) = p.rfind('/') else { continue };
        let (parent, token) = (&p[..i], p[i + 1..].replace("~1", "/").replace("~0", "~"));
        match value.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.shift_remove(&token);
            }
            Some(Value::Array(a)) => {
                if let Ok(n) = token.parse::<usize>()
                    && n < a.len()
                {
                    a.remove(n);
                }
            }
            _ => {}
        }
    }
}

fn report(doc: &Document, schema: &Value, err: &ValidationError<'_>, diags: &mut Diagnostics) {
    let src: &Arc<_> = &doc.source;
    let ptr = err.instance_path().as_str().to_string();
    let instance = err.instance();
    let found = type_name(instance);
    let d = match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let p = format!("{ptr}/{}", crate::source::escape_token(key));
                let allowed = allowed_keys(schema, err);
                let mut d = Diagnostic::error(Code::UnknownKey, format!("unknown key `{key}`"))
                    .at(src, doc.spans.key_span(&p))
                    .label("not a known key here");
                d = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None if !allowed.is_empty() => {
                        d.help(format!("known keys: {}", allowed.join(", ")))
                    }
                    None => d,
                };
                diags.push(d);
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            // At the top level, point at the first key rather than a leading comment.
            let span = if ptr.is_empty() {
                doc.spans.first_key_span("").unwrap_or(0..0)
            } else {
                doc.spans.key_span(&ptr)
            };
            Diagnostic::error(Code::MissingKey, format!("missing required key `{name}`"))
                .at(src, span)
                .label(if ptr.is_empty() {
                    format!("this file needs a top-level `{name}`")
                } else {
                    format!("this needs `{name}`")
                })
        }
        ValidationErrorKind::Type { kind } => {
            let fmt = doc.source.format;
            let expected: Vec<String> = match kind {
                TypeKind::Single(t) => vec![format!("{t:?}").to_lowercase()],
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| format!("{t:?}").to_lowercase())
                    .filter(|t| t != "null")
                    .collect(),
            };
            let expected: Vec<String> = expected.iter().map(|t| article(surface(t, fmt))).collect();
            let mut d = Diagnostic::error(
                Code::WrongType,
                format!(
                    "expected {}, found {}",
                    expected.join(" or "),
                    article(surface(found, fmt))
                ),
            )
            .at(src, doc.spans.value_span(&ptr))
            .label(format!("expected {}", expected.join(" or ")));
            if let [only] = expected.as_slice()
                && (only.ends_with("list") || only.ends_with("array"))
            {
                d = d.help(match fmt {
                    Format::Yaml => "write a list: `[a, b]`, or one `- item` per line",
                    Format::Toml => "write an array: `[\"a\", \"b\"]`",
                });
            }
            d
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| o.as_str().map(String::from).unwrap_or(o.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let got = instance
                .as_str()
                .map(String::from)
                .unwrap_or(instance.to_string());
            let mut d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{got}` is not one of: {}", opts.join(", ")),
            )
            .at(src, doc.spans.value_span(&ptr))
            .label("not allowed here");
            d = match did_you_mean(&got, opts.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("use one of: {}", opts.join(", "))),
            };
            d
        }
        ValidationErrorKind::Pattern { pattern } if pattern == duration::PATTERN => {
            let text = instance.as_str().unwrap_or_default();
            let why = duration::parse(text).err().unwrap_or_default();
            Diagnostic::error(
                Code::InvalidDuration,
                format!("invalid duration `{text}`: {why}"),
            )
            .at(src, doc.spans.value_span(&ptr))
            .label("not a duration")
            .help("write durations like `500ms`, `10s`, `2m`, `1h30m`")
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Prefer the branch whose type fits: its errors say what is really wrong.
            let fitting: Vec<_> = context
                .iter()
                .filter(|errs| !errs.iter().any(|e| is_type_error_at(e, &ptr)))
                .collect();
            if fitting.len() == 1 {
                for e in fitting[0] {
                    report(doc, schema, e, diags);
                }
                return;
            }
            let fmt = doc.source.format;
            let expected = branch_types(context, &ptr, fmt);
            Diagnostic::error(
                Code::WrongType,
                format!(
                    "expected {expected}, found {}",
                    article(surface(found, fmt))
                ),
            )
            .at(src, doc.spans.value_span(&ptr))
            .label(format!("expected {expected}"))
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
            Code::InvalidValue,
            format!("{instance} is below the minimum {limit}"),
        )
        .at(src, doc.spans.value_span(&ptr))
        .label("too small"),
        _ => Diagnostic::error(Code::InvalidValue, err.to_string())
            .at(src, doc.spans.value_span(&ptr))
            .label("not allowed here"),
    };
    diags.push(d);
}

fn is_type_error_at(e: &ValidationError<'_>, ptr: &str) -> bool {
    matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.instance_path().as_str() == ptr
}

fn branch_types(context: &[Vec<ValidationError<'static>>], ptr: &str, fmt: Format) -> String {
    let mut names = Vec::new();
    for errs in context {
        for e in errs {
            if let (ValidationErrorKind::Type { kind }, true) =
                (e.kind(), e.instance_path().as_str() == ptr)
            {
                match kind {
                    TypeKind::Single(t) => names.push(format!("{t:?}").to_lowercase()),
                    TypeKind::Multiple(ts) => {
                        names.extend(ts.iter().map(|t| format!("{t:?}").to_lowercase()));
                    }
                }
            }
        }
    }
    names.retain(|n| n != "null");
    let mut names: Vec<String> = names.iter().map(|n| article(surface(n, fmt))).collect();
    names.dedup();
    if names.is_empty() {
        "another form".into()
    } else {
        names.join(" or ")
    }
}

/// The property names the failing `additionalProperties` keyword's schema allows.
fn allowed_keys(schema: &Value, err: &ValidationError<'_>) -> Vec<String> {
    let loc = err.schema_path().as_str();
    let parent = loc.strip_suffix("/additionalProperties").unwrap_or(loc);
    let node = resolve(schema, parent);
    node.and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().filter(|k| *k != "$schema").cloned().collect())
        .unwrap_or_default()
}

/// Follows a schema path, entering `$ref`s to local definitions on the way.
fn resolve<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = root;
    for token in path.split('/').filter(|t| !t.is_empty()) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            node = root.pointer(target)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&token)?,
            Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" | "array" | "object" => format!("an {t}"),
        "null" => "nothing (null)".into(),
        _ => format!("a {t}"),
    }
}

/// JSON Schema's type names in the words of the file's own format.
fn surface(t: &str, fmt: Format) -> &str {
    match (t, fmt) {
        ("array", Format::Yaml) => "list",
        ("object", Format::Yaml) => "mapping",
        ("object", Format::Toml) => "table",
        (other, _) => other,
    }
}
