//! YAML → JSON value with spans, from saphyr-parser's event stream.
//!
//! Scalars resolve by the YAML 1.2 core schema; quoted scalars are always strings.
//! Duplicate keys are reported, not silently overwritten.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput};
use serde_json::{Map, Number, Value};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{Loc, NodeId, Source, SpanMap};

/// Most nodes that aliases may add to a document, counted over every expansion: far more
/// than any catalog reuses, far less than an alias bomb ("billion laughs") asks for.
pub(super) const MAX_ALIAS_NODES: usize = 100_000;
/// Deepest nesting of sequences and mappings, aliases expanded.
pub(super) const MAX_DEPTH: usize = 128;

pub(super) fn parse(source: &Arc<Source>, diags: &mut Diagnostics) -> Option<(Value, SpanMap)> {
    let text = &source.text;
    let mut b = Builder {
        source,
        parser: Parser::new_from_str(text),
        peeked: None,
        failed: false,
        offsets: CharOffsets::new(text),
        spans: SpanMap::default(),
        anchors: HashMap::new(),
        diags,
        documents: 0,
        depth: 0,
        alias_nodes: 0,
    };
    let value = b.stream();
    (!b.failed).then_some((value, b.spans))
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

/// Builds the value tree straight from the event stream (no buffered copy of the events).
struct Builder<'a, 'i> {
    source: &'a Arc<Source>,
    parser: Parser<'i, StrInput<'i>>,
    peeked: Option<(Event<'i>, Span)>,
    /// A syntax error was reported; the tree is incomplete.
    failed: bool,
    offsets: CharOffsets,
    spans: SpanMap,
    anchors: HashMap<usize, Anchor>,
    diags: &'a mut Diagnostics,
    documents: usize,
    /// Sequences and mappings open around the node being read.
    depth: usize,
    /// Nodes added by alias expansion so far.
    alias_nodes: usize,
}

/// An anchored value, with its size and height so that expanding an alias is checked
/// against the limits before it is copied.
struct Anchor {
    value: Value,
    nodes: usize,
    height: usize,
}

/// The number of nodes in `v`, and how deep its collections nest (a scalar is 0).
fn measure(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(items) => items.iter().fold((1, 1), |(n, h), v| {
            let (vn, vh) = measure(v);
            (n + vn, h.max(vh + 1))
        }),
        Value::Object(map) => map.values().fold((1, 1), |(n, h), v| {
            let (vn, vh) = measure(v);
            (n + vn, h.max(vh + 1))
        }),
        _ => (1, 0),
    }
}

impl<'i> Builder<'_, 'i> {
    fn peek(&mut self) -> Option<&(Event<'i>, Span)> {
        if self.peeked.is_none() && !self.failed {
            match self.parser.next() {
                Some(Ok(ev)) => self.peeked = Some(ev),
                Some(Err(e)) => {
                    self.failed = true;
                    let at = self.offsets.byte(e.marker().index());
                    let d = if e.info().contains("recursion limit") {
                        // saphyr's own guard against nesting that would exhaust the stack.
                        Diagnostic::error(
                            Code::TooLarge,
                            "sequences and mappings nest deeper than YAML allows here",
                        )
                        .label("too deep here")
                        .help("catalogs and topologies this deep are refused; flatten the value")
                    } else {
                        Diagnostic::error(Code::Parse, format!("invalid YAML: {}", e.info()))
                            .label("here")
                    };
                    self.diags.push(d.at(self.source, at..at + 1));
                }
                None => {}
            }
        }
        self.peeked.as_ref()
    }

    fn bump(&mut self) -> Option<(Event<'i>, Span)> {
        self.peek();
        self.peeked.take()
    }
    fn range(&self, span: &Span) -> std::ops::Range<usize> {
        self.offsets.byte(span.start.index())..self.offsets.byte(span.end.index())
    }

    fn stream(&mut self) -> Value {
        let mut root = Value::Null;
        while let Some((ev, span)) = self.bump() {
            if let Event::DocumentStart(_) = ev {
                self.documents += 1;
                if self.documents > 1 {
                    let r = self.range(&span);
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
        }
        root
    }

    fn loc(&self, value: std::ops::Range<usize>) -> Loc {
        Loc { key: None, value }
    }

    /// Reads one node starting at the next event; returns its value and span node.
    fn node(&mut self) -> (Value, NodeId) {
        let Some((ev, span)) = self.bump() else {
            return (Value::Null, self.spans.leaf(Loc::default()));
        };
        let start = self.range(&span).start;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(&text, style, tag.as_deref().map(|t| t.suffix.as_str()));
                // In flow collections the parser's span of a quoted scalar takes the space after it.
                let r = self.range(&span);
                let end = r.start + self.source.text[r.clone()].trim_end().len();
                let id = self.spans.leaf(self.loc(r.start..end));
                self.remember(anchor, &v);
                (v, id)
            }
            Event::SequenceStart(anchor, _) => {
                if !self.enter(start) {
                    return (Value::Null, self.spans.leaf(self.loc(start..start)));
                }
                let mut items = Vec::new();
                let mut ids = Vec::new();
                let end = loop {
                    let next = self
                        .peek()
                        .map(|(ev, sp)| (matches!(ev, Event::SequenceEnd), *sp));
                    match next {
                        None => break start,
                        Some((true, end)) => {
                            self.bump();
                            break self.range(&end).end;
                        }
                        Some((false, _)) => {
                            let (v, id) = self.node();
                            items.push(v);
                            ids.push(id);
                        }
                    }
                };
                self.depth -= 1;
                let v = Value::Array(items);
                self.remember(anchor, &v);
                (v, self.spans.seq(self.loc(start..end.max(start)), ids))
            }
            Event::MappingStart(anchor, _) => {
                if !self.enter(start) {
                    return (Value::Null, self.spans.leaf(self.loc(start..start)));
                }
                let mut map = Map::new();
                let mut entries: Vec<(Box<str>, NodeId)> = Vec::new();
                let end = loop {
                    let next = self.peek().map(|(ev, sp)| {
                        let key = match ev {
                            Event::MappingEnd => None,
                            Event::Scalar(t, ..) => Some(Some(t.to_string())),
                            _ => Some(None),
                        };
                        (key, *sp)
                    });
                    let (krange, key) = match next {
                        None => break start,
                        Some((None, end)) => {
                            self.bump();
                            break self.range(&end).end;
                        }
                        Some((Some(key), kspan)) => (self.range(&kspan), key),
                    };
                    let name = match key {
                        Some(t) => {
                            self.bump();
                            t
                        }
                        None => {
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
                self.depth -= 1;
                let v = Value::Object(map);
                self.remember(anchor, &v);
                (v, self.spans.map(self.loc(start..end.max(start)), entries))
            }
            Event::Alias(id) => {
                let r = self.range(&span);
                let v = match self.anchors.get(&id) {
                    None => Value::Null,
                    Some(a) if self.depth + a.height > MAX_DEPTH => {
                        let msg =
                            format!("this alias nests the document deeper than {MAX_DEPTH} levels");
                        self.limit(r.clone(), msg, "expanded here");
                        Value::Null
                    }
                    Some(a) if self.alias_nodes + a.nodes > MAX_ALIAS_NODES => {
                        let msg = format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                        );
                        self.limit(r.clone(), msg, "the limit is passed here");
                        Value::Null
                    }
                    Some(a) => {
                        self.alias_nodes += a.nodes;
                        a.value.clone()
                    }
                };
                (v, self.spans.leaf(self.loc(r)))
            }
            _ => (Value::Null, self.spans.leaf(self.loc(start..start))),
        }
    }

    fn remember(&mut self, anchor: usize, v: &Value) {
        if anchor > 0 && !self.failed {
            let (nodes, height) = measure(v);
            let value = v.clone();
            self.anchors.insert(
                anchor,
                Anchor {
                    value,
                    nodes,
                    height,
                },
            );
        }
    }

    /// Opens a sequence or mapping starting at `at`; false (reported) when too deep.
    fn enter(&mut self, at: usize) -> bool {
        if self.depth >= MAX_DEPTH {
            let msg = format!("sequences and mappings nest deeper than {MAX_DEPTH} levels");
            self.limit(at..at + 1, msg, "too deep here");
            return false;
        }
        self.depth += 1;
        true
    }

    /// Reports a passed limit and stops reading: the rest of the tree is not built.
    fn limit(&mut self, at: std::ops::Range<usize>, msg: String, label: &str) {
        self.failed = true;
        self.peeked = None;
        self.diags.push(
            Diagnostic::error(Code::TooLarge, msg)
                .at(self.source, at)
                .label(label)
                .help("catalogs and topologies this large or deep are refused; write the values out, or split the file"),
        );
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
