//! How the scheduler reaches the probes: one dispatch point over the rendered probe JSON,
//! behind a trait so a run can be replayed or benchmarked without the network.

use std::future::Future;
use std::pin::Pin;

use crate::model::shapes::IntOrTemplate;
use crate::plan::Spec;
use crate::probe::{self, Limits, Observation};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one rendered probe (secrets filled in).
pub trait Prober: Send + Sync + 'static {
    fn probe<'a>(&'a self, spec: &'a Spec, limits: Limits) -> BoxFuture<'a, Observation>;
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
    fn probe<'a>(&'a self, spec: &'a Spec, limits: Limits) -> BoxFuture<'a, Observation> {
        Box::pin(async move {
            match spec {
                Spec::Http(h) => probe::http::run(h, limits, &self.http).await,
                Spec::Command(c) => probe::command::run(c, limits).await,
                Spec::Tcp(t) => match port(&t.port) {
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
                Spec::Ssh(s) => probe::ssh::run(s, limits, &self.ssh).await,
                Spec::Dns(d) => probe::dns::run(d, limits).await,
            }
        })
    }
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
