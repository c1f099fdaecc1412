//! The `ssh` probe against a real OpenSSH `sshd` started by each test on 127.0.0.1
//! (installed by `scripts/test.sh`; the guard lives in `tests/support/sshd.rs`).

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "support/sshd.rs"]
mod sshd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use labcert::model::probe::Ssh;
use labcert::model::shapes::IntOrTemplate;
use labcert::probe::ssh::{Pool, PoolOptions, run};
use labcert::probe::{Limits, Observation};
use sshd::{Agent, PASSPHRASE, Sshd, fingerprint, free_port};

fn limits(ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(ms),
        max_output: 1 << 16,
    }
}

/// A pool that never asks an ssh-agent unless a test gives it one.
fn pool() -> Pool {
    Pool::new(options())
}

fn options() -> PoolOptions {
    PoolOptions {
        agent_socket: None,
        ..PoolOptions::default()
    }
}

async fn once(spec: &Ssh) -> Observation {
    run(spec, limits(10_000), &pool()).await
}

/// The error reason and message, or a panic showing the observation.
fn error(o: &Observation) -> (&str, &str) {
    let e = o
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("expected an error: {o:?}"));
    (e.reason.as_str(), e.message.as_str())
}

fn ok(o: &Observation) {
    assert!(o.error.is_none(), "unexpected error: {o:?}");
    assert_eq!(o.exit, Some(0), "{o:?}");
}

// --- authentication ---------------------------------------------------------------------

#[tokio::test]
async fn logs_in_with_each_key_type() {
    let s = Sshd::start();
    for key in ["id_ed25519", "id_rsa", "id_ecdsa"] {
        let mut spec = s.spec("echo hi");
        spec.identity = Some(s.path(key).display().to_string());
        let o = once(&spec).await;
        ok(&o);
        assert_eq!(o.stdout, "hi\n", "{key}");
    }
    assert_eq!(s.logins(), 3);
}

#[tokio::test]
async fn encrypted_key_needs_its_passphrase() {
    let s = Sshd::start();
    let mut spec = s.spec("echo unlocked");
    spec.identity = Some(s.path("id_encrypted").display().to_string());
    spec.passphrase = Some(PASSPHRASE.into());
    let o = once(&spec).await;
    ok(&o);
    assert_eq!(o.stdout, "unlocked\n");

    spec.passphrase = Some("wrong".into());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "auth");
    assert!(message.contains("wrong passphrase"), "{message}");

    spec.passphrase = None;
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "auth");
    assert!(message.contains("encrypted"), "{message}");
    // Neither reached the server's login.
    assert_eq!(s.logins(), 1);
}

#[tokio::test]
async fn logs_in_through_the_agent() {
    let s = Sshd::start();
    let agent = Agent::start(s.dir.path());
    let mut spec = s.spec("echo agent");
    spec.identity = None;
    let with_agent = || {
        Pool::new(PoolOptions {
            agent_socket: Some(agent.socket.clone()),
            ..PoolOptions::default()
        })
    };

    let o = run(&spec, limits(10_000), &with_agent()).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "auth", "an empty agent");
    assert!(message.contains("holds no keys"), "{message}");

    // A key the server does not know first: the agent's keys are tried in turn.
    agent.add(&s.path("id_stranger"));
    agent.add(&s.path("id_rsa"));
    let o = run(&spec, limits(10_000), &with_agent()).await;
    ok(&o);
    assert_eq!(o.stdout, "agent\n");

    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "auth", "no identity and no agent");
    assert!(message.contains("ssh-agent"), "{message}");
}

#[tokio::test]
async fn an_unauthorized_key_is_auth() {
    let s = Sshd::start();
    let mut spec = s.spec("true");
    spec.identity = Some(s.path("id_stranger").display().to_string());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "auth");
    assert!(message.contains("rejected identity"), "{message}");
    assert!(
        message.contains(&fingerprint(&s.path("id_stranger.pub"))),
        "{message}"
    );

    // A key the runner cannot read is the runner's problem, not the host's.
    spec.identity = Some(s.path("no_such_key").display().to_string());
    assert_eq!(error(&once(&spec).await).0, "identity");
}

// --- host keys ---------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_host_runs_nothing() {
    let s = Sshd::start();
    let marker = s.path("marker");
    let empty = s.path("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let mut spec = s.spec(&format!("touch {}", marker.display()));
    spec.known_hosts = Some(empty.display().to_string());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "hostkey");
    assert!(message.contains("is not in known_hosts"), "{message}");
    assert!(message.contains(&s.host_fingerprint), "{message}");

    spec.known_hosts = Some(s.path("missing_known_hosts").display().to_string());
    assert_eq!(error(&once(&spec).await).0, "hostkey");

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!marker.exists(), "the command ran on an unverified host");
    assert_eq!(s.logins(), 0, "{}", s.log_text());
}

#[tokio::test]
async fn a_changed_host_key_is_refused() {
    let s = Sshd::start();
    let other = std::fs::read_to_string(s.path("id_stranger.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let changed = s.path("changed_known_hosts");
    std::fs::write(
        &changed,
        format!(
            "# another server once had this address\n[127.0.0.1]:{} {}\n",
            s.port,
            other.join(" ")
        ),
    )
    .unwrap();
    let marker = s.path("marker");
    let mut spec = s.spec(&format!("touch {}", marker.display()));
    spec.known_hosts = Some(changed.display().to_string());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "hostkey");
    assert!(message.contains("host key changed"), "{message}");
    assert!(
        message.contains(&s.host_fingerprint),
        "presented: {message}"
    );
    let expected = fingerprint(&s.path("id_stranger.pub"));
    assert!(message.contains(&expected), "expected: {message}");
    assert!(!marker.exists());
    assert_eq!(s.logins(), 0);
}

#[tokio::test]
async fn a_revoked_host_key_runs_nothing() {
    let s = Sshd::start();
    let host_key = std::fs::read_to_string(s.path("host_ed25519_key.pub")).unwrap();
    let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
    let revoked = s.path("revoked_known_hosts");
    // The server's own key, listed for it and revoked: the revocation wins.
    std::fs::write(
        &revoked,
        format!(
            "[127.0.0.1]:{port} {key}\n@revoked [127.0.0.1]:{port} {key}\n",
            port = s.port,
            key = host_key.join(" ")
        ),
    )
    .unwrap();
    let marker = s.path("marker");
    let mut spec = s.spec(&format!("touch {}", marker.display()));
    spec.known_hosts = Some(revoked.display().to_string());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "hostkey");
    assert!(message.contains("revoked"), "{message}");
    assert!(message.contains(&s.host_fingerprint), "{message}");

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!marker.exists(), "the command ran on a revoked host key");
    assert_eq!(s.logins(), 0, "{}", s.log_text());
}

#[tokio::test]
async fn a_pinned_fingerprint_replaces_known_hosts() {
    let s = Sshd::start();
    let empty = s.path("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let mut spec = s.spec("echo pinned");
    spec.known_hosts = Some(empty.display().to_string());
    spec.host_key = Some(s.host_fingerprint.clone());
    let o = once(&spec).await;
    ok(&o);
    assert_eq!(o.stdout, "pinned\n");

    let wrong = fingerprint(&s.path("id_stranger.pub"));
    spec.host_key = Some(wrong.clone());
    spec.known_hosts = None;
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "hostkey");
    assert!(message.contains("host key changed"), "{message}");
    assert!(
        message.contains(&wrong) && message.contains(&s.host_fingerprint),
        "{message}"
    );

    spec.host_key = Some("SHA256:not base64!".into());
    assert_eq!(error(&once(&spec).await).0, "usage");
}

// --- commands ----------------------------------------------------------------------------

#[tokio::test]
async fn exit_codes_stderr_and_json() {
    let s = Sshd::start();
    let pool = pool();
    let o = run(
        &s.spec("sh -c 'echo out; echo err >&2; exit 3'"),
        limits(10_000),
        &pool,
    )
    .await;
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!(o.exit, Some(3));
    assert_eq!(o.signal, None);
    assert_eq!(o.stdout, "out\n");
    assert_eq!(o.stderr, "err\n");
    assert_eq!(o.reason().as_deref(), Some("exit_3"));

    let o = run(
        &s.spec(r#"echo '{"ok": true, "n": 2}'"#),
        limits(10_000),
        &pool,
    )
    .await;
    ok(&o);
    assert_eq!(o.json, Some(serde_json::json!({"ok": true, "n": 2})));
}

#[tokio::test]
async fn a_signal_is_reported_by_number() {
    let s = Sshd::start();
    let o = once(&s.spec("kill -9 $$")).await;
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!(o.signal, Some(9), "{o:?}");
    assert_eq!(o.exit, None);
    assert_eq!(o.reason().as_deref(), Some("signal_9"));
}

#[tokio::test]
async fn a_hang_times_out_and_the_connection_stays_usable() {
    let s = Sshd::start();
    let pool = pool();
    ok(&run(&s.spec("true"), limits(10_000), &pool).await);
    let started = Instant::now();
    let o = run(&s.spec("echo before; sleep 30"), limits(500), &pool).await;
    let took = started.elapsed();
    let (reason, message) = error(&o);
    assert_eq!(reason, "timeout");
    assert!(
        message.contains("did not finish") && message.contains("127.0.0.1"),
        "{message}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(o.stdout, "before\n", "output so far is kept");

    let o = run(&s.spec("echo after"), limits(10_000), &pool).await;
    ok(&o);
    assert_eq!(o.stdout, "after\n");
    assert_eq!(s.logins(), 1, "the same connection");
}

#[tokio::test]
async fn timed_out_commands_give_their_channel_back() {
    let s = Sshd::start();
    let pool = Pool::new(PoolOptions {
        channels_per_connection: 1,
        ..options()
    });
    for _ in 0..3 {
        let o = run(&s.spec("sleep 30"), limits(300), &pool).await;
        assert_eq!(error(&o).0, "timeout");
    }
    let o = run(&s.spec("echo next"), limits(5_000), &pool).await;
    ok(&o);
    assert_eq!(o.stdout, "next\n");
    assert_eq!(s.logins(), 1);
}

#[tokio::test]
async fn large_output_is_capped_and_drained() {
    let s = Sshd::start();
    let pool = pool();
    let o = run(
        &s.spec("head -c 10000000 /dev/zero; echo done >&2"),
        limits(60_000),
        &pool,
    )
    .await;
    ok(&o);
    assert_eq!(o.stdout.len(), 1 << 16);
    assert!(o.stdout_truncated);
    assert!(!o.stderr_truncated);
    assert_eq!(o.stderr, "done\n");
    eprintln!("10 MB through one channel: {:?}", o.duration);
    // The connection did not stall.
    ok(&run(&s.spec("true"), limits(10_000), &pool).await);
}

// --- the pool ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_one_connection() {
    let s = Sshd::start();
    let pool = Arc::new(pool());
    let spec = Arc::new(s.spec("echo $((6 * 7))"));
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(30_000), &pool).await })
        })
        .collect();
    for t in tasks {
        let o = t.await.unwrap();
        ok(&o);
        assert_eq!(o.stdout, "42\n");
    }
    eprintln!(
        "200 concurrent checks, first connection included: {:?}",
        started.elapsed()
    );
    assert_eq!(s.logins(), 1, "one connection:\n{}", s.log_text());

    // The same, on the warm connection: the cost of a check.
    let spec = Arc::new(s.spec("true"));
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(30_000), &pool).await })
        })
        .collect();
    for t in tasks {
        ok(&t.await.unwrap());
    }
    eprintln!(
        "200 `true` checks through one warm Pool: {:?}",
        started.elapsed()
    );
    assert_eq!(s.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_replaced_once() {
    let s = Sshd::start();
    let pool = Arc::new(pool());
    ok(&run(&s.spec("true"), limits(10_000), &pool).await);
    // 8 run (the channel limit), 12 wait for a channel.
    let spec = Arc::new(s.spec("sleep 2; echo late"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(20_000), &pool).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.kill_connections();
    let (mut lost, mut rerun) = (0, 0);
    for t in tasks {
        let o = tokio::time::timeout(Duration::from_secs(15), t)
            .await
            .expect("a check hung after the reset")
            .unwrap();
        match &o.error {
            Some(e) if e.reason == "connection_lost" => lost += 1,
            None => {
                assert_eq!(o.stdout, "late\n");
                rerun += 1;
            }
            Some(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(
        (lost, rerun),
        (8, 12),
        "running checks are lost, waiting ones rerun"
    );
    assert_eq!(s.logins(), 2, "one reconnect:\n{}", s.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_cleanly_and_a_restart_reconnects_once() {
    let mut s = Sshd::start();
    let pool = Arc::new(pool());
    ok(&run(&s.spec("true"), limits(10_000), &pool).await);
    let spec = Arc::new(s.spec("sleep 2; echo late"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(20_000), &pool).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.kill();
    let started = Instant::now();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        let o = tokio::time::timeout(Duration::from_secs(15), t)
            .await
            .expect("a check hung after the server died")
            .unwrap();
        let (reason, _) = error(&o);
        *reasons.entry(reason.to_string()).or_default() += 1;
    }
    eprintln!("after the kill: {reasons:?} in {:?}", started.elapsed());
    assert_eq!(reasons.get("connection_lost"), Some(&8), "{reasons:?}");
    assert_eq!(reasons.get("refused"), Some(&12), "{reasons:?}");

    s.restart();
    let spec = Arc::new(s.spec("echo back"));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(10_000), &pool).await })
        })
        .collect();
    for t in tasks {
        let o = t.await.unwrap();
        ok(&o);
        assert_eq!(o.stdout, "back\n");
    }
    assert_eq!(
        s.logins(),
        2,
        "one connection before, one after:\n{}",
        s.log_text()
    );
}

// --- session limits ----------------------------------------------------------------------

/// A stock sshd that allows two sessions per connection: the pool's eight channels are
/// refused until its limit comes down, and every check still runs, on one login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_allowing_two_sessions_runs_every_check() {
    let s = Sshd::stock_with("MaxSessions", "2");
    let pool = Arc::new(pool());
    let spec = Arc::new(s.spec("echo ok"));
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(20_000), &pool).await })
        })
        .collect();
    for t in tasks {
        let o = t.await.unwrap();
        ok(&o);
        assert_eq!(o.stdout, "ok\n");
    }
    assert_eq!(s.logins(), 1, "one connection:\n{}", s.log_text());
}

/// `MaxSessions 0`: the connection works but no session is ever allowed. The check asks
/// again until its own timeout, then is `sessions_refused` — not `refused` (TCP).
#[tokio::test]
async fn sessions_refused_to_the_end_are_said_so_within_the_timeout() {
    let s = Sshd::stock_with("MaxSessions", "0");
    let started = Instant::now();
    let o = run(&s.spec("true"), limits(1_000), &pool()).await;
    let took = started.elapsed();
    let (reason, message) = error(&o);
    assert_eq!(reason, "sessions_refused", "{message}");
    assert!(message.contains("MaxSessions"), "{message}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1_500),
        "a 1 s check took {took:?}"
    );
    assert_eq!(s.logins(), 1);
}

/// A check's timeout bounds connecting too: with a server that never speaks, a 300 ms
/// check ends after about 300 ms while a 2 s check on the same route keeps waiting for the
/// same, single connect attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_waits_for_a_shared_connect_only_as_long_as_its_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(c);
        }
    });
    let s = Sshd::start();
    let mut spec = s.spec("true");
    spec.port = Some(IntOrTemplate::Int(port.into()));
    let spec = Arc::new(spec);
    let pool = Arc::new(pool());
    let timed = |ms: u64| {
        let (pool, spec) = (pool.clone(), spec.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let o = run(&spec, limits(ms), &pool).await;
            (o, started.elapsed())
        })
    };
    let long = timed(2_000);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let short = timed(300);
    let (o, took) = short.await.unwrap();
    assert_eq!(error(&o).0, "timeout");
    assert!(
        took < Duration::from_millis(600),
        "the 300 ms check took {took:?}"
    );
    let (o, took) = long.await.unwrap();
    assert_eq!(error(&o).0, "timeout");
    assert!(
        took >= Duration::from_millis(1_900) && took < Duration::from_millis(2_500),
        "the 2 s check took {took:?}"
    );
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one attempt"
    );
}

#[tokio::test]
async fn jumps_through_a_bastion() {
    let s = Sshd::start();
    let mut spec = s.spec("echo via $SSH_CONNECTION");
    spec.jump = vec![format!("{}@127.0.0.1:{}", s.user, s.port)];
    let o = once(&spec).await;
    ok(&o);
    assert!(o.stdout.starts_with("via 127.0.0.1"), "{o:?}");
    assert_eq!(s.logins(), 2, "the jump host, then the target through it");

    // A pin names the final host only: the jump host is still checked in known_hosts.
    let empty = s.path("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    spec.known_hosts = Some(empty.display().to_string());
    spec.host_key = Some(s.host_fingerprint.clone());
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "hostkey");
    assert!(message.contains("is not in known_hosts"), "{message}");

    // The bastion cannot reach the next hop.
    let mut spec = s.spec("true");
    spec.jump = vec![format!("{}@127.0.0.1:{}", s.user, s.port)];
    spec.port = Some(IntOrTemplate::Int(free_port().into()));
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "refused", "{message}");
}

// --- connection errors --------------------------------------------------------------------

#[tokio::test]
async fn connection_errors_are_classified() {
    let s = Sshd::start();
    let mut spec = s.spec("true");
    spec.port = Some(IntOrTemplate::Int(free_port().into()));
    assert_eq!(error(&once(&spec).await).0, "refused");

    spec.port = Some(IntOrTemplate::Template("ssh-port".into()));
    let o = once(&spec).await;
    let (reason, message) = error(&o);
    assert_eq!(reason, "usage");
    assert!(message.contains("ssh-port"), "{message}");

    // A server that accepts and never speaks: the connect timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    spec.port = Some(IntOrTemplate::Int(port.into()));
    let started = Instant::now();
    let o = run(&spec, limits(300), &pool()).await;
    let took = started.elapsed();
    let (reason, message) = error(&o);
    assert_eq!(reason, "timeout", "{message}");
    assert!(message.contains("no SSH session"), "{message}");
    assert!(
        took < Duration::from_millis(600),
        "a 300 ms check took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_checks_share_one_failed_connect() {
    // A server that accepts, waits, and hangs up: the first check's connect fails, and the
    // checks that waited for it get its error instead of each connecting again.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((c, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(c);
            });
        }
    });
    let spec = Arc::new(Ssh {
        host: "127.0.0.1".into(),
        port: Some(IntOrTemplate::Int(port.into())),
        user: Some("nobody".into()),
        command: Some("true".into()),
        argv: None,
        identity: None,
        passphrase: None,
        jump: vec![],
        host_key: None,
        known_hosts: Some("/nonexistent".into()),
    });
    let pool = Arc::new(Pool::new(PoolOptions {
        agent_socket: Some("/nonexistent.sock".into()),
        ..options()
    }));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (pool, spec) = (pool.clone(), spec.clone());
            tokio::spawn(async move { run(&spec, limits(5_000), &pool).await })
        })
        .collect();
    let mut messages = std::collections::BTreeSet::new();
    for t in tasks {
        let o = t.await.unwrap();
        let (reason, message) = error(&o);
        messages.insert(format!("{reason}: {message}"));
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    eprintln!("{messages:?}");
}
