//! Concurrency limits, measured by counting calls in flight: `--jobs`, a catalog's named
//! concurrency groups, and the per-endpoint bound for HTTP API hosts and SSH hosts.

use super::fake::Fake;
use super::lab::{Lab, check, check_probe};
use crate::run::{Cancel, Options, Status};

#[tokio::test]
async fn a_concurrency_group_runs_at_most_its_limit() {
    let mut checks: Vec<String> = (0..6)
        .map(|i| check(&format!("api{i}"), "concurrency: api"))
        .collect();
    checks.push(check("free1", ""));
    checks.push(check("free2", ""));
    let lab = Lab::new("concurrency: { api: 2 }", &checks);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[]);
    let out = lab.run(&fake, Options::default(), &cancel).await;

    assert_eq!(out.count(Status::Pass), 8);
    assert_eq!(fake.max_in_flight(|n| n.starts_with("api")), 2);
    // Checks outside the group are not held back by it.
    assert_eq!(fake.max_in_flight(|n| n.starts_with("free")), 2);
    assert_eq!(fake.max_in_flight(|_| true), 4);
}

#[tokio::test]
async fn jobs_bounds_the_whole_run() {
    let checks: Vec<String> = (0..7).map(|i| check(&format!("c{i}"), "")).collect();
    let lab = Lab::new("", &checks);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[]);
    let opts = Options {
        jobs: 3,
        ..Options::default()
    };
    let out = lab.run(&fake, opts, &cancel).await;

    assert_eq!(out.count(Status::Pass), 7);
    assert_eq!(fake.max_in_flight(|_| true), 3);
}

#[tokio::test]
async fn per_endpoint_bounds_each_http_host() {
    let mut checks = Vec::new();
    for host in ["a.test", "b.test:8006"] {
        for i in 0..4 {
            let id = format!("{}{i}", &host[..1]);
            let url = format!("https://{host}/api/{i}");
            checks.push(check_probe(&id, "", &format!("http: {{ url: \"{url}\" }}")));
        }
    }
    let lab = Lab::new("", &checks);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[]);
    let opts = Options {
        per_endpoint: 2,
        ..Options::default()
    };
    let out = lab.run(&fake, opts, &cancel).await;

    assert_eq!(out.count(Status::Pass), 8);
    assert_eq!(fake.max_in_flight(|n| n.contains("//a.test/")), 2);
    assert_eq!(fake.max_in_flight(|n| n.contains("//b.test:8006/")), 2);
    assert_eq!(fake.max_in_flight(|_| true), 4);
}

/// SSH hosts are bounded by `--ssh-channels` (the connection's channels), not by
/// `--per-endpoint` — although README "Scheduling" and `--per-endpoint`'s help say
/// "per HTTP API host or SSH host".
#[tokio::test]
async fn ssh_channels_not_per_endpoint_bounds_each_ssh_host() {
    let mut checks = Vec::new();
    for (host, n) in [("h1", 6), ("h2", 2)] {
        for i in 0..n {
            let probe = format!(
                "ssh: {{ host: {host}, user: u, command: \"{host} {i}\", host_key: \"SHA256:0000000000000000000000000000000000000000000\" }}"
            );
            checks.push(check_probe(&format!("{host}c{i}"), "", &probe));
        }
    }
    let lab = Lab::new("", &checks);
    let cancel = Cancel::default();
    let fake = Fake::new(&cancel, &[]);
    let opts = Options {
        per_endpoint: 2,
        ssh_channels: 3,
        ..Options::default()
    };
    let out = lab.run(&fake, opts, &cancel).await;

    assert_eq!(out.count(Status::Pass), 8);
    assert_eq!(fake.max_in_flight(|n| n.starts_with("h1 ")), 3);
    assert_eq!(fake.max_in_flight(|n| n.starts_with("h2 ")), 2);
    assert_eq!(fake.max_in_flight(|_| true), 5);
}
