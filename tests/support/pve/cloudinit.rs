//! Cloud-init as qemu-server does it (`PVE/API2/Qemu.pm` `cloudinit_pending` /
//! `cloudinit_update`, `PVE/QemuServer/Cloudinit.pm`): the drive is generated from the
//! VM's cloud-init settings at start or by `PUT …/cloudinit`; a setting changed since then
//! is *pending* in `GET …/cloudinit` (the drive is stale). The dumps render what a
//! generation would write now; a `cicustom` user snippet replaces the generated user-data.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiError, percent_decode};
use super::vm::{Config, Vm};

/// The content of every `cicustom` user-data snippet in this lab: a site's own cloud-config,
/// which replaces the generated user-data (hostname and SSH keys included).
pub const CUSTOM_USER_DATA: &str = "#cloud-config\n# site snippet (cicustom user=…)\n\
    package_upgrade: true\npackages:\n  - qemu-guest-agent\n";

/// The volume `cicustom` names for `kind` (`user=local:snippets/site.yaml,…`).
fn custom_volume(vm: &Vm, kind: &str) -> Option<String> {
    let cicustom = vm.config.get("cicustom")?.as_str()?;
    cicustom.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k == kind).then(|| v.to_string())
    })
}

/// Whether `key` is a cloud-init setting.
pub fn is_key(key: &str) -> bool {
    matches!(
        key,
        "cicustom"
            | "cipassword"
            | "citype"
            | "ciuser"
            | "ciupgrade"
            | "nameserver"
            | "searchdomain"
            | "sshkeys"
    ) || key
        .strip_prefix("ipconfig")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The cloud-init settings of a config.
pub fn settings(config: &Config) -> Config {
    config
        .iter()
        .filter(|(k, _)| is_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether the VM has a cloud-init drive (`…:vm-<vmid>-cloudinit` or `base-`).
pub fn has_drive(vm: &Vm) -> bool {
    let vm_vol = format!(":vm-{}-cloudinit", vm.vmid);
    let base_vol = format!(":base-{}-cloudinit", vm.vmid);
    vm.config
        .values()
        .filter_map(Value::as_str)
        .any(|v| v.contains(&vm_vol) || v.contains(&base_vol))
}

/// `PUT …/cloudinit`: the drive now holds the current settings.
pub fn regenerate(vm: &mut Vm) {
    vm.cloudinit_generated = settings(&vm.config);
}

/// The address of `ipconfig0=ip=10.20.0.41/24,gw=…`, when static.
pub fn static_ip(settings: &Config) -> Option<String> {
    let ipconfig = settings.get("ipconfig0")?.as_str()?;
    let ip = ipconfig
        .split(',')
        .find_map(|part| part.strip_prefix("ip="))?;
    let (addr, _) = ip.split_once('/')?;
    Some(addr.to_string())
}

/// `GET …/cloudinit`: every setting, with `pending` (changed or added since the drive was
/// generated) or `delete: 1` (removed since); `cipassword` masked.
pub fn pending(vm: &Vm) -> Value {
    let now = settings(&vm.config);
    let then = &vm.cloudinit_generated;
    let mask = |k: &str, v: &Value| -> Value {
        if k == "cipassword" {
            "**********".into()
        } else {
            v.clone()
        }
    };
    let mut rows = Vec::new();
    for (k, v) in &now {
        let row = match then.get(k) {
            Some(old) if old == v => json!({"key": k, "value": mask(k, v)}),
            Some(old) => json!({"key": k, "value": mask(k, old), "pending": mask(k, v)}),
            None => json!({"key": k, "pending": mask(k, v)}),
        };
        rows.push(row);
    }
    for k in then.keys().filter(|k| !now.contains_key(*k)) {
        rows.push(json!({"key": k, "delete": 1}));
    }
    Value::Array(rows)
}

/// `GET …/cloudinit/dump?type=user|meta|network`.
pub fn dump(vm: &Vm, kind: Option<&str>) -> Result<String, ApiError> {
    let text = |k: &str| vm.config.get(k).and_then(Value::as_str).map(str::to_string);
    match kind {
        Some("user") if custom_volume(vm, "user").is_some() => Ok(CUSTOM_USER_DATA.to_string()),
        Some("user") => {
            let name = vm.name();
            let fqdn = match text("searchdomain") {
                Some(d) => format!("{name}.{d}"),
                None => name.to_string(),
            };
            let mut out =
                format!("#cloud-config\nhostname: {name}\nmanage_etc_hosts: true\nfqdn: {fqdn}\n");
            if let Some(user) = text("ciuser") {
                out.push_str(&format!("user: {user}\n"));
            }
            if let Some(keys) = text("sshkeys") {
                out.push_str("ssh_authorized_keys:\n");
                for key in percent_decode(&keys)
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                {
                    out.push_str(&format!("  - {key}\n"));
                }
            }
            out.push_str("chpasswd:\n  expire: False\nusers:\n  - default\n");
            if text("ciupgrade").as_deref() != Some("0") {
                out.push_str("package_upgrade: true\n");
            }
            Ok(out)
        }
        Some("meta") => {
            let seed = Value::Object(settings(&vm.config)).to_string() + vm.name();
            let id: String = Sha256::digest(seed.as_bytes())
                .iter()
                .take(20)
                .map(|b| format!("{b:02x}"))
                .collect();
            Ok(format!("instance-id: {id}\n"))
        }
        Some("network") => {
            let mut out = String::from("version: 1\nconfig:\n");
            let mac = vm.mac().unwrap_or_default();
            out.push_str(&format!(
                "    - type: physical\n      name: eth0\n      mac_address: '{mac}'\n      subnets:\n"
            ));
            let ipconfig = text("ipconfig0").unwrap_or_default();
            let parts: Map<String, Value> = ipconfig
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            match parts.get("ip").and_then(Value::as_str) {
                Some(ip) if ip.contains('/') => {
                    let (addr, prefix) = ip.split_once('/').unwrap_or((ip, "24"));
                    let bits: u32 = prefix.parse().unwrap_or(24);
                    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                    let mask = std::net::Ipv4Addr::from(mask);
                    out.push_str(&format!(
                        "      - type: static\n        address: '{addr}'\n        netmask: '{mask}'\n"
                    ));
                    if let Some(gw) = parts.get("gw").and_then(Value::as_str) {
                        out.push_str(&format!("        gateway: '{gw}'\n"));
                    }
                }
                _ => out.push_str("      - type: dhcp4\n"),
            }
            Ok(out)
        }
        Some(other) => Err(ApiError::param(
            "type",
            format!(
                "value '{other}' does not have a value in the enumeration 'user, network, meta'"
            ),
        )),
        None => Err(ApiError::param(
            "type",
            "property is missing and it is not optional",
        )),
    }
}
