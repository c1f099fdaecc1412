//! Snapshots of what people read: every `labcert report` format (text, Markdown, JUnit,
//! HTML) and the end-of-run summary for a few committed manifests (`fixtures/report/`, see
//! its README), and `labcert diff` (text and JSON) between some of them. A change to the
//! manifest types or the renderers that changes the output shows up here.
//!
//! Rendered through the library with a fixed `now`, so relative times ("expires in 22 h",
//! a waiver "3 h ago") are stable. Only the constant stylesheet is cut out of the HTML
//! snapshots but one (`pass_html`), where it is kept whole.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use labcert::manifest::{Manifest, verdict};
use labcert::report::command::{self, ReportFormat};
use labcert::report::{diff, summary};

/// About an hour after the fixtures were made: every manifest holds, one waiver expired.
const NOW: &str = "2026-12-06T22:30:00Z";
/// After every fixture's `expiresAt`.
const LATER: &str = "2026-12-08T00:00:00Z";

fn at(t: &str) -> Timestamp {
    t.parse().unwrap()
}

fn rel(name: &str) -> PathBuf {
    Path::new("fixtures/report").join(format!("{name}.json"))
}

/// Reads and validates a fixture, as `labcert report` does; its stored verdict must agree
/// with its checks (a fixture trimmed by hand could drift).
fn load(name: &str) -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel(name));
    let m = command::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let off = verdict::disagreements(&m);
    assert!(off.is_empty(), "{name}: stored verdict disagrees: {off:?}");
    m
}

/// The HTML with its constant stylesheet cut out (there must be exactly one).
fn without_css(html: &str) -> String {
    let (head, rest) = html.split_once("<style>").expect("a <style>");
    let (_, tail) = rest.split_once("</style>").expect("a </style>");
    assert!(!tail.contains("<style"), "a second stylesheet");
    format!("{head}<style>/* the stylesheet, see pass_html */</style>{tail}")
}

fn render(m: &Manifest, format: ReportFormat, now: &str) -> String {
    command::render(m, format, at(now)).unwrap()
}

/// Every format of `name` as of `NOW`, each its own snapshot `NAME_FORMAT`; returns the text.
fn snapshot_all(name: &str) -> String {
    let m = load(name);
    let snap = name.replace('-', "_");
    let text = render(&m, ReportFormat::Text, NOW);
    insta::assert_snapshot!(format!("{snap}_text"), text);
    let md = render(&m, ReportFormat::Markdown, NOW);
    insta::assert_snapshot!(format!("{snap}_markdown"), md);
    insta::assert_snapshot!(
        format!("{snap}_junit"),
        render(&m, ReportFormat::Junit, NOW)
    );
    let html = render(&m, ReportFormat::Html, NOW);
    let html = if name == "pass" {
        html
    } else {
        without_css(&html)
    };
    insta::assert_snapshot!(format!("{snap}_html"), html);
    let out = rel(name).display().to_string();
    insta::assert_snapshot!(format!("{snap}_summary"), summary::text(&m, &out));
    text
}

fn diff_of(old: &str, new: &str) -> diff::Diff {
    diff::diff(&load(old), &rel(old), &load(new), &rel(new), at(NOW))
}

/// A live pass whose one failure is advisory.
#[test]
fn pass() {
    let text = snapshot_all("pass");
    assert!(text.contains("PASS — expires in 22 h"), "{text}");
    assert!(text.contains("[advisory]"), "{text}");
}

/// The same pass past its expiry reads EXPIRED everywhere.
#[test]
fn pass_expired() {
    let m = load("pass");
    let text = render(&m, ReportFormat::Text, LATER);
    assert!(text.contains("EXPIRED 2 h ago"), "{text}");
    insta::assert_snapshot!("pass_expired_text", text);
    let md = render(&m, ReportFormat::Markdown, LATER);
    insta::assert_snapshot!("pass_expired_markdown", md);
    let html = without_css(&render(&m, ReportFormat::Html, LATER));
    insta::assert_snapshot!("pass_expired_html", html);
}

/// The healthy demo recording replayed: a clean pass, a reachability matrix all ✓.
#[test]
fn demo_healthy() {
    let text = snapshot_all("demo-healthy");
    assert!(text.contains(" REPLAYED from "), "{text}");
    assert!(
        text.contains("demo/healthy: certifies the recording"),
        "{text}"
    );
}

/// The broken demo replayed: failures with expected vs actual, dependents blocked, the
/// `would_repair` ledger, blocked cells in the matrix.
#[test]
fn demo_broken() {
    let text = snapshot_all("demo-broken");
    assert!(
        text.contains("expected \"20 30\", got \"2-4094\""),
        "{text}"
    );
    assert!(
        text.contains("needs pve.network.bridges[pve1,vmbr1]"),
        "{text}"
    );
}

/// The broken demo replayed with `--repair`: repaired checks, a multi-step ledger with a
/// Proxmox VE task.
#[test]
fn demo_repaired() {
    let text = snapshot_all("demo-repaired");
    assert!(text.contains("2 repaired"), "{text}");
}

/// `certify --repair` of the repairable fixture: repaired, failed (verification, a step, a
/// rerun) and refused ledger entries, a check blocked on its own.
#[test]
fn repair() {
    let text = snapshot_all("repair");
    assert!(text.contains("1 repaired, 3 failed, 1 refused"), "{text}");
}

/// Waivers: one in force (waived two checks), one expired (waived nothing); `would_repair`.
#[test]
fn waivers() {
    let text = snapshot_all("waivers");
    assert!(text.contains("EXPIRED, waived nothing"), "{text}");
    assert!(text.contains("expires in 3 h"), "{text}");
}

/// A run cut short by SIGINT: never pass, and it says so.
#[test]
fn interrupted() {
    let text = snapshot_all("interrupted");
    assert!(text.contains("INTERRUPTED"), "{text}");
}

/// Healthy → broken demo: newly failing and blocked checks, ledger entries added.
#[test]
fn diff_healthy_to_broken() {
    let d = diff_of("demo-healthy", "demo-broken");
    assert_eq!(d.newly_failing.len(), 2);
    insta::assert_snapshot!("diff_healthy_to_broken_text", diff::text(&d));
    let json = serde_json::to_string_pretty(&d).unwrap();
    insta::assert_snapshot!("diff_healthy_to_broken_json", json);
}

/// Broken → repaired demo: the mode, newly repaired and passing checks, the ledger moving
/// from `would_repair` to `repaired`.
#[test]
fn diff_broken_to_repaired() {
    let d = diff_of("demo-broken", "demo-repaired");
    assert_eq!(d.newly_repaired.len(), 2);
    insta::assert_snapshot!("diff_broken_to_repaired_text", diff::text(&d));
}

/// Two unrelated certifications: run fields, catalogs and every check added and removed.
#[test]
fn diff_unrelated() {
    let d = diff_of("pass", "repair");
    assert!(!d.fields.is_empty() && !d.catalogs.is_empty());
    insta::assert_snapshot!("diff_unrelated_text", diff::text(&d));
    let json = serde_json::to_string_pretty(&d).unwrap();
    insta::assert_snapshot!("diff_unrelated_json", json);
}

/// A manifest against itself: nothing changed, and the diff says so.
#[test]
fn diff_unchanged() {
    let d = diff_of("demo-healthy", "demo-healthy");
    assert!(d.is_empty());
    insta::assert_snapshot!("diff_unchanged_text", diff::text(&d));
}
