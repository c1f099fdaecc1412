//! TCP services the lab serves from threads of the test process, each on a listener made
//! inside its host's namespace: the package mirror (HTTP, 200 for the mirror path, 404
//! otherwise), the cloud control planes (HTTP or HTTPS, 403 to everything, like STS to a
//! bare GET) and
//! each PVE node's API port 8006, which behaves like a TLS server that cannot complete a
//! handshake: silent until the client speaks, then it hangs up (the reachability catalog
//! only asks whether the port is open).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use std::time::Duration;
use tokio_rustls::rustls;

/// The path of the mirror URL the lab serves.
pub const MIRROR_PATH: &str = "/ubuntu/dists/noble/Release";

/// What a listener does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mirror,
    CloudApi,
    /// Silent until the client sends something (or closes), then close.
    Port,
}

/// A listener served by a thread until dropped.
pub struct Server {
    pub host: &'static str,
    pub port: u16,
    pub kind: Kind,
    accepted: Arc<AtomicU32>,
    /// `METHOD PATH` of each HTTP request, in order.
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` until dropped; over TLS when given a server configuration.
    pub fn start(
        host: &'static str,
        listener: TcpListener,
        kind: Kind,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let accepted = Arc::new(AtomicU32::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, log, stopped) = (accepted.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        if kind == Kind::Port {
                            let stopped = stopped.clone();
                            std::thread::spawn(move || silent(s, &stopped));
                        } else {
                            // Each connection on its own thread: a client that connects and
                            // says nothing holds up no one else.
                            let (tls, log) = (tls.clone(), log.clone());
                            std::thread::spawn(move || {
                                let _ = s.set_nonblocking(false);
                                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                                match tls {
                                    Some(config) => {
                                        if let Ok(conn) = rustls::ServerConnection::new(config) {
                                            serve(rustls::StreamOwned::new(conn, s), kind, &log);
                                        }
                                    }
                                    None => serve(s, kind, &log),
                                }
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            host,
            port,
            kind,
            accepted,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// HTTP requests answered so far, as `METHOD PATH`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("request log").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Holds `s` without a word until the peer sends or closes (or the server stops).
fn silent(mut s: TcpStream, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        match s.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            _ => return,
        }
    }
}

/// Reads one request head and answers it.
fn serve(mut s: impl Read + Write, kind: Kind, log: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    log.lock()
        .expect("request log")
        .push(format!("{method} {path}"));
    let (status, body) = match kind {
        Kind::Mirror if path == MIRROR_PATH => (
            "200 OK",
            "Origin: netlab\nLabel: Ubuntu\nSuite: noble\nCodename: noble\n",
        ),
        Kind::Mirror => ("404 Not Found", "not in the mirror\n"),
        _ => (
            "403 Forbidden",
            "{\"error\":\"the request carries no credentials\"}\n",
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(response.as_bytes());
    let _ = s.flush();
}
