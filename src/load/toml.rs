//! TOML → JSON value with spans, from toml's spanned document tree.

use std::sync::Arc;

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{Loc, NodeId, Source, SpanMap};

pub(super) fn parse(source: &Arc<Source>, diags: &mut Diagnostics) -> Option<(Value, SpanMap)> {
    let (doc, errors) = DeTable::parse_recoverable(&source.text);
    if !errors.is_empty() {
        // Recovery can report the same problem twice at one spot; say it once.
        let mut seen = std::collections::HashSet::new();
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            if !seen.insert((span.start, msg.clone())) {
                continue;
            }
            let d = if msg.contains("duplicate key") {
                let name = source
                    .text
                    .get(span.clone())
                    .unwrap_or_default()
                    .trim()
                    .trim_matches(['"', '\''])
                    .to_string();
                Diagnostic::error(Code::DuplicateKey, format!("duplicate key `{name}`"))
                    .at(source, span)
                    .label(format!("`{name}` is already set in this table"))
                    .help("remove one of the two entries")
            } else if msg.contains("recurs") {
                // toml's own guard against nesting that would exhaust the stack.
                Diagnostic::error(
                    Code::TooLarge,
                    "arrays and inline tables nest deeper than TOML allows here (80 levels)",
                )
                .at(source, span)
                .label("too deep here")
                .help("catalogs and topologies this deep are refused; flatten the value")
            } else {
                Diagnostic::error(Code::Parse, format!("invalid TOML: {msg}"))
                    .at(source, span)
                    .label("here")
            };
            diags.push(d);
        }
        return None;
    }
    let mut spans = SpanMap::default();
    let (value, _) = table(doc.get_ref(), doc.span(), &mut spans);
    Some((value, spans))
}

fn table(t: &DeTable<'_>, span: std::ops::Range<usize>, spans: &mut SpanMap) -> (Value, NodeId) {
    let mut map = Map::new();
    let mut entries = Vec::with_capacity(t.len());
    for (k, v) in t.iter() {
        let (val, id) = value(v.get_ref(), v.span(), spans);
        spans.set_key(id, k.span());
        entries.push((k.get_ref().to_string().into_boxed_str(), id));
        map.insert(k.get_ref().to_string(), val);
    }
    (
        Value::Object(map),
        spans.map(
            Loc {
                key: None,
                value: span,
            },
            entries,
        ),
    )
}

fn value(v: &DeValue<'_>, span: std::ops::Range<usize>, spans: &mut SpanMap) -> (Value, NodeId) {
    let leaf = |spans: &mut SpanMap, v: Value| {
        let id = spans.leaf(Loc {
            key: None,
            value: span.clone(),
        });
        (v, id)
    };
    match v {
        DeValue::String(s) => leaf(spans, Value::String(s.to_string())),
        DeValue::Integer(i) => {
            let s = i.as_str().replace('_', "");
            let n = i64::from_str_radix(
                s.trim_start_matches(['0', 'x', 'o', 'b'])
                    .trim_start_matches('+'),
                i.radix(),
            )
            .ok()
            .or_else(|| s.parse::<i64>().ok())
            .map(|n| Value::Number(n.into()))
            .unwrap_or(Value::String(s));
            leaf(spans, n)
        }
        DeValue::Float(f) => {
            let n = f
                .as_str()
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.as_str().to_string()));
            leaf(spans, n)
        }
        DeValue::Boolean(b) => leaf(spans, Value::Bool(*b)),
        DeValue::Datetime(d) => leaf(spans, Value::String(d.to_string())),
        DeValue::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            let mut ids = Vec::with_capacity(a.len());
            for item in a.iter() {
                let (v, id) = value(item.get_ref(), item.span(), spans);
                items.push(v);
                ids.push(id);
            }
            (
                Value::Array(items),
                spans.seq(
                    Loc {
                        key: None,
                        value: span,
                    },
                    ids,
                ),
            )
        }
        DeValue::Table(t) => table(t, span, spans),
    }
}
