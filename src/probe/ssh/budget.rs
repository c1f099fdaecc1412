//! How long a shared connect attempt may take: as long as the most patient check that is
//! waiting for it. Every check brings its own deadline (its start plus its `timeout`) and
//! pushes the route's budget out to it; the attempt gives up only when the latest deadline
//! has passed. A check never waits past its own deadline: it leaves the attempt to the
//! others.

use std::future::Future;
use std::sync::Mutex;

use tokio::time::Instant;

/// A deadline that only moves later.
#[derive(Debug)]
pub(super) struct Budget(Mutex<Instant>);

impl Default for Budget {
    fn default() -> Budget {
        Budget(Mutex::new(Instant::now()))
    }
}

impl Budget {
    /// A check that ends at `deadline` may wait for the attempt until then.
    pub(super) fn extend(&self, deadline: Instant) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *d = (*d).max(deadline);
    }

    fn get(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `fut` until it finishes (`Some`) or the budget, as extended meanwhile, is spent
    /// (`None`).
    pub(super) async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        loop {
            let deadline = self.get();
            match tokio::time::timeout_at(deadline, &mut fut).await {
                Ok(out) => return Some(out),
                Err(_) if self.get() <= deadline => return None,
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn a_later_waiter_extends_the_attempt() {
        let budget = Budget::default();
        let start = Instant::now();
        budget.extend(start + 100 * MS);
        let run = budget.run(tokio::time::sleep(250 * MS));
        let extend = async {
            tokio::time::sleep(50 * MS).await;
            budget.extend(start + 2000 * MS);
        };
        let (out, ()) = tokio::join!(run, extend);
        assert_eq!(out, Some(()));
        assert!(start.elapsed() < 1000 * MS, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn a_spent_budget_ends_the_attempt() {
        let budget = Budget::default();
        let start = Instant::now();
        budget.extend(start + 200 * MS);
        budget.extend(start + 100 * MS);
        let out = budget.run(std::future::pending::<()>()).await;
        assert_eq!(out, None);
        let took = start.elapsed();
        assert!(took >= 200 * MS && took < 1000 * MS, "{took:?}");
    }
}
