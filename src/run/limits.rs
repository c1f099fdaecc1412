//! The run's concurrency limits: `--jobs` in all, a catalog's named concurrency groups, and
//! a per-endpoint bound for control-plane APIs and SSH hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(super) struct Limits {
    global: Arc<Semaphore>,
    /// `catalog/name` → its semaphore.
    groups: HashMap<String, Arc<Semaphore>>,
    endpoints: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_endpoint: usize,
    /// Commands in flight on one SSH host (the connection's channels).
    per_ssh_host: usize,
}

/// Permits held while a check runs; dropped when it ends.
pub(super) struct Permits(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

impl Limits {
    pub(super) fn new(
        jobs: usize,
        per_endpoint: usize,
        per_ssh_host: usize,
        groups: HashMap<String, usize>,
    ) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(jobs.max(1))),
            groups: groups
                .into_iter()
                .map(|(k, n)| (k, Arc::new(Semaphore::new(n.max(1)))))
                .collect(),
            endpoints: Mutex::new(HashMap::new()),
            per_endpoint: per_endpoint.max(1),
            per_ssh_host: per_ssh_host.max(1),
        }
    }

    /// Waits for every permit the check needs, always in the same order (group, endpoint,
    /// global) so that no two checks can wait on each other.
    pub(super) async fn acquire(&self, group: Option<&str>, endpoint: Option<&str>) -> Permits {
        let mut held = Vec::with_capacity(3);
        if let Some(s) = group.and_then(|g| self.groups.get(g)) {
            held.push(permit(s.clone()).await);
        }
        if let Some(e) = endpoint {
            let s = {
                let mut map = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
                map.entry(e.to_string())
                    .or_insert_with(|| {
                        let n = if e.starts_with("ssh:") {
                            self.per_ssh_host
                        } else {
                            self.per_endpoint
                        };
                        Arc::new(Semaphore::new(n))
                    })
                    .clone()
            };
            held.push(permit(s).await);
        }
        held.push(permit(self.global.clone()).await);
        Permits(held)
    }
}

async fn permit(s: Arc<Semaphore>) -> OwnedSemaphorePermit {
    // The semaphores are never closed.
    s.acquire_owned().await.expect("semaphore closed")
}
