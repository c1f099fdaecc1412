//! YAML → JSON value with spans, from saphyr-parser's event stream.
//!
//! Scalars resolve by the YAML 1.2 core schema; quoted scalars are always strings.
//! Duplicate keys are reported, not silently overwritten.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{Loc, NodeId, Source, SpanMap};

pub fn parse(source: &Arc<Source>, diags: &mut Diagnostics) -> Option<(Value, SpanMap)> {
    let text = &source.text;
    let offsets = CharOffsets::new(text);
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        match item {
            Ok(ev) => events.push(ev),
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                diags.push(
                    Diagnostic::error(Code::Parse, format!("invalid YAML: {}", e.info()))
                        .at(source, at..at + 1)
                        .label("here"),
                );
                return None;
            }
        }
    }
    let mut b = Builder {
        source,
        events,
        pos: 0,
        offsets,
        spans: SpanMap::default(),
        anchors: HashMap::new(),
        diags,
        documents: 0,
    };
    let value = b.stream();
    Some((value, b.spans))
}

/// saphyr reports character indices; spans elsewhere are byte offsets.
struct CharOffsets {
    bytes: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        CharOffsets {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.bytes {
            None => char_index.min(self.len),
            Some(v) => v.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

struct Builder<'a, 'i> {
    source: &'a Arc<Source>,
    events: Vec<(Event<'i>, Span)>,
    pos: usize,
    offsets: CharOffsets,
    spans: SpanMap,
    anchors: HashMap<usize, Value>,
    diags: &'a mut Diagnostics,
    documents: usize,
}

impl Builder<'_, '_> {
    fn range(&self, span: &Span) -> std::ops::Range<usize> {
        self.offsets.byte(span.start.index())..self.offsets.byte(span.end.index())
    }

    fn stream(&mut self) -> Value {
        let mut root = Value::Null;
        while self.pos < self.events.len() {
            let (ev, span) = &self.events[self.pos];
            match ev {
                Event::DocumentStart(_) => {
                    self.pos += 1;
                    self.documents += 1;
                    if self.documents > 1 {
                        let r = self.range(span);
                        self.diags.push(
                            Diagnostic::error(Code::Parse, "more than one YAML document in a file")
                                .at(self.source, r)
                                .label("second document starts here")
                                .help("put each catalog or topology in its own file"),
                        );
                        return root;
                    }
                    root = self.node().0;
                }
                _ => self.pos += 1,
            }
        }
        root
    }

    /// Reads one node starting at the current event; returns its value and span node.
    fn node(&mut self) -> (Value, NodeId) {
        let Some((ev, span)) = self.events.get(self.pos) else {
            return (Value::Null, self.spans.leaf(Loc::default()));
        };
        let span = *span;
        self.pos += 1;
        let start = self.range(&span).start;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(text, *style, tag.as_deref().map(|t| t.suffix.as_str()));
                let anchor = *anchor;
                let id = self.spans.leaf(Loc {
                    key: None,
                    value: self.range(&span),
                });
                self.remember(anchor, &v);
                (v, id)
            }
            Event::SequenceStart(anchor, _) => {
                let anchor = *anchor;
                let mut items = Vec::new();
                let mut ids = Vec::new();
                let end = loop {
                    match self.events.get(self.pos) {
                        Some((Event::SequenceEnd, end)) => {
                            let end = self.range(end).end;
                            self.pos += 1;
                            break end;
                        }
                        None => break start,
                        Some(_) => {
                            let (v, id) = self.node();
                            items.push(v);
                            ids.push(id);
                        }
                    }
                };
                let v = Value::Array(items);
                self.remember(anchor, &v);
                (
                    v,
                    self.spans.seq(
                        Loc {
                            key: None,
                            value: start..end.max(start),
                        },
                        ids,
                    ),
                )
            }
            Event::MappingStart(anchor, _) => {
                let anchor = *anchor;
                let mut map = Map::new();
                let mut entries: Vec<(Box<str>, NodeId)> = Vec::new();
                let end = loop {
                    let Some((kev, kspan)) = self.events.get(self.pos) else {
                        break start;
                    };
                    if matches!(kev, Event::MappingEnd) {
                        let end = self.range(kspan).end;
                        self.pos += 1;
                        break end;
                    }
                    let krange = self.range(kspan);
                    let name = match kev {
                        Event::Scalar(t, ..) => {
                            let t = t.to_string();
                            self.pos += 1;
                            t
                        }
                        _ => {
                            let (k, _) = self.node();
                            self.diags.push(
                                Diagnostic::error(
                                    Code::WrongType,
                                    "mapping keys must be plain strings",
                                )
                                .at(self.source, krange.clone())
                                .label("complex key"),
                            );
                            k.to_string()
                        }
                    };
                    if map.contains_key(&name) {
                        let first = entries
                            .iter()
                            .find(|(k, _)| **k == *name)
                            .map(|(_, id)| *id);
                        let line = first
                            .and_then(|id| self.spans.key_of(id))
                            .map(|k| self.source.line_col(k.start).0)
                            .unwrap_or(0);
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateKey,
                                format!("duplicate key `{name}`"),
                            )
                            .at(self.source, krange.clone())
                            .label(format!("`{name}` was already set on line {line}"))
                            .help("remove one of the two entries"),
                        );
                        // Keep the first, and skip the duplicate's value.
                        let _ = self.node();
                        continue;
                    }
                    let (v, id) = self.node();
                    self.spans.set_key(id, krange);
                    entries.push((name.clone().into_boxed_str(), id));
                    map.insert(name, v);
                };
                let v = Value::Object(map);
                self.remember(anchor, &v);
                (
                    v,
                    self.spans.map(
                        Loc {
                            key: None,
                            value: start..end.max(start),
                        },
                        entries,
                    ),
                )
            }
            Event::Alias(id) => {
                let v = self.anchors.get(id).cloned().unwrap_or(Value::Null);
                (
                    v,
                    self.spans.leaf(Loc {
                        key: None,
                        value: self.range(&span),
                    }),
                )
            }
            _ => (
                Value::Null,
                self.spans.leaf(Loc {
                    key: None,
                    value: start..start,
                }),
            ),
        }
    }

    fn remember(&mut self, anchor: usize, v: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
    }
}

/// YAML 1.2 core schema resolution for one scalar.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = int(text) {
        return Value::Number(n.into());
    }
    if looks_float(text)
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn looks_float(text: &str) -> bool {
    let t = text.trim_start_matches(['-', '+']);
    !t.is_empty()
        && t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
}
