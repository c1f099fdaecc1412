//! The `http` probe against real local servers: plain HTTP and HTTPS with a certificate from
//! a throw-away CA. Only 127.0.0.1 is contacted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use labcert::model::probe::Http;
use labcert::probe::Limits;
use labcert::probe::http::{Pool, run};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

// ---- a tiny HTTP/1.1 server -------------------------------------------------------------

/// A listening test server and the number of TCP connections it accepted.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }
}

/// The test certificates: a CA and a leaf for 127.0.0.1 signed by it.
struct Certs {
    ca_pem: String,
    leaf: rustls::pki_types::CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl Certs {
    fn new() -> Certs {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();
        Certs {
            ca_pem: ca.pem(),
            leaf: cert.der().clone(),
            leaf_key: key.serialize_der(),
        }
    }

    /// The leaf's SHA-256 fingerprint as Proxmox shows it.
    fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.leaf.as_ref());
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// A TLS acceptor presenting the leaf, speaking the given TLS versions.
    fn acceptor(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(self.leaf_key.clone());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf.clone()], key.into())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

/// Starts a server on 127.0.0.1; HTTPS when given an acceptor.
async fn start(tls: Option<TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(stream).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve(stream).await;
                        }
                    }
                }
            });
        }
    });
    Server { addr, connections }
}

/// Answers HTTP/1.1 requests on one connection until the client closes it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            stream.read_line(&mut h).await.unwrap();
            let Some((name, value)) = h.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
        }
        let length = headers
            .get("content-length")
            .map_or(0, |l| l.parse().unwrap());
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        let (status, extra, body) = route(&method, &target, headers, body).await;
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n{extra}\r\n",
            body.len()
        );
        let out = stream.get_mut();
        out.write_all(head.as_bytes()).await.unwrap();
        out.write_all(&body).await.unwrap();
        out.flush().await.unwrap();
    }
}

/// The server's pages: `/json`, `/status/<n>`, `/echo`, `/big`, `/hang`.
async fn route(
    method: &str,
    target: &str,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let path = target.split('?').next().unwrap();
    let json_type = "content-type: application/json\r\n".to_string();
    match path {
        "/json" => (200, json_type, br#"{"ok": true, "n": 1}"#.to_vec()),
        "/big" => (200, String::new(), vec![b'x'; 10_000]),
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!()
        }
        "/echo" => {
            let echo = json!({
                "method": method,
                "target": target,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            let extra = format!("{json_type}x-echo: yes\r\nx-multi: a\r\nx-multi: b\r\n");
            (200, extra, echo.to_string().into_bytes())
        }
        _ => match path.strip_prefix("/status/") {
            Some(code) => (code.parse().unwrap(), String::new(), b"not here".to_vec()),
            None => (404, String::new(), Vec::new()),
        },
    }
}

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

async fn plain() -> Server {
    start(None).await
}

async fn https() -> (Server, Certs) {
    let certs = Certs::new();
    (
        start(Some(certs.acceptor(rustls::ALL_VERSIONS))).await,
        certs,
    )
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
