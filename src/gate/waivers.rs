//! Waivers (`certify --waivers FILE`): a failing check a waiver covers becomes `waived`.
//! Each waiver names checks (ids, `*` wildcards), a reason, an approver and an expiry; an
//! expired waiver waives nothing and says so; the manifest's `expiresAt` is capped by the
//! earliest expiry of the waivers used.
//!
//! ```yaml
//! waivers:
//!   - checks: ["aws.quotas.*"]
//!     reason: quota raise requested (case 1234)
//!     approver: alice
//!     expires: 2026-12-01T00:00:00Z
//! ```

use std::path::Path;
use std::sync::Mutex;

use crate::manifest::WaiverEntry;
use jiff::Timestamp;
use serde::Deserialize;

use crate::diag::Diagnostics;
use crate::source::{Format, Source};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    waivers: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    checks: Vec<String>,
    reason: String,
    approver: String,
    expires: String,
}

struct Waiver {
    entry: Entry,
    patterns: Vec<regex::Regex>,
    expires: Timestamp,
    expired: bool,
}

/// The run's waivers and what they waived.
pub struct Waivers {
    list: Vec<Waiver>,
    /// Per waiver: the checks it waived, and the failing checks an expired one would have.
    used: Mutex<Vec<(Vec<String>, Vec<String>)>>,
}

impl Waivers {
    /// Reads a YAML, TOML or JSON waiver file; every problem is an error naming the file.
    pub fn load(path: &Path, now: Timestamp) -> Result<Waivers, String> {
        let text =
            crate::workspace::read_text(path).map_err(|d| format!("--waivers {}", d.message))?;
        let format = Format::from_path(path).unwrap_or(Format::Yaml);
        let source = std::sync::Arc::new(Source::new(path.to_path_buf(), text, format));
        let mut diags = Diagnostics::default();
        let doc = crate::load::parse(source, &mut diags).ok_or_else(|| {
            let first = diags
                .iter()
                .next()
                .map(crate::diag::render)
                .unwrap_or_default();
            format!("--waivers {}: {first}", path.display())
        })?;
        let file: File = serde_json::from_value(doc.value).map_err(|e| {
            format!(
                "--waivers {}: {e} (expected `waivers: [{{checks, reason, approver, expires}}]`)",
                path.display()
            )
        })?;
        let mut list = Vec::new();
        for (i, entry) in file.waivers.into_iter().enumerate() {
            let at = format!("--waivers {}: waiver {}", path.display(), i + 1);
            if entry.checks.is_empty()
                || entry.reason.trim().is_empty()
                || entry.approver.trim().is_empty()
            {
                return Err(format!("{at}: needs checks, a reason and an approver"));
            }
            let expires: Timestamp = entry.expires.parse().map_err(|e| {
                format!(
                    "{at}: expires `{}` is not a UTC RFC 3339 time: {e}",
                    entry.expires
                )
            })?;
            let patterns = entry
                .checks
                .iter()
                .map(|p| {
                    let re = format!("^{}$", regex::escape(p).replace(r"\*", ".*"));
                    regex::Regex::new(&re).map_err(|e| format!("{at}: `{p}`: {e}"))
                })
                .collect::<Result<_, _>>()?;
            list.push(Waiver {
                entry,
                patterns,
                expires,
                expired: expires <= now,
            });
        }
        let n = list.len();
        Ok(Waivers {
            list,
            used: Mutex::new(vec![(Vec::new(), Vec::new()); n]),
        })
    }

    /// The waiver that covers failing check `id`: `Some(message)` when one in force does.
    pub fn waive(&self, id: &str) -> Option<String> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let mut found = None;
        for (i, w) in self.list.iter().enumerate() {
            if !w.patterns.iter().any(|re| re.is_match(id)) {
                continue;
            }
            if w.expired {
                used[i].1.push(id.to_string());
            } else if found.is_none() {
                used[i].0.push(id.to_string());
                found = Some(format!(
                    "waived until {}: {} (approved by {})",
                    w.entry.expires, w.entry.reason, w.entry.approver
                ));
            }
        }
        found
    }

    /// Every waiver, with what it waived (or, expired, what it would have): for the manifest.
    pub fn ledger(&self) -> Vec<WaiverEntry> {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        self.list
            .iter()
            .zip(used.iter())
            .map(|(w, (waived, refused))| WaiverEntry {
                checks: w.entry.checks.clone(),
                reason: w.entry.reason.clone(),
                approver: w.entry.approver.clone(),
                expires: w.entry.expires.clone(),
                expired: w.expired,
                waived: waived.clone(),
                not_waived_expired: refused.clone(),
            })
            .collect()
    }

    /// The earliest expiry of the waivers that waived something.
    pub fn cap(&self) -> Option<Timestamp> {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        self.list
            .iter()
            .zip(used.iter())
            .filter(|(_, (waived, _))| !waived.is_empty())
            .map(|(w, _)| w.expires)
            .min()
    }
}
