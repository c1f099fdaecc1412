//! TOML → JSON value with spans, from toml's spanned document tree.

use std::sync::Arc;

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{Loc, Source, SpanMap, escape_token};

pub fn parse(source: &Arc<Source>, diags: &mut Diagnostics) -> Option<(Value, SpanMap)> {
    let (doc, errors) = DeTable::parse_recoverable(&source.text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            let code = if msg.contains("duplicate key") {
                Code::DuplicateKey
            } else {
                Code::Parse
            };
            diags.push(
                Diagnostic::error(code, format!("invalid TOML: {msg}"))
                    .at(source, span)
                    .label("here"),
            );
        }
        return None;
    }
    let mut spans = SpanMap::default();
    let whole = doc.span();
    let value = table(doc.get_ref(), "", &mut spans);
    spans.insert(
        String::new(),
        Loc {
            key: None,
            value: whole,
        },
    );
    Some((value, spans))
}

fn table(t: &DeTable<'_>, pointer: &str, spans: &mut SpanMap) -> Value {
    let mut map = Map::new();
    for (k, v) in t.iter() {
        let p = format!("{pointer}/{}", escape_token(k.get_ref()));
        let val = value(v.get_ref(), &p, spans);
        spans.insert(
            p,
            Loc {
                key: Some(k.span()),
                value: v.span(),
            },
        );
        map.insert(k.get_ref().to_string(), val);
    }
    Value::Object(map)
}

fn value(v: &DeValue<'_>, pointer: &str, spans: &mut SpanMap) -> Value {
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let s = i.as_str().replace('_', "");
            i64::from_str_radix(
                s.trim_start_matches(['0', 'x', 'o', 'b'])
                    .trim_start_matches('+'),
                i.radix(),
            )
            .ok()
            .or_else(|| s.parse::<i64>().ok())
            .map(|n| Value::Number(n.into()))
            .unwrap_or(Value::String(s))
        }
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.as_str().to_string())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, item)| {
                    let p = format!("{pointer}/{i}");
                    let val = value(item.get_ref(), &p, spans);
                    spans.insert(
                        p,
                        Loc {
                            key: None,
                            value: item.span(),
                        },
                    );
                    val
                })
                .collect(),
        ),
        DeValue::Table(t) => table(t, pointer, spans),
    }
}
