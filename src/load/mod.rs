//! Reading YAML and TOML into one JSON value tree plus a span for every node.

mod toml;
mod yaml;

use std::sync::Arc;

use serde_json::Value;

use crate::diag::Diagnostics;
use crate::source::{Format, Source, SpanMap};

/// A parsed document: the value tree and where each node came from.
pub struct Document {
    pub source: Arc<Source>,
    pub value: Value,
    pub spans: SpanMap,
}

/// Parses `source`; on syntax errors returns what could be recovered (maybe nothing).
pub fn parse(source: Arc<Source>, diags: &mut Diagnostics) -> Option<Document> {
    let parsed = match source.format {
        Format::Yaml => yaml::parse(&source, diags),
        Format::Toml => toml::parse(&source, diags),
    };
    parsed.map(|(value, spans)| Document {
        source,
        value,
        spans,
    })
}
