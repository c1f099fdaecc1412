//! Asynchronous work: every write PVE runs in a worker (reload, start, shutdown, config POST)
//! answers a UPID, `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`, and the
//! client polls `GET /nodes/{node}/tasks/{upid}/status` until `status` is `stopped`; then
//! `exitstatus` is `OK` or the error. Here a task stops on its second status poll or once
//! the lab's task duration has passed, whichever is first, and only then does its effect
//! happen to the lab.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::api::Params;

/// What a task does to the lab when it finishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `ifreload -a`: interfaces.new becomes the running network.
    Reload {
        node: String,
    },
    Start {
        vmid: u32,
    },
    Shutdown {
        vmid: u32,
    },
    Stop {
        vmid: u32,
    },
    /// An asynchronous config update (`POST …/config`).
    Config {
        vmid: u32,
        params: Params,
    },
}

#[derive(Debug, Clone)]
pub struct Task {
    pub upid: String,
    pub node: String,
    /// `srvreload`, `qmstart`, `qmshutdown`, `qmstop`, `qmconfig`.
    pub kind: String,
    pub id: String,
    pub user: String,
    pub pid: u32,
    pub pstart: u32,
    pub starttime: u64,
    pub started: Instant,
    pub status_polls: u32,
    /// Set when the task stopped: `OK` or why it failed.
    pub exitstatus: Option<String>,
    pub log: Vec<String>,
    pub effect: Effect,
}

impl Task {
    /// A running task; `seq` makes its pid unique.
    pub fn new(node: &str, kind: &str, id: &str, user: &str, seq: u32, effect: Effect) -> Task {
        let starttime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let pid = 0x0000_ABCD + seq;
        let pstart = 0x0001_E240 + seq * 7;
        let upid =
            format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{id}:{user}:");
        Task {
            upid,
            node: node.into(),
            kind: kind.into(),
            id: id.into(),
            user: user.into(),
            pid,
            pstart,
            starttime,
            started: Instant::now(),
            status_polls: 0,
            exitstatus: None,
            log: Vec::new(),
            effect,
        }
    }

    pub fn running(&self) -> bool {
        self.exitstatus.is_none()
    }

    /// Whether a running task has run long enough to stop.
    pub fn due(&self, duration: std::time::Duration) -> bool {
        self.running() && (self.status_polls >= 2 || self.started.elapsed() >= duration)
    }

    /// `GET …/tasks/{upid}/status`.
    pub fn status(&self) -> Value {
        let mut v = json!({
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.kind,
            "id": self.id,
            "user": self.user,
            "status": if self.running() { "running" } else { "stopped" },
        });
        if let Some(exit) = &self.exitstatus {
            v["exitstatus"] = exit.clone().into();
        }
        v
    }

    /// `GET …/tasks/{upid}/log`: `[{"n": 1, "t": "…"}, …]`, ending in `TASK OK` (or
    /// `TASK ERROR: …`) once stopped.
    pub fn log_lines(&self, start: usize, limit: usize) -> Value {
        let mut lines = self.log.clone();
        match self.exitstatus.as_deref() {
            None => {}
            Some("OK") => lines.push("TASK OK".into()),
            Some(err) => lines.push(format!("TASK ERROR: {err}")),
        }
        let rows: Vec<Value> = lines
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, t)| json!({"n": i + 1, "t": t}))
            .collect();
        Value::Array(rows)
    }
}
