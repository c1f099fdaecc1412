//! Finding, reading and typing catalog and topology files.

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
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

/// Largest catalog or topology file read: far beyond any real one, and a stop for
/// `/dev/zero` or a runaway generator.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Every catalog/topology file under `paths` (directories are searched recursively), sorted.
///
/// A named path is followed wherever it points, but must be a directory or a regular file.
/// In a searched directory, symlinks are followed to regular files and to directories not
/// already searched (so a symlink loop ends), and anything else — FIFOs, sockets, device
/// nodes, whatever its name — is skipped without being opened. A directory that cannot be
/// read is an error, not an empty directory.
pub fn discover(paths: &[PathBuf], diags: &mut Diagnostics) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &m, &mut seen, &mut out, diags),
            Ok(m) if m.is_file() => out.push(p.clone()),
            Ok(m) => diags.push(not_regular(p, &m)),
            Err(e) => diags.push(io_error(p, &e)),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn walk(
    dir: &Path,
    meta: &std::fs::Metadata,
    seen: &mut HashSet<(u64, u64)>,
    out: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) {
    if !seen.insert((meta.dev(), meta.ino())) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diags.push(
                io_error(dir, &e).help("the directory's catalogs and topologies were not read"),
            );
            return;
        }
    };
    for e in entries {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                diags.push(io_error(dir, &e));
                continue;
            }
        };
        let p = e.path();
        let Ok(kind) = e.file_type() else { continue };
        // Only a symlink needs a stat of its target; nothing here opens a file.
        let meta = if kind.is_symlink() || kind.is_dir() {
            std::fs::metadata(&p)
        } else {
            e.metadata()
        };
        let meta = match meta {
            Ok(m) => m,
            // A dangling link with a catalog's name: `load` reports it.
            Err(_) if Format::from_path(&p).is_some() => {
                out.push(p);
                continue;
            }
            Err(_) => continue,
        };
        if meta.is_dir() {
            walk(&p, &meta, seen, out, diags);
        } else if meta.is_file() && Format::from_path(&p).is_some() {
            out.push(p);
        }
    }
}

/// `path: <what went wrong>`, with the common cases in words.
fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Diagnostic::error(Code::Io, format!("{}: {what}", path.display()))
}

fn not_regular(path: &Path, m: &std::fs::Metadata) -> Diagnostic {
    let t = m.file_type();
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Diagnostic::error(
        Code::Io,
        format!("{}: not a regular file ({what})", path.display()),
    )
    .help("catalogs and topologies are read from regular files only")
}

/// Reads an input file — a catalog, topology, `--vars` or waiver file, a key: a regular file
/// (checked before it is opened, and again once open, without blocking on a FIFO swapped in
/// between) of at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let too_big = |len: u64| {
        Diagnostic::error(
            Code::TooLarge,
            format!(
                "{}: too large to read ({} bytes; the limit is {} MiB)",
                path.display(),
                len,
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .help("a catalog or topology this large is refused; split it into several files")
    };
    let m = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if !m.is_file() {
        return Err(not_regular(path, &m));
    }
    if m.len() > MAX_FILE_BYTES {
        return Err(too_big(m.len()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    let m = file.metadata().map_err(|e| io_error(path, &e))?;
    if !m.is_file() {
        return Err(not_regular(path, &m));
    }
    let mut bytes = Vec::with_capacity(m.len().min(MAX_FILE_BYTES) as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            Code::Io,
            format!(
                "{}: not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
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
    let text = match read_text(path) {
        Ok(t) => t,
        Err(d) => {
            diags.push(d);
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
