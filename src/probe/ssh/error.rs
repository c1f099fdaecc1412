//! Reason classes of what goes wrong while connecting: the runner turns these probe errors
//! into `blocked` (or whatever the catalog's classification says).

use russh::ChannelOpenFailure;

use crate::probe::ProbeError;

pub(super) fn fail(reason: &str, message: String) -> ProbeError {
    ProbeError {
        reason: reason.into(),
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
        HandshakeError::HostKey(message) => fail("hostkey", message),
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
                r @ ("refused" | "timeout" | "no_route" | "dns") => r,
                _ => "ssh",
            };
            fail(reason, format!("{doing}: {io}"))
        }
        ConnectionTimeout | KeepaliveTimeout | InactivityTimeout | Elapsed(_) => {
            fail("timeout", format!("{doing}: {e}"))
        }
        Disconnect | HUP | SendError | RecvError => fail(
            "ssh",
            format!("{doing}: the server closed the connection ({e})"),
        ),
        Keys(k) => fail("ssh", format!("{doing}: key error: {k}")),
        other => fail("ssh", format!("{doing}: {other}")),
    }
}

/// A channel the server would not open: through a jump host this is its TCP connect.
pub(super) fn channel_open(f: &ChannelOpenFailure, doing: &str) -> ProbeError {
    let (reason, what) = match f {
        ChannelOpenFailure::ConnectFailed => ("refused", "the server could not connect".into()),
        ChannelOpenFailure::AdministrativelyProhibited => (
            "ssh",
            "administratively prohibited (AllowTcpForwarding or MaxSessions?)".into(),
        ),
        ChannelOpenFailure::ResourceShortage => ("ssh", "resource shortage".into()),
        ChannelOpenFailure::UnknownChannelType => ("ssh", "unknown channel type".into()),
        ChannelOpenFailure::Other { code, reason } => ("ssh", format!("code {code}: {reason}")),
    };
    fail(reason, format!("{doing}: {what}"))
}
