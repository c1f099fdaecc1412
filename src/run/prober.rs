//! How the scheduler reaches the probes: one dispatch point over the rendered probe JSON,
//! behind a trait so a run can be replayed or benchmarked without the network.

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::probe::{Command, Dns, Http, Ssh, Tcp};
use crate::model::shapes::IntOrTemplate;
use crate::probe::{self, Limits, Observation};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one rendered probe (`kind` + `spec` with secrets filled in).
pub trait Prober: Send + Sync + 'static {
    fn probe<'a>(
        &'a self,
        kind: &'a str,
        spec: &'a Value,
        limits: Limits,
    ) -> BoxFuture<'a, Observation>;
}

/// The real probes.
#[derive(Default)]
pub struct Live {
    http: probe::http::Pool,
    ssh: probe::ssh::Pool,
}

impl Live {
    /// Live probes whose SSH connections run up to `ssh_channels` commands at once.
    pub fn new(ssh_channels: usize) -> Live {
        Live {
            http: probe::http::Pool::default(),
            ssh: probe::ssh::Pool::new(probe::ssh::PoolOptions {
                channels_per_connection: ssh_channels.max(1),
                ..Default::default()
            }),
        }
    }
}

impl Prober for Live {
    fn probe<'a>(
        &'a self,
        kind: &'a str,
        spec: &'a Value,
        limits: Limits,
    ) -> BoxFuture<'a, Observation> {
        Box::pin(async move {
            match kind {
                "http" => match typed::<Http>(spec) {
                    Ok(h) => probe::http::run(&h, limits, &self.http).await,
                    Err(o) => *o,
                },
                "command" => match typed::<Command>(spec) {
                    Ok(c) => probe::command::run(&c, limits).await,
                    Err(o) => *o,
                },
                "tcp" => match typed::<Tcp>(spec) {
                    Ok(t) => match port(&t.port) {
                        Ok(p) => {
                            probe::tcp::run(
                                &t.host,
                                p,
                                t.send.as_deref(),
                                t.expect.as_deref().is_some_and(|e| !e.is_empty()),
                                limits,
                            )
                            .await
                        }
                        Err(o) => *o,
                    },
                    Err(o) => *o,
                },
                "ssh" => match typed::<Ssh>(spec) {
                    Ok(s) => probe::ssh::run(&s, limits, &self.ssh).await,
                    Err(o) => *o,
                },
                "dns" => match typed::<Dns>(spec) {
                    Ok(d) => probe::dns::run(&d, limits).await,
                    Err(o) => *o,
                },
                other => failed(
                    "unsupported",
                    format!("the `{other}` probe is not available in this build"),
                ),
            }
        })
    }
}

/// The per-endpoint limit's key: control-plane APIs and SSH hosts are protected from
/// a burst of concurrent checks; other probes are bounded only by `--jobs`.
pub fn endpoint(kind: &str, spec: &Value) -> Option<String> {
    match kind {
        "http" => {
            let url = spec.get("url")?.as_str()?;
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            let host = authority.rsplit('@').next().unwrap_or(authority);
            Some(format!("http:{host}"))
        }
        "ssh" => Some(format!(
            "ssh:{}@{}:{}",
            spec.get("user").and_then(Value::as_str).unwrap_or(""),
            spec.get("host")?.as_str()?,
            spec.get("port")
                .map(Value::to_string)
                .unwrap_or_else(|| "22".into())
        )),
        _ => None,
    }
}

fn typed<T: DeserializeOwned>(spec: &Value) -> Result<T, Box<Observation>> {
    serde_json::from_value(spec.clone()).map_err(|e| {
        Box::new(failed(
            "invalid",
            format!("the rendered probe is not valid: {e}"),
        ))
    })
}

fn port(p: &IntOrTemplate) -> Result<u16, Box<Observation>> {
    p.port().ok_or_else(|| {
        Box::new(failed(
            "usage",
            format!("{} is not a port number", p.shown()),
        ))
    })
}

/// An observation that says the probe could not run.
pub fn failed(reason: &str, message: String) -> Observation {
    Observation::error(reason, message)
}
