//! A secret never leaves labcert in any form: raw, percent-encoded, JSON-escaped, base64, or a
//! prefix left where a text is cut. One `certify` run puts a hard secret (a space, a quote, a
//! backslash, non-ASCII) everywhere it can go (`fixtures/secret_forms`), then every artifact is
//! searched for every form of it.

mod common;
mod support;

use std::net::TcpListener;
use std::path::Path;

use serde_json::Value;

use common::labcert_env;
use support::manifest::check;

const SECRET: &str = "pä ss\"wo\\rd-123";
const MASK: &str = "********";

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Every form of the secret that must not appear anywhere.
fn forms() -> Vec<String> {
    let json = serde_json::to_string(SECRET).unwrap();
    let mut f = vec![
        SECRET.to_string(),
        // The longest prefix a 512-byte cut could leave must not be there, nor any of 8 bytes.
        "pä ss\"w".to_string(),
        json[1..json.len() - 1].to_string(),
        "p\\u00e4 ss".to_string(),
        // Percent-encoded, in the parts an HTTP client or a script may write.
        "p%C3%A4".to_string(),
        "p%c3%a4".to_string(),
        "ss%22wo".to_string(),
        "wo%5Crd".to_string(),
        "wo%5crd".to_string(),
        "wo/rd-123".to_string(),
    ];
    // base64 at every offset (what does not depend on the neighbouring bytes), both alphabets.
    for offset in 0..3 {
        let mut data = vec![b'a'; offset];
        data.extend_from_slice(SECRET.as_bytes());
        let enc = base64(&data);
        let core = &enc[(8 * offset).div_ceil(6)..8 * data.len() / 6];
        f.push(core.to_string());
        f.push(core.replace('+', "-").replace('/', "_"));
    }
    f
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn read_tree(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            read_tree(&p, out);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p.display().to_string(), text));
        }
    }
}

#[test]
fn no_form_of_a_secret_appears_in_any_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |f: &str| d.join(f).display().to_string();
    let (manifest, events, junit, markdown, record) = (
        path("manifest.json"),
        path("events.ndjson"),
        path("junit.xml"),
        path("summary.md"),
        path("recording"),
    );
    let var = format!("forms.closed_port={}", closed_port());
    let envs = [
        ("FORMS_TOKEN".to_string(), SECRET.to_string()),
        ("CI".to_string(), "true".to_string()),
    ];
    let o = labcert_env(
        &[
            "--catalogs",
            "fixtures/secret_forms",
            "certify",
            "--environment",
            "test",
            "--topology",
            "forms",
            "--var",
            &var,
            "--out",
            &manifest,
            "--record",
            &record,
            "--events",
            &events,
            "--junit",
            &junit,
            "--markdown",
            &markdown,
        ],
        &envs,
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let mut artifacts = vec![
        ("certify stdout".to_string(), o.stdout.clone()),
        ("certify stderr".to_string(), o.stderr.clone()),
    ];
    for f in [&manifest, &events, &junit, &markdown] {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.is_empty(), "{f} is empty");
        artifacts.push((f.clone(), text));
    }
    let recorded = artifacts.len();
    read_tree(Path::new(&record), &mut artifacts);
    assert!(artifacts.len() > recorded, "nothing recorded");
    for format in ["html", "text"] {
        let r = labcert_env(&["report", &manifest, "--format", format], &[]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        artifacts.push((format!("report --format {format}"), r.stdout + &r.stderr));
    }

    // The probes really got the secret, and their output reached the records, masked.
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let echo = check(&m, "forms.commands.echo");
    let actual = echo["expectations"][0]["actual"].as_str().unwrap();
    assert_eq!(actual.matches(MASK).count(), 11, "{actual}");
    let cut = check(&m, "forms.commands.cut")["evidence"]["stderr"]
        .as_str()
        .unwrap();
    assert!(
        cut.starts_with(&"x".repeat(503)) && cut.ends_with('…'),
        "{cut}"
    );
    assert_eq!(check(&m, "forms.commands.json")["status"], "fail");
    let stdin = check(&m, "forms.commands.stdin");
    assert_eq!(stdin["expectations"][0]["actual"], MASK, "{stdin:#}");
    let http = check(&m, "forms.http.closed");
    let message = http["message"].as_str().unwrap_or_default();
    assert!(message.contains(MASK), "{http:#}");

    let forms = forms();
    for (name, text) in &artifacts {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{name} holds the secret as {form:?}:\n{text}"
            );
        }
    }
}

/// A filter on a secret would transform its placeholder (`<SECRET:TOKEN>` sent as the
/// credential): `certify` refuses the catalog at the filter's line (E242) and sends nothing.
#[test]
fn a_filtered_secret_is_refused_and_nothing_is_sent() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    server.set_nonblocking(true).unwrap();
    let port = server.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("topologies")).unwrap();
    std::fs::write(
        dir.path().join("lab.yaml"),
        format!(
            "catalog: lab\nprovider: reachability\nsecrets:\n  token: {{ default: \"env:LAB_TOKEN\" }}\n\
             groups:\n  - id: api\n    checks:\n      - id: auth\n        probe: {{ http: {{ url: \"http://127.0.0.1:{port}/\", \
             headers: {{ Authorization: \"Bearer {{{{ secrets.token | upper }}}}\" }} }} }}\n        expect: [{{ status: 200 }}]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("topologies/lab.yaml"),
        "topology: lab\ncatalogs:\n  lab: {}\n",
    )
    .unwrap();
    let root = dir.path().display().to_string();
    let out = dir.path().join("m.json");
    let o = labcert_env(
        &[
            "--catalogs",
            &root,
            "certify",
            "--environment",
            "t",
            "--topology",
            "lab",
            "--out",
            &out.display().to_string(),
        ],
        &[
            ("LAB_TOKEN".into(), SECRET.into()),
            ("CI".into(), "1".into()),
        ],
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("error[E242]"), "{}", o.stderr);
    assert!(o.stderr.contains("lab.yaml:9:92"), "located: {}", o.stderr);
    assert!(server.accept().is_err(), "a request was sent");
    assert!(!out.exists());
}
