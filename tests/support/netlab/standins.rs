//! A catalog root where the reachability catalog's provider dependencies are met by the
//! lab: the real `catalogs/reachability.yaml`, next to stand-ins for the `pve` and `aws`
//! catalogs (placeholders for `azure` and `oci`, never selected) and a `netlab` topology
//! binding them.
//!
//! Most reachability checks between endpoints need the provider catalog's proof that their
//! source is up (`pve.vms.ssh-boot[<vm>]`, `aws.instance.cloudinit`, …), which the real
//! catalogs reach through the PVE API and the AWS CLI: neither exists in the lab. The
//! stand-ins hold checks under exactly those ids: a VM or instance is proved up by a real
//! SSH login onto it, the cluster by each node's API port; bridges, VLAN routing and the
//! firewall are what the lab itself built, so those are placeholders that always pass.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::layout::{Host, Role};
use super::sshd::Keys;
use super::vars;

const PVE: &str = r#"catalog: pve
provider: pve
title: PVE stand-in (netlab)
description: >-
  Takes the place of catalogs/pve.yaml in the reachability lab, which has no PVE API:
  the checks the reachability catalog needs, under the same ids.
vars:
  cert_vms: { type: list }
  nodes: { type: list }
  identity: { type: string }
  known_hosts: { type: string }
groups:
  - id: cluster
    checks:
      - id: nodes
        title: "{{ item.name }} answers on the API port"
        for_each: "{{ vars.nodes }}"
        probe: { tcp: { host: "{{ item.addr }}", port: 8006 }, timeout: 5s }
  - id: network
    checks:
      - id: bridges
        title: "Placeholder: the netlab built one bridge per VLAN"
        probe: { command: { argv: ["true"] } }
  - id: routing
    checks:
      - id: forwarding
        title: "Placeholder: the netlab's router forwards between the VLANs"
        probe: { command: { argv: ["true"] } }
  - id: firewall
    checks:
      - id: rules
        title: "Placeholder: the netlab's router holds the deny rules"
        probe: { command: { argv: ["true"] } }
  - id: vms
    checks:
      - id: ssh-boot
        title: "{{ item.name }} answers SSH with the runner's key"
        for_each: "{{ vars.cert_vms }}"
        probe:
          ssh:
            host: "{{ item.ip }}"
            user: root
            identity: "{{ vars.identity }}"
            known_hosts: "{{ vars.known_hosts }}"
            command: echo up
          timeout: 10s
        expect:
          - { stdout: { equals: up } }
"#;

const AWS: &str = r#"catalog: aws
provider: aws
title: AWS stand-in (netlab)
description: >-
  Takes the place of catalogs/aws.toml in the reachability lab, which has no AWS: the
  check the reachability catalog needs, under the same id.
vars:
  host: { type: string }
  identity: { type: string }
  known_hosts: { type: string }
groups:
  - id: instance
    checks:
      - id: cloudinit
        title: The test instance answers SSH with the runner's key
        probe:
          ssh:
            host: "{{ vars.host }}"
            user: root
            identity: "{{ vars.identity }}"
            known_hosts: "{{ vars.known_hosts }}"
            command: echo up
          timeout: 10s
        expect:
          - { stdout: { equals: up } }
"#;

/// Azure and OCI are never selected here, but the reachability catalog's `needs` must name
/// checks that exist: placeholders under those ids.
const UNSELECTED: [(&str, &str, &str); 2] = [
    ("azure", "vm", "cloudinit"),
    ("oci", "instance", "cloudinit"),
];

fn placeholder(provider: &str, group: &str, check: &str) -> String {
    format!(
        "catalog: {provider}\nprovider: {provider}\ntitle: {provider} placeholder (netlab)\n\
         groups:\n  - id: {group}\n    checks:\n      - id: {check}\n        \
         title: Placeholder, never selected in the netlab\n        \
         probe: {{ command: {{ argv: [\"true\"] }} }}\n"
    )
}

/// The topology of the stand-in root.
pub const TOPOLOGY: &str = "netlab";

/// Writes the root under `dir/standins` and returns it.
pub fn write(dir: &Path, hosts: &[Host], keys: &Keys) -> PathBuf {
    let root = dir.join("standins");
    std::fs::create_dir_all(root.join("topologies")).expect("stand-in root");
    let reachability = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogs/reachability.yaml");
    std::fs::copy(&reachability, root.join("reachability.yaml"))
        .unwrap_or_else(|e| panic!("{}: {e}", reachability.display()));
    std::fs::write(root.join("pve.yaml"), PVE).expect("pve stand-in");
    std::fs::write(root.join("aws.yaml"), AWS).expect("aws stand-in");
    for (provider, group, check) in UNSELECTED {
        std::fs::write(
            root.join(format!("{provider}.yaml")),
            placeholder(provider, group, check),
        )
        .expect("placeholder catalog");
    }
    let identity = keys.identity.display().to_string();
    let known_hosts = keys.known_hosts.display().to_string();
    let cloud = hosts
        .iter()
        .find(|h| h.role == Role::Cloud)
        .expect("a cloud instance");
    let topology = json!({
        "topology": TOPOLOGY,
        "description": "The netlab: PVE and AWS stand-ins whose checks the lab can meet.",
        "providers": ["pve", "aws"],
        "catalogs": {
            "pve": { "vars": {
                "cert_vms": vars::cert_vms(hosts),
                "nodes": vars::pve_nodes(hosts),
                "identity": identity,
                "known_hosts": known_hosts,
            }},
            // Its inputs come from `--var reachability.…`, as with the demo topology.
            "reachability": { "vars": {} },
            "aws": { "vars": {
                "host": cloud.addr.to_string(),
                "identity": identity,
                "known_hosts": known_hosts,
            }},
        },
    });
    // JSON is YAML.
    std::fs::write(
        root.join(format!("topologies/{TOPOLOGY}.yaml")),
        serde_json::to_string_pretty(&topology).expect("topology JSON"),
    )
    .expect("stand-in topology");
    root
}
