//! Record and replay (`--record DIR`, `--replay DIR`): every probe exchange, keyed by the
//! request with secrets masked, kept in the order each request was made.
//!
//! Format (`DIR/exchanges.ndjson`, version 1): a header line
//! `{"format":"labcert-recording","version":1}`, then one line per exchange
//! `{"kind", "request", "seq", "observation"}` — `request` is the rendered probe spec with
//! secrets masked, `seq` counts from 1 per identical request (so "broken, repaired,
//! verified" replays in order), `observation` is what the probe saw, secrets masked (values
//! of `sensitive` checks stay, so the recording replays faithfully: keep it as private as the
//! lab's own data). Lines are sorted
//! by request then `seq`, so a re-recording diffs cleanly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::prober::{BoxFuture, Prober, failed};
use super::secrets::Secrets;
use crate::plan::Spec;
use crate::probe::{Limits, Observation, ProbeError};

pub const FILE: &str = "exchanges.ndjson";
const FORMAT: &str = "labcert-recording";
const VERSION: u32 = 1;
/// The largest recording `--replay` reads: far more than any lab's exchanges (each stream of
/// each observation is capped at `Limits::max_output` when recorded).
pub const MAX_BYTES: u64 = 256 << 20;
/// The longest line of a recording: one exchange, both streams at the cap, every byte escaped.
pub const MAX_LINE: usize = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Exchange {
    kind: String,
    request: Value,
    seq: u32,
    observation: Recorded,
}

/// An observation as stored: the same fields, durations in milliseconds.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason_phrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    headers: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    stdout: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    stderr: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    /// The probe's JSON when it is not simply stdout parsed (dns, tcp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<Value>,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<RecordedError>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordedError {
    reason: String,
    message: String,
}

fn key(kind: &str, request: &Value) -> String {
    format!("{kind} {request}")
}

/// Probes for real and keeps every exchange, masked, to write at the end.
pub struct Recorder {
    inner: Arc<dyn Prober>,
    secrets: Arc<Secrets>,
    seen: Mutex<HashMap<String, Vec<Exchange>>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Prober>, secrets: Arc<Secrets>) -> Recorder {
        Recorder {
            inner,
            secrets,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `DIR/exchanges.ndjson` (atomically), creating `DIR` when needed.
    pub fn write(&self, dir: &Path) -> Result<usize, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("--record {}: {e}", dir.display()))?;
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<&String> = seen.keys().collect();
        keys.sort();
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
        };
        let mut text = serde_json::to_string(&header).map_err(|e| e.to_string())?;
        text.push('\n');
        let mut n = 0;
        for k in keys {
            for ex in &seen[k] {
                text.push_str(&serde_json::to_string(ex).map_err(|e| e.to_string())?);
                text.push('\n');
                n += 1;
            }
        }
        crate::manifest::write_file_atomic(&dir.join(FILE), text.as_bytes())?;
        Ok(n)
    }
}

impl Prober for Recorder {
    fn probe<'a>(&'a self, spec: &'a Spec, limits: Limits) -> BoxFuture<'a, Observation> {
        Box::pin(async move {
            let obs = self.inner.probe(spec, limits).await;
            let kind = spec.kind().as_str();
            let mut request = spec.to_json();
            self.secrets.mask_secrets_value(&mut request);
            let mut recorded = to_recorded(&obs);
            if let Some(j) = &mut recorded.json {
                self.secrets.mask_secrets_value(j);
            }
            recorded.stdout = self.secrets.mask_secrets(&recorded.stdout);
            recorded.stderr = self.secrets.mask_secrets(&recorded.stderr);
            if let Some(r) = &mut recorded.reason_phrase {
                *r = self.secrets.mask_secrets(r);
            }
            if let Some(e) = &mut recorded.error {
                e.message = self.secrets.mask_secrets(&e.message);
            }
            if let Some(h) = &mut recorded.headers {
                for v in h.values_mut() {
                    *v = self.secrets.mask_secrets(v);
                }
            }
            let k = key(kind, &request);
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let list = seen.entry(k).or_default();
            list.push(Exchange {
                kind: kind.into(),
                request,
                seq: list.len() as u32 + 1,
                observation: recorded,
            });
            obs
        })
    }
}

/// Answers from a recording; never touches the network. A request that was never
/// recorded is an error (`not_recorded`), so the check is blocked, never passed.
pub struct Replay {
    dir: PathBuf,
    secrets: Arc<Secrets>,
    exchanges: HashMap<String, Vec<Recorded>>,
    next: Mutex<HashMap<String, usize>>,
    /// Requests asked for that the recording does not hold.
    pub missing: Mutex<Vec<String>>,
}

impl Replay {
    /// Reads `DIR/exchanges.ndjson`: a regular file of at most [`MAX_BYTES`], no line longer
    /// than [`MAX_LINE`].
    pub fn load(dir: &Path, secrets: Arc<Secrets>) -> Result<Replay, String> {
        Replay::load_capped(dir, secrets, MAX_BYTES, MAX_LINE)
    }

    fn load_capped(
        dir: &Path,
        secrets: Arc<Secrets>,
        max_bytes: u64,
        max_line: usize,
    ) -> Result<Replay, String> {
        let path = dir.join(FILE);
        let text = read_bounded(&path, max_bytes)?;
        let mut lines = text.lines().enumerate();
        let header: Header = lines
            .next()
            .filter(|(_, l)| l.len() <= max_line)
            .and_then(|(_, l)| serde_json::from_str(l).ok())
            .filter(|h: &Header| h.format == FORMAT)
            .ok_or_else(|| format!("{}:1: not a labcert recording", path.display()))?;
        if header.version != VERSION {
            return Err(format!(
                "{}:1: recording format version {} (this labcert reads {VERSION})",
                path.display(),
                header.version
            ));
        }
        let mut exchanges: HashMap<String, Vec<(u32, Recorded)>> = HashMap::new();
        for (i, line) in lines {
            if line.len() > max_line {
                return Err(format!(
                    "{}:{}: --replay: a line of {} bytes is longer than the {max_line} bytes a recording may hold per exchange",
                    path.display(),
                    i + 1,
                    line.len()
                ));
            }
            if line.trim().is_empty() {
                continue;
            }
            let ex: Exchange = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            exchanges
                .entry(key(&ex.kind, &ex.request))
                .or_default()
                .push((ex.seq, ex.observation));
        }
        let exchanges = exchanges
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|(seq, _)| *seq);
                (k, v.into_iter().map(|(_, o)| o).collect())
            })
            .collect();
        Ok(Replay {
            dir: dir.to_path_buf(),
            secrets,
            exchanges,
            next: Mutex::new(HashMap::new()),
            missing: Mutex::new(Vec::new()),
        })
    }
}

impl Prober for Replay {
    fn probe<'a>(&'a self, spec: &'a Spec, limits: Limits) -> BoxFuture<'a, Observation> {
        Box::pin(async move {
            let kind = spec.kind().as_str();
            let mut request = spec.to_json();
            self.secrets.mask_secrets_value(&mut request);
            let k = key(kind, &request);
            let Some(list) = self.exchanges.get(&k).filter(|l| !l.is_empty()) else {
                self.missing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(k.clone());
                return failed(
                    "not_recorded",
                    format!(
                        "no recorded exchange in {} for this {kind} request: {request}",
                        self.dir.display()
                    ),
                );
            };
            // Each identical request takes the next recorded answer; past the end, the last
            // one holds (the state the recording ended in).
            let i = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let n = next.entry(k).or_insert(0);
                let i = (*n).min(list.len() - 1);
                *n += 1;
                i
            };
            from_recorded(&list[i], limits.max_output)
        })
    }
}

fn to_recorded(o: &Observation) -> Recorded {
    Recorded {
        status: o.status,
        reason_phrase: o.reason_phrase.clone(),
        headers: o.headers.clone(),
        exit: o.exit,
        signal: o.signal,
        stdout: o.stdout.clone(),
        stderr: o.stderr.clone(),
        truncated: o.stdout_truncated || o.stderr_truncated,
        json: o
            .json
            .clone()
            .filter(|j| serde_json::from_str::<Value>(o.stdout.trim()).ok().as_ref() != Some(j)),
        duration_ms: o.duration.as_millis() as u64,
        error: o.error.as_ref().map(|e| RecordedError {
            reason: e.reason.clone(),
            message: e.message.clone(),
        }),
    }
}

/// Reads `path` whole, refusing what is not a regular file (a FIFO would block) and what is
/// larger than `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot =
        |e: &dyn std::fmt::Display| format!("--replay: cannot read {}: {e}", path.display());
    let not_file = || {
        format!(
            "--replay: cannot read {}: not a regular file",
            path.display()
        )
    };
    let too_big = |n: u64| {
        format!(
            "--replay: cannot read {}: {n} bytes or more is larger than the {max} bytes a recording may hold",
            path.display()
        )
    };
    // Looked at before it is opened (opening a FIFO blocks until a writer comes), and opened
    // without blocking in case it was swapped for one in between.
    let meta = std::fs::metadata(path).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(not_file());
    }
    if meta.len() > max {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| cannot(&e))?;
    if !file.metadata().map_err(|e| cannot(&e))?.is_file() {
        return Err(not_file());
    }
    // A file that grows while it is read is cut off one byte past the cap, then refused.
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| cannot(&e))
}

/// `s` cut to at most `cap` bytes at a char boundary, and whether it was cut.
fn capped(s: &str, cap: usize) -> (String, bool) {
    if s.len() <= cap {
        return (s.to_owned(), false);
    }
    (s[..s.floor_char_boundary(cap)].to_owned(), true)
}

/// The recorded observation as the probe would give it now: each stream capped at
/// `max_output` like a live probe's output, flagged truncated when cut.
fn from_recorded(r: &Recorded, max_output: usize) -> Observation {
    let (stdout, stdout_cut) = capped(&r.stdout, max_output);
    let (stderr, stderr_cut) = capped(&r.stderr, max_output);
    let json = r
        .json
        .clone()
        .or_else(|| serde_json::from_str(stdout.trim()).ok());
    Observation {
        status: r.status,
        reason_phrase: r.reason_phrase.clone(),
        headers: r.headers.clone(),
        exit: r.exit,
        signal: r.signal,
        stdout,
        stderr,
        stdout_truncated: r.truncated || stdout_cut,
        stderr_truncated: stderr_cut,
        json,
        duration: std::time::Duration::from_millis(r.duration_ms),
        error: r.error.as_ref().map(|e| ProbeError {
            reason: e.reason.clone(),
            message: e.message.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_cut_at_a_char_boundary_and_flagged() {
        let r = Recorded {
            stdout: "ééé".into(),
            stderr: "abcdef".into(),
            ..serde_json::from_str("{}").unwrap()
        };
        let o = from_recorded(&r, 3);
        assert_eq!(o.stdout, "é");
        assert_eq!(o.stderr, "abc");
        assert!(o.stdout_truncated && o.stderr_truncated);
        let o = from_recorded(&r, 6);
        assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("ééé", "abcdef"));
        assert!(!o.stdout_truncated && !o.stderr_truncated);
    }

    #[test]
    fn a_line_longer_than_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!(
            "{{\"format\":\"{FORMAT}\",\"version\":{VERSION}}}\n{{\"kind\":\"command\",\"request\":{{}},\"seq\":1,\"observation\":{{\"stdout\":\"{}\"}}}}\n",
            "x".repeat(200)
        );
        std::fs::write(dir.path().join(FILE), long).unwrap();
        let secrets = Arc::new(Secrets::default());
        let e = Replay::load_capped(dir.path(), secrets.clone(), MAX_BYTES, 100)
            .err()
            .unwrap();
        assert!(e.contains(":2: --replay: a line of"), "{e}");
        assert!(e.contains(FILE), "{e}");
        assert!(Replay::load_capped(dir.path(), secrets, MAX_BYTES, 1000).is_ok());
    }
}
