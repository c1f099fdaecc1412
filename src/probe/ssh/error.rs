//! Reason classes of what goes wrong on an SSH route: the runner turns these probe errors
//! into `blocked` (or whatever the catalog's classification says).

use russh::ChannelOpenFailure;

use crate::probe::ProbeError;

/// The reason class of an ssh probe error, as the manifest and `classify` rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// A class the TCP probe's classifier gave a socket error (`refused`, `timeout`,
    /// `no_route`, `dns`, `reset`, …).
    Tcp(&'static str),
    Timeout,
    Dns,
    HostKey,
    Auth,
    /// The runner cannot read its own key.
    Identity,
    /// The SSH protocol itself failed, or the server said no to something other than a
    /// session.
    Ssh,
    /// A bad spec.
    Usage,
    /// The connection dropped while the command ran.
    ConnectionLost,
    /// The server refused every session (exec channel) the check asked for within its
    /// timeout, on a connection that was otherwise fine: its `MaxSessions`, or sessions it
    /// still counts (commands of timed-out checks that it cannot kill).
    SessionsRefused,
    /// The command was killed by a signal without a number.
    Signal,
}

impl Reason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::Tcp(class) => class,
            Reason::Timeout => "timeout",
            Reason::Dns => "dns",
            Reason::HostKey => "hostkey",
            Reason::Auth => "auth",
            Reason::Identity => "identity",
            Reason::Ssh => "ssh",
            Reason::Usage => "usage",
            Reason::ConnectionLost => "connection_lost",
            Reason::SessionsRefused => "sessions_refused",
            Reason::Signal => "signal",
        }
    }
}

pub(super) fn fail(reason: Reason, message: String) -> ProbeError {
    ProbeError {
        reason: reason.as_str().into(),
        message,
    }
}

/// Why a handshake with one hop ended: the host key check said no, or SSH itself failed.
#[derive(Debug)]
pub(super) enum HandshakeError {
    /// Host key rejected; the message says why (unknown or changed, with fingerprints).
    HostKey(String),
    Ssh(russh::Error),
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> HandshakeError {
        HandshakeError::Ssh(e)
    }
}

/// A failed handshake with `hop` (`user@host:port`).
pub(super) fn handshake(e: HandshakeError, hop: &str) -> ProbeError {
    match e {
        HandshakeError::HostKey(message) => fail(Reason::HostKey, message),
        HandshakeError::Ssh(e) => ssh(e, &format!("SSH handshake with {hop}")),
    }
}

/// A russh error during `doing` (a phrase such as "SSH handshake with root@h:22").
pub(super) fn ssh(e: russh::Error, doing: &str) -> ProbeError {
    use russh::Error::*;
    match e {
        IO(io) => {
            // Refused and unreachable keep their class; a connection cut mid-protocol is `ssh`.
            let reason = match crate::probe::tcp::reason(&io) {
                r @ ("refused" | "timeout" | "no_route" | "dns") => Reason::Tcp(r),
                _ => Reason::Ssh,
            };
            fail(reason, format!("{doing}: {io}"))
        }
        ConnectionTimeout | KeepaliveTimeout | InactivityTimeout | Elapsed(_) => {
            fail(Reason::Timeout, format!("{doing}: {e}"))
        }
        Disconnect | HUP | SendError | RecvError => fail(
            Reason::Ssh,
            format!("{doing}: the server closed the connection ({e})"),
        ),
        Keys(k) => fail(Reason::Ssh, format!("{doing}: key error: {k}")),
        other => fail(Reason::Ssh, format!("{doing}: {other}")),
    }
}

/// A direct-tcpip channel the jump host would not open: `ConnectFailed` is its TCP connect
/// to the next hop (`refused`).
pub(super) fn tunnel_open(f: &ChannelOpenFailure, doing: &str) -> ProbeError {
    let (reason, what) = match f {
        ChannelOpenFailure::ConnectFailed => (
            Reason::Tcp("refused"),
            "the server could not connect".into(),
        ),
        ChannelOpenFailure::AdministrativelyProhibited => (
            Reason::Ssh,
            "administratively prohibited (AllowTcpForwarding?)".into(),
        ),
        other => (Reason::Ssh, describe(other)),
    };
    fail(reason, format!("{doing}: {what}"))
}

/// What a channel-open refusal said, for messages.
pub(super) fn describe(f: &ChannelOpenFailure) -> String {
    match f {
        ChannelOpenFailure::ConnectFailed => "refused (connect failed)".into(),
        ChannelOpenFailure::AdministrativelyProhibited => "administratively prohibited".into(),
        ChannelOpenFailure::ResourceShortage => "resource shortage".into(),
        ChannelOpenFailure::UnknownChannelType => "unknown channel type".into(),
        ChannelOpenFailure::Other { code, reason } => format!("code {code}: {reason}"),
    }
}

/// Whether a refused session channel is the server's session limit (OpenSSH answers a
/// session over `MaxSessions` with `ConnectFailed`; others say prohibited or short of
/// resources) rather than a server that cannot run sessions at all.
pub(super) fn is_session_limit(f: &ChannelOpenFailure) -> bool {
    matches!(
        f,
        ChannelOpenFailure::ConnectFailed
            | ChannelOpenFailure::AdministrativelyProhibited
            | ChannelOpenFailure::ResourceShortage
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_limits_are_told_from_other_refusals() {
        assert!(is_session_limit(&ChannelOpenFailure::ConnectFailed));
        assert!(is_session_limit(
            &ChannelOpenFailure::AdministrativelyProhibited
        ));
        assert!(is_session_limit(&ChannelOpenFailure::ResourceShortage));
        assert!(!is_session_limit(&ChannelOpenFailure::UnknownChannelType));
    }

    #[test]
    fn a_jump_host_that_cannot_connect_is_refused() {
        let e = tunnel_open(&ChannelOpenFailure::ConnectFailed, "tunnel");
        assert_eq!(e.reason, "refused");
        let e = tunnel_open(&ChannelOpenFailure::AdministrativelyProhibited, "tunnel");
        assert_eq!(e.reason, "ssh");
        assert_eq!(Reason::SessionsRefused.as_str(), "sessions_refused");
    }
}
