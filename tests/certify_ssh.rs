//! `certify` with `ssh` checks against a real OpenSSH server started by the test: many
//! checks over one verified connection, exit codes and stderr judged, and a host whose key
//! is not the known one is blocked before anything runs.

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "support/manifest.rs"]
mod manifest;
#[allow(dead_code)]
#[path = "support/sshd.rs"]
mod sshd;

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use manifest::{assert_valid, check};
use sshd::Sshd;

/// A catalog's head: the `sh` probe template, a command on `server` as the test user.
fn head(server: &Sshd, known_hosts: &Path) -> String {
    let mut s = String::from(
        "catalog: lab\nprovider: reachability\nprobes:\n  sh:\n    params: { cmd: {} }\n    ssh:\n",
    );
    let _ = writeln!(
        s,
        "      host: 127.0.0.1\n      port: {}\n      user: {}\n      identity: {}\n      known_hosts: {}\n      command: \"{{{{ params.cmd }}}}\"",
        server.port,
        server.user,
        server.path("id_ed25519").display(),
        known_hosts.display()
    );
    s
}

/// Writes the catalog `lab` (text after [`head`]) and the topology `lab` using it.
fn write(dir: &Path, catalog: &str) {
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::write(dir.join("lab.yaml"), catalog).unwrap();
    std::fs::write(
        dir.join("topologies/lab.yaml"),
        "topology: lab\ncatalogs:\n  lab: {}\n",
    )
    .unwrap();
}

/// `n` checks running `true`, in group `many`.
fn trivial(s: &mut String, n: usize) {
    s.push_str("  - id: many\n    checks:\n");
    for i in 0..n {
        let _ = writeln!(
            s,
            "      - {{ id: c{i}, probe: {{ use: sh, with: {{ cmd: 'true' }} }}, expect: [{{ exit: 0 }}] }}"
        );
    }
}

/// A catalog root with `n` trivial ssh checks plus a few that judge exit codes and output.
fn catalog(dir: &Path, server: &Sshd, known_hosts: &Path, marker: &Path, n: usize) {
    let mut s = head(server, known_hosts);
    s.push_str("groups:\n  - id: judged\n    checks:\n");
    let _ = writeln!(
        s,
        "      - {{ id: marker, probe: {{ use: sh, with: {{ cmd: 'touch {}' }} }}, expect: [{{ exit: 0 }}] }}",
        marker.display()
    );
    s.push_str(
        "      - id: exit-and-stderr\n        probe: { use: sh, with: { cmd: \"echo out; echo err >&2; exit 3\" } }\n        expect: [{ exit: 3 }, { stdout: { equals: out } }, { stderr: { contains: err } }]\n\
         \x20     - id: json\n        probe: { use: sh, with: { cmd: \"printf '{\\\"cores\\\": 4}'\" } }\n        expect: [{ query: cores, ge: 2 }]\n\
         \x20     - id: wrong\n        probe: { use: sh, with: { cmd: \"exit 1\" } }\n        expect: [{ exit: 0 }]\n",
    );
    trivial(&mut s, n);
    write(dir, &s);
}

fn certify(dir: &Path) -> (common::Out, Value) {
    let root = dir.display().to_string();
    let out = dir.join("m.json").display().to_string();
    let o = common::labcert_env(
        &[
            "--catalogs",
            &root,
            "certify",
            "--environment",
            "t",
            "--topology",
            "lab",
            "--out",
            &out,
        ],
        &[("CI".into(), "1".into())],
    );
    let m = serde_json::from_str(&std::fs::read_to_string(dir.join("m.json")).unwrap()).unwrap();
    (o, m)
}

#[test]
fn two_hundred_checks_share_one_verified_connection() {
    let server = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    catalog(dir.path(), &server, &server.known_hosts, &marker, 200);
    let (o, m) = certify(dir.path());
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_valid(&m);
    assert_eq!(m["summary"]["pass"], 203, "{}", o.stdout);
    assert_eq!(check(&m, "lab.judged.wrong")["status"], "fail");
    assert_eq!(check(&m, "lab.judged.exit-and-stderr")["status"], "pass");
    assert_eq!(check(&m, "lab.judged.json")["status"], "pass");
    assert!(marker.exists());
    assert_eq!(
        server.logins(),
        1,
        "one connection, authenticated once:\n{}",
        server.log_text()
    );
}

#[test]
fn a_host_with_an_unknown_key_is_blocked_and_nothing_runs() {
    let server = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    // known_hosts names this host with another key.
    let other = dir.path().join("other");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let pub_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let kh = dir.path().join("known_hosts");
    let key: Vec<&str> = pub_key.split_whitespace().take(2).collect();
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", server.port, key.join(" ")),
    )
    .unwrap();
    catalog(dir.path(), &server, &kh, &marker, 3);
    let (o, m) = certify(dir.path());
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    let c = check(&m, "lab.judged.marker");
    assert_eq!(c["status"], "blocked");
    assert_eq!(c["reason"], "hostkey");
    assert!(c["message"].as_str().unwrap().contains("changed"), "{c:#}");
    assert!(!marker.exists(), "a command ran on an unverified host");
    assert_eq!(server.logins(), 0);
}

/// Real lab nodes run the distro's sshd: `MaxSessions 10`, which counts a session until its
/// own teardown ends, so a client reopening channels at once is refused now and then. With
/// default options every one of 200 checks on one login must still pass, run after run.
#[test]
fn two_hundred_checks_pass_against_a_stock_sshd() {
    let server = Sshd::stock();
    const RUNS: usize = 5;
    for run in 1..=RUNS {
        let dir = tempfile::tempdir().unwrap();
        let mut s = head(&server, &server.known_hosts);
        s.push_str("groups:\n");
        trivial(&mut s, 200);
        write(dir.path(), &s);
        let (o, m) = certify(dir.path());
        let blocked: Vec<String> = m["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["checks"].as_array().into_iter().flatten())
            .filter(|c| c["status"] != "pass")
            .map(|c| format!("{} {} {}", c["id"], c["reason"], c["message"]))
            .collect();
        assert!(
            blocked.is_empty(),
            "run {run}/{RUNS}: {} of 200 did not pass, e.g. {:?}\n{}",
            blocked.len(),
            &blocked[..blocked.len().min(3)],
            o.stdout
        );
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        assert_eq!(m["summary"]["pass"], 200, "{}", o.stdout);
        assert_eq!(
            server.logins(),
            run,
            "one login per run:\n{}",
            server.log_text()
        );
    }
}

/// A check's `timeout` bounds the whole check, connecting included: against a server that
/// accepts and never speaks, a `timeout: 1s` check is blocked (`timeout`) after about 1 s —
/// not after a fixed connect budget.
#[test]
fn a_silent_server_blocks_a_check_within_its_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept() {
            held.push(c);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    let catalog = format!(
        "catalog: lab\nprovider: reachability\ngroups:\n  - id: silent\n    checks:\n\
         \x20     - {{ id: one, timeout: 1s, probe: {{ ssh: {{ host: 127.0.0.1, port: {port}, \
         user: root, command: 'true', identity: {}, known_hosts: /nonexistent }} }}, \
         expect: [{{ exit: 0 }}] }}\n",
        key.display()
    );
    write(dir.path(), &catalog);
    let started = std::time::Instant::now();
    let (o, m) = certify(dir.path());
    let took = started.elapsed();
    let c = check(&m, "lab.silent.one");
    assert_eq!(c["status"], "blocked", "{c:#}");
    assert_eq!(c["reason"], "timeout", "{c:#}");
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert!(
        took < std::time::Duration::from_millis(2500),
        "a 1 s check took {took:?} (labcert start-up included)"
    );
}
