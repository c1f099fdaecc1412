//! Which handler answers a method and path below `/api2/json`, with the permission each
//! needs. A method a path does not have is 501 (`Method 'GET /…/agent/ping' not
//! implemented`), as in PVE; a path on a node pveproxy cannot reach is 595.

use serde_json::{Value, json};

use super::agent;
use super::api::{Answer, ApiError, Data, Params};
use super::cloudinit;
use super::firewall::{self, Level};
use super::state::State;
use super::tasks::Effect;

/// Answers `method` on the decoded path segments.
pub fn route(st: &mut State, method: &str, segs: &[String], p: &Params) -> Answer {
    let path = format!("/{}", segs.join("/"));
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, s.as_slice()) {
        ("GET", ["version"]) => ok(json!({
            "version": st.version, "release": st.release, "repoid": "faa83925c9641325",
        })),
        ("GET", ["access", "permissions"]) => ok(st.permissions()),
        ("GET", ["cluster", "status"]) => {
            st.need("/", "Sys.Audit")?;
            ok(st.cluster_status())
        }
        ("GET", ["cluster", "resources"]) => ok(st.resources(p.get("type"))?),
        ("GET", ["cluster", "firewall", "options"]) => {
            st.need("/", "Sys.Audit")?;
            ok(Value::Object(st.cluster_firewall.clone()))
        }
        ("PUT", ["cluster", "firewall", "options"]) => {
            st.need("/", "Sys.Modify")?;
            firewall::put_options(&mut st.cluster_firewall, p, Level::Cluster)?;
            ok(Value::Null)
        }
        ("GET", ["nodes"]) => ok(st.nodes_view()),
        (_, ["nodes", node, rest @ ..]) => {
            let Some(n) = st.node(node) else {
                return Err(ApiError::server(format!("no such cluster node '{node}'")));
            };
            if !n.reachable() {
                return Err(ApiError::node_unreachable());
            }
            node_route(st, method, node, rest, p, &path)
        }
        _ => Err(ApiError::not_implemented(method, &path)),
    }
}

fn ok(v: Value) -> Answer {
    Ok(Data::from(v))
}

fn node_route(
    st: &mut State,
    method: &str,
    node: &str,
    rest: &[&str],
    p: &Params,
    path: &str,
) -> Answer {
    let node_path = format!("/nodes/{node}");
    fn network<'a>(st: &'a mut State, node: &str) -> &'a mut super::network::Network {
        &mut st.node_mut(node).expect("checked by the caller").network
    }
    match (method, rest) {
        ("GET", ["network"]) => {
            // pve-manager `PVE/API2/Network.pm` (index): a bridge is listed only when the user
            // may audit or use it as an SDN zone member (`check_sdn_bridge` on
            // /sdn/zones/localnetwork/<bridge>, SDN.Audit or SDN.Use); no 403, just fewer rows.
            let sees_bridges = ["SDN.Audit", "SDN.Use"]
                .iter()
                .any(|p| st.need("/sdn/zones/localnetwork", p).is_ok());
            network(st, node).list(p.get("type"), sees_bridges)
        }
        ("PUT", ["network"]) => {
            st.need(&node_path, "Sys.Modify")?;
            let effect = Effect::Reload { node: node.into() };
            ok(st.spawn(node, "srvreload", "networking", effect).into())
        }
        ("POST", ["network"]) => {
            st.need(&node_path, "Sys.Modify")?;
            network(st, node).create(p)?;
            ok(Value::Null)
        }
        ("DELETE", ["network"]) => {
            st.need(&node_path, "Sys.Modify")?;
            network(st, node).revert();
            ok(Value::Null)
        }
        ("GET", ["network", iface]) => {
            st.need(&node_path, "Sys.Audit")?;
            ok(network(st, node).get(iface)?)
        }
        ("PUT", ["network", iface]) => {
            st.need(&node_path, "Sys.Modify")?;
            network(st, node).update(iface, p)?;
            if st.colleague.as_deref() == Some(node) {
                st.colleague = None;
                let ip = st.node(node).expect("checked").ip.clone();
                network(st, node).move_address_to_vlan(&ip);
            }
            ok(Value::Null)
        }
        ("DELETE", ["network", iface]) => {
            st.need(&node_path, "Sys.Modify")?;
            network(st, node).remove(iface)?;
            ok(Value::Null)
        }
        ("GET", ["tasks", upid, "status"]) => ok(st.poll_task(node, upid)?),
        ("GET", ["tasks", upid, "log"]) => {
            let start = p.integer("start", 0, i64::MAX)?.unwrap_or(0) as usize;
            let limit = p.integer("limit", 0, i64::MAX)?.unwrap_or(50) as usize;
            ok(st.task(node, upid)?.log_lines(start, limit))
        }
        ("GET", ["firewall", "options"]) => {
            st.need(&node_path, "Sys.Audit")?;
            ok(Value::Object(
                st.node(node).expect("checked").firewall.clone(),
            ))
        }
        ("PUT", ["firewall", "options"]) => {
            st.need(&node_path, "Sys.Modify")?;
            let n = st.node_mut(node).expect("checked");
            firewall::put_options(&mut n.firewall, p, Level::Node)?;
            ok(Value::Null)
        }
        ("GET", ["qemu"]) => {
            let rows: Vec<Value> = if st.need("/vms", "VM.Audit").is_ok() {
                st.vms
                    .values()
                    .filter(|vm| vm.node == node)
                    .map(|vm| vm.status())
                    .collect()
            } else {
                Vec::new()
            };
            ok(Value::Array(rows))
        }
        (_, ["qemu", vmid, rest @ ..]) => vm_route(st, method, node, vmid, rest, p, path),
        _ => Err(ApiError::not_implemented(method, path)),
    }
}

/// The privilege a config update needs, by the settings it touches.
fn config_privilege(p: &Params) -> &'static str {
    let keys: Vec<&str> = p.keys().collect();
    if keys.iter().any(|k| {
        k.starts_with("ide")
            || k.starts_with("scsi")
            || k.starts_with("sata")
            || k.starts_with("virtio")
    }) {
        "VM.Config.Disk"
    } else if keys.iter().any(|k| cloudinit::is_key(k)) {
        "VM.Config.Cloudinit"
    } else if keys.iter().any(|k| k.starts_with("net")) {
        "VM.Config.Network"
    } else {
        "VM.Config.Options"
    }
}

/// How a VM write fails while the cluster is inquorate: pmxcfs makes /etc/pve read-only.
/// A config write (qemu-server `PVE::QemuConfig->write_config` → pve-cluster
/// `cfs_write_file`) cannot open its temporary file; a firewall write cannot take its cfs
/// lock (pve-cluster `PVE/Cluster.pm` `$cfs_lock`: "no quorum!"); a start checks quorum first
/// (`check_cfs_quorum`). Simplified: PVE waits out the lock's timeout before the firewall
/// error, and an asynchronous config POST fails in its task; here each answers at once.
fn inquorate_write(method: &str, rest: &[&str], node: &str, vmid: u32) -> Option<String> {
    let denied = || {
        format!(
            "unable to open file '/etc/pve/nodes/{node}/qemu-server/{vmid}.conf.tmp.{}' - Permission denied",
            40_000 + vmid
        )
    };
    match (method, rest) {
        ("PUT" | "POST", ["config"]) | ("PUT", ["cloudinit"]) => Some(denied()),
        ("PUT", ["firewall", "options"]) | ("POST", ["firewall", "rules"]) => {
            Some(format!("cfs-lock 'firewall-vm-{vmid}' error: no quorum!"))
        }
        ("POST", ["status", "start"]) => Some("cluster not ready - no quorum?".into()),
        _ => None,
    }
}

fn vm_route(
    st: &mut State,
    method: &str,
    node: &str,
    vmid: &str,
    rest: &[&str],
    p: &Params,
    path: &str,
) -> Answer {
    let Ok(id) = vmid.parse::<u32>() else {
        return Err(ApiError::param(
            "vmid",
            "invalid format - value does not look like a valid VM ID",
        ));
    };
    let acl = format!("/vms/{id}");
    // The permission check comes first, then the config is loaded.
    let privilege = match (method, rest) {
        ("GET", ["config" | "pending" | "cloudinit" | "firewall", ..] | ["status", "current"]) => {
            "VM.Audit"
        }
        ("PUT" | "POST", ["config"]) => config_privilege(p),
        ("POST", ["status", "start" | "stop" | "shutdown"]) => "VM.PowerMgmt",
        ("POST", ["agent", "ping"]) => "VM.Monitor",
        ("GET", ["agent", cmd]) if agent::GET_COMMANDS.contains(cmd) => "VM.Monitor",
        ("PUT", ["cloudinit"]) => "VM.Config.Cloudinit",
        ("PUT", ["firewall", "options"]) | ("POST", ["firewall", "rules"]) => "VM.Config.Network",
        _ => return Err(ApiError::not_implemented(method, path)),
    };
    st.need(&acl, privilege)?;
    if !st.quorate()
        && let Some(why) = inquorate_write(method, rest, node, id)
    {
        return Err(ApiError::server(why));
    }
    let (boot_delay, storages) = (st.agent_boot_delay, st.storages.clone());
    let vm = match st.vms.get_mut(&id) {
        Some(vm) if vm.node == node => vm,
        _ => {
            return Err(ApiError::server(format!(
                "Configuration file 'nodes/{node}/qemu-server/{id}.conf' does not exist"
            )));
        }
    };
    match (method, rest) {
        ("GET", ["config"]) => ok(vm.config_view(p.boolean("current")? == Some(1))),
        ("PUT", ["config"]) => {
            vm.check_update(p, &storages)?;
            vm.update(p);
            ok(Value::Null)
        }
        ("POST", ["config"]) => {
            vm.check_update(p, &storages)?;
            let effect = Effect::Config {
                vmid: id,
                params: p.clone(),
            };
            ok(st.spawn(node, "qmconfig", vmid, effect).into())
        }
        ("GET", ["pending"]) => ok(vm.pending_view()),
        ("GET", ["status", "current"]) => ok(vm.status()),
        ("POST", ["status", action]) => {
            let (kind, effect) = match *action {
                "start" => ("qmstart", Effect::Start { vmid: id }),
                "shutdown" => ("qmshutdown", Effect::Shutdown { vmid: id }),
                _ => ("qmstop", Effect::Stop { vmid: id }),
            };
            ok(st.spawn(node, kind, vmid, effect).into())
        }
        ("POST" | "GET", ["agent", cmd]) => {
            agent::available(vm, boot_delay)?;
            ok(agent::result(vm, cmd))
        }
        ("GET", ["cloudinit"]) => ok(cloudinit::pending(vm)),
        ("PUT", ["cloudinit"]) => {
            cloudinit::regenerate(vm);
            ok(Value::Null)
        }
        ("GET", ["cloudinit", "dump"]) => ok(cloudinit::dump(vm, p.get("type"))?.into()),
        ("GET", ["firewall", "options"]) => ok(Value::Object(vm.firewall_options.clone())),
        ("PUT", ["firewall", "options"]) => {
            firewall::put_options(&mut vm.firewall_options, p, Level::Vm)?;
            ok(Value::Null)
        }
        ("GET", ["firewall", "rules"]) => ok(Value::Array(
            vm.firewall_rules
                .iter()
                .cloned()
                .map(Value::Object)
                .collect(),
        )),
        ("POST", ["firewall", "rules"]) => {
            firewall::add_rule(&mut vm.firewall_rules, p)?;
            ok(Value::Null)
        }
        _ => Err(ApiError::not_implemented(method, path)),
    }
}
