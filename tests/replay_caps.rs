//! `--replay` of a hostile recording: a recorded stream larger than a live probe may keep is
//! capped exactly like live output (flagged truncated), and a recording that is not a
//! regular file, or is larger than labcert reads, is refused before anything is probed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CATALOG: &str = r#"catalog: caps
provider: reachability
title: Replay caps
groups:
  - id: out
    title: Output
    checks:
      - id: big
        title: A command with a lot to say
        probe: { command: { argv: [printf, hi] } }
        expect: [{ exit: 0 }, { stdout: { equals: hi } }]
"#;

const TOPOLOGY: &str = r#"topology: caps
providers: []
catalogs:
  caps: {}
"#;

/// The live probe's cap on each output stream (`Limits::default().max_output`).
const MAX_OUTPUT: usize = 1 << 20;

/// A catalog root with the `caps` catalog and topology.
fn lab(dir: &Path) -> PathBuf {
    let root = dir.join("catalogs");
    std::fs::create_dir_all(root.join("topologies")).unwrap();
    std::fs::write(root.join("caps.yaml"), CATALOG).unwrap();
    std::fs::write(root.join("topologies/caps.yaml"), TOPOLOGY).unwrap();
    root
}

struct Run {
    code: i32,
    stderr: String,
    elapsed: Duration,
}

/// `labcert certify` of the `caps` topology with `extra`, killed after 10 s so that a
/// regression fails instead of hanging.
fn certify(root: &Path, out: &Path, extra: &[&str]) -> Run {
    let empty = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_labcert"))
        .env("LABCERT_CATALOGS", empty.path())
        .env("CI", "1")
        .env_remove("NO_COLOR")
        .arg("--catalogs")
        .arg(root)
        .args(["certify", "--environment", "caps", "--topology", "caps"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("labcert certify {extra:?} did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stderr,
        elapsed: start.elapsed(),
    }
}

/// Records the `caps` lab into `DIR/rec`.
fn record(dir: &Path, root: &Path) -> PathBuf {
    let rec = dir.join("rec");
    let r = certify(
        root,
        &dir.join("live.json"),
        &["--record", rec.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    rec
}

#[test]
fn a_recorded_stdout_over_the_cap_replays_capped_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path());
    let rec = record(dir.path(), &root);
    let file = rec.join("exchanges.ndjson");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    // 5 MB of output, a multi-byte character straddling the cap.
    let mut big = "x".repeat(MAX_OUTPUT - 1);
    big.push('é');
    big.push_str(&"y".repeat(5_000_000 - big.len()));
    lines[1]["observation"]["stdout"] = big.into();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();

    let out = dir.path().join("replayed.json");
    let r = certify(&root, &out, &["--replay", rec.to_str().unwrap()]);
    // Live it printed `hi`; the recording says otherwise, and what it says is evidence.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(size < 2 * MAX_OUTPUT as u64, "the manifest is {size} bytes");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let check = &m["groups"][0]["checks"][0];
    assert_eq!(check["id"], "caps.out.big", "{check}");
    assert_eq!(check["status"], "fail", "{check}");
    assert_eq!(check["evidence"]["truncated"], true, "{check}");
}

#[test]
fn a_recording_that_is_a_fifo_is_refused_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path());
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let fifo = rec.join("exchanges.ndjson");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo only creates a file at a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = dir.path().join("m.json");
    let r = certify(&root, &out, &["--replay", rec.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    assert!(r.stderr.contains(fifo.to_str().unwrap()), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    assert!(!out.exists());
}

#[test]
fn a_recording_larger_than_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path());
    let rec = record(dir.path(), &root);
    let file = rec.join("exchanges.ndjson");
    // A valid recording, made sparse past 256 MiB: it costs no disk.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    let out = dir.path().join("m.json");
    let r = certify(&root, &out, &["--replay", rec.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("larger than the 268435456 bytes"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(file.to_str().unwrap()), "{}", r.stderr);
    assert!(!out.exists());
}
