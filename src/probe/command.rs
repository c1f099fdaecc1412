//! The `command` probe: a local program, without a shell unless `shell` is asked for.
//!
//! The program runs in its own process group. Its timeout is a hard bound: at the deadline
//! it is killed with everything it started — its group, descendants that left the group
//! (`setsid`), whoever still holds its output pipes ([`tree`]) — and reading stops after a
//! short grace, keeping what was read (flagged truncated if cut off). A program that exits
//! leaving a daemon on its stdout ends the same way, a grace after it exits. Output is
//! capped per stream and drained past the cap ([`capture`]).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{Limits, Observation, ProbeError};
use crate::model::probe::Command;
use capture::{Captured, drain};
use tree::Tree;

/// Runs the command and observes it. Never panics; every failure is an observation.
pub async fn run(cmd: &Command, limits: Limits) -> Observation {
    let start = Instant::now();
    let mut obs = run_inner(cmd, limits).await;
    obs.duration = start.elapsed();
    obs
}

async fn run_inner(cmd: &Command, limits: Limits) -> Observation {
    let (program, args): (String, Vec<String>) = match (&cmd.argv, &cmd.shell) {
        (Some(argv), None) if !argv.is_empty() => (argv[0].clone(), argv[1..].to_vec()),
        (None, Some(script)) => ("sh".into(), vec!["-c".into(), script.clone()]),
        _ => {
            return failed(
                "invalid",
                "a command needs a non-empty `argv` or a `shell` script".into(),
            );
        }
    };
    let mut c = tokio::process::Command::new(&program);
    c.args(&args)
        .envs(&cmd.env)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &cmd.cwd {
        c.current_dir(dir);
    }
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "not_found",
                std::io::ErrorKind::PermissionDenied => "permission",
                _ => "spawn",
            };
            let what = if e.kind() == std::io::ErrorKind::NotFound && cmd.cwd.is_none() {
                format!("`{program}` is not installed or not on PATH")
            } else {
                format!("cannot start `{program}`: {e}")
            };
            return failed(reason, what);
        }
    };
    // If the run abandons this probe (a signal), everything it started goes with it.
    let group = child.id().map(|pid| pid as libc::pid_t);
    let mut guard = Guard(Some(Tree {
        child: group,
        pipes: [
            child.stdout.as_ref().and_then(tree::pipe_inode),
            child.stderr.as_ref().and_then(tree::pipe_inode),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }));
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let input = cmd.stdin.clone().map(String::into_bytes);
    let feed = async move {
        if let (Some(input), Some(mut stdin)) = (input, stdin) {
            // A program that exits without reading its input is not an error of ours.
            let _ = stdin.write_all(&input).await;
        }
    };
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let status = {
        let io = async {
            tokio::join!(
                feed,
                drain(stdout, limits.max_output, &mut out),
                drain(stderr, limits.max_output, &mut err),
            )
        };
        let mut io = std::pin::pin!(io);
        let mut io_done = false;
        let exited = loop {
            tokio::select! {
                s = child.wait() => break Some(s),
                _ = &mut io, if !io_done => io_done = true,
                _ = tokio::time::sleep_until(deadline) => break None,
            }
        };
        match exited {
            // The deadline: the program, its group, whatever left the group, and whoever
            // holds the pipes are killed; the output read so far is kept.
            None => {
                guard.kill();
                guard.0 = None;
                let _ = tokio::time::timeout(GRACE, child.wait()).await;
                if !io_done {
                    let _ = tokio::time::timeout(GRACE, &mut io).await;
                }
                None
            }
            // The program is gone; anything it left behind in its group goes too, and so
            // does a daemon still holding its output once the remaining output had a grace.
            Some(status) => {
                let pipes = guard.0.take().map(|t| t.pipes).unwrap_or_default();
                // SAFETY: killpg only sends a signal; the group is the one this probe created.
                if let Some(pgid) = group.filter(|p| *p > 1) {
                    unsafe { libc::killpg(pgid, libc::SIGKILL) };
                }
                // The program is reaped (its pid may be reused): from now on only the pipes
                // name what is left of it.
                guard.0 = Some(Tree { child: None, pipes });
                if !io_done && tokio::time::timeout(GRACE, &mut io).await.is_err() {
                    guard.kill();
                    let _ = tokio::time::timeout(GRACE, &mut io).await;
                }
                guard.0 = None;
                Some(status)
            }
        }
    };
    let mut obs = Observation {
        stdout: out.text(),
        stderr: err.text(),
        stdout_truncated: out.truncated(),
        stderr_truncated: err.truncated(),
        ..Observation::default()
    };
    match status {
        None => {
            obs.error = Some(ProbeError {
                reason: "timeout".into(),
                message: format!(
                    "`{program}` did not finish within {:?}; it and everything it started were killed",
                    limits.timeout
                ),
            });
            return obs;
        }
        Some(Ok(s)) => {
            use std::os::unix::process::ExitStatusExt;
            obs.exit = s.code();
            obs.signal = s.signal();
        }
        Some(Err(e)) => {
            obs.error = Some(ProbeError {
                reason: "spawn".into(),
                message: format!("waiting for `{program}`: {e}"),
            });
        }
    }
    obs.json = serde_json::from_str(obs.stdout.trim()).ok();
    obs
}

fn failed(reason: &str, message: String) -> Observation {
    Observation::error(reason, message)
}

/// How long output may still arrive once the program exited or was killed.
const GRACE: Duration = Duration::from_millis(250);

/// Kills the command's whole tree when dropped while armed (the probe was abandoned).
struct Guard(Option<Tree>);

impl Guard {
    fn kill(&self) {
        if let Some(tree) = &self.0 {
            tree.kill();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

mod capture;
mod orphans;
mod tree;

pub use orphans::{adopt_orphans, kill_leftovers};

#[cfg(test)]
mod tests;
