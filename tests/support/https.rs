//! A tiny HTTP/1.1 server on 127.0.0.1, plain or HTTPS with a leaf certificate from a
//! throw-away CA. Routes: `/json`, `/api2/json/version`, `/status/<n>`, `/echo`, `/big`,
//! `/hang`.
//!
//! Async tests call [`start`] inside their runtime; plain tests use [`Background`], which
//! serves from a thread with its own runtime and stops when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// A listening test server and the number of TCP connections it accepted.
pub struct Server {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }
}

/// The test certificates: a CA and a leaf for 127.0.0.1 signed by it.
pub struct Certs {
    pub ca_pem: String,
    pub leaf: rustls::pki_types::CertificateDer<'static>,
    pub leaf_key: Vec<u8>,
}

impl Certs {
    pub fn new() -> Certs {
        Certs::for_names(&["127.0.0.1".to_string()])
    }

    /// A CA and a leaf for `names` (DNS names or IP addresses) signed by it.
    pub fn for_names(names: &[String]) -> Certs {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(names.to_vec()).unwrap();
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();
        Certs {
            ca_pem: ca.pem(),
            leaf: cert.der().clone(),
            leaf_key: key.serialize_der(),
        }
    }

    /// The leaf's SHA-256 fingerprint as Proxmox shows it (upper-case colon hex).
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.leaf.as_ref());
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// A TLS acceptor presenting the leaf, speaking the given TLS versions.
    pub fn acceptor(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config(versions))
    }

    /// The server side presenting the leaf, speaking the given TLS versions (HTTP/1.1).
    pub fn server_config(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(self.leaf_key.clone());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf.clone()], key.into())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// Starts a server on 127.0.0.1 in the current runtime; HTTPS when given an acceptor.
pub async fn start(tls: Option<TlsAcceptor>) -> Server {
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

/// A plain HTTP server in the current runtime.
pub async fn plain() -> Server {
    start(None).await
}

/// An HTTPS server (TLS 1.2 and 1.3) in the current runtime, and its certificates.
pub async fn https() -> (Server, Certs) {
    let certs = Certs::new();
    (
        start(Some(certs.acceptor(rustls::ALL_VERSIONS))).await,
        certs,
    )
}

/// An HTTPS server for a plain (non-async) test: it serves from a thread with its own
/// runtime until dropped. Connections in flight are dropped with it.
pub struct Background {
    pub port: u16,
    /// The leaf certificate's SHA-256 fingerprint, upper-case colon hex.
    pub fingerprint: String,
    /// The CA that signed the leaf, PEM.
    pub ca_pem: String,
    pub connections: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts an HTTPS server on 127.0.0.1 and returns once it listens.
    pub fn https() -> Background {
        let certs = Certs::new();
        let acceptor = certs.acceptor(rustls::ALL_VERSIONS);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("https-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the HTTPS server");
                runtime.block_on(async move {
                    let server = start(Some(acceptor)).await;
                    let _ = ready_tx.send((server.addr, server.connections.clone()));
                    // Until the guard is dropped (or dropped without sending).
                    let _ = stop_rx.await;
                });
                // Dropping the runtime cancels the accept loop and every connection task.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("spawn the HTTPS server thread");
        let (addr, connections) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the HTTPS server did not start listening");
        Background {
            port: addr.port(),
            fingerprint: certs.fingerprint(),
            ca_pem: certs.ca_pem,
            connections,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
            if stream.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let Some((name, value)) = h.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
        }
        let length = headers
            .get("content-length")
            .map_or(0, |l| l.parse().unwrap());
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (status, extra, body) = route(&method, &target, headers, body).await;
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n{extra}\r\n",
            body.len()
        );
        let out = stream.get_mut();
        if out.write_all(head.as_bytes()).await.is_err()
            || out.write_all(&body).await.is_err()
            || out.flush().await.is_err()
        {
            return;
        }
    }
}

/// The server's pages.
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
        // What a Proxmox VE API answers for its version.
        "/api2/json/version" => {
            let v = json!({"data": {"version": "8.2.4", "release": "8.2", "repoid": "faa83925c9641325"}});
            (200, json_type, v.to_string().into_bytes())
        }
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
