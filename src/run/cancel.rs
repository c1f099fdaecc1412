//! Stopping a run: Ctrl-C (abandon what runs), `--fail-fast` (start nothing new) and, in
//! qualification, a substrate failure (stop everything).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

/// Stops a run from outside (Ctrl-C) or from inside (`--fail-fast`).
#[derive(Clone, Default)]
pub struct Cancel(Arc<(AtomicU8, Notify)>);

pub(super) const RUNNING: u8 = 0;
pub(super) const NO_NEW: u8 = 1;
pub(super) const INTERRUPTED: u8 = 2;
/// A substrate check failed during qualification: everything stops, like an interrupt.
pub(super) const INFRA: u8 = 3;

impl Cancel {
    /// Ctrl-C: in-flight probes are abandoned, nothing new starts.
    pub fn interrupt(&self) {
        self.0.0.store(INTERRUPTED, Ordering::SeqCst);
        self.0.1.notify_waiters();
        self.0.1.notify_one();
    }

    pub(super) fn stop_new(&self) {
        let _ = self
            .0
            .0
            .compare_exchange(RUNNING, NO_NEW, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub(super) fn state(&self) -> u8 {
        self.0.0.load(Ordering::SeqCst)
    }

    pub fn is_interrupted(&self) -> bool {
        self.state() == INTERRUPTED
    }

    /// Stops everything because the infrastructure failed (qualification).
    pub(super) fn infra_failure(&self) {
        self.0.0.store(INFRA, Ordering::SeqCst);
        self.0.1.notify_waiters();
        self.0.1.notify_one();
    }

    pub(super) async fn interrupted(&self) {
        while self.state() < INTERRUPTED {
            self.0.1.notified().await;
        }
    }

    pub(super) fn reason(&self) -> &'static str {
        match self.state() {
            INTERRUPTED => "cancelled: interrupted",
            INFRA => "cancelled: a substrate check failed (infra_failure), the run stopped",
            _ => "cancelled: --fail-fast after a required failure",
        }
    }
}
