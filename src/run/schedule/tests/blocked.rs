//! Blocked propagation: a dependent of a check that did not pass is `blocked` naming that
//! need, transitively, and is never probed.

use super::fake::{Answer::*, Fake};
use super::lab::{Lab, check};
use crate::run::{Cancel, Options, Status};

#[tokio::test]
async fn dependents_of_a_failed_check_are_blocked_naming_it() {
    let lab = Lab::new(
        "",
        &[
            check("a", ""),
            check("b", "needs: [a]"),
            check("c", "needs: [b]"),
            check("d", ""),
        ],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("a", &[Wrong])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.said("a").0, Status::Fail);
    assert_eq!(out.said("a").1, Some("expectation"));
    assert_eq!(
        out.said("b"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.a, which is fail")
        )
    );
    assert_eq!(
        out.said("c"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.b, which is blocked")
        )
    );
    assert_eq!(out.status("d"), Status::Pass);
    for (id, calls) in [("a", 1), ("b", 0), ("c", 0), ("d", 1)] {
        assert_eq!(fake.calls(id), calls, "{id}");
    }
    assert!(!out.get("b").probed && !out.get("c").probed);
    assert!(out.get("b").attempts.is_empty());
}

#[tokio::test]
async fn dependents_of_a_blocked_check_are_blocked_naming_it() {
    let lab = Lab::new("", &[check("x", ""), check("y", "needs: [x]")]);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("x", &[Error("auth")])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(
        out.said("x"),
        (Status::Blocked, Some("auth"), Some("scripted auth"))
    );
    assert_eq!(
        out.said("y"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.x, which is blocked")
        )
    );
    assert_eq!(fake.calls("y"), 0);
}

#[tokio::test]
async fn the_need_that_did_not_pass_is_the_one_named() {
    // q fails while p is still running: r is blocked at once, though p later passes.
    let lab = Lab::new(
        "",
        &[check("p", ""), check("q", ""), check("r", "needs: [p, q]")],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("p", &[PassAfter("q")]), ("q", &[Wrong])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.status("p"), Status::Pass);
    assert_eq!(out.status("q"), Status::Fail);
    assert_eq!(
        out.said("r"),
        (
            Status::Blocked,
            Some("dependency"),
            Some("needs t.g.q, which is fail")
        )
    );
    assert_eq!(fake.calls("r"), 0);
}
