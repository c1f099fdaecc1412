//! `--fail-fast`: after the first required `fail` nothing new starts; what is in flight
//! finishes; the rest is `blocked`, reason `cancelled`.

use super::fake::{Answer::*, Fake};
use super::lab::{Lab, check};
use crate::run::{Cancel, Options, Status};

const WHY: &str = "cancelled: --fail-fast after a required failure";

fn fail_fast() -> Options {
    Options {
        fail_fast: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn nothing_new_starts_after_a_required_fail() {
    // p is in flight when a fails and passes only after; q becomes ready only then.
    let lab = Lab::new(
        "",
        &[
            check("a", ""),
            check("p", ""),
            check("q", "needs: [p]"),
            check("r", "needs: [q]"),
        ],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong]), ("p", &[PassAfterStop])]);
    let out = lab.run(&fake, fail_fast(), &cancel).await;

    assert_eq!(out.status("a"), Status::Fail);
    assert_eq!(out.status("p"), Status::Pass, "in flight: it finishes");
    assert_eq!(
        out.said("q"),
        (Status::Blocked, Some("cancelled"), Some(WHY))
    );
    // q's own dependents are blocked by q, not cancelled themselves.
    assert_eq!(
        out.said("r"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.q, which is blocked")
        )
    );
    assert_eq!(fake.calls("q") + fake.calls("r"), 0);
    assert!(!cancel.is_interrupted());
}

#[tokio::test]
async fn an_advisory_fail_does_not_stop_the_run() {
    let lab = Lab::new(
        "",
        &[
            check("a", "severity: advisory"),
            check("p", ""),
            check("q", "needs: [p]"),
        ],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong]), ("p", &[PassAfter("a")])]);
    let out = lab.run(&fake, fail_fast(), &cancel).await;

    assert_eq!(out.status("a"), Status::Fail);
    assert_eq!(out.status("p"), Status::Pass);
    assert_eq!(out.status("q"), Status::Pass);
    assert_eq!(fake.calls("q"), 1);
}

#[tokio::test]
async fn without_fail_fast_the_run_goes_on() {
    let lab = Lab::new(
        "",
        &[check("a", ""), check("p", ""), check("q", "needs: [p]")],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong]), ("p", &[PassAfter("a")])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.status("a"), Status::Fail);
    assert_eq!(out.status("q"), Status::Pass);
}

/// a's task frees its permit when it ends; the next queued task (b) must already see the
/// run stopped. (It did not while only the coordinator stopped it, after reading a's result:
/// b was probed. The same holds for checks queued on a concurrency group or an endpoint.)
#[tokio::test]
async fn checks_queued_for_a_permit_do_not_start_after_a_required_fail() {
    // --jobs 1: b and c wait for a's permit; a fails, so neither may be probed.
    let lab = Lab::new("", &[check("a", ""), check("b", ""), check("c", "")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong])]);
    let opts = Options {
        jobs: 1,
        ..fail_fast()
    };
    let out = lab.run(&fake, opts, &cancel).await;

    assert_eq!(out.status("a"), Status::Fail);
    for id in ["b", "c"] {
        assert_eq!(fake.calls(id), 0, "{id} was probed after a failed");
        assert_eq!(
            out.said(id),
            (Status::Blocked, Some("cancelled"), Some(WHY)),
            "{id}"
        );
    }
}
