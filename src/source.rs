//! A loaded file: its text, format, and the map from JSON pointer to source span.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The two surface syntaxes of catalogs and topologies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

/// Where a value sits in its file: the key that names it (for map entries) and the value itself.
#[derive(Debug, Clone, Default)]
pub struct Loc {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// JSON pointer (RFC 6901) → location, for every node of a document.
#[derive(Debug, Default)]
pub struct SpanMap {
    map: HashMap<String, Loc>,
}

impl SpanMap {
    pub fn insert(&mut self, pointer: String, loc: Loc) {
        self.map.insert(pointer, loc);
    }

    pub fn get(&self, pointer: &str) -> Option<&Loc> {
        self.map.get(pointer)
    }

    /// The span of the value at `pointer`, or of its nearest located ancestor.
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        self.nearest(pointer)
            .map(|l| l.value.clone())
            .unwrap_or(0..0)
    }

    /// The span of the key naming `pointer`, falling back to its value.
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        match self.map.get(pointer) {
            Some(Loc { key: Some(k), .. }) => k.clone(),
            _ => self.value_span(pointer),
        }
    }

    fn nearest(&self, pointer: &str) -> Option<&Loc> {
        let mut p = pointer;
        loop {
            if let Some(l) = self.map.get(p) {
                return Some(l);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// Escape one reference token of a JSON pointer.
pub fn escape_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}

/// A file as the user wrote it.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    pub format: Format,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: PathBuf, text: String, format: Format) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            path,
            text,
            format,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..floor_char(&self.text, offset)]
            .chars()
            .count();
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self
            .line_starts
            .get(line - 1)
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text[start..end.max(start)].trim_end_matches('\r')
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
