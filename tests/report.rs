//! `labcert report` and `labcert diff`, end to end: manifests made by the real binary from
//! the certify fixtures, then rendered as text, Markdown, JUnit and HTML (screenshotted when
//! Debian's chromium is installed), an expired pass, the reachability matrix from a
//! hand-built manifest, and what `diff` says between two certifications.
//!
//! Set `LABCERT_REPORT_ARTIFACTS=DIR` to keep the sample HTML report and its screenshot.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{Out, labcert, labcert_env};

const SECRET: &str = "tok-7c1e-report-secret";

/// Runs `labcert --catalogs ROOT certify … --out OUT`; returns the run and the manifest.
fn certify(root: &str, topology: &str, out: &Path, extra: &[String]) -> (Out, Value) {
    let out_s = out.display().to_string();
    let mut args: Vec<&str> = vec![
        "--catalogs",
        root,
        "certify",
        "--environment",
        "dev",
        "--topology",
        topology,
        "--out",
        &out_s,
    ];
    args.extend(extra.iter().map(String::as_str));
    let envs = [
        ("LOCAL_TOKEN".to_string(), SECRET.to_string()),
        ("CI".to_string(), "true".to_string()),
    ];
    let o = labcert_env(&args, &envs);
    let text = std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("no manifest at {out_s} ({e}):\n{}{}", o.stdout, o.stderr));
    (o, serde_json::from_str(&text).unwrap())
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    (l, p)
}

fn closed_port() -> u16 {
    listener().1
}

/// The `local` fixture: failures with expected vs actual, dependency-blocked checks.
fn local_manifest(dir: &Path) -> (PathBuf, TcpListener) {
    let (l, open) = listener();
    let out = dir.join("local.json");
    let vars = [
        format!("local.marker={}", dir.join("marker").display()),
        format!("local.open_port={open}"),
        format!("local.closed_port={}", closed_port()),
    ];
    let extra: Vec<String> = vars
        .iter()
        .flat_map(|v| ["--var".into(), v.clone()])
        .collect();
    let (o, m) = certify("fixtures/certify", "local", &out, &extra);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "fail");
    (out, l)
}

/// The `repairable` fixture in `state`, with or without `--repair`.
fn repairable(state: &Path, out: &Path, repair: bool) -> Value {
    let mut extra = vec![
        "--var".to_string(),
        format!("repairable.state={}", state.display()),
    ];
    if repair {
        extra.push("--repair".into());
    }
    certify("fixtures/certify", "repairable", out, &extra).1
}

fn healthy(root: &str, out: &Path, port: u16) -> Value {
    let (o, m) = certify(
        root,
        "healthy",
        out,
        &["--var".into(), format!("healthy.open_port={port}")],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    m
}

fn report(path: &Path, format: &str) -> Out {
    let p = path.display().to_string();
    let o = labcert(&["report", &p, "--format", format]);
    assert_eq!(o.code, 0, "report --format {format}: {}", o.stderr);
    o
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// `v` must deserialize to a manifest that validates against its schema.
fn assert_manifest(v: &Value) {
    let m: labcert::manifest::Manifest = serde_json::from_value(v.clone()).expect("a manifest");
    let problems = labcert::manifest::validate(&m);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The index of `needle` in `hay`, or a failure naming it.
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found in:\n{hay}"))
}

// ---------------------------------------------------------------- text

#[test]
fn text_report_has_banner_provenance_groups_failures_and_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _l) = local_manifest(dir.path());
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let t = report(&path, "text").stdout;
    // The banner: verdict first, then how long it holds.
    let first = t.lines().nth(1).unwrap();
    assert!(
        first.contains("FAIL") && first.contains("expires in 23 h"),
        "{first}"
    );
    assert!(!t.contains("EXPIRED"), "{t}");
    // Provenance.
    for want in [
        "Environment  dev",
        "Topology     local",
        m["id"].as_str().unwrap(),
        "Tool         labcert ",
        m["catalogs"][0]["sha256"].as_str().unwrap(),
        "fixtures/certify/local.yaml",
    ] {
        at(&t, want);
    }
    // One row per group with its counts.
    let row = t
        .lines()
        .find(|l| l.trim_start().starts_with("local.dag "))
        .unwrap_or_else(|| panic!("no local.dag row:\n{t}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        ["local.dag", "fail", "0", "1", "0", "2", "0", "0"],
        "{row}"
    );
    // Failures: expected vs actual, the catalog line, stderr evidence.
    let failed = at(&t, "Failed (3):");
    let broken = at(&t, "✗ local.dag.broken");
    assert!(broken > failed);
    let tail = &t[broken..];
    at(tail, "at fixtures/certify/local.yaml:57");
    at(tail, "exit: expected [0], got 3 — the command must succeed");
    at(tail, "stderr: boom");
    at(&t, "✗ local.network.closed-is-closed");
    at(&t, "connection refused");
    // Blocked, with the reason.
    at(&t, "Blocked (2):");
    at(
        &t,
        "! local.dag.after-broken  [dependency] — needs local.dag.broken, which is fail",
    );
    assert!(!t.contains(SECRET));
}

#[test]
fn text_report_lists_the_repair_ledger_to_review() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let dry = dir.path().join("dry.json");
    let fixed = dir.path().join("fixed.json");
    repairable(&state, &dry, false);
    repairable(&state, &fixed, true);

    let t = report(&fixed, "text").stdout;
    at(&t, "Repair ledger (5: 1 repaired, 3 failed, 1 refused)");
    let present = &t[at(&t, "✓ repairable.files.present  repaired")..];
    at(
        present,
        "before: fail — exit: expected [0], got 1 — the file is missing",
    );
    at(
        present,
        "1. Pick the name (a step whose result later steps read)  → ok (exit 0)",
    );
    at(present, "2. Create it  → ok (exit 0)");
    at(present, "command touch ");
    at(present, "verification (the check's own probe): pass");
    let step_fails = &t[at(&t, "✗ repairable.files.step-fails  failed")..];
    at(
        step_fails,
        "1. A failing step  → FAILED (exit 1; exit_1: no permission)",
    );
    at(step_fails, "verification (the check's own probe): fail");
    at(&t, "⊘ repairable.files.guarded  refused");
    at(
        &t,
        "guard: refuse_if vars.protect — the file is protected in this lab",
    );
    at(&t, "rerun repairable.files.canary: fail");

    // A dry run: what --repair would do, nothing run.
    let t = report(&dry, "text").stdout;
    let present = &t[at(&t, "~ repairable.files.present  would repair")..];
    at(present, "1. Pick the name");
    at(present, "<capture:steps.name.file>");
    at(present, "would repair: run again with --repair to apply");
    let end = present
        .find("\n  ~ repairable.files.stubborn")
        .unwrap_or(present.len());
    assert!(
        !present[..end].contains("→ ok"),
        "a dry run ran nothing:\n{present}"
    );
}

#[test]
fn an_expired_pass_reads_expired() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, port) = listener();
    let path = dir.path().join("healthy.json");
    let mut m = healthy("fixtures/certify", &path, port);
    assert_eq!(m["status"], "pass");
    let t = report(&path, "text").stdout;
    assert!(
        t.lines().nth(1).unwrap().contains("PASS — expires in"),
        "{t}"
    );

    let now = jiff::Timestamp::now();
    let ago = |h: i64, min: i64| {
        (now - jiff::SignedDuration::from_hours(h) - jiff::SignedDuration::from_mins(min))
            .round(jiff::Unit::Second)
            .unwrap()
            .to_string()
    };
    for k in ["createdAt", "startedAt", "finishedAt"] {
        m[k] = json!(ago(26, 5));
    }
    m["expiresAt"] = json!(ago(2, 5));
    assert_manifest(&m);
    write_json(&path, &m);

    let t = report(&path, "text").stdout;
    let banner = t.lines().nth(1).unwrap();
    assert!(
        banner.contains("EXPIRED 2 h ago") && banner.contains("certified pass, no longer valid"),
        "{t}"
    );
    assert!(
        !banner.contains("PASS"),
        "an expired pass must not read PASS:\n{t}"
    );
    let md = report(&path, "markdown").stdout;
    at(&md, "**EXPIRED** (certified pass, expired 2 h ago)");
    let html = report(&path, "html").stdout;
    at(
        &html,
        "<header class=\"banner b-expired\" id=\"banner\">\n<h1>EXPIRED</h1>",
    );
}

// ---------------------------------------------------------------- markdown, junit

#[test]
fn markdown_and_junit_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _l) = local_manifest(dir.path());
    let md = report(&path, "markdown").stdout;
    assert!(md.starts_with("## ❌ Lab certification: **FAIL**"), "{md}");
    at(&md, "| Group | Status | Pass | Fail | Blocked | Skipped |");
    at(&md, "| `local.dag` | fail | 0 | 1 | 2 | 0 |");
    at(
        &md,
        "- **`local.dag.broken`** — A command that fails (`fixtures/certify/local.yaml:57`)",
    );
    at(&md, "expires in 23 h");
    at(&md, "<summary>Catalogs</summary>");

    let xml = report(&path, "junit").stdout;
    assert!(xml.starts_with("<?xml"), "{xml}");
    at(&xml, "<testsuites");
    at(&xml, "<testsuite name=\"local.dag\"");
    at(&xml, "<testcase name=\"local.dag.broken\"");
    at(&xml, "<failure");
    at(&xml, "<error"); // blocked
    at(&xml, "at fixtures/certify/local.yaml:57");
    let cases = xml.matches("<testcase ").count();
    assert_eq!(cases, 11, "{xml}");
}

// ---------------------------------------------------------------- errors

#[test]
fn an_unreadable_or_invalid_manifest_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let not_json = dir.path().join("not.json");
    std::fs::write(&not_json, "certainly { not json").unwrap();
    let not_manifest = dir.path().join("wrong.json");
    std::fs::write(&not_manifest, r#"{"id": 1, "status": "great"}"#).unwrap();
    for (p, says) in [
        (&missing, "missing.json"),
        (&not_json, "not JSON"),
        (&not_manifest, "not a valid manifest"),
    ] {
        let ps = p.display().to_string();
        for format in ["text", "html"] {
            let o = labcert(&["report", &ps, "--format", format]);
            assert_eq!(o.code, 2, "{ps}: {}{}", o.stdout, o.stderr);
            assert!(o.stdout.is_empty(), "{}", o.stdout);
            assert!(
                o.stderr.starts_with("error: cannot read the manifest") && o.stderr.contains(says),
                "{}",
                o.stderr
            );
        }
    }
    let o = labcert(&["report", &not_json.display().to_string(), "--format", "pdf"]);
    assert_eq!(o.code, 2);
}

// ---------------------------------------------------------------- html

/// Every opening tag of these elements has its closing tag, and the page is one document.
fn assert_balanced(html: &str) {
    for tag in [
        "html", "head", "body", "main", "header", "footer", "section", "article", "table", "thead",
        "tbody", "tr", "th", "td", "ol", "ul", "li", "h1", "h2", "h3", "p", "pre", "code", "span",
        "strong", "style", "title",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}>: {open} opened, {close} closed");
    }
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<html").count(), 1);
    assert_eq!(html.matches("<main>").count(), 1);
}

/// Nothing the browser would fetch: no scripts, links, remote URLs, imports.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for bad in [
        "http://", "https://", "<script", "<link", "<iframe", "<img", "<object",
    ] {
        assert!(!lower.contains(bad), "the page refers to `{bad}`");
    }
    // No tag has an attribute that loads something (escaped text has no `<`).
    for tag in lower.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        for attr in ["src=", "href=", "srcset=", "poster="] {
            assert!(!tag.contains(attr), "<{tag}> loads something");
        }
    }
    let style = &lower[at(&lower, "<style>")..at(&lower, "</style>")];
    for bad in ["url(", "@import", "@font-face"] {
        assert!(!style.contains(bad), "the stylesheet uses `{bad}`");
    }
}

#[test]
fn html_is_self_contained_well_formed_and_shows_failures_and_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let fixed = dir.path().join("fixed.json");
    repairable(&state, &fixed, true);
    let html = report(&fixed, "html").stdout;
    assert_self_contained(&html);
    assert_balanced(&html);
    // The sections, in reading order.
    let order: Vec<usize> = [
        "id=\"banner\"",
        "id=\"overview\"",
        "id=\"groups\"",
        "id=\"failures\"",
        "id=\"blocked\"",
        "id=\"repairs\"",
    ]
    .iter()
    .map(|id| at(&html, id))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    at(&html, "<h1>FAIL</h1>");
    // Failures with expected vs actual and the catalog line.
    let failures = &html[at(&html, "id=\"failures\"")..at(&html, "id=\"blocked\"")];
    at(
        failures,
        "<code>repairable.files.stubborn</code> — A repair that does not fix it",
    );
    at(
        failures,
        "at <code>fixtures/certify/repairable.yaml:29</code>",
    );
    at(
        failures,
        "<td>exit</td><td><code>[0]</code></td><td><code>1</code></td>",
    );
    // The ledger: statuses, steps with titles and results, verification.
    let ledger = &html[at(&html, "id=\"repairs\"")..];
    at(
        ledger,
        "<code>repairable.files.present</code> <span class=\"st s-repaired\">repaired</span>",
    );
    at(
        ledger,
        "<strong>Create it</strong> — <span class=\"ok\">ok</span>",
    );
    at(
        ledger,
        "<strong>A failing step</strong> — <span class=\"bad\">failed</span>",
    );
    at(
        ledger,
        "Verification (the check's own probe): <span class=\"st s-pass\">pass</span>",
    );
    at(ledger, "<span class=\"st s-refused\">refused</span>");
    // Escaped: the step's shell quoting reads back as text.
    at(ledger, "echo &#39;no permission&#39; &gt;&amp;2; exit 1");
}

#[test]
fn html_escapes_everything_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    let mut m = hand_built();
    m["environment"] = json!("<b>lab</b>");
    m["groups"][0]["checks"][1]["title"] = json!("<script>alert('x')</script> & \"more\"");
    m["groups"][0]["checks"][1]["message"] = json!("<img src=x onerror=alert(1)>");
    assert_manifest(&m);
    write_json(&path, &m);
    let html = report(&path, "html").stdout;
    assert_self_contained(&html);
    assert_balanced(&html);
    at(
        &html,
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;",
    );
    at(&html, "&lt;b&gt;lab&lt;/b&gt;");
    at(&html, "&lt;img src=x onerror=alert(1)&gt;");
    assert!(!html.contains("<b>lab"));
}

/// Runs chromium headless on `html`, returns the PNG (None when chromium is not installed).
fn screenshot(html: &Path, png: &Path) -> Option<Vec<u8>> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!(
            "/usr/bin/chromium is not installed: no screenshot (scripts/test.sh installs it)"
        );
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1600")
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium: {status}");
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish the screenshot within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(std::fs::read(png).expect("chromium wrote the screenshot"))
}

#[test]
fn html_report_renders_in_a_browser() {
    let keep = std::env::var_os("LABCERT_REPORT_ARTIFACTS").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    // A real repair run, plus the reachability groups and a waiver of the hand-built one.
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mut m = repairable(&state, &tmp.path().join("fixed.json"), true);
    let extra = hand_built();
    for k in ["groups", "catalogs", "waivers"] {
        let more = extra[k].as_array().unwrap().clone();
        m[k].as_array_mut().unwrap().extend(more);
    }
    recount(&mut m);
    assert_manifest(&m);
    let path = dir.join("report-sample.json");
    write_json(&path, &m);
    let html = report(&path, "html").stdout;
    assert_self_contained(&html);
    assert_balanced(&html);
    for id in ["failures", "repairs", "waivers", "reachability"] {
        at(&html, &format!("<section id=\"{id}\">"));
    }
    let page = dir.join("report-sample.html");
    std::fs::write(&page, &html).unwrap();

    let Some(png) = screenshot(&page, &dir.join("report-sample.png")) else {
        return;
    };
    assert!(
        png.len() > 10_000,
        "a {}-byte screenshot is blank",
        png.len()
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 1600));
}

/// Makes `summary` agree with the checks again.
fn recount(m: &mut Value) {
    let statuses: Vec<(String, bool)> = m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap())
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_string(),
                c["severity"] == "required",
            )
        })
        .collect();
    let n = |s: &str| statuses.iter().filter(|(x, _)| x == s).count();
    let req = |s: &str| statuses.iter().filter(|(x, r)| x == s && *r).count();
    m["summary"] = json!({
        "total": statuses.len(), "pass": n("pass"), "fail": n("fail"), "repaired": n("repaired"),
        "blocked": n("blocked"), "skipped": n("skipped"), "waived": n("waived"),
        "requiredFail": req("fail"), "requiredBlocked": req("blocked"),
    });
}

// ---------------------------------------------------------------- the matrix

fn check(id: &str, status: &str, extra: Value) -> Value {
    let (head, instance) = match id.split_once('[') {
        Some((h, i)) => (h, Some(i.trim_end_matches(']'))),
        None => (id, None),
    };
    let mut c = json!({
        "id": id,
        "check": head.rsplit('.').next().unwrap(),
        "title": format!("check {id}"),
        "severity": "required",
        "status": status,
        "attempts": [],
        "durationMs": 3,
        "expectations": [],
        "captures": {},
        "source": "catalogs/reachability.yaml:300",
    });
    if let Some(i) = instance {
        c["instance"] = json!(i);
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        c[k] = v.clone();
    }
    c
}

fn group(catalog: &str, id: &str, title: &str, status: &str, checks: Vec<Value>) -> Value {
    json!({"catalog": catalog, "id": id, "title": title, "status": status, "checks": checks})
}

/// A manifest written by hand: reachability checks keyed by (from, to), plus checks that
/// are not pairs and a pair-keyed check of another catalog, which stay out of the matrix.
fn hand_built() -> Value {
    let refused = json!({"reason": "refused", "message": "exit 1: connection refused"});
    let groups = vec![
        group(
            "reachability",
            "mesh",
            "Endpoint to endpoint",
            "fail",
            vec![
                check("reachability.mesh.from-pve[pve-a,pve-b]", "pass", json!({})),
                check(
                    "reachability.mesh.from-pve[pve-a,aws-1]",
                    "fail",
                    json!({"reason": "refused", "message": "exit 1: connection refused",
                           "expectations": [{"matcher": "exit", "expected": [0], "actual": 1, "passed": false}]}),
                ),
                check("reachability.mesh.from-pve[pve-b,pve-a]", "pass", json!({})),
                check(
                    "reachability.mesh.from-pve[pve-b,aws-1]",
                    "blocked",
                    json!({"reason": "source_unreachable", "message": "ssh pve-b: timeout"}),
                ),
                check("reachability.mesh.from-aws[aws-1,pve-a]", "pass", json!({})),
                check("reachability.mesh.from-aws[aws-1,pve-b]", "pass", json!({})),
            ],
        ),
        group(
            "reachability",
            "pve",
            "Inside the PVE lab",
            "fail",
            vec![
                check(
                    "reachability.pve.l2-same-vlan[pve-a,pve-b]",
                    "pass",
                    json!({}),
                ),
                check("reachability.pve.mtu[pve-a,pve-b]", "fail", refused.clone()),
                check(
                    "reachability.pve.l2-same-vlan[pve-b,pve-a]",
                    "pass",
                    json!({}),
                ),
                check("reachability.pve.egress[pve-a]", "pass", json!({})),
            ],
        ),
        group(
            "reachability",
            "deny",
            "Paths that must stay closed",
            "pass",
            vec![check(
                "reachability.deny.closed[mgmt-api]",
                "waived",
                json!({"reason": "waived", "message": "covered by a waiver"}),
            )],
        ),
        group(
            "reachability",
            "dns",
            "Name resolution on the runner",
            "pass",
            vec![check(
                "reachability.dns.resolves[pve1.lab]",
                "pass",
                json!({}),
            )],
        ),
        group(
            "pve",
            "network",
            "Bridges",
            "pass",
            vec![check(
                "pve.network.vlan-aware[pve1,vmbr0]",
                "pass",
                json!({}),
            )],
        ),
    ];
    let total: usize = groups
        .iter()
        .map(|g| g["checks"].as_array().unwrap().len())
        .sum();
    let count = |s: &str| {
        groups
            .iter()
            .flat_map(|g| g["checks"].as_array().unwrap())
            .filter(|c| c["status"] == s)
            .count()
    };
    json!({
        "schemaVersion": 1,
        "id": "lc-20260101T000000Z-handbuilt0001",
        "status": "fail",
        "environment": "lab-a",
        "topology": "example-lab",
        "providers": ["aws", "pve"],
        "mode": "inspect",
        "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:01:00Z",
        "expiresAt": "2099-01-01T00:00:00Z",
        "tool": {"name": "labcert", "version": "0.1.0"},
        "catalogs": [
            {"id": "reachability", "provider": "reachability", "file": "catalogs/reachability.yaml",
             "sha256": "ab".repeat(32), "selected": true},
            {"id": "pve", "provider": "pve", "file": "catalogs/pve.yaml",
             "sha256": "cd".repeat(32), "selected": true},
        ],
        "groups": groups,
        "summary": {
            "total": total, "pass": count("pass"), "fail": count("fail"), "repaired": 0,
            "blocked": count("blocked"), "skipped": 0, "waived": count("waived"),
            "requiredFail": count("fail"), "requiredBlocked": count("blocked"),
        },
        "missingRequirements": [],
        "repairs": [],
        "waivers": [{
            "checks": ["reachability.deny.closed[mgmt-api]"],
            "reason": "the management VLAN is being re-addressed (CHG-1234)",
            "approver": "j.doe",
            "expires": "2099-01-01T00:00:00Z",
            "expired": false,
            "waived": ["reachability.deny.closed[mgmt-api]"],
            "notWaivedExpired": [],
        }, {
            "checks": ["reachability.mesh.from-pve[pve-a,aws-1]"],
            "reason": "<firewall> change pending",
            "approver": "a.admin",
            "expires": "2026-01-01T00:00:00Z",
            "expired": true,
            "waived": [],
            "notWaivedExpired": ["reachability.mesh.from-pve[pve-a,aws-1]"],
        }],
    })
}

#[test]
fn reachability_renders_as_a_from_to_matrix() {
    let v = hand_built();
    assert_manifest(&v);
    let m: labcert::manifest::Manifest = serde_json::from_value(v.clone()).unwrap();

    let all = labcert::report::matrix::matrices(&m);
    let keys: Vec<String> = all.iter().map(|x| x.key()).collect();
    assert_eq!(keys, ["reachability.mesh", "reachability.pve"]);
    let mesh = &all[0];
    assert_eq!(mesh.from, ["pve-a", "pve-b", "aws-1"]);
    assert_eq!(mesh.to, ["pve-a", "pve-b", "aws-1"]);
    use labcert::run::Status;
    let st =
        |x: &labcert::report::matrix::Matrix<'_>, f: &str, t: &str| x.cell(f, t).map(|c| c.status);
    assert_eq!(st(mesh, "pve-a", "pve-b"), Some(Status::Pass));
    assert_eq!(st(mesh, "pve-a", "aws-1"), Some(Status::Fail));
    assert_eq!(st(mesh, "pve-b", "aws-1"), Some(Status::Blocked));
    assert_eq!(st(mesh, "aws-1", "pve-a"), Some(Status::Pass));
    assert_eq!(st(mesh, "pve-a", "pve-a"), None);
    // Two checks of one pair: the worst decides the cell.
    let pve = &all[1];
    let cell = pve.cell("pve-a", "pve-b").unwrap();
    assert_eq!(cell.status, Status::Fail);
    assert_eq!(cell.checks.len(), 2);
    assert_eq!(st(pve, "pve-b", "pve-a"), Some(Status::Pass));
    assert_eq!(pve.cells().count(), 2, "egress[pve-a] is not a pair");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    write_json(&path, &v);

    let t = report(&path, "text").stdout;
    let sec = &t[at(
        &t,
        "Reachability reachability.mesh — Endpoint to endpoint (from × to):",
    )..];
    let lines: Vec<&str> = sec.lines().collect();
    let header: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        header,
        ["from", "\\", "to", "pve-a", "pve-b", "aws-1"],
        "{sec}"
    );
    let row = |name: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("pve-a"), ["pve-a", "—", "✓", "✗"]);
    assert_eq!(row("pve-b"), ["pve-b", "✓", "—", "!"]);
    assert_eq!(row("aws-1"), ["aws-1", "✓", "✓", "—"]);
    at(
        sec,
        "✗ pve-a → aws-1  reachability.mesh.from-pve[pve-a,aws-1]: fail — exit 1: connection refused",
    );
    at(
        sec,
        "! pve-b → aws-1  reachability.mesh.from-pve[pve-b,aws-1]: blocked — ssh pve-b: timeout",
    );
    at(&t, "Reachability reachability.pve — Inside the PVE lab");
    assert!(!t.contains("Reachability reachability.deny"));
    assert!(!t.contains("Reachability pve.network"));
    // Waivers are listed.
    let w = &t[at(&t, "Waivers (2):")..];
    at(w, "waived:   reachability.deny.closed[mgmt-api]");
    at(
        w,
        "! EXPIRED, waived nothing: reachability.mesh.from-pve[pve-a,aws-1]",
    );
    at(w, "expires:  2026-01-01T00:00:00Z (");
    at(
        w,
        "not waived (the waiver had expired): reachability.mesh.from-pve[pve-a,aws-1]",
    );
    at(w, "≈ reachability.deny.closed[mgmt-api]");
    at(w, "approver: j.doe");
    at(
        w,
        "reason:   the management VLAN is being re-addressed (CHG-1234)",
    );

    let md = report(&path, "markdown").stdout;
    at(&md, "| from \\ to | pve-a | pve-b | aws-1 |");
    at(&md, "| **pve-a** | — | ✓ | ✗ |");
    at(&md, "| **pve-b** | ✓ | — | ! |");
    at(
        &md,
        "| reachability.deny.closed[mgmt-api] | the management VLAN",
    );
    at(&md, "| j.doe | 2099-01-01T00:00:00Z (in ");
    at(&md, "| **expired**: waived nothing |");

    let html = report(&path, "html").stdout;
    assert_eq!(html.matches("<table class=\"matrix\">").count(), 2);
    at(
        &html,
        "<tr><th>pve-a</th><td class=\"m-self\">—</td><td class=\"m-pass\" \
         title=\"reachability.mesh.from-pve[pve-a,pve-b]: pass\">✓</td><td class=\"m-fail\" \
         title=\"reachability.mesh.from-pve[pve-a,aws-1]: fail\">✗</td></tr>",
    );
    at(&html, "<td>j.doe</td>");
    at(&html, "<td>&lt;firewall&gt; change pending</td>");
    at(&html, "<span class=\"st s-expired\">expired</span>");
}

// ---------------------------------------------------------------- diff

fn diff(old: &Path, new: &Path, json: bool) -> Out {
    let (o, n) = (old.display().to_string(), new.display().to_string());
    let mut args = vec!["diff", o.as_str(), n.as_str()];
    if json {
        args.extend(["--format", "json"]);
    }
    let out = labcert(&args);
    assert_eq!(out.code, 0, "diff: {}", out.stderr);
    out
}

#[test]
fn diff_pass_to_fail_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("present"), "").unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let ma = repairable(&state, &a, false);
    std::fs::remove_file(state.join("present")).unwrap();
    let mb = repairable(&state, &b, false);

    let t = diff(&a, &b, false).stdout;
    at(&t, &format!("old  FAIL     {}", ma["id"].as_str().unwrap()));
    at(&t, &format!("new  FAIL     {}", mb["id"].as_str().unwrap()));
    at(&t, "expires in 23 h");
    let failing = &t[at(&t, "Newly failing (1):")..];
    at(
        failing,
        "✗ repairable.files.present  pass → fail  (fixtures/certify/repairable.yaml:11) — exit: expected [0], got 1",
    );
    let blocked = &t[at(&t, "Newly blocked (1):")..];
    at(blocked, "! repairable.files.after-present  pass → blocked");
    let ledger = &t[at(&t, "Repair ledger:")..];
    at(
        ledger,
        "+ repairable.files.present  no entry → would repair",
    );
    assert!(
        !t.contains("Added checks") && !t.contains("Catalogs:"),
        "{t}"
    );

    let j: Value = serde_json::from_str(&diff(&a, &b, true).stdout).unwrap();
    assert_eq!(j["newlyFailing"][0]["id"], "repairable.files.present");
    assert_eq!(j["newlyFailing"][0]["old"], "pass");
    assert_eq!(j["newlyFailing"][0]["new"], "fail");
    assert_eq!(j["newlyBlocked"][0]["id"], "repairable.files.after-present");
    assert_eq!(j["old"]["id"], ma["id"]);
    assert_eq!(j["new"]["expired"], false);
    assert_eq!(j["repairs"][0]["old"], Value::Null);
    assert_eq!(j["repairs"][0]["new"], "would_repair");

    // The other way round it is passing again.
    let j: Value = serde_json::from_str(&diff(&b, &a, true).stdout).unwrap();
    let passing: Vec<&str> = j["newlyPassing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        passing,
        ["repairable.files.present", "repairable.files.after-present"]
    );
    assert_eq!(j["repairs"][0]["new"], Value::Null);
}

#[test]
fn diff_shows_what_a_repair_changed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let (dry, fixed) = (dir.path().join("dry.json"), dir.path().join("fixed.json"));
    repairable(&state, &dry, false);
    repairable(&state, &fixed, true);
    let t = diff(&dry, &fixed, false).stdout;
    let repaired = &t[at(&t, "Newly repaired (1):")..];
    at(repaired, "R repairable.files.present  fail → repaired");
    // clumsy's repair broke canary: the repair is in the ledger, the check still fails.
    let failing = &t[at(&t, "Newly failing (1):")..];
    at(failing, "✗ repairable.files.canary  pass → fail");
    at(&t, "mode: inspect → repair");
    let ledger = &t[at(&t, "Repair ledger:")..];
    at(
        ledger,
        "~ repairable.files.present  would repair → repaired",
    );
    at(ledger, "~ repairable.files.stubborn  would repair → failed");
    at(
        ledger,
        "~ repairable.files.clumsy  would repair → failed — the repair broke repairable.files.canary",
    );
    assert!(
        !ledger.contains("repairable.files.guarded"),
        "refused both times:\n{t}"
    );

    let j: Value = serde_json::from_str(&diff(&dry, &fixed, true).stdout).unwrap();
    let ids: Vec<&str> = j["newlyRepaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["repairable.files.present"]);
}

#[test]
fn diff_shows_new_checks_and_catalog_digest_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("catalogs");
    std::fs::create_dir_all(root.join("topologies")).unwrap();
    std::fs::copy("fixtures/certify/healthy.yaml", root.join("healthy.yaml")).unwrap();
    std::fs::copy(
        "fixtures/certify/topologies/healthy.yaml",
        root.join("topologies/healthy.yaml"),
    )
    .unwrap();
    let root_s = root.display().to_string();
    let (_l, port) = listener();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let ma = healthy(&root_s, &a, port);
    let catalog = std::fs::read_to_string(root.join("healthy.yaml")).unwrap();
    let grown = catalog.replace(
        "  - id: network\n",
        "      - id: extra\n        title: A check added since\n        probe: { command: { argv: [\"true\"] } }\n        expect: [{ exit: 0 }]\n  - id: network\n",
    );
    assert_ne!(grown, catalog);
    std::fs::write(root.join("healthy.yaml"), grown).unwrap();
    let mb = healthy(&root_s, &b, port);

    let t = diff(&a, &b, false).stdout;
    at(&t, "old  PASS");
    at(&t, "new  PASS");
    at(&t, "Added checks (1):\n  + healthy.basics.extra  (pass)");
    let cat = &t[at(&t, "Catalogs:")..];
    at(cat, "~ healthy  digest changed");
    at(cat, ma["catalogs"][0]["sha256"].as_str().unwrap());
    at(cat, mb["catalogs"][0]["sha256"].as_str().unwrap());
    assert!(!t.contains("Newly"), "{t}");

    let j: Value = serde_json::from_str(&diff(&a, &b, true).stdout).unwrap();
    assert_eq!(
        j["added"],
        json!([{"id": "healthy.basics.extra", "status": "pass"}])
    );
    assert_eq!(j["removed"], json!([]));
    assert_eq!(j["catalogs"][0]["id"], "healthy");
    assert_eq!(j["catalogs"][0]["change"], "changed");
    assert_eq!(
        j["catalogs"][0]["old"]["sha256"],
        ma["catalogs"][0]["sha256"]
    );
    assert_eq!(
        j["catalogs"][0]["new"]["sha256"],
        mb["catalogs"][0]["sha256"]
    );
    // And back: the check is removed.
    let j: Value = serde_json::from_str(&diff(&b, &a, true).stdout).unwrap();
    assert_eq!(
        j["removed"],
        json!([{"id": "healthy.basics.extra", "status": "pass"}])
    );
}

#[test]
fn diff_of_a_manifest_with_itself_is_empty_and_unreadable_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    write_json(&path, &hand_built());
    let t = diff(&path, &path, false).stdout;
    at(&t, "No check, catalog or repair changed.");

    let missing = dir.path().join("missing.json").display().to_string();
    let p = path.display().to_string();
    for args in [["diff", &p, &missing], ["diff", &missing, &p]] {
        let o = labcert(&args);
        assert_eq!(o.code, 2, "{}", o.stdout);
        assert!(o.stdout.is_empty());
        assert!(o.stderr.contains("missing.json"), "{}", o.stderr);
    }
}
