//! Validating a manifest against its schema and writing it atomically: a temporary file in
//! the same directory, synced, then renamed over the target. Never a half-written file.

use std::io::Write;
use std::path::Path;

use super::Manifest;

/// Schema violations as `pointer: message` lines; empty when valid.
pub fn validate(m: &Manifest) -> Vec<String> {
    match serde_json::to_value(m) {
        Ok(v) => crate::schema::violations::<super::Manifest>(&v),
        Err(e) => vec![format!("cannot serialise the manifest: {e}")],
    }
}

/// Validates, then writes `m` to `path` atomically.
pub fn write_atomic(m: &Manifest, path: &Path) -> Result<(), String> {
    let problems = validate(m);
    if !problems.is_empty() {
        return Err(format!(
            "the manifest does not match its schema (a bug in labcert):\n  {}",
            problems.join("\n  ")
        ));
    }
    let mut text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
    text.push('\n');
    write_file_atomic(path, text.as_bytes())
}

/// The directory a file path is written in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether `path` may be written by replacing it: its directory exists and takes a new
/// file, and what is there now, if anything, is a regular file. A device node, FIFO,
/// socket, directory or symlink is refused, never replaced. Writes and removes a probe file.
pub fn check_target(path: &Path) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    match std::fs::symlink_metadata(path) {
        Ok(md) if !md.file_type().is_file() => {
            return Err(format!(
                "{} exists and is {}, not a regular file: labcert replaces only regular files; \
                 name a new file instead",
                path.display(),
                kind(&md.file_type())
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let dir = dir_of(path);
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "{}: {} is not a directory",
                path.display(),
                dir.display()
            ));
        }
        Err(e) => {
            return Err(format!(
                "{}: directory {} cannot be used: {e}; create it or name a file in another one",
                path.display(),
                dir.display()
            ));
        }
    }
    let probe = dir.join(format!(
        ".{}.probe-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "{}: cannot create a file in {}: {e}",
            path.display(),
            dir.display()
        )),
    }
}

fn kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device node"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Writes bytes to `path` through a temporary sibling and a rename; refuses a target that
/// is not a regular file (see [`check_target`]).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = dir_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    if let Ok(md) = std::fs::symlink_metadata(path)
        && !md.file_type().is_file()
    {
        return Err(format!(
            "cannot write {}: it is {}, not a regular file",
            path.display(),
            kind(&md.file_type())
        ));
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Why a manifest could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Missing or unreadable file.
    Io(String),
    /// Not JSON.
    Json(String),
    /// JSON, but not a manifest: every schema violation.
    Schema(Vec<String>),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) | ReadError::Json(e) => write!(f, "{e}"),
            ReadError::Schema(v) => write!(
                f,
                "does not match schemas/manifest.schema.json:\n  {}",
                v.join("\n  ")
            ),
        }
    }
}

/// Reads a manifest: the bytes as written, and the typed manifest once it validates.
/// At most 64 MiB are read, from a file or a pipe alike.
pub fn read(path: &Path) -> Result<(Vec<u8>, Manifest), ReadError> {
    use std::io::Read;
    /// Largest manifest read (a real one is a few MiB at most); a stop for `/dev/zero`.
    const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
    let io = |e: std::io::Error| ReadError::Io(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ReadError::Io(format!(
            "{}: too large to be a manifest (more than {} MiB)",
            path.display(),
            MAX_MANIFEST_BYTES / (1024 * 1024)
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ReadError::Json(format!("{}: not JSON: {e}", path.display())))?;
    let problems = crate::schema::violations::<super::Manifest>(&value);
    if !problems.is_empty() {
        return Err(ReadError::Schema(problems));
    }
    let m = serde_json::from_value(value).map_err(|e| ReadError::Schema(vec![e.to_string()]))?;
    Ok((bytes, m))
}
