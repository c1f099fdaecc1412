//! The lab as the API sees it: the cluster and its nodes (each with its network and
//! firewall options), the VMs and templates, the cluster firewall, the tasks, and the API
//! token with the privileges it holds. Tests read a snapshot of it to prove a repair call
//! really changed the lab, or edit it to stage a situation.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::api::ApiError;
use super::firewall;
use super::lab::Lab;
use super::network::Network;
use super::tasks::{Effect, Task};
use super::vm::Vm;

/// Privileges of the healthy token's role, granted on `/` (propagating).
pub const PRIVILEGES: &[&str] = &[
    "Datastore.AllocateSpace",
    "Datastore.Audit",
    "SDN.Audit",
    "Sys.Audit",
    "Sys.Modify",
    "VM.Audit",
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Monitor",
    "VM.PowerMgmt",
];

/// The ACL paths `GET /access/permissions` always evaluates.
const PERMISSION_PATHS: &[&str] = &[
    "/",
    "/access",
    "/access/groups",
    "/nodes",
    "/pools",
    "/sdn",
    "/storage",
    "/vms",
];

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// Management address (on the management bridge).
    pub ip: String,
    /// Powered on and in the cluster.
    pub online: bool,
    /// `ssl_fingerprint` in GET /nodes.
    pub fingerprint: String,
    pub network: Network,
    /// `/etc/pve/nodes/<node>/host.fw` options.
    pub firewall: Map<String, Value>,
}

impl Node {
    /// Whether the other nodes (and pveproxy) reach it: online and still holding its
    /// management address in the running network config.
    pub fn reachable(&self) -> bool {
        self.online && self.network.has_address(&self.ip)
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub cluster_name: String,
    pub release: String,
    pub version: String,
    /// In the lab's order; the first serves the API.
    pub nodes: Vec<Node>,
    pub vms: BTreeMap<u32, Vm>,
    pub cluster_firewall: Map<String, Value>,
    pub tasks: Vec<Task>,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    /// The secret the cluster accepts for the token.
    pub token_secret: String,
    /// What the token may do, everywhere (empty: a privilege-separated token with no ACL).
    pub privileges: Vec<String>,
    pub storages: Vec<String>,
    pub task_duration: Duration,
    pub agent_boot_delay: Duration,
    /// The node where a colleague moves the management address in interfaces.new right
    /// after the next API write to one of its interfaces
    /// ([`super::Scenario::ColleagueMovesManagement`]).
    pub colleague: Option<String>,
}

fn fake_fingerprint(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl State {
    /// The healthy lab: every node online, every VM running with its agent answering.
    /// `fingerprint` is the served certificate's (the entry node's `ssl_fingerprint`).
    pub fn new(lab: &Lab, fingerprint: &str, secret: &str) -> State {
        let nodes = lab
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Node {
                name: n.name.clone(),
                ip: n.ip.clone(),
                online: true,
                fingerprint: if i == 0 {
                    fingerprint.to_string()
                } else {
                    fake_fingerprint(&n.name)
                },
                network: Network::for_node(lab, n),
                // Absent `enable` is on at node level; one node says it explicitly.
                firewall: if i == 0 {
                    match json!({"enable": 1, "log_level_in": "nolog"}) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    }
                } else {
                    Map::new()
                },
            })
            .collect();
        let mut vms = BTreeMap::new();
        for t in &lab.templates {
            vms.insert(t.vmid, Vm::template(lab, t));
        }
        let template = lab.templates.first().map_or(9000, |t| t.vmid);
        for v in &lab.vms {
            vms.insert(v.vmid, Vm::certification(lab, v, template));
        }
        State {
            cluster_name: lab.cluster_name.clone(),
            release: lab.release.clone(),
            version: lab.version.clone(),
            nodes,
            vms,
            cluster_firewall: firewall::cluster_defaults(),
            tasks: Vec::new(),
            token_id: lab.token_id.clone(),
            token_secret: secret.to_string(),
            privileges: PRIVILEGES.iter().map(|p| p.to_string()).collect(),
            storages: lab.storages.clone(),
            task_duration: lab.task_duration,
            agent_boot_delay: lab.agent_boot_delay,
            colleague: None,
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.name == name)
    }

    pub fn vm(&self, vmid: u32) -> Option<&Vm> {
        self.vms.get(&vmid)
    }

    pub fn vm_mut(&mut self, vmid: u32) -> Option<&mut Vm> {
        self.vms.get_mut(&vmid)
    }

    /// Whether the API's own node still answers.
    pub fn entry_reachable(&self) -> bool {
        self.nodes.first().is_some_and(Node::reachable)
    }

    /// A permission check: 403 unless the token holds `privilege` (its ACL is on `/`).
    pub fn need(&self, path: &str, privilege: &str) -> Result<(), ApiError> {
        if self.privileges.iter().any(|p| p == privilege) {
            Ok(())
        } else {
            Err(ApiError::permission(path, privilege))
        }
    }

    fn can(&self, privilege: &str) -> bool {
        self.privileges.iter().any(|p| p == privilege)
    }

    /// `GET /access/permissions`: `{path: {privilege: 1}}` for every path the token has
    /// something on; `{}` for a privilege-separated token without ACLs.
    pub fn permissions(&self) -> Value {
        let mut out = Map::new();
        if !self.privileges.is_empty() {
            let privs: Map<String, Value> = self
                .privileges
                .iter()
                .map(|p| (p.clone(), 1.into()))
                .collect();
            for path in PERMISSION_PATHS {
                out.insert(path.to_string(), Value::Object(privs.clone()));
            }
        }
        Value::Object(out)
    }

    /// Corosync's view: quorate while more than half the nodes are reachable.
    pub fn quorate(&self) -> bool {
        let up = self.nodes.iter().filter(|n| n.reachable()).count();
        up * 2 > self.nodes.len()
    }

    /// `GET /cluster/status`.
    pub fn cluster_status(&self) -> Value {
        let mut rows = vec![json!({
            "type": "cluster", "id": "cluster", "name": self.cluster_name,
            "nodes": self.nodes.len(), "quorate": i32::from(self.quorate()), "version": 4,
        })];
        for (i, n) in self.nodes.iter().enumerate() {
            rows.push(json!({
                "type": "node", "id": format!("node/{}", n.name), "name": n.name,
                "nodeid": i + 1, "online": i32::from(n.reachable()), "local": i32::from(i == 0),
                "ip": n.ip, "level": "",
            }));
        }
        Value::Array(rows)
    }

    /// `GET /nodes`: every member (usage figures only with Sys.Audit; an offline node
    /// has none).
    pub fn nodes_view(&self) -> Value {
        let rows: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                let mut row = json!({
                    "node": n.name, "type": "node", "id": format!("node/{}", n.name),
                    "status": if n.reachable() { "online" } else { "offline" },
                    "ssl_fingerprint": n.fingerprint,
                });
                if n.reachable() && self.can("Sys.Audit") {
                    let extra = json!({
                        "level": "", "uptime": 2_236_708, "cpu": 0.0348, "maxcpu": 16,
                        "mem": 11_508_809_728u64, "maxmem": 33_568_288_768u64,
                        "disk": 2_310_930_432u64, "maxdisk": 940_743_983_104u64,
                    });
                    if let (Value::Object(r), Value::Object(e)) = (&mut row, extra) {
                        r.extend(e);
                    }
                }
                row
            })
            .collect();
        Value::Array(rows)
    }

    /// `GET /cluster/resources[?type=vm|node|storage]`, filtered by what the token may
    /// audit (a token without privileges gets empty lists, not 403).
    pub fn resources(&self, kind: Option<&str>) -> Result<Value, ApiError> {
        if let Some(k) = kind
            && !["vm", "node", "storage", "sdn", "pool"].contains(&k)
        {
            return Err(ApiError::param(
                "type",
                format!(
                    "value '{k}' does not have a value in the enumeration 'vm, storage, node, sdn'"
                ),
            ));
        }
        let want = |k: &str| kind.is_none_or(|x| x == k);
        let mut rows = Vec::new();
        if want("vm") && self.can("VM.Audit") {
            for vm in self.vms.values() {
                let node_up = self.node(&vm.node).is_some_and(Node::reachable);
                let template = i32::from(vm.is_template());
                let row = if node_up {
                    let st = vm.status();
                    json!({
                        "id": format!("qemu/{}", vm.vmid), "type": "qemu", "vmid": vm.vmid,
                        "name": vm.name(), "node": vm.node, "status": st["status"],
                        "template": template, "maxcpu": st["cpus"], "maxmem": st["maxmem"],
                        "maxdisk": st["maxdisk"], "mem": st["mem"], "cpu": st["cpu"],
                        "disk": 0, "uptime": vm.uptime(), "netin": 0, "netout": 0,
                        "diskread": 0, "diskwrite": 0,
                    })
                } else {
                    json!({
                        "id": format!("qemu/{}", vm.vmid), "type": "qemu", "vmid": vm.vmid,
                        "name": vm.name(), "node": vm.node, "status": "unknown",
                        "template": template,
                    })
                };
                rows.push(row);
            }
        }
        if want("node") && self.can("Sys.Audit") {
            for n in &self.nodes {
                rows.push(json!({
                    "id": format!("node/{}", n.name), "type": "node", "node": n.name,
                    "status": if n.reachable() { "online" } else { "offline" },
                    "level": "", "cgroup-mode": 2,
                }));
            }
        }
        if want("storage") && self.can("Datastore.Audit") {
            for n in &self.nodes {
                for s in &self.storages {
                    rows.push(json!({
                        "id": format!("storage/{}/{s}", n.name), "type": "storage",
                        "storage": s, "node": n.name, "shared": 0,
                        "status": if n.reachable() { "available" } else { "unknown" },
                        "plugintype": if s == "local" { "dir" } else { "lvmthin" },
                        "content": if s == "local" { "iso,vztmpl,backup,snippets" } else { "images,rootdir" },
                    }));
                }
            }
        }
        Ok(Value::Array(rows))
    }

    /// Starts a task on `node`; its effect happens when it stops. Returns the UPID.
    pub fn spawn(&mut self, node: &str, kind: &str, id: &str, effect: Effect) -> String {
        let seq = self.tasks.len() as u32;
        let task = Task::new(node, kind, id, &self.token_id, seq, effect);
        let upid = task.upid.clone();
        self.tasks.push(task);
        upid
    }

    /// Stops every task whose time has come (called before each request is handled).
    pub fn tick(&mut self) {
        for i in 0..self.tasks.len() {
            if self.tasks[i].due(self.task_duration) {
                self.finish(i);
            }
        }
    }

    /// `GET /nodes/{node}/tasks/{upid}/status`: counts the poll (the second one stops
    /// a task that is still running).
    pub fn poll_task(&mut self, node: &str, upid: &str) -> Result<Value, ApiError> {
        let i = self.task_index(node, upid)?;
        if self.tasks[i].running() {
            self.tasks[i].status_polls += 1;
            if self.tasks[i].due(self.task_duration) {
                self.finish(i);
            }
        }
        Ok(self.tasks[i].status())
    }

    /// The task `upid` of `node`.
    pub fn task(&self, node: &str, upid: &str) -> Result<&Task, ApiError> {
        Ok(&self.tasks[self.task_index(node, upid)?])
    }

    fn task_index(&self, node: &str, upid: &str) -> Result<usize, ApiError> {
        if !upid.starts_with("UPID:") || upid.split(':').count() < 9 {
            return Err(ApiError::param(
                "upid",
                format!("unable to parse worker upid '{upid}'"),
            ));
        }
        self.tasks
            .iter()
            .position(|t| t.upid == upid && t.node == node)
            .ok_or_else(|| ApiError::server(format!("no such task '{upid}'")))
    }

    /// A task stops: its effect happens to the lab, and its exit status says how it went.
    fn finish(&mut self, i: usize) {
        let effect = self.tasks[i].effect.clone();
        let mut log = Vec::new();
        let outcome: Result<(), String> = match effect {
            Effect::Reload { node } => match self.node_mut(&node) {
                Some(n) => {
                    n.network.reload();
                    log.push("ifreload -a".to_string());
                    Ok(())
                }
                None => Err(format!("no such node '{node}'")),
            },
            Effect::Start { vmid } => self.with_vm(
                vmid,
                |vm| {
                    vm.start()?;
                    Ok(vec![format!("starting VM {vmid}")])
                },
                &mut log,
            ),
            Effect::Shutdown { vmid } => self.with_vm(
                vmid,
                |vm| {
                    vm.halt()?;
                    Ok(vec![format!("shutting down VM {vmid}")])
                },
                &mut log,
            ),
            Effect::Stop { vmid } => self.with_vm(
                vmid,
                |vm| {
                    vm.halt()?;
                    Ok(vec![format!("stopping VM {vmid}")])
                },
                &mut log,
            ),
            Effect::Config { vmid, params } => {
                let storages = self.storages.clone();
                self.with_vm(
                    vmid,
                    |vm| {
                        vm.check_update(&params, &storages).map_err(|e| e.message)?;
                        vm.update(&params);
                        Ok(vec![format!(
                            "update VM {vmid}: {}",
                            params.keys().collect::<Vec<_>>().join(", ")
                        )])
                    },
                    &mut log,
                )
            }
        };
        let task = &mut self.tasks[i];
        task.log.extend(log);
        task.exitstatus = Some(match outcome {
            Ok(()) => "OK".into(),
            Err(e) => e,
        });
    }

    fn with_vm(
        &mut self,
        vmid: u32,
        work: impl FnOnce(&mut Vm) -> Result<Vec<String>, String>,
        log: &mut Vec<String>,
    ) -> Result<(), String> {
        let vm = self.vms.get_mut(&vmid).ok_or_else(|| {
            format!("Configuration file 'qemu-server/{vmid}.conf' does not exist")
        })?;
        log.extend(work(vm)?);
        Ok(())
    }
}
