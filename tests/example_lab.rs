//! The example lab (`catalogs/topologies/example-lab.toml`, the topology a lab engineer
//! copies) certified live, its PVE and AWS portions in one run, against fixtures laid out
//! from that very file: the PVE API fixture and its SSH side with the lab's nodes, bridges,
//! gateways, template and VMs (`support::pve::Lab::from_topology`), and moto seeded with the
//! lab's AWS account, region, image, network and instance. Only the fixtures' addresses,
//! keys and the ids moto chose are passed as `--var`s; the reachability catalog's lists are
//! emptied (its own lab is `tests/certify_reachability.rs`).
//!
//! Prints the wall time, the CPU time of labcert and its probes, and the number of AWS CLI
//! calls (each costs ~0.6 s of CPU, mostly Python imports and the EC2 model: on 2 cores the
//! CLI alone bounds the run from below at calls × 0.6 s / 2).
//!
//! Needs root, iproute2, openssh-server and target/cloud-venv (scripts/test.sh).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;

use support::cloud::{AwsFaults, Lab, children_cpu, require_venv};
use support::demo::root;
use support::manifest::assert_valid;
use support::netlab::TIMEDATECTL;
use support::netlab::from_vars::topology_vars;
use support::pve::{Lab as PveLab, PveFixture, Scenario, SshHosts};

fn topology() -> PathBuf {
    root().join("catalogs/topologies/example-lab.toml")
}

/// `status/reason` of every check of `catalogs`, by id.
fn verdicts(m: &Value, catalogs: &[&str]) -> BTreeMap<String, String> {
    m["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| catalogs.contains(&g["catalog"].as_str().unwrap_or("")))
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                format!(
                    "{}/{}",
                    c["status"].as_str().unwrap_or(""),
                    c["reason"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

#[test]
fn the_example_labs_pve_and_aws_portions_pass_in_one_run() {
    require_venv();
    let mut lab = Lab::new();
    let ns_path = format!("/run/netns/{}", lab.ns.name);
    let pve = PveFixture::with_faults_in(
        PveLab::from_topology(&topology()),
        &[Scenario::Healthy],
        Some(&ns_path),
    );
    let domain = topology_vars(&topology(), "pve")["node_domain"]
        .as_str()
        .expect("node_domain")
        .to_string();
    let ssh = SshHosts::start(&lab.ns, &pve, &domain);
    lab.start_moto(false);
    let aws = lab.seed_aws_for(&topology(), &AwsFaults::default());

    let out = lab.path("manifest.json");
    let mut args: Vec<String> = [
        "--catalogs",
        "catalogs",
        "certify",
        "--environment",
        "example",
        "--topology",
        "example-lab",
        "--live",
        "--providers",
        "pve,aws",
        "--out",
    ]
    .map(String::from)
    .to_vec();
    args.push(out.display().to_string());
    let mut vars = vec![
        format!("pve.url={}", pve.url()),
        format!("pve.fingerprint={}", pve.fingerprint()),
    ];
    vars.extend(ssh.vars());
    vars.extend(aws.vars.iter().map(|(k, v)| format!("{k}={v}")));
    for list in ["endpoints", "deny", "pve_nodes", "dns_names", "cloud_apis"] {
        vars.push(format!("reachability.{list}=[]"));
    }
    for v in vars {
        args.push("--var".into());
        args.push(v);
    }
    // The runner's clock (the reachability catalog's one check here): the machine has no
    // systemd-timedated, a fake answers as a synchronised runner does.
    let bin = lab.path("runner-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("timedatectl"), TIMEDATECTL).unwrap();
    std::fs::set_permissions(
        bin.join("timedatectl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut path = std::ffi::OsString::from(&bin);
    path.push(":");
    path.push(support::cloud::test_path());
    let cpu = children_cpu();
    let started = Instant::now();
    let o = lab
        .ns
        .command(env!("CARGO_BIN_EXE_labcert"))
        .current_dir(root())
        .args(&args)
        .env("PATH", path)
        .env("PVE_TOKEN", pve.token())
        .env("CI", "true")
        .envs(aws.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let cpu = children_cpu().saturating_sub(cpu);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_else(|e| {
        panic!(
            "no manifest ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    }))
    .unwrap();
    assert_valid(&m);
    println!(
        "example lab, pve + aws in one run: {took:.2?} wall, {cpu:.2?} CPU (labcert and its \
         probes), {} AWS CLI calls\n{stdout}",
        lab.aws_calls().len()
    );
    let v = verdicts(&m, &["pve", "aws"]);
    let not_passing: BTreeMap<&String, &String> =
        v.iter().filter(|(_, s)| !s.starts_with("pass/")).collect();
    assert!(not_passing.is_empty(), "{not_passing:#?}\n{stdout}");
    assert_eq!(
        (o.status.code(), &m["status"]),
        (Some(0), &"pass".into()),
        "{stdout}"
    );
    // Three nodes, two VMs, one template: the example lab's own inventory was certified.
    for id in [
        "pve.cluster.nodes",
        "pve.vms.ssh-boot[lab-vm-2]",
        "pve.templates.present",
        "aws.identity.caller",
    ] {
        assert_eq!(v.get(id).map(String::as_str), Some("pass/"), "{id}: {v:#?}");
    }
}
