//! `--record` then `--replay`: the same verdicts without the systems, secrets masked in the
//! recording, and a request that was never recorded is blocked, never passed.

mod common;
mod support;

use std::net::TcpListener;
use std::path::Path;

use serde_json::Value;

use common::{Out, labcert_env};
use support::manifest::assert_valid;

const SECRET: &str = "rec-5e7b-very-secret";

fn certify(dir: &Path, name: &str, extra: &[String]) -> (Out, Value) {
    let out = dir.join(name);
    let mut args: Vec<String> = [
        "--catalogs",
        "fixtures/certify",
        "certify",
        "--environment",
        "rec",
        "--topology",
        "local",
        "--out",
    ]
    .map(String::from)
    .to_vec();
    args.push(out.display().to_string());
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envs = [
        ("LOCAL_TOKEN".to_string(), SECRET.to_string()),
        ("CI".to_string(), "1".to_string()),
    ];
    let o = labcert_env(&args, &envs);
    let m = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (o, m)
}

fn verdicts(m: &Value) -> Vec<(String, String)> {
    m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap())
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn a_recording_replays_to_the_same_verdicts_offline() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let vars = vec![
        "--var".into(),
        format!("local.marker={}", dir.path().join("marker").display()),
        "--var".into(),
        format!("local.open_port={open}"),
        "--var".into(),
        format!("local.closed_port={closed}"),
    ];
    let mut record = vars.clone();
    record.extend(["--record".into(), rec.display().to_string()]);
    let (o, live) = certify(dir.path(), "live.json", &record);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("recorded"), "{}", o.stderr);
    let text = std::fs::read_to_string(rec.join("exchanges.ndjson")).unwrap();
    assert!(text.starts_with(r#"{"format":"labcert-recording","version":1}"#));
    assert!(!text.contains(SECRET), "the secret is in the recording");
    assert!(
        text.contains("token=********"),
        "the masked output is recorded"
    );

    // The listener is gone: only the recording can say the port was open.
    drop(listener);
    let mut replay = vars.clone();
    replay.extend(["--replay".into(), rec.display().to_string()]);
    let (o, again) = certify(dir.path(), "replayed.json", &replay);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_valid(&again);
    assert_eq!(verdicts(&again), verdicts(&live));
    assert_eq!(again["replayedFrom"], rec.display().to_string());
    assert!(live.get("replayedFrom").is_none());

    // A request the recording never saw is blocked, loudly.
    let mut other = vars;
    other[3] = "local.open_port=1".into();
    other.extend(["--replay".into(), rec.display().to_string()]);
    let (o, m) = certify(dir.path(), "other.json", &other);
    assert_eq!(o.code, 1);
    let open_check = m["groups"][2]["checks"][0].clone();
    assert_eq!(open_check["id"], "local.network.open");
    assert_eq!(open_check["status"], "blocked");
    assert_eq!(open_check["reason"], "not_recorded");
    assert!(
        o.stderr.contains("had no recorded exchange"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_missing_recording_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (o, m) = certify(
        dir.path(),
        "m.json",
        &[
            "--replay".into(),
            dir.path().join("nothing").display().to_string(),
        ],
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--replay: cannot read"), "{}", o.stderr);
    assert!(m.is_null());
}
