//! The live terminal view: a bar per group while its checks run (indicatif) when writing
//! to a terminal, plain lines otherwise. Either way a group that completes gets a line,
//! and so does every check that did not pass.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::Plan;
use crate::run::secrets::Secrets;
use crate::run::{CheckResult, Event, Reason, Reporter, Status};

pub struct Terminal {
    live: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    /// `catalog.group` → checks not finished yet, and the group's counts so far.
    open: HashMap<String, (usize, Counts)>,
    out: Box<dyn Write + Send>,
    secrets: Arc<Secrets>,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    pass: usize,
    fail: usize,
    blocked: usize,
    skipped: usize,
}

impl Terminal {
    /// `live`: draw bars (the output is a terminal). `out` gets the plain lines.
    pub fn new(plan: &Plan, live: bool, out: Box<dyn Write + Send>, secrets: Arc<Secrets>) -> Self {
        let mut open: HashMap<String, (usize, Counts)> = HashMap::new();
        for c in &plan.checks {
            open.entry(group_key(&c.catalog, &c.group)).or_default().0 += 1;
        }
        Terminal {
            live: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: HashMap::new(),
            open,
            out,
            secrets,
        }
    }

    fn say(&mut self, line: &str) {
        match &self.live {
            Some(mp) => {
                let _ = mp.println(line);
            }
            None => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }

    fn bar(&mut self, key: &str) -> Option<&ProgressBar> {
        let mp = self.live.as_ref()?;
        if !self.bars.contains_key(key) {
            let total = self.open.get(key).map(|o| o.0).unwrap_or(1) as u64;
            let b = mp.add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<32} {bar:24} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_prefix(key.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            self.bars.insert(key.to_string(), b);
        }
        self.bars.get(key)
    }

    fn finished(&mut self, plan: &Plan, index: usize, r: &CheckResult) {
        let c = &plan.checks[index];
        let key = group_key(&c.catalog, &c.group);
        if !matches!(r.status, Status::Pass | Status::Skipped) {
            let why = r
                .message
                .as_deref()
                .or(r.reason.as_ref().map(Reason::as_str))
                .map(|m| format!(" — {}", self.secrets.mask(m)))
                .unwrap_or_default();
            let line = format!("{:<8} {}{why}", label(r.status), c.id);
            self.say(&line);
        }
        if let Some(b) = self.bar(&key) {
            b.inc(1);
            b.set_message(c.check.clone());
        }
        let Some(entry) = self.open.get_mut(&key) else {
            return;
        };
        entry.0 = entry.0.saturating_sub(1);
        let counts = &mut entry.1;
        match r.status {
            Status::Pass | Status::Repaired | Status::Waived => counts.pass += 1,
            Status::Fail => counts.fail += 1,
            Status::Blocked => counts.blocked += 1,
            Status::Skipped => counts.skipped += 1,
        }
        if entry.0 == 0 {
            let k = entry.1;
            if let Some(b) = self.bars.remove(&key) {
                b.finish_and_clear();
            }
            if k.pass + k.fail + k.blocked > 0 {
                let line = format!(
                    "group    {key}: {} pass, {} fail, {} blocked{}",
                    k.pass,
                    k.fail,
                    k.blocked,
                    if k.skipped > 0 {
                        format!(", {} skipped", k.skipped)
                    } else {
                        String::new()
                    }
                );
                self.say(&line);
            }
        }
    }
}

fn group_key(catalog: &str, group: &str) -> String {
    format!("{catalog}.{group}")
}

pub fn label(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Repaired => "REPAIRED",
        Status::Blocked => "BLOCKED",
        Status::Skipped => "SKIPPED",
        Status::Waived => "WAIVED",
    }
}

impl Reporter for Terminal {
    fn event(&mut self, plan: &Plan, e: &Event<'_>) {
        match e {
            Event::CheckStarted { index } => {
                let c = &plan.checks[*index];
                let key = group_key(&c.catalog, &c.group);
                if let Some(b) = self.bar(&key) {
                    b.set_message(c.check.clone());
                }
            }
            Event::CheckFinished { index, result } => self.finished(plan, *index, result),
            Event::RunStarted | Event::Attempt { .. } => {}
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        for b in self.bars.values() {
            b.finish_and_clear();
        }
    }
}
