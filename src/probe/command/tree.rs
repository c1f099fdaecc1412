//! Everything a command started, found through `/proc` and killed: its process group, its
//! descendants (also those that left the group with `setsid`), and any process still holding
//! the write end of its output pipes (a daemon whose parent already exited).
//!
//! Killing is freeze-then-kill: every process found is stopped (SIGSTOP) so it cannot fork
//! any more, the search is repeated until it finds nothing new, then all get SIGKILL.

use std::collections::{HashMap, HashSet};

type Pid = libc::pid_t;

/// A process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: Pid,
    ppid: Pid,
    pgid: Pid,
}

/// What one command started: its program's pid (also its process group's id) and the
/// inodes of the pipes labcert reads its output from.
#[derive(Debug, Default)]
pub(super) struct Tree {
    pub(super) child: Option<Pid>,
    pub(super) pipes: Vec<u64>,
}

impl Tree {
    /// Kills the program, its group, its descendants and whoever holds its output pipes.
    pub(super) fn kill(&self) {
        let child = self.child.filter(|p| *p > 1);
        let pipes = self.pipes.clone();
        let killed = freeze_and_kill(|procs| {
            let mut roots: Vec<Pid> = Vec::new();
            if let Some(c) = child {
                roots.push(c);
                roots.extend(procs.iter().filter(|p| p.pgid == c).map(|p| p.pid));
            }
            roots.extend(pipe_writers(procs, &pipes));
            roots
        });
        if let Some(c) = child {
            // SAFETY: killpg only sends a signal; the group is the one this command created.
            unsafe { libc::killpg(c, libc::SIGKILL) };
        }
        // The program itself is tokio's to reap; orphans labcert adopted are ours.
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        reap(
            killed
                .iter()
                .filter(|p| p.ppid == me && Some(p.pid) != child)
                .map(|p| p.pid)
                .collect(),
        );
    }
}

/// Kills every descendant of labcert (with `PR_SET_CHILD_SUBREAPER`, orphans are ours too).
/// For the moment labcert exits: nothing is reaped.
pub(super) fn kill_descendants_of_self() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    freeze_and_kill(|procs| {
        procs
            .iter()
            .filter(|p| p.ppid == me)
            .map(|p| p.pid)
            .collect()
    });
}

/// Stops `roots(procs)` and all their descendants, again until nothing new is found, then
/// kills them all. Returns what it killed.
fn freeze_and_kill(roots: impl Fn(&[Proc]) -> Vec<Pid>) -> Vec<Proc> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let mut frozen: Vec<Proc> = Vec::new();
    let mut seen: HashSet<Pid> = HashSet::new();
    for _ in 0..16 {
        let procs = snapshot();
        let mut start = roots(&procs);
        start.extend(frozen.iter().map(|p| p.pid));
        let fresh: Vec<Proc> = descendants(&procs, &start)
            .into_iter()
            .filter(|p| p.pid > 1 && p.pid != me && !seen.contains(&p.pid))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for p in fresh {
            // SAFETY: only sends a signal, to a process this command started.
            unsafe { libc::kill(p.pid, libc::SIGSTOP) };
            seen.insert(p.pid);
            frozen.push(p);
        }
    }
    for p in &frozen {
        // SAFETY: as above; SIGKILL ends a stopped process too.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    frozen
}

/// Reaps killed orphans labcert adopted as subreaper (never a child tokio waits for), on a
/// thread of its own: a killed process takes a moment to become a zombie.
fn reap(pids: Vec<Pid>) {
    if pids.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("labcert-reap".into())
        .spawn(move || {
            for _ in 0..200 {
                let left = pids.iter().any(|pid| {
                    let mut status = 0;
                    // SAFETY: waits only for this pid, without blocking.
                    let r = unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
                    r == 0
                });
                if !left {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
}

/// Every process in `/proc` now.
fn snapshot() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<Pid>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &stat)
        })
        .collect()
}

/// `pid (comm) state ppid pgrp …`; `comm` may hold spaces and parentheses.
fn parse_stat(pid: Pid, stat: &str) -> Option<Proc> {
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(Proc { pid, ppid, pgid })
}

/// The processes in `roots` that exist, and all their descendants.
fn descendants(procs: &[Proc], roots: &[Pid]) -> Vec<Proc> {
    let by_pid: HashMap<Pid, Proc> = procs.iter().map(|p| (p.pid, *p)).collect();
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found: HashSet<Pid> = HashSet::new();
    let mut todo: Vec<Pid> = roots.to_vec();
    let mut out = Vec::new();
    while let Some(pid) = todo.pop() {
        let Some(p) = by_pid.get(&pid) else { continue };
        if !found.insert(pid) {
            continue;
        }
        out.push(*p);
        todo.extend(children.get(&pid).into_iter().flatten());
    }
    out
}

/// Processes holding one of `pipes` open for writing. labcert holds only the read ends, so
/// a process forked by labcert (before its exec closes them) never matches.
fn pipe_writers(procs: &[Proc], pipes: &[u64]) -> Vec<Pid> {
    if pipes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = pipes.iter().map(|i| format!("pipe:[{i}]")).collect();
    procs
        .iter()
        .filter(|p| writes_to(p.pid, &wanted))
        .map(|p| p.pid)
        .collect()
}

fn writes_to(pid: Pid, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        let is_pipe = std::fs::read_link(fd.path())
            .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()));
        is_pipe && opened_for_writing(pid, &fd.file_name().to_string_lossy())
    })
}

/// `flags:` in `/proc/<pid>/fdinfo/<fd>` is octal; the access mode is its low two bits.
fn opened_for_writing(pid: Pid, fd: &str) -> bool {
    let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|f| f & i64::from(libc::O_ACCMODE) != i64::from(libc::O_RDONLY))
}

/// The inode of a pipe (both of its ends share it).
pub(super) fn pipe_inode(fd: &impl std::os::fd::AsFd) -> Option<u64> {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    use std::os::unix::fs::MetadataExt;
    Some(meta.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let p = parse_stat(42, "42 (a (b) c) S 7 42 42 0 -1").unwrap();
        assert_eq!((p.pid, p.ppid, p.pgid), (42, 7, 42));
        assert!(parse_stat(43, "43 (zombie) Z 7 43 43").is_none());
    }

    #[test]
    fn descendants_follow_parent_links() {
        let procs = [(1, 0), (10, 1), (11, 10), (12, 11), (20, 1)]
            .map(|(pid, ppid)| Proc {
                pid,
                ppid,
                pgid: pid,
            })
            .to_vec();
        let mut found: Vec<Pid> = descendants(&procs, &[10, 99])
            .iter()
            .map(|p| p.pid)
            .collect();
        found.sort();
        assert_eq!(found, [10, 11, 12]);
    }
}
