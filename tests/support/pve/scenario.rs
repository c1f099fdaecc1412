//! Faults a fixture can start with: each is one thing wrong in an otherwise healthy lab,
//! the kind of thing one pve check must catch.

use serde_json::Value;

use super::api;
use super::cloudinit;
use super::state::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Healthy,
    /// The token was regenerated: the secret the test binds is refused (401 everywhere).
    BadToken,
    /// A privilege-separated token with no ACL: `/access/permissions` is `{}`, inventory
    /// lists come back empty (not 403), reading a VM is 403.
    TokenWithoutPrivileges,
    /// The node is powered off: its paths answer 595, it is offline in /nodes and the
    /// cluster loses quorum when it was half of it.
    NodeOffline(&'static str),
    /// The bridge on the node has neither `bridge_vlan_aware` nor `bridge_vids`.
    BridgeNotVlanAware {
        node: &'static str,
        iface: &'static str,
    },
    /// Someone changed the node's VM bridge MTU in the GUI and never applied it: GET shows
    /// interfaces.new and a top-level `changes`.
    PendingNetworkChanges(&'static str),
    /// The template was deleted.
    TemplateMissing(u32),
    /// The VM's config has no `agent` (and QEMU runs without the device).
    QgaDisabled(u32),
    /// Agent configured and the device present, but qemu-guest-agent is not installed in
    /// the guest: every agent call is 500 "QEMU guest agent is not running".
    QgaNotResponding(u32),
    /// `sshkeys` changed after the cloud-init drive was generated: the drive is stale.
    StaleCloudInit(u32),
    /// The VM-level firewall is off (`enable` absent).
    FirewallDisabled(u32),
    VmStopped(u32),
    /// The token's role is read-only (PVEAuditor plus VM.Monitor): enough to certify, not
    /// to repair.
    ReadOnlyToken,
    /// The token lacks SDN.Audit (a custom role made before PVE 8 put local bridges under
    /// SDN permissions): the node's network list silently leaves every bridge out.
    TokenWithoutSdnAudit,
    /// The cluster-wide firewall switch is off (`enable: 0`).
    ClusterFirewallOff,
    /// The node's host firewall is switched off (`enable: 0`).
    NodeFirewallOff(&'static str),
    /// The VM's net0 has `firewall=0`: its traffic bypasses the VM's rules.
    NicNotFiltered(u32),
    /// The VM's rule accepting SSH from the runner is disabled (`enable: 0`).
    SshRuleDisabled(u32),
    /// The template's description names another image (the pipeline rebuilt it from a
    /// different one).
    TemplateWrongImage(u32),
    /// The template has no `agent`: every clone starts without the agent device.
    TemplateWithoutAgent(u32),
    /// The VM's cloud-init drive was detached (`ide2` gone from its config).
    CloudInitDriveMissing(u32),
    /// A `cicustom` user snippet replaces the generated user-data (hostname and keys
    /// included); the drive was generated with it, so it is not stale.
    CustomUserData(u32),
    /// The guest never applied the user-data's hostname: it still calls itself `ubuntu`
    /// (the cloud image's).
    GuestHostnameNotSet(u32),
    /// The guest took a DHCP lease (`.199` of its subnet) instead of ipconfig0's address.
    GuestAddressWrong(u32),
    /// The guest no longer sees its NoCloud seed (see [`super::Vm::guest_sees_seed`]):
    /// `blkid -t LABEL=cidata` finds nothing. Only the SSH stand-in shows it.
    SeedUnreadable(u32),
    /// The VM was rebuilt with new SSH host keys; the runner's known_hosts holds the old
    /// one. Only the SSH stand-in shows it.
    GuestHostKeyChanged(u32),
    /// The node's VLAN gateway interface was deleted from the running network. Only the SSH
    /// stand-in (`ip addr`) shows it; the network API lists bridges only.
    GatewayMissing {
        node: &'static str,
        iface: &'static str,
    },
    /// A colleague works on the node's network in the GUI at the same time as labcert: the
    /// first API write to an interface of the node is followed by theirs, which moves the
    /// management address off its bridge onto a new VLAN interface — staged in
    /// interfaces.new (each PVE write reads, changes and writes that file under its lock, so
    /// both land there), applied by whoever reloads next.
    ColleagueMovesManagement(&'static str),
}

/// The key the cloud-init drive still holds in [`Scenario::StaleCloudInit`].
pub const OLD_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9sZEtleVJvdGF0ZWRBd2F5MDAwMDAwMDAwMDAw old@runner";

impl Scenario {
    /// Every scenario, aimed at the demo lab (pve2 offline, vmbr1 on pve1, template 9000,
    /// cert-a = VM 4101).
    pub fn every() -> Vec<Scenario> {
        vec![
            Scenario::Healthy,
            Scenario::BadToken,
            Scenario::TokenWithoutPrivileges,
            Scenario::NodeOffline("pve2"),
            Scenario::BridgeNotVlanAware {
                node: "pve1",
                iface: "vmbr1",
            },
            Scenario::PendingNetworkChanges("pve1"),
            Scenario::TemplateMissing(9000),
            Scenario::QgaDisabled(4101),
            Scenario::QgaNotResponding(4101),
            Scenario::StaleCloudInit(4101),
            Scenario::FirewallDisabled(4101),
            Scenario::VmStopped(4101),
            Scenario::ReadOnlyToken,
            Scenario::TokenWithoutSdnAudit,
            Scenario::ClusterFirewallOff,
            Scenario::NodeFirewallOff("pve2"),
            Scenario::NicNotFiltered(4102),
            Scenario::SshRuleDisabled(4103),
            Scenario::TemplateWrongImage(9000),
            Scenario::TemplateWithoutAgent(9000),
            Scenario::CloudInitDriveMissing(4101),
            Scenario::CustomUserData(4102),
            Scenario::GuestHostnameNotSet(4103),
            Scenario::GuestAddressWrong(4102),
            Scenario::SeedUnreadable(4102),
            Scenario::GuestHostKeyChanged(4103),
            Scenario::GatewayMissing {
                node: "pve1",
                iface: "vmbr1.30",
            },
            Scenario::ColleagueMovesManagement("pve1"),
        ]
    }

    /// Turns the healthy lab into this scenario's. Panics when the target is not in the lab
    /// (a test bug).
    pub(super) fn apply(&self, st: &mut State, vm_bridge: &str) {
        let missing = |what: String| -> ! { panic!("scenario {self:?}: no {what} in the lab") };
        match *self {
            Scenario::Healthy => {}
            Scenario::BadToken => {
                st.token_secret = format!("{}-rotated", st.token_secret);
            }
            Scenario::TokenWithoutPrivileges => st.privileges.clear(),
            Scenario::NodeOffline(node) => {
                st.node_mut(node)
                    .unwrap_or_else(|| missing(format!("node {node}")))
                    .online = false;
            }
            Scenario::BridgeNotVlanAware { node, iface } => {
                let n = st
                    .node_mut(node)
                    .unwrap_or_else(|| missing(format!("node {node}")));
                let i = n
                    .network
                    .running
                    .get_mut(iface)
                    .unwrap_or_else(|| missing(format!("{iface} on {node}")));
                i.remove("bridge_vlan_aware");
                i.remove("bridge_vids");
            }
            Scenario::PendingNetworkChanges(node) => {
                let n = st
                    .node_mut(node)
                    .unwrap_or_else(|| missing(format!("node {node}")));
                n.network
                    .pending_mut()
                    .get_mut(vm_bridge)
                    .unwrap_or_else(|| missing(format!("{vm_bridge} on {node}")))
                    .insert("mtu".into(), "9000".into());
            }
            Scenario::TemplateMissing(vmid) => {
                st.vms
                    .remove(&vmid)
                    .unwrap_or_else(|| missing(format!("template {vmid}")));
            }
            Scenario::QgaDisabled(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                vm.config.remove("agent");
                vm.agent_device = false;
            }
            Scenario::QgaNotResponding(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")))
                    .guest_agent_installed = false;
            }
            Scenario::StaleCloudInit(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                vm.cloudinit_generated
                    .insert("sshkeys".into(), Value::String(api::uri_escape(OLD_KEY)));
            }
            Scenario::FirewallDisabled(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")))
                    .firewall_options
                    .remove("enable");
            }
            Scenario::VmStopped(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                vm.running = false;
                vm.started_at = None;
                vm.agent_device = false;
            }
            Scenario::ReadOnlyToken => {
                st.privileges
                    .retain(|p| p.ends_with(".Audit") || p == "VM.Monitor");
            }
            Scenario::TokenWithoutSdnAudit => st.privileges.retain(|p| p != "SDN.Audit"),
            Scenario::ClusterFirewallOff => {
                st.cluster_firewall.insert("enable".into(), 0.into());
            }
            Scenario::NodeFirewallOff(node) => {
                st.node_mut(node)
                    .unwrap_or_else(|| missing(format!("node {node}")))
                    .firewall
                    .insert("enable".into(), 0.into());
            }
            Scenario::NicNotFiltered(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                let net0 = vm.config.get("net0").and_then(Value::as_str).unwrap_or("");
                let net0 = net0.replace("firewall=1", "firewall=0");
                vm.config.insert("net0".into(), net0.into());
            }
            Scenario::SshRuleDisabled(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                for rule in &mut vm.firewall_rules {
                    if rule.get("dport").and_then(Value::as_str) == Some("22") {
                        rule.insert("enable".into(), 0.into());
                    }
                }
            }
            Scenario::TemplateWrongImage(vmid) => {
                let t = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("template {vmid}")));
                let other = "0".repeat(64);
                let d = t.config.get("description").and_then(Value::as_str);
                let d = d
                    .unwrap_or("")
                    .lines()
                    .map(|l| match l.strip_prefix("image-sha256=") {
                        Some(_) => format!("image-sha256={other}\n"),
                        None => format!("{l}\n"),
                    });
                let d: String = d.collect();
                t.config.insert("description".into(), d.into());
            }
            Scenario::TemplateWithoutAgent(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("template {vmid}")))
                    .config
                    .remove("agent");
            }
            Scenario::CloudInitDriveMissing(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                let volume = format!(":vm-{vmid}-cloudinit");
                vm.config
                    .retain(|_, v| !v.as_str().is_some_and(|v| v.contains(&volume)));
            }
            Scenario::CustomUserData(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                vm.config.insert(
                    "cicustom".into(),
                    "user=local:snippets/site-user.yaml".into(),
                );
                cloudinit::regenerate(vm);
            }
            Scenario::GuestHostnameNotSet(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")))
                    .guest_hostname = "ubuntu".into();
            }
            Scenario::GuestAddressWrong(vmid) => {
                let vm = st
                    .vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")));
                let ip = vm
                    .guest_ip
                    .clone()
                    .unwrap_or_else(|| missing(format!("address of VM {vmid}")));
                let (net, _) = ip.rsplit_once('.').unwrap_or((&ip, ""));
                vm.guest_ip = Some(format!("{net}.199"));
            }
            Scenario::SeedUnreadable(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")))
                    .guest_sees_seed = false;
            }
            Scenario::GuestHostKeyChanged(vmid) => {
                st.vm_mut(vmid)
                    .unwrap_or_else(|| missing(format!("VM {vmid}")))
                    .guest_host_key_changed = true;
            }
            Scenario::ColleagueMovesManagement(node) => {
                st.node(node)
                    .unwrap_or_else(|| missing(format!("node {node}")));
                st.colleague = Some(node.to_string());
            }
            Scenario::GatewayMissing { node, iface } => {
                st.node_mut(node)
                    .unwrap_or_else(|| missing(format!("node {node}")))
                    .network
                    .running
                    .remove(iface)
                    .unwrap_or_else(|| missing(format!("{iface} on {node}")));
            }
        }
    }
}
