//! A value rendered into an `ssh` probe's command stays data: passed with `--var` through
//! `argv` (directly and through a probe template's list parameter) or through `| shquote`
//! in a `command`, each hostile string arrives on a real OpenSSH server as exactly one
//! argument, and nothing in it runs.

// Test-support modules are private to this crate; their `pub` is for its files.
#![allow(unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "support/manifest.rs"]
mod manifest;
#[allow(dead_code)]
#[path = "support/sshd.rs"]
mod sshd;

use std::path::Path;

use manifest::{assert_valid, check};
use sshd::Sshd;

/// Each check prints its one argument as `[…]`: two arguments would print `[a][b]`, and a
/// command that ran would leave the marker file.
fn catalog(server: &Sshd) -> String {
    let ssh = format!(
        "host: 127.0.0.1, port: {}, user: {}, identity: {}, known_hosts: {}",
        server.port,
        server.user,
        server.path("id_ed25519").display(),
        server.known_hosts.display()
    );
    format!(
        r#"catalog: lab
provider: reachability
vars:
  payload: {{ type: string }}
probes:
  exec:
    params: {{ argv: {{ type: list }} }}
    ssh: {{ {ssh}, argv: ["{{{{ params.argv }}}}"] }}
groups:
  - id: injection
    checks:
      - id: argv
        probe: {{ ssh: {{ {ssh}, argv: [printf, "[%s]", "{{{{ vars.payload }}}}"] }} }}
        expect: &one [{{ exit: 0 }}, {{ stdout: {{ equals: "[{{{{ vars.payload }}}}]" }} }}]
      - id: template-argv
        probe: {{ use: exec, with: {{ argv: [printf, "[%s]", "{{{{ vars.payload }}}}"] }} }}
        expect: *one
      - id: shquote
        probe: {{ ssh: {{ {ssh}, command: "printf '[%s]' {{{{ vars.payload | shquote }}}}" }} }}
        expect: *one
"#
    )
}

fn write(dir: &Path, server: &Sshd) {
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::write(dir.join("lab.yaml"), catalog(server)).unwrap();
    std::fs::write(
        dir.join("topologies/lab.yaml"),
        "topology: lab\ncatalogs:\n  lab: {}\n",
    )
    .unwrap();
}

#[test]
fn hostile_values_arrive_as_one_argument_and_never_run() {
    let server = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &server);
    let marker = dir.path().join("pwned");
    let m = marker.display();
    let payloads = [
        format!("http://m/x?a=1&b=2; touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("'; touch {m}; '"),
        format!("\"; touch {m}; \""),
        format!("x\ntouch {m}"),
        format!("a && touch {m} || touch {m} | touch {m} > {m}"),
        "naïve 'quoted' \"double\" back\\slash $HOME * ~".to_string(),
    ];
    let root = dir.path().display().to_string();
    let out = dir.path().join("m.json").display().to_string();
    for payload in &payloads {
        let var = format!("lab.payload={payload}");
        let o = common::labcert_env(
            &[
                "--catalogs",
                &root,
                "certify",
                "--environment",
                "t",
                "--topology",
                "lab",
                "--var",
                &var,
                "--out",
                &out,
            ],
            &[("CI".into(), "1".into())],
        );
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        assert_eq!(o.code, 0, "{payload:?}\n{}{}\n{text}", o.stdout, o.stderr);
        let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_valid(&manifest);
        for id in ["argv", "template-argv", "shquote"] {
            let c = check(&manifest, &format!("lab.injection.{id}"));
            assert_eq!(c["status"], "pass", "{id} with {payload:?}: {c:#}");
        }
        assert!(!marker.exists(), "{payload:?} ran on the server");
    }
}
