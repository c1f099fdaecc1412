//! Faults a fixture can start with: each is one thing wrong in an otherwise healthy lab,
//! the kind of thing one pve check must catch.

use serde_json::Value;

use super::api;
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
        }
    }
}
