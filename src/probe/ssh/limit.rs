//! How many exec channels one connection keeps open at once: at most `--ssh-channels`, and
//! fewer when the server refuses sessions.
//!
//! A server counts a session until its own teardown has finished (OpenSSH frees it on a
//! later turn of its loop than the one that read our close), so a client reopening channels
//! at once is sometimes refused while below the server's `MaxSessions`; a server may also
//! allow fewer sessions than we would open. Each refusal takes one place away (never the
//! last one): a server that allows two sessions brings eight places down to two with six
//! refusals. After a run of opens without a refusal the limit grows by one again, up to the
//! configured count, so a refusal that came from timing alone costs little.

use std::sync::Mutex;

use tokio::sync::futures::Notified;
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// Opens in a row, per channel of the limit, before it grows by one.
const GROW_AFTER: usize = 8;

pub(super) struct Limit {
    permits: Semaphore,
    max: usize,
    level: Mutex<Level>,
    closed: Notify,
}

#[derive(Debug)]
struct Level {
    /// The limit now.
    now: usize,
    /// Opens since the last change.
    streak: usize,
}

/// A channel's place under the limit, taken before asking the server for the channel.
pub(super) struct Place<'a> {
    limit: &'a Limit,
    permit: Option<SemaphorePermit<'a>>,
    open: bool,
}

impl Limit {
    pub(super) fn new(max: usize) -> Limit {
        let max = max.max(1);
        Limit {
            permits: Semaphore::new(max),
            max,
            level: Mutex::new(Level {
                now: max,
                streak: 0,
            }),
            closed: Notify::new(),
        }
    }

    /// Waits for a place (bounded by the callers' deadlines: every holder has one).
    pub(super) async fn place(&self) -> Option<Place<'_>> {
        let permit = self.permits.acquire().await.ok()?;
        Some(Place {
            limit: self,
            permit: Some(permit),
            open: false,
        })
    }

    /// The limit now.
    pub(super) fn now(&self) -> usize {
        self.level().now
    }

    /// Resolves when one of this connection's channels ends. Create it before looking at
    /// anything it should cover.
    pub(super) fn closed(&self) -> Notified<'_> {
        self.closed.notified()
    }

    fn level(&self) -> std::sync::MutexGuard<'_, Level> {
        self.level.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Place<'_> {
    /// The server opened the channel.
    pub(super) fn opened(&mut self) {
        self.open = true;
        let limit = self.limit;
        let mut l = limit.level();
        l.streak += 1;
        if l.now < limit.max && l.streak >= GROW_AFTER * l.now {
            l.now += 1;
            l.streak = 0;
            limit.permits.add_permits(1);
        }
    }

    /// The server refused the channel as over its session limit: this place goes away,
    /// unless it is the last one.
    pub(super) fn refused(mut self) {
        let mut l = self.limit.level();
        l.streak = 0;
        if l.now > 1
            && let Some(p) = self.permit.take()
        {
            l.now -= 1;
            p.forget();
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        if self.open {
            self.limit.closed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_refusal_takes_a_place_away() {
        let limit = Limit::new(8);
        let mut places = Vec::new();
        for _ in 0..8 {
            places.push(limit.place().await.unwrap());
        }
        // The server accepted two and refused the other six, all asked for at once.
        for p in &mut places[..2] {
            p.opened();
        }
        for p in places.drain(2..) {
            p.refused();
        }
        assert_eq!(limit.now(), 2);
        assert!(limit.permits.try_acquire().is_err(), "both places are held");
        drop(places);
        let a = limit.place().await.unwrap();
        let b = limit.place().await.unwrap();
        assert!(limit.permits.try_acquire().is_err(), "two places in all");
        drop((a, b));
    }

    #[tokio::test]
    async fn the_limit_grows_back_after_a_run_of_opens() {
        let limit = Limit::new(8);
        let p = limit.place().await.unwrap();
        p.refused();
        assert_eq!(limit.now(), 7);
        for _ in 0..GROW_AFTER * 7 - 1 {
            limit.place().await.unwrap().opened();
        }
        assert_eq!(limit.now(), 7);
        limit.place().await.unwrap().opened();
        assert_eq!(limit.now(), 8);
        let held: Vec<_> = hold(&limit, 8).await;
        assert!(limit.permits.try_acquire().is_err());
        drop(held);
    }

    async fn hold(limit: &Limit, n: usize) -> Vec<Place<'_>> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(limit.place().await.unwrap());
        }
        v
    }

    #[tokio::test]
    async fn the_limit_never_drops_below_one() {
        let limit = Limit::new(3);
        for _ in 0..5 {
            limit.place().await.unwrap().refused();
        }
        assert_eq!(limit.now(), 1);
        let p = limit.place().await.unwrap();
        assert!(limit.permits.try_acquire().is_err());
        drop(p);
    }

    #[tokio::test]
    async fn a_closing_channel_wakes_a_waiter() {
        let limit = Limit::new(2);
        let mut p = limit.place().await.unwrap();
        p.opened();
        let closed = limit.closed();
        drop(p);
        tokio::time::timeout(std::time::Duration::from_secs(1), closed)
            .await
            .expect("woken");
    }
}
