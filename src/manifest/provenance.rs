//! Where a manifest's inputs came from: catalog digests, the catalog tree's git revision,
//! timestamps and a unique id.

use std::path::Path;
use std::process::{Command, Stdio};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::GitRef;

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 12 characters of a digest, for messages (never splits a character).
pub fn short_digest(d: &str) -> String {
    d.chars().take(12).collect()
}

/// UTC RFC 3339 to the second: `2026-11-29T09:15:00Z`.
pub fn fmt_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A unique, sortable id: the time, then a digest of the time, process and topology.
pub fn new_id(at: Timestamp, topology: &str) -> String {
    let seed = format!(
        "{}/{}/{}/{:?}",
        at.as_nanosecond(),
        std::process::id(),
        topology,
        std::time::Instant::now()
    );
    format!(
        "lc-{}-{}",
        at.strftime("%Y%m%dT%H%M%SZ"),
        &sha256_hex(seed.as_bytes())[..12]
    )
}

/// The git revision of the tree holding `file`, and whether the file differs from it.
/// `None` outside a git work tree or without git.
pub fn git(file: &Path) -> Option<GitRef> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let run = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let revision = run(&["rev-parse", "HEAD"])?;
    let name = file.file_name()?.to_str()?;
    let status = run(&["status", "--porcelain", "--", name])?;
    Some(GitRef {
        revision,
        dirty: !status.is_empty(),
    })
}
