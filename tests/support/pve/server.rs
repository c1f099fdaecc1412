//! pveproxy's side of the wire: HTTP/1.1 over TLS, token authentication, the `{"data": …}`
//! envelope, errors as reason phrases, and a log of every request.
//!
//! Authentication is `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`; anything
//! else is 401 (reason `No ticket`, `no such token …` or `invalid token value!`, empty
//! body), answered after pveproxy's delay for unauthorized calls. When the API's own node
//! has lost its management address the server never answers (the client times out).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::api::{Params, percent_decode};
use super::routes;
use super::state::State;

/// One request the fixture received.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// Decoded path, without the query string (`/api2/json/nodes/pve1/network`).
    pub path: String,
    pub query: String,
    /// Query and form parameters together, as PVE reads them.
    pub params: Params,
    /// The status answered; 0 when the request was never answered.
    pub status: u16,
}

impl Request {
    /// `GET /api2/json/version`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What the server threads share.
pub struct Shared {
    pub state: Mutex<State>,
    pub log: Mutex<Vec<Request>>,
    pub unauthorized_delay: Duration,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(&self) -> MutexGuard<'_, Vec<Request>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What becomes of a request.
enum Outcome {
    /// Nobody answers (the node's address is gone).
    Silence,
    Unauthorized(String),
    Reply(u16, String, Vec<u8>),
}

/// Answers HTTP/1.1 requests on one connection until the client closes it.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, shared: Arc<Shared>) {
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
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (status, reason, body) = match handle(&shared, &method, &target, &headers, &body) {
            Outcome::Silence => std::future::pending().await,
            Outcome::Unauthorized(reason) => {
                tokio::time::sleep(shared.unauthorized_delay).await;
                (401, reason, Vec::new())
            }
            Outcome::Reply(status, reason, body) => (status, reason, body),
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nserver: pve-api-daemon/3.0\r\ncache-control: max-age=0\r\n\
             content-type: application/json;charset=UTF-8\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let out = stream.get_mut();
        if out.write_all(head.as_bytes()).await.is_err()
            || out.write_all(&body).await.is_err()
            || out.flush().await.is_err()
        {
            return;
        }
        if headers
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            let _ = out.shutdown().await;
            return;
        }
    }
}

/// Decides the answer (under the state lock, which is never held across an await).
fn handle(
    shared: &Shared,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Outcome {
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = Params::parse(query);
    if matches!(method, "PUT" | "POST" | "DELETE") && !body.is_empty() {
        let text = String::from_utf8_lossy(body);
        let json = headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        match json.then(|| serde_json::from_str::<Value>(&text)) {
            Some(Ok(v)) => params.merge_json(&v),
            _ => params.merge(&text),
        }
    }
    let path = percent_decode(raw_path);
    let outcome = {
        let mut st = shared.state();
        st.tick();
        if !st.entry_reachable() {
            Outcome::Silence
        } else if let Err(reason) = authenticate(&st, headers.get("authorization")) {
            Outcome::Unauthorized(reason)
        } else {
            match raw_path.strip_prefix("/api2/json") {
                None => Outcome::Reply(404, "Not Found".into(), Vec::new()),
                Some(rest) => {
                    let segs: Vec<String> = rest
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(percent_decode)
                        .collect();
                    match routes::route(&mut st, method, &segs, &params) {
                        Ok(answer) => {
                            let mut v = json!({"data": answer.data});
                            if let Some(changes) = answer.changes {
                                v["changes"] = changes.into();
                            }
                            Outcome::Reply(200, "OK".into(), v.to_string().into_bytes())
                        }
                        Err(e) => Outcome::Reply(e.status, e.reason(), e.body()),
                    }
                }
            }
        }
    };
    let status = match &outcome {
        Outcome::Silence => 0,
        Outcome::Unauthorized(_) => 401,
        Outcome::Reply(s, ..) => *s,
    };
    shared.log().push(Request {
        method: method.into(),
        path,
        query: query.into(),
        params,
        status,
    });
    outcome
}

/// The token's user, or why the call is refused (the 401 reason phrase).
fn authenticate(st: &State, header: Option<&String>) -> Result<String, String> {
    let no_ticket = || "No ticket".to_string();
    let value = header.ok_or_else(no_ticket)?;
    let token = value
        .strip_prefix("PVEAPIToken=")
        .or_else(|| value.strip_prefix("PVEAPIToken "))
        .ok_or_else(no_ticket)?;
    let (id, secret) = token.split_once('=').ok_or_else(no_ticket)?;
    let (user, name) = id
        .split_once('!')
        .ok_or_else(|| format!("invalid token name '{id}'"))?;
    if id != st.token_id {
        return Err(format!("no such token '{name}' for user '{user}'"));
    }
    if secret != st.token_secret {
        return Err("invalid token value!".into());
    }
    Ok(id.to_string())
}
