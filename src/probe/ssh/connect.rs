//! Opening an authenticated session along a route: TCP to the first hop, then for each
//! further hop a direct-tcpip channel of the previous session carries the next SSH session.
//! Every hop's host key is verified before its login, and every hop logs in with the same
//! credentials. The whole route gets the [`Budget`] of the checks waiting for it: TCP, key
//! exchange and login of every hop end when the most patient of them would time out.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use russh::ChannelStream;
use russh::client::{self, Handle, Msg};
use russh::keys::Algorithm;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::PoolOptions;
use super::auth::{self, Credentials};
use super::budget::Budget;
use super::error::{self, Reason, fail};
use super::hostkey::{Trust, Verifier};
use super::target::{Endpoint, Route};
use crate::probe::ProbeError;

/// A logged-in session to a route's host, and the jump sessions its tunnel runs through.
pub(super) struct Session {
    pub handle: Handle<Verifier>,
    /// Outermost first; kept so the tunnel lives as long as the session.
    _jumps: Vec<Handle<Verifier>>,
}

impl Session {
    /// Whether the connection is gone (reset, closed by the server, keepalive timeout).
    pub(super) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }
}

pub(super) async fn open(
    route: &Route,
    opts: &PoolOptions,
    budget: &Budget,
) -> Result<Session, ProbeError> {
    let started = std::time::Instant::now();
    let creds = Credentials::load(route, opts.agent_socket.as_deref()).await?;
    let last = route.hops.len().saturating_sub(1);
    let mut handles: Vec<Handle<Verifier>> = Vec::with_capacity(route.hops.len());
    for (i, hop) in route.hops.iter().enumerate() {
        // A pin names the final host's key; jump hosts are checked against known_hosts.
        let pin = if i == last { route.pin } else { None };
        let verifier = Verifier {
            hop: hop.clone(),
            trust: Trust::load(pin, &route.known_hosts, hop)?,
        };
        let step = async {
            match handles.last() {
                None => handshake(tcp(hop).await?, verifier, &creds, opts).await,
                Some(via) => {
                    let stream = tunnel(via, &route.hops[i - 1], hop).await?;
                    handshake(stream, verifier, &creds, opts).await
                }
            }
        };
        let handle = budget.run(step).await.ok_or_else(|| {
            fail(
                Reason::Timeout,
                format!(
                    "no SSH session with {hop} within the check's timeout ({:.1?}: connect, \
                     key exchange and login)",
                    started.elapsed()
                ),
            )
        })??;
        handles.push(handle);
    }
    let handle = handles
        .pop()
        .ok_or_else(|| fail(Reason::Usage, "an ssh route without a host".into()))?;
    Ok(Session {
        handle,
        _jumps: handles,
    })
}

/// A TCP connection from the jump host `via` to `hop`, as a stream for the next session.
async fn tunnel(
    via: &Handle<Verifier>,
    via_hop: &Endpoint,
    hop: &Endpoint,
) -> Result<ChannelStream<Msg>, ProbeError> {
    let doing = format!("opening a tunnel to {} through {via_hop}", hop.address());
    let channel = via
        .channel_open_direct_tcpip(hop.host.clone(), hop.port.into(), "127.0.0.1", 0)
        .await
        .map_err(|e| match e {
            russh::Error::ChannelOpenFailure(f) => error::tunnel_open(&f, &doing),
            e => error::ssh(e, &doing),
        })?;
    Ok(channel.into_stream())
}

/// A TCP connection to the first hop, trying each address it resolves to.
async fn tcp(hop: &Endpoint) -> Result<TcpStream, ProbeError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((hop.host.as_str(), hop.port))
        .await
        .map_err(|e| fail(Reason::Dns, format!("cannot resolve {}: {e}", hop.host)))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Many small request/reply packets: Nagle would delay each by up to 40 ms.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => fail(
            Reason::Tcp(crate::probe::tcp::reason(&e)),
            format!("connecting to {}: {e}", hop.address()),
        ),
        None => fail(Reason::Dns, format!("{} resolves to no address", hop.host)),
    })
}

/// Key exchange, host key check and login over `stream`.
async fn handshake<S>(
    stream: S,
    verifier: Verifier,
    creds: &Credentials,
    opts: &PoolOptions,
) -> Result<Handle<Verifier>, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hop = verifier.hop.clone();
    let config = Arc::new(config(opts, verifier.trust.preferred()));
    let mut handle = client::connect_stream(config, stream, verifier)
        .await
        .map_err(|e| error::handshake(e, &hop.to_string()))?;
    auth::login(&mut handle, &hop, creds).await?;
    Ok(handle)
}

fn config(opts: &PoolOptions, host_keys: Vec<Algorithm>) -> client::Config {
    client::Config {
        keepalive_interval: Some(opts.keepalive),
        keepalive_max: 3,
        nodelay: true,
        preferred: russh::Preferred {
            key: Cow::Owned(host_keys),
            ..russh::Preferred::default()
        },
        ..client::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keepalive_is_configured() {
        let opts = PoolOptions {
            keepalive: Duration::from_secs(7),
            ..PoolOptions::default()
        };
        let c = config(&opts, vec![Algorithm::Ed25519]);
        assert_eq!(c.keepalive_interval, Some(Duration::from_secs(7)));
        assert!(c.nodelay);
        assert_eq!(c.preferred.key.as_ref(), [Algorithm::Ed25519]);
    }
}
