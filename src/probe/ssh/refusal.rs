//! A check whose channel the server refused as over its session limit: it waits — for one
//! of the connection's own channels to end, or a short, growing, jittered pause, whichever
//! comes first — and asks again, until its deadline. Only a check that never got a channel
//! by then ends, with `sessions_refused` (the server refused sessions; `refused` means TCP
//! refused).

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use russh::ChannelOpenFailure;
use tokio::time::Instant;

use super::error::{self, Reason, fail};
use super::limit::Limit;
use super::target::Endpoint;
use crate::probe::ProbeError;

/// The first pause after a refusal; each further refusal of the same check doubles it.
const FIRST: Duration = Duration::from_millis(2);
/// The longest pause.
const LONGEST: Duration = Duration::from_millis(200);
/// After one of our channels ended: time for the server to finish that session's teardown.
const SETTLE: Duration = Duration::from_millis(2);

/// The refusals one check has seen.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    count: u32,
    last: Option<ChannelOpenFailure>,
}

impl Refusals {
    pub(super) fn add(&mut self, why: ChannelOpenFailure) {
        self.count += 1;
        self.last = Some(why);
    }

    /// Waits before asking again; `false` when the deadline has passed.
    pub(super) async fn pause(&self, limit: &Limit, deadline: Instant) -> bool {
        let closed = limit.closed();
        let doubling = FIRST.saturating_mul(1 << self.count.min(16));
        let pause = jitter(doubling.min(LONGEST));
        let until = (Instant::now() + pause).min(deadline);
        tokio::select! {
            () = closed => {
                let settle = (Instant::now() + jitter(SETTLE)).min(deadline);
                tokio::time::sleep_until(settle).await;
            }
            () = tokio::time::sleep_until(until) => {}
        }
        Instant::now() < deadline
    }

    /// The check's deadline passed with every channel refused.
    pub(super) fn error(&self, host: &Endpoint, limit: &Limit, timeout: Duration) -> ProbeError {
        let last = self.last.as_ref().map(error::describe).unwrap_or_default();
        fail(
            Reason::SessionsRefused,
            format!(
                "{host} refused all {} sessions this check asked for within its timeout \
                 ({timeout:?}; last answer: {last}), on a working connection: the server's \
                 MaxSessions, or sessions it still counts (the connection is down to {} \
                 channels)",
                self.count,
                limit.now()
            ),
        )
    }

    /// No channel of the connection came free before the deadline.
    pub(super) fn busy(&self, host: &Endpoint, limit: &Limit, timeout: Duration) -> ProbeError {
        if self.count > 0 {
            return self.error(host, limit, timeout);
        }
        fail(
            Reason::Timeout,
            format!(
                "all {} channels of the connection to {host} stayed busy for the check's \
                 whole timeout ({timeout:?}); the command was not sent",
                limit.now()
            ),
        )
    }

    /// The deadline passed while the server had not yet answered a channel open.
    pub(super) fn unopened(&self, host: &Endpoint, limit: &Limit, timeout: Duration) -> ProbeError {
        if self.count > 0 {
            return self.error(host, limit, timeout);
        }
        fail(
            Reason::Timeout,
            format!(
                "{host} did not open a channel within the check's timeout ({timeout:?}); the \
                 command was not sent"
            ),
        )
    }
}

/// A random duration between half of `d` and `d`, so refused checks do not retry in step.
fn jitter(d: Duration) -> Duration {
    let random = RandomState::new().hash_one(Instant::now());
    let half = d / 2;
    half + Duration::from_nanos(random % (half.as_nanos() as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(10));
            assert!(
                j >= Duration::from_millis(5) && j <= Duration::from_millis(10),
                "{j:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_pause_ends_at_the_deadline() {
        let limit = Limit::new(1);
        let mut r = Refusals::default();
        for _ in 0..10 {
            r.add(ChannelOpenFailure::ConnectFailed);
        }
        let start = Instant::now();
        let more = r.pause(&limit, start + Duration::from_millis(20)).await;
        assert!(!more);
        assert!(start.elapsed() < Duration::from_millis(150));
    }

    #[tokio::test]
    async fn a_closing_channel_ends_the_pause_early() {
        let limit = Limit::new(2);
        let mut open = limit.place().await.unwrap();
        open.opened();
        let mut r = Refusals::default();
        for _ in 0..10 {
            r.add(ChannelOpenFailure::AdministrativelyProhibited);
        }
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        let (more, ()) = tokio::join!(r.pause(&limit, deadline), async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(open);
        });
        assert!(more);
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        let host = Endpoint {
            user: "u".into(),
            host: "h".into(),
            port: 22,
        };
        let e = r.error(&host, &limit, Duration::from_secs(1));
        assert_eq!(e.reason, "sessions_refused");
        assert!(
            e.message.contains("refused all 10 sessions"),
            "{}",
            e.message
        );
    }
}
