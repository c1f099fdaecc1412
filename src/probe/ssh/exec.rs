//! One command on one exec channel: stdout and stderr capped at `max_output` (and drained
//! past the cap, so the shared connection never stalls), the exit status or the signal, and
//! the check's deadline, after which the channel is closed and the connection stays.
//!
//! On a timeout the command is sent SIGKILL and its channel closed. OpenSSH cannot signal
//! the commands of root logins: such a command keeps running, its output pipes closed (a
//! writer dies of SIGPIPE), and its session counts against the server's `MaxSessions` until
//! it ends (the pool then sees refusals and lowers its channel limit, `limit.rs`).
//!
//! A channel the server refuses as over its session limit is handed back to the pool, which
//! waits and asks again. A channel still being opened when the deadline passes is closed as
//! soon as it opens, so an abandoned open never holds a server session.
//!
//! Messages are read until `Close`, not `Eof`: the exit status may come after EOF.

use std::sync::Arc;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Sig};
use tokio::time::Instant;

use super::connect::Session;
use super::error::{self, Reason, fail};
use super::limit::Place;
use super::target::Endpoint;
use crate::probe::{Limits, Observation, ProbeError};

pub(super) enum Outcome {
    /// The command was sent: what it did, or how it ended (timeout, connection lost, …).
    Ran(Box<Observation>),
    /// The server refused the channel as over its session limit; nothing ran.
    Refused(ChannelOpenFailure),
    /// The deadline passed before the server opened a channel; nothing ran.
    Expired,
    /// Nothing ran. `dead`: because the connection is gone, so another one may run it.
    NotStarted { error: ProbeError, dead: bool },
}

/// Output kept so far, and how the command ended.
struct Capture {
    cap: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    exit: Option<u32>,
    signal: Option<Sig>,
}

/// Why reading a channel stopped early.
enum Stop {
    NotStarted(ProbeError, bool),
    Refused(ChannelOpenFailure),
    /// The connection went away mid-command.
    Lost,
    /// The server refused the exec request.
    Failure,
}

/// Runs `command` on a new channel of `session`, in `place`, until `deadline`.
pub(super) async fn run(
    session: &Arc<Session>,
    place: &mut Place<'_>,
    command: &str,
    deadline: Instant,
    limits: Limits,
    host: &Endpoint,
) -> Outcome {
    let mut cap = Capture::new(limits.max_output);
    let mut channel = None;
    let driven = tokio::time::timeout_at(
        deadline,
        drive(session, place, command, &mut cap, &mut channel, host),
    )
    .await;
    let error = match driven {
        Ok(Ok(())) => None,
        Ok(Err(Stop::NotStarted(error, dead))) => return Outcome::NotStarted { error, dead },
        Ok(Err(Stop::Refused(why))) => return Outcome::Refused(why),
        Ok(Err(Stop::Lost)) => Some(fail(
            Reason::ConnectionLost,
            format!("the connection to {host} was lost while the command ran"),
        )),
        Ok(Err(Stop::Failure)) => Some(fail(
            Reason::Ssh,
            format!("{host} refused to run the command"),
        )),
        Err(_) => {
            let Some(ch) = channel.take() else {
                return Outcome::Expired;
            };
            // Past the deadline already: a connection too stuck to take the close in a
            // moment gets it on a task of its own.
            tokio::spawn(async move { close(&ch).await });
            Some(fail(
                Reason::Timeout,
                format!(
                    "the command did not finish within the check's timeout ({:?}) on {host}; \
                     its channel was closed",
                    limits.timeout
                ),
            ))
        }
    };
    let mut obs = cap.observation();
    if error.is_some() {
        obs.error = error;
    }
    Outcome::Ran(Box::new(obs))
}

async fn drive(
    session: &Arc<Session>,
    place: &mut Place<'_>,
    command: &str,
    cap: &mut Capture,
    slot: &mut Option<Channel<Msg>>,
    host: &Endpoint,
) -> Result<(), Stop> {
    let ch = slot.insert(open(session, host).await?);
    place.opened();
    ch.exec(true, command.as_bytes()).await.map_err(|e| {
        Stop::NotStarted(
            error::ssh(e, &format!("sending the command to {host}")),
            true,
        )
    })?;
    loop {
        match ch.wait().await {
            Some(ChannelMsg::Data { data }) => {
                keep(&mut cap.stdout, &mut cap.stdout_truncated, cap.cap, &data);
            }
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                keep(&mut cap.stderr, &mut cap.stderr_truncated, cap.cap, &data);
            }
            Some(ChannelMsg::ExitStatus { exit_status }) => cap.exit = Some(exit_status),
            Some(ChannelMsg::ExitSignal { signal_name, .. }) => cap.signal = Some(signal_name),
            Some(ChannelMsg::Failure) => {
                let _ = ch.close().await;
                return Err(Stop::Failure);
            }
            Some(ChannelMsg::Close) => return Ok(()),
            Some(_) => {}
            // The session ended without closing the channel: the connection is gone. An exit
            // already reported means the command itself completed.
            None if cap.exit.is_some() || cap.signal.is_some() => return Ok(()),
            None => return Err(Stop::Lost),
        }
    }
}

/// Opens a session channel. The open runs on its own task: if the caller gives up (its
/// deadline) before the answer, the task closes the channel the answer brings, so an
/// abandoned open never holds a server session.
async fn open(session: &Arc<Session>, host: &Endpoint) -> Result<Channel<Msg>, Stop> {
    let doing = format!("opening a channel on {host}");
    let s = session.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let opened = s.handle.channel_open_session().await;
        if let Err(Ok(ch)) = tx.send(opened) {
            let _ = ch.close().await;
        }
    });
    match rx.await {
        Ok(Ok(ch)) => Ok(ch),
        Ok(Err(russh::Error::ChannelOpenFailure(f))) if error::is_session_limit(&f) => {
            Err(Stop::Refused(f))
        }
        Ok(Err(russh::Error::ChannelOpenFailure(f))) => Err(Stop::NotStarted(
            fail(Reason::Ssh, format!("{doing}: {}", error::describe(&f))),
            false,
        )),
        Ok(Err(e)) => Err(Stop::NotStarted(error::ssh(e, &doing), true)),
        Err(_) => Err(Stop::NotStarted(
            fail(Reason::Ssh, format!("{doing}: the open was abandoned")),
            false,
        )),
    }
}

/// Asks the server to kill the command (OpenSSH honours `signal` requests except for root
/// logins), then closes the channel.
async fn close(ch: &Channel<Msg>) {
    let _ = ch.signal(Sig::KILL).await;
    let _ = ch.close().await;
}

fn keep(kept: &mut Vec<u8>, truncated: &mut bool, cap: usize, data: &[u8]) {
    let room = cap.saturating_sub(kept.len());
    kept.extend_from_slice(&data[..data.len().min(room)]);
    *truncated |= data.len() > room;
}

impl Capture {
    fn new(cap: usize) -> Capture {
        Capture {
            cap,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            exit: None,
            signal: None,
        }
    }

    fn observation(&mut self) -> Observation {
        let stdout = String::from_utf8_lossy(&self.stdout).into_owned();
        let mut obs = Observation {
            json: serde_json::from_str(stdout.trim()).ok(),
            stdout,
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
            stdout_truncated: self.stdout_truncated,
            stderr_truncated: self.stderr_truncated,
            ..Observation::default()
        };
        match (&self.signal, self.exit) {
            (Some(sig), _) => match number(sig) {
                Some(n) => obs.signal = Some(n),
                None => {
                    obs.error = Some(fail(
                        Reason::Signal,
                        format!("the command was killed by SIG{}", name(sig)),
                    ));
                }
            },
            (None, Some(code)) => obs.exit = Some(code as i32),
            (None, None) => {
                obs.error = Some(fail(
                    Reason::Ssh,
                    "the server closed the channel without an exit status".into(),
                ));
            }
        }
        obs
    }
}

fn name(sig: &Sig) -> &str {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    }
}

/// The signal's number (Linux numbering; the names RFC 4254 lists are the same everywhere).
fn number(sig: &Sig) -> Option<i32> {
    let n = match name(sig).trim_start_matches("SIG") {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return None,
    };
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name() {
        assert_eq!(number(&Sig::KILL), Some(9));
        assert_eq!(number(&Sig::TERM), Some(15));
        assert_eq!(number(&Sig::Custom("USR2".into())), Some(12));
        assert_eq!(number(&Sig::Custom("NOPE".into())), None);
    }

    #[test]
    fn capped_output_is_flagged() {
        let mut c = Capture::new(4);
        keep(&mut c.stdout, &mut c.stdout_truncated, c.cap, b"abc");
        keep(&mut c.stdout, &mut c.stdout_truncated, c.cap, b"def");
        keep(&mut c.stdout, &mut c.stdout_truncated, c.cap, b"ghi");
        c.exit = Some(0);
        let o = c.observation();
        assert_eq!(o.stdout, "abcd");
        assert!(o.stdout_truncated && !o.stderr_truncated);
        assert_eq!(o.exit, Some(0));
    }

    #[test]
    fn an_unknown_signal_is_not_a_success() {
        let mut c = Capture::new(4);
        c.signal = Some(Sig::Custom("WEIRD".into()));
        let o = c.observation();
        assert_eq!(o.exit, None);
        assert_eq!(o.reason().as_deref(), Some("signal"));
    }

    #[test]
    fn json_stdout_parses() {
        let mut c = Capture::new(100);
        keep(
            &mut c.stdout,
            &mut c.stdout_truncated,
            c.cap,
            b"{\"a\": 1}\n",
        );
        c.exit = Some(0);
        assert_eq!(c.observation().json, Some(serde_json::json!({"a": 1})));
    }
}
