//! A catalog root where the reachability catalog's provider dependencies are met by the
//! lab: the real `catalogs/reachability.yaml`, next to stand-ins for the `pve`, `aws`,
//! `azure` and `oci` catalogs (placeholders for clouds the lab has no instance of, never
//! selected) and a `netlab` topology binding them.
//!
//! Most reachability checks between endpoints need the provider catalog's proof that their
//! source is up (`pve.vms.ssh-boot[<vm>]`, `aws.instance.cloudinit`, …), which the real
//! catalogs reach through the PVE API and the cloud CLIs: neither exists in the lab. The
//! stand-ins hold checks under exactly those ids: a node, VM or instance is proved up by a
//! real SSH login onto it; bridges, VLAN routing and the firewall are what the lab itself
//! built, so those are placeholders that always pass. Every request a stand-in makes
//! carries [`MARK`], so a recording can leave them out ([`is_standin`]).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::layout::{Host, Role};
use super::sshd::Keys;
use super::vars;

/// In every request a stand-in check makes.
pub const MARK: &str = "netlab-standin";

/// Whether a recorded exchange (`{"kind", "request", …}`) is a stand-in's.
pub fn is_standin(exchange: &Value) -> bool {
    exchange["request"].to_string().contains(MARK)
}

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
        title: "{{ item.name }} answers SSH with the runner's key"
        for_each: "{{ vars.nodes }}"
        probe:
          ssh:
            host: "{{ item.addr }}"
            user: root
            identity: "{{ vars.identity }}"
            known_hosts: "{{ vars.known_hosts }}"
            command: echo netlab-standin
          timeout: 10s
        expect:
          - { stdout: { equals: netlab-standin } }
  - id: network
    checks:
      - id: bridges
        title: "Placeholder: the netlab built one bridge per VLAN"
        probe: { command: { argv: ["true", "netlab-standin"] } }
  - id: routing
    checks:
      - id: forwarding
        title: "Placeholder: the netlab's router forwards between the VLANs"
        probe: { command: { argv: ["true", "netlab-standin"] } }
  - id: firewall
    checks:
      - id: rules
        title: "Placeholder: the netlab's router holds the deny rules"
        probe: { command: { argv: ["true", "netlab-standin"] } }
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
            command: echo netlab-standin
          timeout: 10s
        expect:
          - { stdout: { equals: netlab-standin } }
"#;

/// Each cloud's check the reachability catalog needs: provider, group, check.
const CLOUDS: [(&str, &str, &str); 3] = [
    ("aws", "instance", "cloudinit"),
    ("azure", "vm", "cloudinit"),
    ("oci", "instance", "cloudinit"),
];

/// A cloud's stand-in: its test instance answers SSH with the runner's key.
fn cloud(provider: &str, group: &str, check: &str) -> String {
    format!(
        r#"catalog: {provider}
provider: {provider}
title: {provider} stand-in (netlab)
description: >-
  Takes the place of the {provider} catalog in the reachability lab, which has no cloud:
  the check the reachability catalog needs, under the same id.
vars:
  host: {{ type: string }}
  user: {{ type: string }}
  identity: {{ type: string }}
  known_hosts: {{ type: string }}
groups:
  - id: {group}
    checks:
      - id: {check}
        title: The test instance answers SSH with the runner's key
        probe:
          ssh:
            host: "{{{{ vars.host }}}}"
            user: "{{{{ vars.user }}}}"
            identity: "{{{{ vars.identity }}}}"
            known_hosts: "{{{{ vars.known_hosts }}}}"
            command: echo {MARK}
          timeout: 10s
        expect:
          - {{ stdout: {{ equals: {MARK} }} }}
"#
    )
}

fn placeholder(provider: &str, group: &str, check: &str) -> String {
    format!(
        "catalog: {provider}\nprovider: {provider}\ntitle: {provider} placeholder (netlab)\n\
         groups:\n  - id: {group}\n    checks:\n      - id: {check}\n        \
         title: Placeholder, never selected in the netlab\n        \
         probe: {{ command: {{ argv: [\"true\", \"{MARK}\"] }} }}\n"
    )
}

/// The topology of the stand-in root.
pub const TOPOLOGY: &str = "netlab";

/// Writes the root under `dir/standins` and returns it. Its topology selects pve and every
/// cloud the lab has an instance of.
pub fn write(dir: &Path, hosts: &[Host], keys: &Keys) -> PathBuf {
    let root = dir.join("standins");
    std::fs::create_dir_all(root.join("topologies")).expect("stand-in root");
    let reachability = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogs/reachability.yaml");
    std::fs::copy(&reachability, root.join("reachability.yaml"))
        .unwrap_or_else(|e| panic!("{}: {e}", reachability.display()));
    std::fs::write(root.join("pve.yaml"), PVE).expect("pve stand-in");
    let identity = keys.identity.display().to_string();
    let known_hosts = keys.known_hosts.display().to_string();
    let mut providers = vec![json!("pve")];
    let mut catalogs = json!({
        "pve": { "vars": {
            "cert_vms": vars::cert_vms(hosts),
            "nodes": vars::pve_nodes(hosts),
            "identity": identity,
            "known_hosts": known_hosts,
        }},
        // Its inputs come from `--var reachability.…`, as with the demo topology.
        "reachability": { "vars": {} },
    });
    for (provider, group, check) in CLOUDS {
        let instance = hosts
            .iter()
            .find(|h| h.role == Role::Cloud && h.provider == Some(provider));
        let text = match instance {
            Some(h) => {
                providers.push(json!(provider));
                catalogs[provider] = json!({ "vars": {
                    "host": h.ssh.to_string(),
                    "user": h.user,
                    "identity": identity,
                    "known_hosts": known_hosts,
                }});
                cloud(provider, group, check)
            }
            None => placeholder(provider, group, check),
        };
        std::fs::write(root.join(format!("{provider}.yaml")), text).expect("stand-in catalog");
    }
    let topology = json!({
        "topology": TOPOLOGY,
        "description": "The netlab: stand-ins for the provider catalogs whose checks the lab can meet.",
        "providers": providers,
        "catalogs": catalogs,
    });
    // JSON is YAML.
    std::fs::write(
        root.join(format!("topologies/{TOPOLOGY}.yaml")),
        serde_json::to_string_pretty(&topology).expect("topology JSON"),
    )
    .expect("stand-in topology");
    root
}
