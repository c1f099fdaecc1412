//! The `http` probe: one HTTP(S) request, observed as status, headers and body.
//!
//! A 4xx/5xx answer is an observation, not an error: the server answered. Errors are
//! transport failures (DNS, refused, timeout, TLS, …) classified into reason classes.
//! Clients are shared through a [`Pool`] so checks against one endpoint reuse connections.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

use super::tls_pin::{self, Fingerprint, PinMismatch};
use super::{Limits, Observation, ProbeError};
use crate::model::probe::{Http, Tls};

/// Methods the probe sends (matched case-insensitively).
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Shared HTTP clients: one [`reqwest::Client`] per distinct TLS trust setting (system
/// roots / CA file / pinned fingerprint), so connections are reused per endpoint across
/// checks. `Send + Sync`; share it via `Arc`.
#[derive(Default)]
pub struct Pool {
    clients: Mutex<HashMap<Trust, Client>>,
}

/// What a client trusts. A CA file is keyed by its path (read when the client is built).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Trust {
    System,
    CaFile(PathBuf),
    Pin(Fingerprint),
}

impl Pool {
    /// The client for a TLS setting, built on first use.
    fn client(&self, tls: Option<&Tls>) -> Result<Client, ProbeError> {
        let trust = trust(tls)?;
        let clients = || self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients().get(&trust) {
            return Ok(c.clone());
        }
        let built = build(&trust)?;
        Ok(clients().entry(trust).or_insert(built).clone())
    }
}

fn trust(tls: Option<&Tls>) -> Result<Trust, ProbeError> {
    let Some(tls) = tls else {
        return Ok(Trust::System);
    };
    match (&tls.ca_file, &tls.fingerprint) {
        (Some(_), Some(_)) => Err(usage(
            "`tls` takes either `ca_file` or `fingerprint`, not both".into(),
        )),
        (Some(path), None) => Ok(Trust::CaFile(path.into())),
        (None, Some(pin)) => Fingerprint::parse(pin).map(Trust::Pin).map_err(usage),
        (None, None) => Ok(Trust::System),
    }
}

fn build(trust: &Trust) -> Result<Client, ProbeError> {
    let builder = Client::builder()
        .user_agent(concat!("labcert/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(std::time::Duration::from_secs(90));
    let builder = match trust {
        Trust::System => builder.tls_backend_rustls(),
        Trust::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| usage(format!("cannot read CA file `{}`: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| usage(format!("`{}` holds no PEM certificate", path.display())))?;
            builder.tls_backend_rustls().tls_certs_only(certs)
        }
        Trust::Pin(pin) => {
            let config = tls_pin::client_config(*pin)
                .map_err(|e| usage(format!("TLS configuration: {e}")))?;
            builder.tls_backend_preconfigured(config)
        }
    };
    builder
        .build()
        .map_err(|e| usage(format!("building the HTTP client: {}", chain_message(&e))))
}

/// Sends the request and observes the answer. Never panics; every failure is an observation.
pub async fn run(spec: &Http, limits: Limits, pool: &Pool) -> Observation {
    let start = Instant::now();
    let mut obs = match request(spec, pool) {
        Err(e) => failed(e),
        Ok(req) => match tokio::time::timeout(limits.timeout, exchange(req, limits)).await {
            Ok(obs) => obs,
            Err(_) => failed(ProbeError {
                reason: "timeout".into(),
                message: format!("no answer from {} within {:?}", spec.url, limits.timeout),
            }),
        },
    };
    obs.duration = start.elapsed();
    obs
}

/// The request the spec describes, on the pool's client for its TLS setting.
fn request(spec: &Http, pool: &Pool) -> Result<RequestBuilder, ProbeError> {
    let method = spec.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(usage(format!(
            "unknown HTTP method `{method}` (one of {})",
            METHODS.join(", ")
        )));
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| usage(e.to_string()))?;
    let bodies = [
        spec.json.is_some(),
        spec.form.is_some(),
        spec.body.is_some(),
    ];
    if bodies.iter().filter(|b| **b).count() > 1 {
        return Err(usage(
            "an HTTP probe takes one of `json`, `form` or `body`".into(),
        ));
    }
    let mut req = pool.client(spec.tls.as_ref())?.request(method, &spec.url);
    for (name, value) in &spec.headers {
        req = req.header(name, value);
    }
    if !spec.query.is_empty() {
        req = req.query(&spec.query.iter().collect::<Vec<_>>());
    }
    if let Some(json) = &spec.json {
        req = req.json(json);
    } else if let Some(form) = &spec.form {
        req = req.form(&form_pairs(form)?);
    } else if let Some(body) = &spec.body {
        req = req.body(body.clone());
    }
    Ok(req)
}

/// A JSON object as form fields: scalars as text. A `null` field is not sent at all: a
/// value read as absent (a capture of a key the API omitted) stays absent, where an empty
/// field would tell the API to set it to "" (or clear it).
fn form_pairs(form: &Value) -> Result<Vec<(String, String)>, ProbeError> {
    let Value::Object(fields) = form else {
        return Err(usage(format!("`form` must be a table, not {form}")));
    };
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(usage(format!("form field `{k}` must be a scalar, not {v}")));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

async fn exchange(req: RequestBuilder, limits: Limits) -> Observation {
    let mut resp = match req.send().await {
        Ok(resp) => resp,
        Err(e) => return failed(classify(&e)),
    };
    let reason_phrase = resp
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
    let mut obs = Observation {
        status: Some(resp.status().as_u16()),
        reason_phrase,
        headers: Some(headers(&resp)),
        ..Observation::default()
    };
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(None) => break,
            Ok(Some(chunk)) => {
                let room = limits.max_output.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    obs.stdout_truncated = true;
                    break;
                }
            }
            Err(e) => {
                obs.error = Some(classify(&e));
                break;
            }
        }
    }
    if !obs.stdout_truncated && obs.error.is_none() {
        obs.json = serde_json::from_slice(&body).ok();
    }
    obs.stdout = String::from_utf8_lossy(&body).into_owned();
    obs
}

/// Response headers by lower-case name; repeated headers joined with ", ".
fn headers(resp: &Response) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in resp.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// The reason class of a request error, found by walking its source chain.
fn classify(e: &reqwest::Error) -> ProbeError {
    let error = |reason: &str| ProbeError {
        reason: reason.into(),
        message: chain_message(e),
    };
    if e.is_builder() {
        return error("usage");
    }
    if e.is_timeout() {
        return error("timeout");
    }
    for cause in chain(e) {
        if let Some(pin) = pin_mismatch(cause) {
            return ProbeError {
                reason: "tls".into(),
                message: pin.to_string(),
            };
        }
        if cause.is::<rustls::Error>() {
            return error("tls");
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match super::tcp::reason(io) {
                "io" => {}
                reason => return error(reason),
            }
        }
        let text = cause.to_string();
        if text == "dns error" {
            return error("dns");
        }
        // The server hung up in the middle of the TLS handshake.
        if text.contains("tls handshake eof") {
            return error("tls");
        }
    }
    error("http_error")
}

fn pin_mismatch<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a PinMismatch> {
    use rustls::{CertificateError, Error};
    match e.downcast_ref::<Error>()? {
        Error::InvalidCertificate(CertificateError::Other(other)) | Error::Other(other) => {
            other.0.downcast_ref()
        }
        _ => None,
    }
}

/// An error and its causes. An `io::Error`'s `source()` skips the error it wraps, so
/// the wrapped one is taken from `get_ref()` instead.
fn chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        out.push(cause);
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    out
}

/// The error with each cause not already part of the text: `a: b: c`.
fn chain_message(e: &(dyn StdError + 'static)) -> String {
    let mut message = String::new();
    for cause in chain(e) {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

fn usage(message: String) -> ProbeError {
    ProbeError {
        reason: "usage".into(),
        message,
    }
}

fn failed(error: ProbeError) -> Observation {
    Observation::failed(error)
}
