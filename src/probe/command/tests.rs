use std::time::Duration;

use super::*;

fn argv(a: &[&str]) -> Command {
    Command {
        argv: Some(a.iter().map(|s| s.to_string()).collect()),
        shell: None,
        env: Default::default(),
        stdin: None,
        cwd: None,
    }
}

fn shell(s: &str) -> Command {
    Command {
        argv: None,
        shell: Some(s.into()),
        env: Default::default(),
        stdin: None,
        cwd: None,
    }
}

fn limits(ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(ms),
        max_output: 1 << 20,
    }
}

#[tokio::test]
async fn json_stdout_exit_codes_and_stderr() {
    let o = run(&argv(&["echo", r#"{"Account": "123"}"#]), limits(5000)).await;
    assert_eq!(o.exit, Some(0));
    assert_eq!(o.json.as_ref().unwrap()["Account"], "123");
    let o = run(
        &shell("echo 'An error occurred (InvalidAMIID.NotFound)' >&2; exit 255"),
        limits(5000),
    )
    .await;
    assert_eq!(
        (o.exit, o.reason().as_deref()),
        (Some(255), Some("exit_255"))
    );
    assert!(o.stderr.contains("InvalidAMIID.NotFound"));
}

#[tokio::test]
async fn argv_is_not_a_shell() {
    let o = run(&argv(&["echo", "$HOME", ";", "false"]), limits(5000)).await;
    assert_eq!(o.stdout, "$HOME ; false\n");
    assert_eq!(o.exit, Some(0));
}

#[tokio::test]
async fn env_stdin_and_cwd() {
    let mut c = shell("read line; echo \"$line $GREETING $(pwd)\"");
    c.env.insert("GREETING".into(), "hi".into());
    c.stdin = Some("from-stdin\n".into());
    c.cwd = Some("/tmp".into());
    let o = run(&c, limits(5000)).await;
    assert_eq!(o.stdout.trim(), "from-stdin hi /tmp");
}

#[tokio::test]
async fn a_missing_program_is_not_found() {
    let o = run(&argv(&["labcert-no-such-cli"]), limits(5000)).await;
    assert_eq!(o.reason().as_deref(), Some("not_found"));
    assert!(o.error.unwrap().message.contains("not installed"));
}

#[tokio::test]
async fn a_signal_is_recorded() {
    let o = run(&shell("kill -TERM $$"), limits(5000)).await;
    assert_eq!((o.exit, o.signal), (None, Some(libc::SIGTERM)));
    assert_eq!(o.reason().as_deref(), Some("signal_15"));
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; sleep 30", pidfile.display());
    let start = std::time::Instant::now();
    let o = run(&shell(&script), limits(300)).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "did not wait for the sleepers"
    );
    assert_eq!(o.reason().as_deref(), Some("timeout"));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild got SIGKILL with its group; give the kernel a moment to reap it.
    let mut alive = true;
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        alive = !stat.is_empty() && !stat.contains(") Z");
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive, "background process {pid} survived the timeout");
}

#[tokio::test]
async fn output_is_capped_and_drained() {
    let o = run(
        &shell("head -c 10000000 /dev/zero | tr '\\0' a; echo done >&2"),
        Limits {
            timeout: Duration::from_secs(20),
            max_output: 1 << 20,
        },
    )
    .await;
    assert_eq!(o.exit, Some(0), "the writer was never blocked");
    assert_eq!(o.stdout.len(), 1 << 20);
    assert!(o.stdout_truncated && !o.stderr_truncated);
    assert_eq!(o.stderr.trim(), "done");
}

/// Waits (a little) for `pid` to be gone or a zombie.
async fn gone(pid: i32) -> bool {
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn read_pid(pidfile: &std::path::Path) -> i32 {
    for _ in 0..250 {
        if let Ok(pid) = std::fs::read_to_string(pidfile)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid in {}", pidfile.display());
}

/// Runs with a generous outer bound, so that a probe holding on fails the test clearly.
async fn bounded(cmd: &Command, limits: Limits) -> (Observation, Duration) {
    let start = std::time::Instant::now();
    match tokio::time::timeout(Duration::from_secs(20), run(cmd, limits)).await {
        Ok(o) => (o, start.elapsed()),
        Err(_) => panic!("the probe was still running after 20 s"),
    }
}

#[tokio::test]
async fn a_timeout_is_a_hard_bound_even_for_a_setsid_child_holding_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!(
        "setsid sleep 300 & echo $! > {}; echo partial; wait",
        pidfile.display()
    );
    let (o, took) = bounded(&shell(&script), limits(1000)).await;
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(o.reason().as_deref(), Some("timeout"));
    assert_eq!(o.stdout, "partial\n", "what was read is kept");
    let pid = read_pid(&pidfile).await;
    assert!(gone(pid).await, "the setsid'd sleep {pid} survived");
}

#[tokio::test]
async fn a_program_that_exits_leaving_a_setsid_daemon_on_stdout_ends_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // The pause lets the daemon leave the group before the program exits.
    let script = format!(
        "setsid sleep 300 & echo $! > {}; sleep 0.3; echo done",
        pidfile.display()
    );
    let (o, took) = bounded(&shell(&script), limits(60_000)).await;
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!((o.exit, o.error.is_none()), (Some(0), true), "{o:?}");
    assert_eq!(o.stdout, "done\n");
    let pid = read_pid(&pidfile).await;
    assert!(gone(pid).await, "the daemon {pid} survived");
}

#[tokio::test]
async fn an_abandoned_probe_kills_what_left_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("setsid sleep 300 & echo $! > {}; wait", pidfile.display());
    let probe = tokio::spawn(async move { run(&shell(&script), limits(60_000)).await });
    let pid = read_pid(&pidfile).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    assert!(gone(pid).await, "the setsid'd sleep {pid} survived");
}

#[tokio::test]
async fn reading_cut_off_keeps_what_was_read_and_says_so() {
    let (mut writer, reader) = tokio::io::duplex(1024);
    writer.write_all(b"abc").await.unwrap();
    let mut c = capture::Captured::default();
    let cut = tokio::time::timeout(
        Duration::from_millis(100),
        capture::drain(Some(reader), 2, &mut c),
    )
    .await;
    assert!(cut.is_err(), "the writer is still open");
    assert_eq!(
        (c.bytes.as_slice(), c.capped, c.eof),
        (&b"ab"[..], true, false)
    );
    assert!(c.truncated());
    drop(writer);
}
