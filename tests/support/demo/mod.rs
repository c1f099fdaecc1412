//! The bundled demo's recordings (`fixtures/demo/{healthy,broken}/exchanges.ndjson`): how
//! they are made from the live fixtures (`tests/demo_record.rs`) and replayed (`tests/demo.rs`).
//!
//! A recording made against a fixture holds the fixture's values (127.0.0.1:PORT, its
//! certificate fingerprint, temp paths, the ids moto chose, a throw-away SSH key).
//! [`Rewrite`] maps each of them back to the demo topology's own value, in requests and
//! observations alike, so a plain replay of `--topology demo` renders the very requests that
//! were recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The token the replay binds to `PVE_TOKEN`: the demo binds the secret as `env:PVE_TOKEN`
/// and a check whose secret does not resolve is blocked before any probe, replay or not.
/// Masked in the recording, so any value replays.
pub const REPLAY_PVE_TOKEN: &str = "demo@pve!replay=00000000-0000-0000-0000-000000000000";

/// Fixture value → demo value, applied to every string of a recorded exchange.
#[derive(Default, Debug)]
pub struct Rewrite {
    /// Replaced wherever they occur inside a string (long, distinctive values).
    pub within: Vec<(String, String)>,
    /// Replaced only where a whole string equals them (short values: `root`, `22`).
    pub whole: Vec<(String, String)>,
}

impl Rewrite {
    /// Adds `from → to`; values shorter than 8 characters only ever replace whole strings.
    pub fn add(&mut self, from: &str, to: &str) {
        if from.is_empty() || from == to {
            return;
        }
        let pair = (from.to_string(), to.to_string());
        let list = if from.len() >= 8 {
            &mut self.within
        } else {
            &mut self.whole
        };
        if !list.contains(&pair) {
            list.push(pair);
            // Longest first, so a value containing another is replaced whole.
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        }
    }

    pub fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some((_, to)) = self.whole.iter().find(|(f, _)| f == s) {
                    *s = to.clone();
                    return;
                }
                for (from, to) in &self.within {
                    if s.contains(from.as_str()) {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.apply(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.apply(x)),
            _ => {}
        }
    }
}

/// The exchanges of a recording (its header dropped).
pub fn read_exchanges(dir: &Path) -> Vec<Value> {
    let path = dir.join("exchanges.ndjson");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap_or("")).unwrap();
    assert_eq!(header["format"], "labcert-recording", "{}", path.display());
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes `exchanges` as one recording in labcert's own layout: the header, then the
/// exchanges sorted by `kind request` then `seq`. Two parts recording the same request
/// (they must not) fail here.
pub fn write_recording(dir: &Path, exchanges: Vec<Value>) {
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ex in exchanges {
        let key = format!("{} {}", ex["kind"].as_str().unwrap(), ex["request"]);
        by_key.entry(key).or_default().push(ex);
    }
    let mut text = String::from("{\"format\":\"labcert-recording\",\"version\":1}\n");
    for (key, mut list) in by_key {
        list.sort_by_key(|e| e["seq"].as_u64());
        // The same request made by two parts with the same answer (`printf %s <run id>` in
        // every cloud catalog) is kept once.
        list.dedup_by(|a, b| a["seq"] == b["seq"] && same_answer(a, b));
        let seqs: Vec<u64> = list.iter().filter_map(|e| e["seq"].as_u64()).collect();
        let want: Vec<u64> = (1..=list.len() as u64).collect();
        assert_eq!(seqs, want, "two recordings hold the same request: {key}");
        for ex in list {
            text.push_str(&serde_json::to_string(&ex).unwrap());
            text.push('\n');
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("exchanges.ndjson"), text).unwrap();
}

/// Whether two exchanges answered alike (their durations aside).
fn same_answer(a: &Value, b: &Value) -> bool {
    let strip = |e: &Value| {
        let mut o = e["observation"].clone();
        if let Some(m) = o.as_object_mut() {
            m.remove("duration_ms");
        }
        o
    };
    strip(a) == strip(b)
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a replayed run left.
pub struct Replayed {
    pub manifest: Value,
    pub code: i32,
    pub stderr: String,
}

impl Replayed {
    /// `status/reason` of every check, by id.
    pub fn verdicts(&self) -> BTreeMap<String, String> {
        self.manifest["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["checks"].as_array().into_iter().flatten())
            .map(|c| {
                let reason = c["reason"].as_str().unwrap_or("");
                (
                    c["id"].as_str().unwrap_or("").to_string(),
                    format!("{}/{reason}", c["status"].as_str().unwrap_or("")),
                )
            })
            .collect()
    }

    /// A summary: counts of each verdict per catalog, then every check that did not pass.
    pub fn summary(&self) -> String {
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut not_passed = String::new();
        for (id, v) in self.verdicts() {
            let catalog = id.split('.').next().unwrap_or("").to_string();
            let status = v.split('/').next().unwrap_or("").to_string();
            *counts.entry((catalog, status.clone())).or_default() += 1;
            if status != "pass" && status != "skipped" {
                not_passed.push_str(&format!("  {id}: {v}\n"));
            }
        }
        let mut s = format!("status {} (exit {})\n", self.manifest["status"], self.code);
        for ((c, st), n) in counts {
            s.push_str(&format!("  {c} {st}: {n}\n"));
        }
        s.push_str(&not_passed);
        s
    }
}

/// `labcert certify --environment demo --topology demo --out …` replaying `replay` (the
/// topology's own `replay:` directory when `None`), offline.
pub fn replay(replay: Option<&Path>, extra: &[&str]) -> Replayed {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifest.json");
    let mut c = Command::new(env!("CARGO_BIN_EXE_labcert"));
    c.current_dir(root())
        .args([
            "--catalogs",
            "catalogs",
            "certify",
            "--environment",
            "demo",
            "--topology",
            "demo",
            "--out",
        ])
        .arg(&out)
        .args(extra)
        .env("PVE_TOKEN", REPLAY_PVE_TOKEN)
        .env("CI", "true");
    if let Some(r) = replay {
        c.arg("--replay").arg(r);
    }
    let o = c.output().expect("run labcert");
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let text =
        std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no manifest ({e}):\n{stderr}"));
    Replayed {
        manifest: serde_json::from_str(&text).unwrap(),
        code: o.status.code().unwrap_or(-1),
        stderr,
    }
}
