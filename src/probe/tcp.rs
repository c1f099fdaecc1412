//! The `tcp` probe: connect, optionally send a line, optionally read a banner.
//!
//! The observation is JSON the catalog can query: `{connected, banner, address}`. A refused
//! or timed-out connection is an error with its reason class; whether that is `blocked` or
//! the `fail` under test is the catalog's classification (reachability says `fail`).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Limits, Observation};

/// How long to wait for a banner after connecting (within the probe's timeout).
const BANNER_WAIT: Duration = Duration::from_secs(2);

pub async fn run(
    host: &str,
    port: u16,
    send: Option<&str>,
    want_banner: bool,
    limits: Limits,
) -> Observation {
    let start = Instant::now();
    let mut obs = inner(host, port, send, want_banner, limits, start).await;
    obs.duration = start.elapsed();
    obs
}

async fn inner(
    host: &str,
    port: u16,
    send: Option<&str>,
    want_banner: bool,
    limits: Limits,
    start: Instant,
) -> Observation {
    let connect = tokio::time::timeout(limits.timeout, TcpStream::connect((host, port))).await;
    let mut stream = match connect {
        Err(_) => {
            return failed(
                "timeout",
                format!("no answer from {host}:{port} within {:?}", limits.timeout),
            );
        }
        Ok(Err(e)) => {
            let why = match reason(&e) {
                "refused" => "connection refused".to_string(),
                "no_route" => "no route to host".to_string(),
                _ => e.to_string(),
            };
            return failed(reason(&e), format!("{host}:{port}: {why}"));
        }
        Ok(Ok(s)) => s,
    };
    let address = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    if let Some(line) = send
        && let Err(e) = stream.write_all(line.as_bytes()).await
    {
        return failed(reason(&e), format!("sending to {host}:{port}: {e}"));
    }
    let mut banner = String::new();
    if want_banner || send.is_some() {
        let mut buf = vec![0u8; 4096];
        let wait = BANNER_WAIT.min(limits.timeout.saturating_sub(start.elapsed()));
        if let Ok(Ok(n)) = tokio::time::timeout(wait, stream.read(&mut buf)).await {
            let n = n.min(limits.max_output);
            banner = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
    }
    Observation {
        stdout: banner.clone(),
        json: Some(json!({ "connected": true, "banner": banner, "address": address })),
        ..Observation::default()
    }
}

fn failed(reason: &str, message: String) -> Observation {
    Observation {
        json: Some(json!({ "connected": false })),
        ..Observation::error(reason, message)
    }
}

/// The reason class of a socket error.
pub fn reason(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "refused",
        TimedOut => "timeout",
        HostUnreachable | NetworkUnreachable => "no_route",
        PermissionDenied => "permission",
        ConnectionReset | ConnectionAborted | BrokenPipe => "reset",
        _ if e.to_string().contains("failed to lookup address")
            || e.to_string().contains("Name or service not known") =>
        {
            "dns"
        }
        _ => "io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn limits(ms: u64) -> Limits {
        Limits {
            timeout: Duration::from_millis(ms),
            max_output: 1 << 16,
        }
    }

    #[tokio::test]
    async fn connects_and_reads_a_banner() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
        });
        let o = run("127.0.0.1", port, None, true, limits(2000)).await;
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(o.json.as_ref().unwrap()["connected"], true);
        assert!(o.stdout.starts_with("SSH-2.0-"));
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let o = run("127.0.0.1", port, None, false, limits(2000)).await;
        assert_eq!(o.reason().as_deref(), Some("refused"));
        assert_eq!(o.json.unwrap()["connected"], false);
    }
}
