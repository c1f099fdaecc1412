//! Stopping `labcert certify` from outside (SIGINT, SIGTERM, SIGHUP; a second signal exits at
//! once) and the hard deadline of a `command` check, end to end. Each test writes its own
//! catalog into a temp dir and marks every process of its run with a unique environment
//! variable, so survivors are found through `/proc/*/environ` (and killed, by PID).

mod common;
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::manifest::{assert_valid, check};

const MARK_VAR: &str = "LABCERT_SIGNALS_TEST_MARK";

/// A hanging check that also starts a child in its group and one that left it (setsid).
const HANGS: &str = r#"
      - id: hangs
        timeout: 60s
        probe: { command: { shell: 'setsid sleep 300 & sleep 300 & echo up > "$SIGNALS_READY"; wait' } }
        expect: [{ exit: 0 }]
"#;

struct Run {
    child: Child,
    dir: tempfile::TempDir,
    mark: String,
    started: Instant,
}

impl Run {
    /// Starts `labcert certify` on a catalog made of `checks` (YAML list items).
    fn start(name: &str, checks: &str, stdout: Stdio) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("topologies")).unwrap();
        std::fs::write(
            root.join("topologies/sig.yaml"),
            "topology: sig\nproviders: []\ncatalogs:\n  sig: {}\n",
        )
        .unwrap();
        let catalog = format!(
            "catalog: sig\nprovider: reachability\ngroups:\n  - id: work\n    checks:\n\
             \x20     - id: quick\n        probe: {{ command: {{ argv: [\"true\"] }} }}\n\
             \x20       expect: [{{ exit: 0 }}]\n{checks}"
        );
        std::fs::write(root.join("sig.yaml"), catalog).unwrap();
        let args = ["--catalogs", ".", "certify", "--environment", "t"]
            .into_iter()
            .chain(["--topology", "sig", "--out", "manifest.json"])
            .map(String::from)
            .collect::<Vec<_>>();
        Run::spawn(name, dir, root, &args, stdout)
    }

    /// Starts `labcert ARGS` in `cwd`, its processes marked, `SIGNALS_READY` in `dir`.
    fn spawn(
        name: &str,
        dir: tempfile::TempDir,
        cwd: std::path::PathBuf,
        args: &[String],
        stdout: Stdio,
    ) -> Run {
        let mark = format!("{name}-{}-{}", std::process::id(), unique());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_labcert"))
            .current_dir(cwd)
            .args(args)
            .env("CI", "true")
            .env("SIGNALS_READY", dir.path().join("ready"))
            .env(MARK_VAR, &mark)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Run {
            child,
            dir,
            mark,
            started: Instant::now(),
        }
    }

    /// Waits until the hanging check has started its processes.
    fn wait_ready(&mut self) {
        let ready = self.dir.path().join("ready");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&ready).unwrap_or_default().trim() != "up" {
            if Instant::now() > deadline || matches!(self.child.try_wait(), Ok(Some(_))) {
                self.fail("the hanging check never started");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The whole tree exists once the script has written the file.
        std::thread::sleep(Duration::from_millis(100));
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sends a signal to the labcert process this test started (still unreaped).
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// Waits at most `limit` for labcert to exit; fails (after killing it) if it does not.
    fn exit_within(&mut self, limit: Duration, what: &str) -> ExitStatus {
        let since = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if since.elapsed() > limit {
                self.fail(&format!("{what}: labcert still ran after {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn manifest(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("manifest.json"))
            .unwrap_or_else(|e| self.fail(&format!("no manifest was written: {e}")));
        serde_json::from_str(&text).unwrap()
    }

    /// Asserts that no process of this run survives (a killed one may take a moment to go).
    fn assert_no_survivors(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let left = survivors(&self.mark);
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("processes of the run survived: {left:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills labcert and every marked process, then panics.
    fn fail(&self, why: &str) -> ! {
        let left = survivors(&self.mark);
        for (pid, _) in &left {
            // SAFETY: SIGKILL to a process carrying this test's unique marker.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        // SAFETY: SIGKILL to the labcert process this test started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        panic!(
            "{why} (after {:?}; marked processes: {left:?})",
            self.started.elapsed()
        );
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Live (non-zombie) processes whose environment carries `mark`, with their command line.
fn survivors(mark: &str) -> Vec<(libc::pid_t, String)> {
    let needle = format!("{MARK_VAR}={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let dir = entry.path();
        let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
        if !environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            continue;
        }
        if state(&dir) == Some('Z') {
            continue;
        }
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    found
}

fn state(proc_dir: &Path) -> Option<char> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn assert_interrupted(run: &Run, status: ExitStatus) {
    assert_eq!(status.code(), Some(3), "{status:?}");
    let m = run.manifest();
    assert_valid(&m);
    assert_eq!(m["status"], "blocked");
    assert_eq!(m["interrupted"], true);
    assert_eq!(check(&m, "sig.work.quick")["status"], "pass");
    let hang = check(&m, "sig.work.hangs");
    assert_eq!(hang["status"], "blocked");
    assert_eq!(hang["reason"], "cancelled");
    run.assert_no_survivors();
}

fn one_signal_stops_the_run_honestly(sig: libc::c_int, name: &str) {
    let mut run = Run::start(name, HANGS, Stdio::null());
    run.wait_ready();
    let sent = Instant::now();
    run.signal(sig);
    let status = run.exit_within(Duration::from_secs(5), name);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{name}: took {:?}",
        sent.elapsed()
    );
    assert_interrupted(&run, status);
}

#[test]
fn sigint_writes_an_honest_manifest_and_kills_every_probe_process() {
    one_signal_stops_the_run_honestly(libc::SIGINT, "sigint");
}

#[test]
fn sigterm_writes_an_honest_manifest_and_kills_every_probe_process() {
    one_signal_stops_the_run_honestly(libc::SIGTERM, "sigterm");
}

#[test]
fn sighup_writes_an_honest_manifest_and_kills_every_probe_process() {
    one_signal_stops_the_run_honestly(libc::SIGHUP, "sighup");
}

#[test]
fn a_second_signal_exits_at_once() {
    // labcert's stdout is a pipe this test fills and never reads: once interrupted, the run
    // finishes gracefully up to its next line of output, and blocks there.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut run = Run::start("second", HANGS, writer.try_clone().unwrap().into());
    run.wait_ready();
    let filler = std::thread::spawn(move || {
        let mut writer = writer;
        let _ = writer.write_all(&vec![b'.'; 1 << 20]);
    });
    std::thread::sleep(Duration::from_millis(300));
    run.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_secs(1));
    if let Some(status) = run.child.try_wait().unwrap() {
        run.fail(&format!(
            "the first signal ended labcert at once ({status:?}) instead of stopping the run"
        ));
    }
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let status = run.exit_within(Duration::from_secs(3), "second signal");
    assert!(sent.elapsed() < Duration::from_secs(3));
    assert_eq!(status.code(), Some(128 + libc::SIGINT), "{status:?}");
    run.assert_no_survivors();
    drop(reader);
    filler.join().unwrap();
}

fn finished_within(run: &mut Run, limit: Duration, what: &str) -> Value {
    run.exit_within(limit, what);
    let m = run.manifest();
    assert_valid(&m);
    run.assert_no_survivors();
    m
}

#[test]
fn a_command_timeout_is_a_hard_bound_even_for_a_setsid_child_holding_stdout() {
    let checks = r#"
      - id: hangs
        timeout: 2s
        probe: { command: { shell: 'setsid sleep 300 & echo started; wait' } }
        expect: [{ exit: 0 }]
"#;
    let mut run = Run::start("deadline", checks, Stdio::null());
    let m = finished_within(&mut run, Duration::from_secs(5), "a 2 s check");
    let hang = check(&m, "sig.work.hangs");
    assert_eq!(hang["status"], "blocked");
    assert_eq!(hang["reason"], "timeout");
    assert_ne!(m["interrupted"], true);
}

#[test]
fn a_command_that_exits_leaving_a_setsid_daemon_on_stdout_ends_promptly() {
    // The pause lets the daemon leave the group before the program exits.
    let checks = r#"
      - id: daemon
        timeout: 60s
        probe: { command: { shell: 'setsid sleep 300 & sleep 0.5; echo done' } }
        expect: [{ exit: 0 }]
"#;
    let mut run = Run::start("daemon", checks, Stdio::null());
    let m = finished_within(&mut run, Duration::from_secs(5), "a command that exited");
    assert_eq!(check(&m, "sig.work.daemon")["status"], "pass");
    assert_eq!(m["status"], "pass");
}

#[test]
fn an_interrupted_qualification_is_an_infra_failure_and_kills_its_probes() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::certified_healthy(dir.path(), &[]);
    let catalog = dir.path().join("q.yaml");
    std::fs::write(
        &catalog,
        format!(
            "catalog: sigq\nprovider: reachability\ngroups:\n  - id: product\n\
             \x20   defaults: {{ class: product }}\n    checks:\n{HANGS}"
        ),
    )
    .unwrap();
    let out = dir.path().join("q.json");
    let args = [
        "--catalogs",
        "fixtures/certify",
        "qualify",
        "--certification",
        m.to_str().unwrap(),
        "--release",
        "v1",
        "--catalog",
        catalog.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from);
    let mut run = Run::spawn("qualify", dir, common::root(), &args, Stdio::null());
    run.wait_ready();
    run.signal(libc::SIGTERM);
    let status = run.exit_within(Duration::from_secs(5), "qualify");
    assert_eq!(status.code(), Some(3), "{status:?}");
    let q: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(q["status"], "infra_failure", "{q:#}");
    run.assert_no_survivors();
}
