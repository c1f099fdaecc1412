//! `labcert certify` end to end, against local commands and loopback listeners: exit codes,
//! the DAG, the manifest and its schema, secrets, timeouts, output caps, fail-fast.

mod common;
mod support;

use std::net::TcpListener;
use std::path::Path;

use serde_json::Value;

use common::{Out, labcert_env, root};
use support::manifest::{assert_valid, check};

const SECRET: &str = "tok-3f9a1c-super-secret";

fn certify(topology: &str, dir: &Path, extra: &[&str]) -> (Out, Value) {
    let out = dir.join("manifest.json");
    let mut args = vec![
        "--catalogs",
        "fixtures/certify",
        "certify",
        "--environment",
        "test",
        "--topology",
        topology,
        "--out",
    ];
    let out_s = out.display().to_string();
    args.push(&out_s);
    args.extend_from_slice(extra);
    let envs = [
        ("LOCAL_TOKEN".to_string(), SECRET.to_string()),
        ("CI".to_string(), "true".to_string()),
    ];
    let o = labcert_env(&args, &envs);
    let m = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (o, m)
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    (l, p)
}

fn closed_port() -> u16 {
    let (l, p) = listener();
    drop(l);
    p
}

#[test]
fn a_healthy_lab_passes_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let var = format!("healthy.open_port={port}");
    let (o, m) = certify("healthy", dir.path(), &["--var", &var]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "pass");
    assert_valid(&m);
    // An advisory failure is reported but does not decide the status.
    assert_eq!(check(&m, "healthy.network.advisory-miss")["status"], "fail");
    assert!(o.stdout.contains("labcert: PASS"), "{}", o.stdout);
}

#[test]
fn failures_exit_1_and_dependents_are_blocked_never_probed() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("probed");
    let (_l, open) = listener();
    let vars = [
        format!("local.marker={}", marker.display()),
        format!("local.open_port={open}"),
        format!("local.closed_port={}", closed_port()),
    ];
    let (o, m) = certify(
        "local",
        dir.path(),
        &["--var", &vars[0], "--var", &vars[1], "--var", &vars[2]],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "fail");
    assert_valid(&m);
    assert!(
        !marker.exists(),
        "a dependent of a failing check was probed"
    );
    let after = check(&m, "local.dag.after-broken");
    assert_eq!(after["status"], "blocked");
    assert_eq!(after["reason"], "dependency");
    assert!(after["attempts"].as_array().unwrap().is_empty());
    assert_eq!(after["message"], "needs local.dag.broken, which is fail");
    assert_eq!(check(&m, "local.dag.after-after")["status"], "blocked");
    // Expected vs actual, and the catalog line, in the summary.
    assert!(
        o.stdout
            .contains("exit: expected [0], got 3 — the command must succeed"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("fixtures/certify/local.yaml:"),
        "{}",
        o.stdout
    );
    // The refused port is the finding (classified `fail`), the open one passes.
    assert_eq!(
        check(&m, "local.network.closed-is-closed")["status"],
        "fail"
    );
    assert_eq!(
        check(&m, "local.network.closed-is-closed")["reason"],
        "refused"
    );
    assert_eq!(check(&m, "local.network.open")["status"], "pass");
    // Captures flow to dependents, coerced comparisons hold.
    let json = check(&m, "local.commands.json");
    assert_eq!(json["status"], "pass");
    assert_eq!(json["captures"]["cores"], 8);
    assert_eq!(check(&m, "local.commands.uses-capture")["status"], "pass");
}

#[test]
fn groups_mirror_the_catalog_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let var = format!("healthy.open_port={port}");
    let (_, m) = certify("healthy", dir.path(), &["--var", &var]);
    let groups: Vec<(&str, &str)> = m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["catalog"].as_str().unwrap(), g["id"].as_str().unwrap()))
        .collect();
    assert_eq!(groups, [("healthy", "basics"), ("healthy", "network")]);
    let checks: Vec<&str> = m["groups"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["succeeds", "token-set"]);
    let cat = &m["catalogs"][0];
    assert_eq!(cat["id"], "healthy");
    assert_eq!(cat["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["tool"]["name"], "labcert");
    assert_eq!(m["mode"], "inspect");
}

#[test]
fn blocked_checks_exit_3_and_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("hang.pid");
    let var = format!("blocked.pidfile={}", pidfile.display());
    let (o, m) = certify("blocked", dir.path(), &["--var", &var]);
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "blocked");
    assert_valid(&m);
    let cli = check(&m, "blocked.inspect.no-cli");
    assert_eq!(cli["status"], "blocked");
    assert_eq!(cli["reason"], "not_found");
    let secret = check(&m, "blocked.inspect.no-secret");
    assert_eq!(secret["reason"], "missing_requirement");
    assert!(
        m["missingRequirements"][0]
            .as_str()
            .unwrap()
            .contains("LABCERT_TEST_SURELY_UNSET is not set"),
        "{}",
        m["missingRequirements"]
    );
    assert!(o.stdout.contains("Missing requirements"), "{}", o.stdout);
    // The hanging command was killed at its timeout, and so was its child.
    let hang = check(&m, "blocked.inspect.hangs");
    assert_eq!(hang["status"], "blocked");
    assert_eq!(hang["reason"], "timeout");
    let pid = std::fs::read_to_string(&pidfile).expect("the command wrote its child's pid");
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "the hanging command's child survived its timeout:\n{status}"
    );
    // Megabytes of output: capped, flagged, classified by the catalog.
    let chatty = check(&m, "blocked.inspect.chatty");
    assert_eq!(chatty["reason"], "chatty");
    assert_eq!(chatty["evidence"]["truncated"], true);
    let size = std::fs::metadata(dir.path().join("manifest.json"))
        .unwrap()
        .len();
    assert!(
        size < 200_000,
        "the manifest holds {size} bytes: output leaked into it"
    );
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (o, m) = certify(
        "healthy",
        dir.path(),
        &["--valid-for", "48h", "--var", "healthy.open_port=1"],
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("longer than this topology allows"),
        "{}",
        o.stderr
    );
    assert!(m.is_null());
    let (o, _) = certify("no-such-topology", dir.path(), &[]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("topology `no-such-topology` not found"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_shorter_validity_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let var = format!("healthy.open_port={port}");
    let (_, m) = certify("healthy", dir.path(), &["--var", &var, "--valid-for", "2h"]);
    let finished = m["finishedAt"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let expires = m["expiresAt"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    assert_eq!(expires.duration_since(finished).as_secs(), 7200);
}

/// Without `--valid-for`, a topology allowing less than 24 h is not an error: its bound is
/// the validity.
#[test]
fn the_default_validity_is_the_topologys_shorter_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let var = format!("healthy.open_port={port}");
    let (o, m) = certify("short-lived", dir.path(), &["--var", &var]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let at = |k: &str| m[k].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let valid = at("expiresAt").duration_since(at("finishedAt")).as_secs();
    assert_eq!(valid, 6 * 3600);
    // Asked for more than it allows: refused, nothing written.
    let other = tempfile::tempdir().unwrap();
    let (o, m) = certify(
        "short-lived",
        other.path(),
        &["--var", &var, "--valid-for", "7h"],
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(m.is_null());
    // A bound of zero would make every manifest expired at birth.
    let (o, m) = certify("never-valid", other.path(), &["--var", &var]);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr
            .contains("topology `never-valid` sets max_valid_for to 0"),
        "{}",
        o.stderr
    );
    assert!(m.is_null());
}

#[test]
fn fail_fast_stops_starting_checks() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let var = format!("failfast.marker={}", marker.display());
    let (o, m) = certify("failfast", dir.path(), &["--var", &var, "--fail-fast"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let later = check(&m, "failfast.later.would-run");
    assert_eq!(later["status"], "blocked");
    assert_eq!(later["reason"], "cancelled");
    assert!(!marker.exists());
    // The check already running when the failure came finishes honestly.
    assert_eq!(check(&m, "failfast.first.gate")["status"], "pass");
}

#[test]
fn a_secret_never_appears_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, open) = listener();
    let files = ["events.ndjson", "junit.xml", "summary.md"].map(|f| dir.path().join(f));
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let vars = [
        format!("local.marker={}", dir.path().join("m").display()),
        format!("local.open_port={open}"),
        format!("local.closed_port={}", closed_port()),
    ];
    let (o, m) = certify(
        "local",
        dir.path(),
        &[
            "--var",
            &vars[0],
            "--var",
            &vars[1],
            "--var",
            &vars[2],
            "--events",
            &paths[0],
            "--junit",
            &paths[1],
            "--markdown",
            &paths[2],
        ],
    );
    // The probe really got the secret: its output (masked) says so.
    let secret_check = check(&m, "local.commands.secret");
    assert_eq!(secret_check["status"], "fail");
    assert_eq!(secret_check["expectations"][0]["actual"], "token=********");
    let mut everything = vec![
        o.stdout.clone(),
        o.stderr.clone(),
        std::fs::read_to_string(dir.path().join("manifest.json")).unwrap(),
    ];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.is_empty(), "{} is empty", f.display());
        everything.push(text);
    }
    // A sensitive check's evidence is not recorded; its dependents still got the value.
    let sensitive = check(&m, "local.commands.sensitive");
    assert_eq!(sensitive["status"], "pass");
    assert_eq!(sensitive["captures"]["key"], "<sensitive>");
    assert_eq!(sensitive["expectations"][0]["actual"], "<sensitive>");
    assert_eq!(check(&m, "local.commands.uses-sensitive")["status"], "pass");
    for text in everything {
        assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
        assert!(
            !text.contains("private-value-9431"),
            "sensitive evidence leaked:\n{text}"
        );
    }
}

#[test]
fn events_stream_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let var = format!("healthy.open_port={port}");
    let (o, _) = certify("healthy", dir.path(), &["--var", &var, "--events", "-"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let events: Vec<Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_eq!(events.last().unwrap()["status"], "pass");
    for id in ["healthy.basics.succeeds", "healthy.network.open"] {
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e["id"] == id)
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["check_started", "attempt", "check_finished"],
            "{id}"
        );
    }
    // The human summary went to stderr, keeping stdout pure NDJSON.
    assert!(o.stderr.contains("labcert: PASS"), "{}", o.stderr);
}

fn attempts(c: &Value) -> Vec<(String, String)> {
    c["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["why"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn retry_and_poll_are_kept_apart_and_every_attempt_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let state = format!("flaky.state={}", dir.path().display());
    let ev = events.display().to_string();
    let (o, m) = certify("flaky", dir.path(), &["--var", &state, "--events", &ev]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        attempts(check(&m, "flaky.attempts.retried")),
        [pair("first", "blocked"), pair("retry", "pass")]
    );
    assert_eq!(
        attempts(check(&m, "flaky.attempts.polled")),
        [
            pair("first", "fail"),
            pair("poll", "fail"),
            pair("poll", "pass")
        ]
    );
    // A readable wrong answer is a finding, not a transient error.
    assert_eq!(
        attempts(check(&m, "flaky.attempts.fail-not-retried")),
        [pair("first", "fail")]
    );
    // The concurrency group `serial: 1`: the second check starts after the first ended.
    let lines: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |id: &str, kind: &str| {
        lines
            .iter()
            .position(|e| e["id"] == id && e["event"] == kind)
            .unwrap()
    };
    let (one, two) = ("flaky.serial.one", "flaky.serial.two");
    let (first, second) = if at(one, "check_started") < at(two, "check_started") {
        (one, two)
    } else {
        (two, one)
    };
    assert!(at(first, "attempt") < at(second, "check_started"));
}

#[test]
fn ctrl_c_writes_an_honest_manifest_and_kills_running_probes() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("sleep.pid");
    let out = dir.path().join("manifest.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args([
            "--catalogs",
            "fixtures/certify",
            "certify",
            "--environment",
            "t",
        ])
        .args(["--topology", "slow", "--var"])
        .arg(format!("slow.pidfile={}", pidfile.display()))
        .arg("--out")
        .arg(&out)
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !pidfile.exists()
        || std::fs::read_to_string(&pidfile)
            .unwrap_or_default()
            .trim()
            .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging probe never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sends SIGINT to the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&m);
    assert_eq!(m["status"], "blocked");
    assert_eq!(m["interrupted"], true);
    assert_eq!(check(&m, "slow.work.quick")["status"], "pass");
    let hang = check(&m, "slow.work.hangs");
    assert_eq!(hang["status"], "blocked");
    assert_eq!(hang["reason"], "cancelled");
    assert_eq!(check(&m, "slow.work.after")["status"], "blocked");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "the interrupted probe's process survived:\n{status}"
    );
}
