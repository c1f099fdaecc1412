//! Attempts: `retry` re-probes after a transient error, never after a readable wrong
//! answer; `poll` re-probes until the expectation holds or its window ends. Every attempt
//! is recorded with why it ran.

use super::fake::{Answer::*, Fake};
use super::lab::{Lab, check};
use crate::run::{Cancel, Options, Status};

const RETRY2: &str = "retry: { count: 2, delay: 10ms }";

#[tokio::test]
async fn transient_errors_are_retried_until_an_answer() {
    let lab = Lab::new("", &[check("a", RETRY2)]);
    let cancel = Cancel::default();
    let fake = Fake::new(
        &cancel,
        &[("a", &[Error("timeout"), Error("refused"), Pass])],
    );
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.status("a"), Status::Pass);
    assert_eq!(
        out.attempts("a"),
        [
            ("first", Status::Blocked, Some("timeout")),
            ("retry", Status::Blocked, Some("refused")),
            ("retry", Status::Pass, None),
        ]
    );
    assert_eq!(fake.calls("a"), 3);
}

#[tokio::test]
async fn retries_stop_after_count_with_every_attempt_recorded() {
    let lab = Lab::new("", &[check("a", RETRY2)]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Error("timeout")])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.said("a").0, Status::Blocked);
    assert_eq!(out.said("a").1, Some("timeout"));
    assert_eq!(
        out.attempts("a"),
        [
            ("first", Status::Blocked, Some("timeout")),
            ("retry", Status::Blocked, Some("timeout")),
            ("retry", Status::Blocked, Some("timeout")),
        ]
    );
    assert_eq!(fake.calls("a"), 3);
}

#[tokio::test]
async fn a_wrong_answer_or_a_lasting_error_is_not_retried() {
    let lab = Lab::new("", &[check("wrong", RETRY2), check("auth", RETRY2)]);
    let cancel = Cancel::default();
    let fake = Fake::new(
        &cancel,
        &[("wrong", &[Wrong, Pass]), ("auth", &[Error("auth"), Pass])],
    );
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(
        out.attempts("wrong"),
        [("first", Status::Fail, Some("expectation"))]
    );
    assert_eq!(out.status("wrong"), Status::Fail);
    assert_eq!(
        out.attempts("auth"),
        [("first", Status::Blocked, Some("auth"))]
    );
    assert_eq!(fake.calls("wrong") + fake.calls("auth"), 2);
}

#[tokio::test]
async fn an_on_list_replaces_the_default_transient_classes() {
    let on = "retry: { count: 2, delay: 10ms, on: [throttled] }";
    let lab = Lab::new("", &[check("listed", on), check("unlisted", on)]);
    let cancel = Cancel::default();
    let fake = Fake::new(
        &cancel,
        &[
            ("listed", &[Error("throttled"), Pass]),
            ("unlisted", &[Error("timeout"), Pass]),
        ],
    );
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(
        out.attempts("listed"),
        [
            ("first", Status::Blocked, Some("throttled")),
            ("retry", Status::Pass, None),
        ]
    );
    assert_eq!(
        out.attempts("unlisted"),
        [("first", Status::Blocked, Some("timeout"))]
    );
}

#[tokio::test]
async fn poll_reprobes_until_the_expectation_holds() {
    let lab = Lab::new("", &[check("a", "poll: { every: 10ms, for: 5s }")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong, Wrong, Pass])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.status("a"), Status::Pass);
    assert_eq!(
        out.attempts("a"),
        [
            ("first", Status::Fail, Some("expectation")),
            ("poll", Status::Fail, Some("expectation")),
            ("poll", Status::Pass, None),
        ]
    );
    assert_eq!(fake.calls("a"), 3);
}

#[tokio::test]
async fn poll_gives_up_when_its_window_ends() {
    // 200 ms at one attempt per ≥10 ms: at most 21 attempts, and surely more than one.
    let lab = Lab::new("", &[check("a", "poll: { every: 10ms, for: 200ms }")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.said("a").0, Status::Fail);
    assert_eq!(out.said("a").1, Some("expectation"));
    let attempts = out.attempts("a");
    assert!((2..=21).contains(&attempts.len()), "{attempts:?}");
    assert_eq!(attempts[0].0, "first");
    assert!(attempts[1..].iter().all(|a| a.0 == "poll"), "{attempts:?}");
    assert_eq!(fake.calls("a"), attempts.len());
}

#[tokio::test]
async fn poll_waits_out_a_waitable_error_but_not_a_lasting_one() {
    let poll = "poll: { every: 10ms, for: 5s }";
    let lab = Lab::new("", &[check("booting", poll), check("auth", poll)]);
    let cancel = Cancel::default();
    let fake = Fake::new(
        &cancel,
        &[
            ("booting", &[Error("refused"), Pass]),
            ("auth", &[Error("auth"), Pass]),
        ],
    );
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(
        out.attempts("booting"),
        [
            ("first", Status::Blocked, Some("refused")),
            ("poll", Status::Pass, None),
        ]
    );
    assert_eq!(
        out.attempts("auth"),
        [("first", Status::Blocked, Some("auth"))]
    );
    assert_eq!(out.status("auth"), Status::Blocked);
}
