//! The `http` probe against real local servers: plain HTTP and HTTPS with a certificate from
//! a throw-away CA (the servers live in `tests/support/https.rs`). Only 127.0.0.1 is contacted.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use labcert::model::probe::Http;
use labcert::probe::Limits;
use labcert::probe::http::{Pool, run};
use serde_json::{Value, json};
use support::https::{Certs, https, plain, start};
use tokio_rustls::rustls;

// ---- helpers ------------------------------------------------------------------------------

fn spec(v: Value) -> Http {
    serde_json::from_value(v).unwrap()
}

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(5),
        max_output: 1 << 16,
    }
}

/// The echoed request of an `/echo` answer.
fn echoed(o: &labcert::probe::Observation) -> &Value {
    assert!(o.error.is_none(), "{:?}", o.error);
    o.json.as_ref().expect("echo answers JSON")
}

// ---- plain HTTP ---------------------------------------------------------------------------

#[tokio::test]
async fn get_parses_a_json_body() {
    let s = plain().await;
    let o = run(
        &spec(json!({"url": s.url("http", "/json")})),
        limits(),
        &Pool::default(),
    )
    .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.status, Some(200));
    assert_eq!(o.json, Some(json!({"ok": true, "n": 1})));
    assert_eq!(o.stdout, r#"{"ok": true, "n": 1}"#);
    assert_eq!(o.reason(), None);
    assert!(o.duration > Duration::ZERO);
}

#[tokio::test]
async fn a_404_is_an_answer_not_an_error() {
    let s = plain().await;
    let o = run(
        &spec(json!({"url": s.url("http", "/status/404")})),
        limits(),
        &Pool::default(),
    )
    .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.status, Some(404));
    assert_eq!(o.stdout, "not here");
    assert_eq!(o.json, None);
    assert_eq!(o.reason().as_deref(), Some("http_404"));
}

#[tokio::test]
async fn sends_headers_and_query_and_reads_response_headers() {
    let s = plain().await;
    let probe = spec(json!({
        "method": "get",
        "url": s.url("http", "/echo?a=1"),
        "headers": {"X-Token": "secret", "Accept": "application/json"},
        "query": {"b": "two words", "c": "&"},
    }));
    let o = run(&probe, limits(), &Pool::default()).await;
    let echo = echoed(&o);
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["target"], "/echo?a=1&b=two+words&c=%26");
    assert_eq!(echo["headers"]["x-token"], "secret");
    assert_eq!(echo["headers"]["accept"], "application/json");
    assert!(
        echo["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with("labcert/")
    );
    let headers = o.headers.as_ref().unwrap();
    assert_eq!(headers["x-echo"], "yes");
    assert_eq!(headers["x-multi"], "a, b");
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn posts_a_json_body() {
    let s = plain().await;
    let probe =
        spec(json!({"method": "POST", "url": s.url("http", "/echo"), "json": {"vmid": 100}}));
    let o = run(&probe, limits(), &Pool::default()).await;
    let echo = echoed(&o);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(echo["body"].as_str().unwrap()).unwrap(),
        json!({"vmid": 100})
    );
}

#[tokio::test]
async fn posts_a_form_body() {
    let s = plain().await;
    let probe = spec(json!({
        "method": "post",
        "url": s.url("http", "/echo"),
        "form": {"username": "root@pam", "n": 3, "flag": true},
    }));
    let o = run(&probe, limits(), &Pool::default()).await;
    let echo = echoed(&o);
    assert_eq!(
        echo["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(echo["body"], "username=root%40pam&n=3&flag=true");
}

#[tokio::test]
async fn puts_a_raw_body() {
    let s = plain().await;
    let probe = spec(json!({"method": "PUT", "url": s.url("http", "/echo"), "body": "plain text"}));
    let o = run(&probe, limits(), &Pool::default()).await;
    let echo = echoed(&o);
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["body"], "plain text");
}

#[tokio::test]
async fn bad_specs_are_usage_errors() {
    let url = "http://127.0.0.1:9/";
    let cases = [
        json!({"method": "FETCH", "url": url}),
        json!({"method": "GE T", "url": url}),
        json!({"url": url, "form": [1, 2]}),
        json!({"url": url, "form": {"nested": {"a": 1}}}),
        json!({"url": url, "json": {}, "body": "x"}),
        json!({"url": url, "tls": {"fingerprint": "AB:CD"}}),
        json!({"url": url, "tls": {"ca_file": "/nonexistent/ca.pem"}}),
        json!({"url": "not a url"}),
        json!({"url": url, "headers": {"bad header": "x"}}),
    ];
    for case in cases {
        let o = run(&spec(case.clone()), limits(), &Pool::default()).await;
        assert_eq!(
            o.reason().as_deref(),
            Some("usage"),
            "{case}: {:?}",
            o.error
        );
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_truncated() {
    let s = plain().await;
    let small = Limits {
        max_output: 1000,
        ..limits()
    };
    let o = run(
        &spec(json!({"url": s.url("http", "/big")})),
        small,
        &Pool::default(),
    )
    .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert!(o.stdout_truncated);
    assert_eq!(o.stdout.len(), 1000);
    let o = run(
        &spec(json!({"url": s.url("http", "/big")})),
        limits(),
        &Pool::default(),
    )
    .await;
    assert!(!o.stdout_truncated);
    assert_eq!(o.stdout.len(), 10_000);
}

#[tokio::test]
async fn connections_are_reused_through_one_pool() {
    let s = plain().await;
    let pool = Pool::default();
    for _ in 0..5 {
        let o = run(
            &spec(json!({"url": s.url("http", "/json")})),
            limits(),
            &pool,
        )
        .await;
        assert_eq!(o.status, Some(200), "{:?}", o.error);
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
}

// ---- transport errors ---------------------------------------------------------------------

#[tokio::test]
async fn a_closed_port_is_refused() {
    // Bind then drop: the port is free and nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let o = run(&spec(json!({"url": url})), limits(), &Pool::default()).await;
    assert_eq!(o.reason().as_deref(), Some("refused"), "{:?}", o.error);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_limit() {
    let s = plain().await;
    let short = Limits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let start = Instant::now();
    let o = run(
        &spec(json!({"url": s.url("http", "/hang")})),
        short,
        &Pool::default(),
    )
    .await;
    assert_eq!(o.reason().as_deref(), Some("timeout"), "{:?}", o.error);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(o.duration >= Duration::from_millis(300));
}

#[tokio::test]
async fn an_unresolvable_name_is_dns() {
    let o = run(
        &spec(json!({"url": "http://no-such-host.invalid/"})),
        limits(),
        &Pool::default(),
    )
    .await;
    assert_eq!(o.reason().as_deref(), Some("dns"), "{:?}", o.error);
}

// ---- HTTPS --------------------------------------------------------------------------------

#[tokio::test]
async fn a_pinned_fingerprint_is_trusted_in_any_spelling() {
    let (s, certs) = https().await;
    let pool = Pool::default();
    let colon = certs.fingerprint();
    for pin in [colon.clone(), colon.to_lowercase(), colon.replace(':', "")] {
        let probe = spec(json!({"url": s.url("https", "/json"), "tls": {"fingerprint": pin}}));
        let o = run(&probe, limits(), &pool).await;
        assert!(o.error.is_none(), "{pin}: {:?}", o.error);
        assert_eq!(o.json, Some(json!({"ok": true, "n": 1})));
    }
}

#[tokio::test]
async fn a_wrong_pin_is_a_tls_error_naming_both_fingerprints() {
    let (s, certs) = https().await;
    let wrong = ["00"; 32].join(":");
    let probe = spec(json!({"url": s.url("https", "/json"), "tls": {"fingerprint": wrong}}));
    let o = run(&probe, limits(), &Pool::default()).await;
    assert_eq!(o.status, None);
    let e = o.error.expect("a wrong pin is never accepted");
    assert_eq!(e.reason, "tls");
    let expected = format!(
        "certificate fingerprint mismatch: expected {wrong}, server presented {}",
        certs.fingerprint()
    );
    assert_eq!(e.message, expected);
}

#[tokio::test]
async fn a_ca_file_is_trusted() {
    let (s, certs) = https().await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca, certs.ca_pem.as_bytes()).unwrap();
    let path = ca.path().to_str().unwrap();
    let probe = spec(json!({"url": s.url("https", "/status/204"), "tls": {"ca_file": path}}));
    let o = run(&probe, limits(), &Pool::default()).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.status, Some(204));
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let (s, _certs) = https().await;
    let o = run(
        &spec(json!({"url": s.url("https", "/json")})),
        limits(),
        &Pool::default(),
    )
    .await;
    assert_eq!(o.status, None);
    assert_eq!(o.reason().as_deref(), Some("tls"), "{:?}", o.error);
}

#[tokio::test]
async fn pinned_connections_are_reused_through_one_pool() {
    let (s, certs) = https().await;
    let pool = Pool::default();
    let probe =
        spec(json!({"url": s.url("https", "/json"), "tls": {"fingerprint": certs.fingerprint()}}));
    for _ in 0..5 {
        let o = run(&probe, limits(), &pool).await;
        assert_eq!(o.status, Some(200), "{:?}", o.error);
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pin_also_works_over_tls12() {
    let certs = Certs::new();
    let s = start(Some(certs.acceptor(&[&rustls::version::TLS12]))).await;
    let probe =
        spec(json!({"url": s.url("https", "/json"), "tls": {"fingerprint": certs.fingerprint()}}));
    let o = run(&probe, limits(), &Pool::default()).await;
    assert_eq!(o.status, Some(200), "{:?}", o.error);
}

#[test]
fn the_pool_and_the_probe_future_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let pool = Pool::default();
    send_sync(&pool);
    let probe = spec(json!({"url": "http://127.0.0.1:9/"}));
    send(run(&probe, limits(), &pool));
}
