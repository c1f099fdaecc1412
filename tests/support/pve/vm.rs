//! A QEMU VM as qemu-server keeps it: the config file's main section (what
//! `GET …/config?current=1` shows), its `[pending]` section (changes the running VM cannot
//! take live: they wait for the next start; `GET …/config` shows them applied), the
//! runtime (running, the agent device QEMU was started with) and the guest behind it.
//!
//! Hotplug as a default VM has it (`hotplug: network,disk,usb`): names, descriptions,
//! cloud-init settings and NICs change live; the agent, CPUs, memory and a new IDE/SATA
//! drive go to `[pending]` while the VM runs. A start applies the pending section,
//! regenerates the cloud-init drive and boots the guest from it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::api::{self, ApiError, Params};
use super::cloudinit;
use super::lab::{Lab, TemplateSpec, VmSpec};

pub type Config = Map<String, Value>;

#[derive(Debug, Clone)]
pub struct Vm {
    pub vmid: u32,
    pub node: String,
    /// The config file's main section.
    pub config: Config,
    /// Its `[pending]` section.
    pub pending: Config,
    pub pending_delete: BTreeSet<String>,
    /// The cloud-init settings the drive was last generated from.
    pub cloudinit_generated: Config,
    pub running: bool,
    pub started_at: Option<Instant>,
    /// QEMU runs with the guest agent's virtio-serial device.
    pub agent_device: bool,
    /// The guest OS runs qemu-guest-agent.
    pub guest_agent_installed: bool,
    /// What the guest took from cloud-init at its last boot.
    pub guest_hostname: String,
    pub guest_ip: Option<String>,
    /// The guest sees its cloud-init drive as a CD-ROM (false: the drive is on a bus the
    /// guest image has no driver for; cloud-init ran from its cache of an earlier boot).
    pub guest_sees_seed: bool,
    /// The guest's SSH host keys were regenerated (the VM was rebuilt): the runner's
    /// known_hosts still holds the old key. Only the SSH stand-in ([`super::SshHosts`]) uses it.
    pub guest_host_key_changed: bool,
    /// `/etc/pve/firewall/<vmid>.fw`.
    pub firewall_options: Config,
    pub firewall_rules: Vec<Config>,
}

fn obj(v: Value) -> Config {
    match v {
        Value::Object(m) => m,
        _ => Config::new(),
    }
}

/// A fake but stable UUID for `smbios1`/`vmgenid`.
fn uuid_for(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// Keys a running VM takes live (everything else waits in `[pending]`).
fn live(key: &str, config: &Config) -> bool {
    if cloudinit::is_key(key) || key.starts_with("net") {
        return true;
    }
    if matches!(
        key,
        "name" | "description" | "tags" | "onboot" | "protection" | "startup" | "hookscript"
    ) {
        return true;
    }
    // Changing the medium of an existing CD-ROM drive is live; a new drive is not.
    is_drive(key)
        && config
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| v.contains("media=cdrom"))
}

fn is_drive(key: &str) -> bool {
    ["ide", "sata", "scsi", "virtio"].iter().any(|bus| {
        key.strip_prefix(bus)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Whether a config key is one qemu-server knows (a subset: what a lab's VMs use).
fn known(key: &str) -> bool {
    let numbered = |prefix: &str| {
        key.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    is_drive(key)
        || cloudinit::is_key(key)
        || numbered("net")
        || numbered("serial")
        || matches!(
            key,
            "agent"
                | "name"
                | "description"
                | "tags"
                | "onboot"
                | "protection"
                | "startup"
                | "cores"
                | "sockets"
                | "memory"
                | "boot"
                | "ostype"
                | "scsihw"
                | "vga"
                | "cpu"
                | "bios"
                | "machine"
                | "hotplug"
        )
}

/// Whether an `agent` property string enables the agent (`1`, `enabled=1`, `1,fstrim…`).
pub fn agent_enabled(config: &Config) -> bool {
    let Some(agent) = config.get("agent").and_then(Value::as_str) else {
        return false;
    };
    agent.split(',').any(|part| match part.split_once('=') {
        Some(("enabled", v)) => api::boolean(v) == Some(1),
        Some(_) => false,
        None => api::boolean(part) == Some(1),
    })
}

impl Vm {
    fn base(vmid: u32, node: &str, config: Value) -> Vm {
        Vm {
            vmid,
            node: node.into(),
            config: obj(config),
            pending: Config::new(),
            pending_delete: BTreeSet::new(),
            cloudinit_generated: Config::new(),
            running: false,
            started_at: None,
            agent_device: false,
            guest_agent_installed: true,
            guest_hostname: String::new(),
            guest_ip: None,
            guest_sees_seed: true,
            guest_host_key_changed: false,
            firewall_options: Config::new(),
            firewall_rules: Vec::new(),
        }
    }

    /// A converted template, as the image pipeline leaves it: `base-` disk, the image hash in
    /// the description, agent and cloud-init drive set (the cloud-init volume keeps its `vm-`
    /// name: conversion skips CD-ROM drives).
    pub fn template(lab: &Lab, t: &TemplateSpec) -> Vm {
        let st = &lab.storages[0];
        let vmid = t.vmid;
        let mut vm = Vm::base(
            vmid,
            &t.node,
            json!({
                "name": t.name,
                "template": 1,
                "description": format!("Ubuntu 24.04 LTS cloud image, built by the image pipeline\nimage-sha256={}\n", t.image_sha256),
                "agent": "1,fstrim_cloned_disks=1",
                "boot": "order=scsi0",
                "cores": 2,
                "memory": "2048",
                "ostype": "l26",
                "scsihw": "virtio-scsi-single",
                "serial0": "socket",
                "vga": "serial0",
                "scsi0": format!("{st}:base-{vmid}-disk-0,discard=on,size=3584M"),
                "ide2": format!("{st}:vm-{vmid}-cloudinit,media=cdrom"),
                "net0": format!("virtio=BC:24:11:00:{:02X}:{:02X},bridge={},firewall=1", vmid / 256 % 256, vmid % 256, lab.vm_bridge),
                "ciuser": lab.ciuser,
                "sshkeys": api::uri_escape(&lab.ssh_pubkey),
                "ipconfig0": "ip=dhcp",
                "smbios1": format!("uuid={}", uuid_for(&t.name)),
                "vmgenid": uuid_for(&format!("gen-{}", t.name)),
                "meta": "creation-qemu=9.0.2,ctime=1719400000",
            }),
        );
        vm.cloudinit_generated = cloudinit::settings(&vm.config);
        vm
    }

    /// A linked clone of `template`, running, its agent answering, firewall on with SSH
    /// from the runner allowed.
    pub fn certification(lab: &Lab, spec: &VmSpec, template: u32) -> Vm {
        let st = &lab.storages[0];
        let vmid = spec.vmid;
        let mut vm = Vm::base(
            vmid,
            &spec.node,
            json!({
                "name": spec.name,
                "description": "labcert certification VM",
                "tags": "labcert",
                "onboot": 1,
                "agent": "1",
                "boot": "order=scsi0;net0",
                "cores": 2,
                "memory": "2048",
                "ostype": "l26",
                "scsihw": "virtio-scsi-single",
                "serial0": "socket",
                "vga": "serial0",
                "scsi0": format!("{st}:base-{template}-disk-0/vm-{vmid}-disk-0,discard=on,size=3584M"),
                "ide2": format!("{st}:vm-{vmid}-cloudinit,media=cdrom"),
                "net0": format!("virtio={},bridge={},firewall=1,tag={}", spec.mac.to_uppercase(), lab.vm_bridge, spec.vlan),
                "ciuser": lab.ciuser,
                "sshkeys": api::uri_escape(&lab.ssh_pubkey),
                "ipconfig0": spec.ipconfig0,
                "smbios1": format!("uuid={}", uuid_for(&spec.name)),
                "vmgenid": uuid_for(&format!("gen-{}", spec.name)),
            }),
        );
        vm.firewall_options = obj(json!({
            "enable": 1, "dhcp": 1, "ipfilter": 0, "macfilter": 1,
            "policy_in": "DROP", "policy_out": "ACCEPT",
        }));
        vm.firewall_rules = vec![
            obj(json!({
                "pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22",
                "source": lab.runner_cidr, "enable": 1, "comment": "labcert: SSH from the runner",
            })),
            obj(json!({"pos": 1, "type": "in", "action": "ACCEPT", "proto": "icmp", "enable": 1})),
        ];
        // Up for an hour: the agent answers.
        let up_since = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        vm.boot(up_since);
        vm
    }

    pub fn name(&self) -> &str {
        self.config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn is_template(&self) -> bool {
        self.config.get("template").and_then(Value::as_u64) == Some(1)
    }

    /// The guest's NIC address as the config shows it (`virtio=BC:24:…`), lower case.
    pub fn mac(&self) -> Option<String> {
        let net0 = self.config.get("net0")?.as_str()?;
        let model = net0.split(',').next()?;
        let (_, mac) = model.split_once('=')?;
        Some(mac.to_lowercase())
    }

    /// `GET …/config`: pending changes applied, unless `current`; `cipassword` masked.
    pub fn config_view(&self, current: bool) -> Value {
        let mut c = self.config.clone();
        if !current {
            for k in &self.pending_delete {
                c.remove(k);
            }
            for (k, v) in &self.pending {
                c.insert(k.clone(), v.clone());
            }
        }
        if c.contains_key("cipassword") {
            c.insert("cipassword".into(), "**********".into());
        }
        let digest = Sha256::digest(Value::Object(self.config.clone()).to_string().as_bytes());
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        c.insert("digest".into(), hex.into());
        Value::Object(c)
    }

    /// `GET …/pending`: `[{key, value, pending?, delete?}]`.
    pub fn pending_view(&self) -> Value {
        let mut keys: BTreeSet<&String> = self.config.keys().collect();
        keys.extend(self.pending.keys());
        keys.extend(self.pending_delete.iter());
        let rows: Vec<Value> = keys
            .into_iter()
            .map(|k| {
                let mut row = json!({"key": k});
                if let Some(v) = self.config.get(k) {
                    row["value"] = v.clone();
                }
                if let Some(v) = self.pending.get(k) {
                    row["pending"] = v.clone();
                }
                if self.pending_delete.contains(k) {
                    row["delete"] = 1.into();
                }
                row
            })
            .collect();
        Value::Array(rows)
    }

    /// Checks a config update before it is applied or queued (PUT, and POST before the task).
    pub fn check_update(&self, p: &Params, storages: &[String]) -> Result<(), ApiError> {
        p.only(|k| {
            known(k)
                || matches!(
                    k,
                    "delete" | "digest" | "revert" | "skiplock" | "background_delay"
                )
        })?;
        for (k, v) in &p.0 {
            let Some(v) = v else { continue };
            if is_drive(k)
                && let Some((storage, _)) = v.split_once(':')
                && !storages.iter().any(|s| s == storage)
                && v.split(',')
                    .next()
                    .is_some_and(|f| f.ends_with(":cloudinit"))
            {
                return Err(ApiError::server(format!(
                    "storage '{storage}' does not exist"
                )));
            }
        }
        p.format(
            "sshkeys",
            |v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-%_.!~*'()".contains(&b))
            },
            "invalid urlencoded string",
        )?;
        p.integer("cores", 1, 1024)?;
        p.integer("onboot", 0, 1)?;
        Ok(())
    }

    /// Applies a checked update: live keys to the config, the others to `[pending]` while
    /// the VM runs. A `STORAGE:cloudinit` drive is allocated as `vm-<vmid>-cloudinit`.
    pub fn update(&mut self, p: &Params) {
        for (k, v) in &p.0 {
            let Some(v) = v else { continue };
            if !known(k) {
                continue;
            }
            let value: Value = match k.as_str() {
                "cores" | "sockets" | "onboot" => {
                    v.parse::<i64>().map_or(v.clone().into(), Value::from)
                }
                _ if is_drive(k)
                    && v.split(',')
                        .next()
                        .is_some_and(|f| f.ends_with(":cloudinit")) =>
                {
                    let storage = v.split(':').next().unwrap_or("");
                    format!("{storage}:vm-{}-cloudinit,media=cdrom", self.vmid).into()
                }
                _ => v.clone().into(),
            };
            if self.running && !live(k, &self.config) {
                self.pending.insert(k.clone(), value);
                self.pending_delete.remove(k);
            } else {
                self.config.insert(k.clone(), value);
                self.pending.remove(k);
            }
        }
        for k in p.delete_list() {
            if self.running && !live(&k, &self.config) {
                self.pending_delete.insert(k.clone());
                self.pending.remove(&k);
            } else {
                self.config.remove(&k);
            }
        }
    }

    /// The start task's work.
    pub fn start(&mut self) -> Result<(), String> {
        if self.is_template() {
            return Err(format!("VM {} is a template", self.vmid));
        }
        if self.running {
            return Err(format!("VM {} already running", self.vmid));
        }
        for k in std::mem::take(&mut self.pending_delete) {
            self.config.remove(&k);
        }
        for (k, v) in std::mem::take(&mut self.pending) {
            self.config.insert(k, v);
        }
        self.boot(Instant::now());
        Ok(())
    }

    /// QEMU starts: the agent device is there when the config asks for it; the cloud-init
    /// drive is regenerated and the guest takes its hostname and address from it.
    fn boot(&mut self, at: Instant) {
        self.running = true;
        self.started_at = Some(at);
        self.agent_device = agent_enabled(&self.config);
        if cloudinit::has_drive(self) {
            cloudinit::regenerate(self);
            self.guest_hostname = self.name().to_string();
            if let Some(ip) = cloudinit::static_ip(&self.cloudinit_generated) {
                self.guest_ip = Some(ip);
            }
        }
    }

    /// The shutdown (or stop) task's work.
    pub fn halt(&mut self) -> Result<(), String> {
        if !self.running {
            return Err(format!("VM {} not running", self.vmid));
        }
        self.running = false;
        self.started_at = None;
        self.agent_device = false;
        Ok(())
    }

    /// `GET …/status/current`. `agent` mirrors the config's main section (qemu-server sets
    /// it from the loaded config, running or not).
    pub fn status(&self) -> Value {
        let state = if self.running { "running" } else { "stopped" };
        let mut v = json!({
            "vmid": self.vmid,
            "name": self.name(),
            "status": state,
            "qmpstatus": state,
            "cpus": self.config.get("cores").cloned().unwrap_or(1.into()),
            "maxmem": 2_147_483_648u64,
            "maxdisk": 3_758_096_384u64,
            "disk": 0,
            "ha": {"managed": 0},
            "uptime": self.uptime(),
        });
        if self.running {
            v["pid"] = (10_000 + self.vmid).into();
            v["mem"] = 734_003_200u64.into();
            v["cpu"] = 0.0123.into();
            v["running-qemu"] = "9.0.2".into();
            v["running-machine"] = "pc-i440fx-9.0+pve0".into();
        } else {
            v["mem"] = 0.into();
            v["cpu"] = 0.into();
        }
        if agent_enabled(&self.config) {
            v["agent"] = 1.into();
        }
        if self.is_template() {
            v["template"] = 1.into();
        }
        v
    }

    pub fn uptime(&self) -> u64 {
        self.started_at.map_or(0, |t| t.elapsed().as_secs())
    }
}
