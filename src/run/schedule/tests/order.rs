//! Readiness: a check starts only once every need has passed; independent checks start at
//! once.

use super::fake::{Answer::*, Edge::*, Fake};
use super::lab::{Lab, check};
use crate::run::{Cancel, Options, Status};

#[tokio::test]
async fn a_check_starts_only_after_all_its_needs_passed() {
    // a → (b, c) → d; c ends strictly after b, so d starting on b alone would show.
    let lab = Lab::new(
        "",
        &[
            check("a", ""),
            check("b", "needs: [a]"),
            check("c", "needs: [a]"),
            check("d", "needs: [b, c]"),
        ],
    );
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[("c", &[PassAfter("b")])]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    for id in ["a", "b", "c", "d"] {
        assert_eq!(out.status(id), Status::Pass, "{id}");
        assert_eq!(fake.calls(id), 1, "{id}");
    }
    assert!(fake.at(Start, "b") > fake.at(End, "a"));
    assert!(fake.at(Start, "c") > fake.at(End, "a"));
    assert!(fake.at(Start, "d") > fake.at(End, "b"));
    assert!(fake.at(Start, "d") > fake.at(End, "c"));
    // b and c, both freed by a, run together.
    assert_eq!(fake.max_in_flight(|n| n == "b" || n == "c"), 2);
    assert_eq!(fake.max_in_flight(|_| true), 2);
}

#[tokio::test]
async fn independent_checks_start_concurrently() {
    let ids = ["a", "b", "c", "d", "e"];
    let checks: Vec<String> = ids.iter().map(|id| check(id, "")).collect();
    let lab = Lab::new("", &checks);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.count(Status::Pass), 5);
    assert_eq!(fake.max_in_flight(|_| true), 5);
    for id in ids {
        assert_eq!(fake.calls(id), 1, "{id}");
        assert_eq!(out.attempts(id), [("first", Status::Pass, None)], "{id}");
    }
}
