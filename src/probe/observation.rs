//! What a probe saw: one type for every probe kind, judged by `judge` and recorded in the
//! manifest.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// Why a probe could not produce a readable answer (transport, spawn, timeout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeError {
    /// Reason class: `dns`, `refused`, `timeout`, `tls`, `auth`, `permission`, `not_found`, …
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Observation {
    /// HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// HTTP reason phrase, when the server sent one other than the standard text for the
    /// status: PVE explains its errors there (`595 Errors during connection establishment,
    /// proxy handshake: No route to host`, `401 invalid token value!`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_phrase: Option<String>,
    /// HTTP response headers (lower-case names; repeated headers joined with ", ").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Exit code of a command or SSH command that exited normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// Signal that ended the command, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the cap was read and dropped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stdout_truncated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stderr_truncated: bool,
    /// The JSON queries run against: an HTTP body or stdout, when it parses as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ProbeError>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Observation {
    /// A probe that got no answer: only its error.
    pub fn failed(error: ProbeError) -> Observation {
        Observation {
            error: Some(error),
            ..Observation::default()
        }
    }

    /// [`Observation::failed`] from a reason class and a message.
    pub fn error(reason: &str, message: String) -> Observation {
        Observation::failed(ProbeError {
            reason: reason.into(),
            message,
        })
    }

    /// The reason class of the outcome: the error's, else `exit_<n>` / `signal_<n>` / `http_<code>`.
    pub fn reason(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.reason.clone());
        }
        match (self.exit, self.signal, self.status) {
            (Some(0), ..) => None,
            (Some(n), ..) => Some(format!("exit_{n}")),
            (_, Some(s), _) => Some(format!("signal_{s}")),
            (_, _, Some(c)) if !(200..300).contains(&c) => Some(format!("http_{c}")),
            _ => None,
        }
    }
}
