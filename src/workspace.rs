//! Finding, reading and typing catalog and topology files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::load::{self, Document};
use crate::model::{Catalog, Topology};
use crate::schema::{self, Kind};
use crate::source::{Format, Source};

/// A catalog that parsed and matched the schema.
pub struct LoadedCatalog {
    pub doc: Document,
    pub model: Catalog,
}

/// A topology that parsed and matched the schema.
pub struct LoadedTopology {
    pub doc: Document,
    pub model: Topology,
}

pub enum Loaded {
    Catalog(Box<LoadedCatalog>),
    Topology(Box<LoadedTopology>),
}

/// Every catalog/topology file under `paths` (directories are searched recursively), sorted.
pub fn discover(paths: &[PathBuf], diags: &mut Diagnostics) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            diags.push(Diagnostic::error(
                Code::Io,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if Format::from_path(&p).is_some() {
            out.push(p);
        }
    }
}

/// Reads one file, parses it, checks it against its schema and types it.
/// `None` when it has errors that make the typed model unreadable (they are in `diags`).
pub fn load(path: &Path, diags: &mut Diagnostics) -> Option<Loaded> {
    let Some(format) = Format::from_path(path) else {
        diags.push(
            Diagnostic::error(
                Code::UnknownFileKind,
                format!("{}: not a .yaml, .yml or .toml file", path.display()),
            )
            .help("catalogs and topologies are YAML or TOML files"),
        );
        return None;
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                Code::Io,
                format!("{}: {e}", path.display()),
            ));
            return None;
        }
    };
    load_source(
        Arc::new(Source::new(path.to_path_buf(), text, format)),
        diags,
    )
}

/// Parses a source read from anywhere (a file, or text made in memory), checks it against
/// its schema and types it; diagnostics name the source's own path.
pub fn load_source(source: Arc<Source>, diags: &mut Diagnostics) -> Option<Loaded> {
    let path = source.path.clone();
    let path = path.as_path();
    let format = source.format;
    let before = diags.error_count();
    let doc = load::parse(source.clone(), diags)?;
    let Some(kind) = kind_of(&doc.value, path) else {
        let (label, help) = match format {
            Format::Yaml => (
                "expected a top-level `catalog:` or `topology:` key",
                "start a catalog with `catalog: <id>`, a topology with `topology: <name>`",
            ),
            Format::Toml => (
                "expected a top-level `catalog =` or `topology =` key",
                "start a catalog with `catalog = \"<id>\"`, a topology with `topology = \"<name>\"`",
            ),
        };
        diags.push(
            Diagnostic::error(
                Code::UnknownFileKind,
                "cannot tell whether this is a catalog or a topology",
            )
            .at(&source, doc.spans.first_key_span("").unwrap_or(0..0))
            .label(label)
            .help(help),
        );
        return None;
    };
    let bad = schema::check(&doc, kind, diags);
    let schema_errors = diags.error_count() > before;
    // With schema errors, drop the offending values and type the rest, so semantic
    // problems are reported in the same run. A removed required value ends it here.
    let typed = match kind {
        Kind::Catalog => typed(&doc.value, bad)
            .map(|model| Loaded::Catalog(Box::new(LoadedCatalog { doc, model }))),
        Kind::Topology => typed(&doc.value, bad)
            .map(|model| Loaded::Topology(Box::new(LoadedTopology { doc, model }))),
        Kind::Manifest | Kind::Qualification => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    "a manifest is not a catalog or topology",
                )
                .at(&source, 0..0),
            );
            return None;
        }
    };
    match typed {
        Ok(l) => Some(l),
        Err(_) if schema_errors => None,
        Err(e) => {
            diags.push(Diagnostic::error(Code::InvalidValue, e.to_string()).at(&source, 0..0));
            None
        }
    }
}

/// The typed model of a document, without the values at `bad` (copied only when there are some).
fn typed<T: serde::de::DeserializeOwned>(
    value: &Value,
    bad: Vec<String>,
) -> Result<T, serde_json::Error> {
    if bad.is_empty() {
        return T::deserialize(value);
    }
    let mut pruned = value.clone();
    schema::prune(&mut pruned, bad);
    serde_json::from_value(pruned)
}

fn kind_of(v: &Value, path: &Path) -> Option<Kind> {
    if v.get("catalog").is_some() {
        Some(Kind::Catalog)
    } else if v.get("topology").is_some()
        || path.components().any(|c| c.as_os_str() == "topologies")
    {
        Some(Kind::Topology)
    } else if v.get("groups").is_some() {
        Some(Kind::Catalog)
    } else {
        None
    }
}

/// The catalog root: `--catalogs`, else `LABCERT_CATALOGS` (clap fills it), else `./catalogs`.
pub fn root(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("catalogs"))
}

/// Finds a topology by path or by name under `<root>/topologies/`.
pub fn find_topology(root: &Path, name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_file() {
        return Some(p.to_path_buf());
    }
    ["yaml", "yml", "toml"]
        .iter()
        .map(|ext| root.join("topologies").join(format!("{name}.{ext}")))
        .find(|c| c.is_file())
}
