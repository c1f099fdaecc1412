//! The QEMU guest agent behind `/nodes/{node}/qemu/{vmid}/agent/*` (qemu-server
//! `PVE/API2/Qemu/Agent.pm`): `ping` is POST, the read commands are GET, every answer is
//! `{"data": {"result": …}}`, and `agent_available()`'s checks come out as HTTP 500 with
//! the message as reason phrase.

use std::time::Duration;

use serde_json::{Value, json};

use super::api::ApiError;
use super::vm::{Vm, agent_enabled};

/// Commands answered on GET; `ping` alone is POST.
pub const GET_COMMANDS: &[&str] = &[
    "network-get-interfaces",
    "get-host-name",
    "get-osinfo",
    "info",
];

/// `agent_available()`: configured, VM running, agent answering on its socket. The agent
/// answers `boot_delay` after the VM started (the guest is still booting before that).
pub fn available(vm: &Vm, boot_delay: Duration) -> Result<(), ApiError> {
    if !agent_enabled(&vm.config) {
        return Err(ApiError::server("No QEMU guest agent configured"));
    }
    if !vm.running {
        return Err(ApiError::server(format!("VM {} is not running", vm.vmid)));
    }
    let booted = vm.started_at.is_some_and(|t| t.elapsed() >= boot_delay);
    if !vm.agent_device || !vm.guest_agent_installed || !booted {
        return Err(ApiError::server("QEMU guest agent is not running"));
    }
    Ok(())
}

/// The `result` of a command the agent answered.
pub fn result(vm: &Vm, command: &str) -> Value {
    let result = match command {
        "ping" => json!({}),
        "get-host-name" => json!({"host-name": vm.guest_hostname}),
        "network-get-interfaces" => interfaces(vm),
        "get-osinfo" => json!({
            "id": "ubuntu", "name": "Ubuntu", "pretty-name": "Ubuntu 24.04 LTS",
            "version": "24.04 LTS (Noble Numbat)", "version-id": "24.04",
            "kernel-release": "6.8.0-31-generic", "kernel-version": "#31-Ubuntu SMP PREEMPT_DYNAMIC",
            "machine": "x86_64",
        }),
        _ => json!({
            "version": "8.2.2",
            "supported_commands": [
                {"name": "guest-ping", "enabled": true, "success-response": true},
                {"name": "guest-get-host-name", "enabled": true, "success-response": true},
                {"name": "guest-network-get-interfaces", "enabled": true, "success-response": true},
            ],
        }),
    };
    json!({"result": result})
}

/// `lo` and `eth0` with the NIC's MAC (lower case), the address cloud-init gave it and
/// its EUI-64 link-local address.
fn interfaces(vm: &Vm) -> Value {
    let stats = json!({
        "rx-bytes": 163_244, "rx-packets": 1623, "rx-errs": 0, "rx-dropped": 0,
        "tx-bytes": 163_244, "tx-packets": 1623, "tx-errs": 0, "tx-dropped": 0,
    });
    let mut out = vec![json!({
        "name": "lo",
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [
            {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
            {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
        ],
        "statistics": stats,
    })];
    if let Some(mac) = vm.mac() {
        let mut addrs = Vec::new();
        if let Some(ip) = &vm.guest_ip {
            addrs.push(json!({"ip-address-type": "ipv4", "ip-address": ip, "prefix": 24}));
        }
        if let Some(ll) = link_local(&mac) {
            addrs.push(json!({"ip-address-type": "ipv6", "ip-address": ll, "prefix": 64}));
        }
        out.push(json!({
            "name": "eth0",
            "hardware-address": mac,
            "ip-addresses": addrs,
            "statistics": stats,
        }));
    }
    Value::Array(out)
}

/// `bc:24:11:2e:c5:4a` → `fe80::be24:11ff:fe2e:c54a`.
fn link_local(mac: &str) -> Option<String> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if b.len() != 6 {
        return None;
    }
    Some(format!(
        "fe80::{:x}:{:x}:{:x}:{:x}",
        u16::from(b[0] ^ 0x02) << 8 | u16::from(b[1]),
        u16::from(b[2]) << 8 | 0xff,
        0xfe00 | u16::from(b[3]),
        u16::from(b[4]) << 8 | u16::from(b[5]),
    ))
}
