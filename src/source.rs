//! A loaded file: its text, format, and the map from JSON pointer to source span.

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

/// Where every node of a document is, as a tree mirroring the value: looked up by JSON
/// pointer (RFC 6901) only when a diagnostic or a plan needs a location, so loading
/// builds no pointer strings.
#[derive(Debug, Default)]
pub struct SpanMap {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    loc: Loc,
    children: Children,
}

#[derive(Debug)]
enum Children {
    Leaf,
    Seq(Vec<u32>),
    Map(Vec<(Box<str>, u32)>),
}

/// A node id in a [`SpanMap`].
pub type NodeId = u32;

impl SpanMap {
    /// Adds a scalar node.
    pub fn leaf(&mut self, loc: Loc) -> NodeId {
        self.push(loc, Children::Leaf)
    }

    /// Adds a sequence node over already added children.
    pub fn seq(&mut self, loc: Loc, items: Vec<NodeId>) -> NodeId {
        self.push(loc, Children::Seq(items))
    }

    /// Adds a mapping node over already added children.
    pub fn map(&mut self, loc: Loc, entries: Vec<(Box<str>, NodeId)>) -> NodeId {
        self.push(loc, Children::Map(entries))
    }

    /// Marks `root` as the document's root (the last node added, by default).
    fn root(&self) -> Option<&Node> {
        self.nodes.last()
    }

    fn push(&mut self, loc: Loc, children: Children) -> NodeId {
        self.nodes.push(Node { loc, children });
        (self.nodes.len() - 1) as NodeId
    }

    /// The located node at `pointer`, or the nearest ancestor that exists, and whether it was exact.
    fn walk(&self, pointer: &str) -> Option<(&Node, bool)> {
        let mut node = self.root()?;
        for raw in pointer.split('/').skip(1) {
            let token = raw.replace("~1", "/").replace("~0", "~");
            let next = match &node.children {
                Children::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                Children::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| **k == *token)
                    .map(|(_, id)| id),
                Children::Leaf => None,
            };
            match next {
                Some(&id) => node = &self.nodes[id as usize],
                None => return Some((node, false)),
            }
        }
        Some((node, true))
    }

    pub fn get(&self, pointer: &str) -> Option<&Loc> {
        match self.walk(pointer)? {
            (n, true) => Some(&n.loc),
            _ => None,
        }
    }

    /// The span of the value at `pointer`, or of its nearest located ancestor.
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        self.walk(pointer)
            .map(|(n, _)| n.loc.value.clone())
            .unwrap_or(0..0)
    }

    /// The span of the key naming `pointer`, falling back to its value.
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        match self.walk(pointer) {
            Some((
                Node {
                    loc: Loc { key: Some(k), .. },
                    ..
                },
                true,
            )) => k.clone(),
            _ => self.value_span(pointer),
        }
    }

    /// The key span of the first entry of the mapping at `pointer`.
    pub fn first_key_span(&self, pointer: &str) -> Option<Range<usize>> {
        match self.walk(pointer)? {
            (
                Node {
                    children: Children::Map(entries),
                    ..
                },
                true,
            ) => self.key_of(entries.first()?.1).cloned(),
            _ => None,
        }
    }

    /// The key span recorded for a node.
    pub fn key_of(&self, id: NodeId) -> Option<&Range<usize>> {
        self.nodes.get(id as usize)?.loc.key.as_ref()
    }

    /// Sets the key span of a node (loaders learn it from the parent mapping).
    pub fn set_key(&mut self, id: NodeId, key: Range<usize>) {
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.loc.key = Some(key);
        }
    }
}

/// Appends `/token` (escaped) to a JSON pointer being built in place.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        pointer.push_str(&escape_token(token));
    } else {
        pointer.push_str(token);
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
