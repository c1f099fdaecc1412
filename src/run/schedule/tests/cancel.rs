//! Interrupting a run (Ctrl-C): running probes are abandoned, nothing new starts, the run
//! returns promptly and nothing unfinished is `pass`.

use super::fake::{Answer::*, Edge::*, Fake};
use super::lab::{Lab, check};
use crate::run::{Cancel, Options, Reason, Status};

const WHY: &str = "cancelled: interrupted";

#[tokio::test]
async fn interrupt_abandons_hanging_probes() {
    let lab = Lab::new(
        "",
        &[
            check("a", ""),
            check("b", ""),
            check("c", "needs: [a]"),
            check("done", ""),
        ],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Hang]), ("b", &[Hang])]);
    let interrupt = async {
        fake.until(|f| f.count(End, "done") == 1 && f.in_flight() == 2)
            .await;
        cancel.interrupt();
    };
    let (out, ()) = tokio::join!(lab.run(&fake, Options::default(), &cancel), interrupt);

    assert_eq!(out.status("done"), Status::Pass, "it finished before");
    for id in ["a", "b"] {
        assert_eq!(
            out.said(id),
            (Status::Blocked, Some("cancelled"), Some(WHY)),
            "{id}"
        );
        assert_eq!(fake.count(Abandoned, id), 1, "{id}'s probe was dropped");
    }
    assert_eq!(
        out.said("c"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.a, which is blocked")
        )
    );
    assert_eq!(fake.calls("c"), 0);
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn interrupt_cancels_checks_waiting_for_a_permit() {
    let lab = Lab::new("", &[check("a", ""), check("b", ""), check("c", "")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Hang]), ("b", &[Hang]), ("c", &[Hang])]);
    let opts = Options {
        jobs: 1,
        ..Options::default()
    };
    let interrupt = async {
        fake.until(|f| f.in_flight() == 1).await;
        cancel.interrupt();
    };
    let (out, ()) = tokio::join!(lab.run(&fake, opts, &cancel), interrupt);

    assert_eq!(out.count(Status::Blocked), 3);
    for id in ["a", "b", "c"] {
        assert_eq!(out.said(id).1, Some("cancelled"), "{id}");
    }
    assert_eq!(fake.calls("a") + fake.calls("b") + fake.calls("c"), 1);
}

#[tokio::test]
async fn interrupt_during_a_retry_backoff_returns_promptly() {
    // Without the interrupt this check would sleep 10 s before its retry (the run's
    // 10 s guard would then fail the test).
    let lab = Lab::new("", &[check("a", "retry: { count: 3, delay: 10s }")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Error("timeout")])]);
    let interrupt = async {
        fake.until(|f| f.count(End, "a") == 1).await;
        cancel.interrupt();
    };
    let (out, ()) = tokio::join!(lab.run(&fake, Options::default(), &cancel), interrupt);

    assert_eq!(
        out.said("a"),
        (Status::Blocked, Some("cancelled"), Some(WHY))
    );
    assert_eq!(fake.calls("a"), 1);
    // The attempt it made before the interrupt is its evidence.
    let a = out.get("a");
    assert!(a.probed);
    let attempts: Vec<(&str, Option<&str>)> = a
        .attempts
        .iter()
        .map(|x| (x.why, x.reason.as_ref().map(Reason::as_str)))
        .collect();
    assert_eq!(attempts, [("first", Some("timeout"))]);
}

#[tokio::test]
async fn interrupted_before_the_start_probes_nothing() {
    let lab = Lab::new("", &[check("a", ""), check("b", "needs: [a]")]);
    let cancel = Cancel::default();
    cancel.interrupt();
    let fake = Fake::new(&cancel, &[]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(
        out.said("a"),
        (Status::Blocked, Some("cancelled"), Some(WHY))
    );
    assert_eq!(out.status("b"), Status::Blocked);
    assert_eq!(fake.calls("a") + fake.calls("b"), 0);
}
