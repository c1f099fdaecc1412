//! The `command` probe: a local program, without a shell unless `shell` is asked for.
//!
//! The program runs in its own process group, so a timeout kills it *and* everything it
//! started (no orphans). Output is capped per stream, and the streams keep being drained
//! past the cap so the program never blocks on a full pipe.

use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{Limits, Observation, ProbeError};
use crate::model::probe::Command;

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
    let group = child.id().map(|pid| pid as libc::pid_t);
    // If the run abandons this probe (Ctrl-C), the whole group goes with it.
    let mut guard = GroupGuard(group);
    if let (Some(input), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
        let input = input.clone().into_bytes();
        tokio::spawn(async move {
            // A program that exits without reading its input is not an error of ours.
            let _ = stdin.write_all(&input).await;
        });
    }
    let out = tokio::spawn(capped(child.stdout.take(), limits.max_output));
    let err = tokio::spawn(capped(child.stderr.take(), limits.max_output));
    let status = match tokio::time::timeout(limits.timeout, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            kill_group(group);
            let _ = child.wait().await;
            guard.0 = None;
            let mut obs = collect(out, err).await;
            obs.error = Some(ProbeError {
                reason: "timeout".into(),
                message: format!(
                    "`{program}` did not finish within {:?}; its process group was killed",
                    limits.timeout
                ),
            });
            return obs;
        }
    };
    // The program is gone; anything it left behind in its group goes too.
    kill_group(group);
    guard.0 = None;
    let mut obs = collect(out, err).await;
    match status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            obs.exit = s.code();
            obs.signal = s.signal();
        }
        Err(e) => {
            obs.error = Some(ProbeError {
                reason: "spawn".into(),
                message: format!("waiting for `{program}`: {e}"),
            })
        }
    }
    obs.json = serde_json::from_str(obs.stdout.trim()).ok();
    obs
}

fn failed(reason: &str, message: String) -> Observation {
    Observation {
        error: Some(ProbeError {
            reason: reason.into(),
            message,
        }),
        ..Observation::default()
    }
}

/// Kills the process group when dropped while armed.
struct GroupGuard(Option<libc::pid_t>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(group: Option<libc::pid_t>) {
    if let Some(pgid) = group.filter(|p| *p > 0) {
        // SAFETY: killpg only sends a signal; the group is the one this probe created.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

type Reader = tokio::task::JoinHandle<(Vec<u8>, bool)>;

async fn collect(out: Reader, err: Reader) -> Observation {
    let (stdout, stdout_truncated) = out.await.unwrap_or_default();
    let (stderr, stderr_truncated) = err.await.unwrap_or_default();
    Observation {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        stdout_truncated,
        stderr_truncated,
        ..Observation::default()
    }
}

/// Reads a stream to its end, keeping at most `cap` bytes.
async fn capped<R: AsyncRead + Unpin>(stream: Option<R>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut stream) = stream else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (kept, truncated)
}

#[cfg(test)]
mod tests;
