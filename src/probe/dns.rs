//! The `dns` probe: one query for one name and record type.
//!
//! With `server` (an IP address, `port` default 53) exactly that nameserver is asked, over UDP
//! with a fall back to TCP when the answer is truncated; no search domains, no hosts file, no
//! cache. Without `server` the system configuration (`/etc/resolv.conf`, with its search
//! domains) is used, still without the hosts file or a cache.
//!
//! The observation's JSON:
//!
//! ```json
//! {"name": "www.lab.test", "type": "A", "rcode": "NOERROR",
//!  "answers": ["10.1.2.3"],
//!  "records": [{"name": "www.lab.test", "type": "CNAME", "ttl": 0, "data": "a.lab.test"},
//!              {"name": "a.lab.test", "type": "A", "ttl": 0, "data": "10.1.2.3"}]}
//! ```
//!
//! `answers` are the data of the records of the asked type, also printed one per line on
//! stdout; `records` is the whole answer section (e.g. the CNAME chain). Data formats, with
//! names always without their trailing dot: A/AAAA the address; CNAME, NS, PTR the name; MX
//! `<preference> <exchange>`; SRV `<priority> <weight> <port> <target>`; TXT the strings of the
//! record joined without separator; SOA `<mname> <rname> <serial> <refresh> <retry> <expire>
//! <minimum>`. For a PTR query the name may be an IP address: its reverse name is asked.
//!
//! NXDOMAIN and NOERROR-without-data are readable answers (no error; `answers` empty, `rcode`
//! says which), so a catalog can expect a name to be absent. A name that is a CNAME to an absent
//! name reads as NXDOMAIN with no records. Other response codes (SERVFAIL, REFUSED, …) are
//! errors with reason `dns` and `rcode` set; no answer in time is `timeout`; a socket error
//! keeps its class (`refused`, …); a bad `server`, `port` or name is `usage`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Instant;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use serde_json::{Value, json};

use super::{Limits, Observation, ProbeError};
use crate::model::probe::{Dns, RecordType as Wanted};

/// Runs one DNS query as `spec` describes, within `limits.timeout`.
pub async fn run(spec: &Dns, limits: Limits) -> Observation {
    let start = Instant::now();
    let mut obs = inner(spec, limits).await;
    obs.duration = start.elapsed();
    obs
}

async fn inner(spec: &Dns, limits: Limits) -> Observation {
    let rtype = record_type(spec.record);
    let (server, name) = match (server(spec), query_name(&spec.name, rtype)) {
        (Ok(s), Ok(n)) => (s, n),
        (Err(m), _) | (_, Err(m)) => return failed(spec, "usage", m, None),
    };
    let asked = format!("{} {}", spec.name, rtype);
    let from = match server {
        Some(addr) => format!("server {addr}"),
        None => "the system resolver".to_string(),
    };
    let resolver = match resolver(server, limits) {
        Ok(r) => r,
        Err(e) => return failed(spec, "dns", format!("setting up {from}: {e}"), None),
    };
    match tokio::time::timeout(limits.timeout, resolver.lookup(name, rtype)).await {
        Err(_) => {
            let message = format!(
                "no answer from {from} for {asked} within {:?}",
                limits.timeout
            );
            failed(spec, "timeout", message, None)
        }
        Ok(Ok(lookup)) => {
            let rcode = lookup.message().metadata.response_code;
            answered(spec, rcode, lookup.answers(), limits)
        }
        Ok(Err(NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. }))))
            if matches!(
                response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            answered(spec, response_code, &[], limits)
        }
        Ok(Err(e)) => {
            let (reason, rcode) = classify(&e);
            let message = match rcode {
                Some(code) => format!("{from} answered {} for {asked}", rcode_name(code)),
                None => format!("asking {from} for {asked}: {e}"),
            };
            failed(spec, reason, message, rcode)
        }
    }
}

/// The nameserver from `server` and `port`, or `None` for the system configuration.
fn server(spec: &Dns) -> Result<Option<SocketAddr>, String> {
    let port = match &spec.port {
        None => None,
        Some(p) => Some(p.port().ok_or_else(|| {
            format!(
                "dns port must be a number from 1 to 65535, got {}",
                p.shown()
            )
        })?),
    };
    match (&spec.server, port) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("dns port is given without a server".to_string()),
        (Some(s), port) => {
            let ip = IpAddr::from_str(s.trim().trim_start_matches('[').trim_end_matches(']'))
                .map_err(|_| format!("dns server must be an IP address, got {s:?}"))?;
            Ok(Some(SocketAddr::new(ip, port.unwrap_or(53))))
        }
    }
}

/// The name to ask: for PTR an IP address becomes its reverse name.
fn query_name(name: &str, rtype: RecordType) -> Result<Name, String> {
    if rtype == RecordType::PTR
        && let Ok(ip) = IpAddr::from_str(name)
    {
        return Ok(Name::from(ip));
    }
    Name::from_str(name.trim()).map_err(|e| format!("not a valid DNS name {name:?}: {e}"))
}

/// A resolver with no cache, no hosts file, one retry and a per-try timeout that leaves room
/// for that retry within the probe's timeout.
fn resolver(server: Option<SocketAddr>, limits: Limits) -> Result<TokioResolver, NetError> {
    let mut builder = match server {
        None => TokioResolver::builder_tokio()?,
        Some(addr) => {
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .map(|mut c| {
                    c.port = addr.port();
                    c
                })
                .to_vec();
            let ns = NameServerConfig::new(addr.ip(), true, connections);
            let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
            let mut b = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
            *b.options_mut() = ResolverOpts::default();
            b.options_mut().ndots = 0;
            b
        }
    };
    let opts = builder.options_mut();
    opts.timeout = limits.timeout / 2;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.num_concurrent_reqs = 1;
    builder.build()
}

fn record_type(r: Wanted) -> RecordType {
    match r {
        Wanted::A => RecordType::A,
        Wanted::AAAA => RecordType::AAAA,
        Wanted::CNAME => RecordType::CNAME,
        Wanted::MX => RecordType::MX,
        Wanted::NS => RecordType::NS,
        Wanted::PTR => RecordType::PTR,
        Wanted::SOA => RecordType::SOA,
        Wanted::SRV => RecordType::SRV,
        Wanted::TXT => RecordType::TXT,
    }
}

/// The reason class of a failed lookup, and the response code when the server sent one.
fn classify(e: &NetError) -> (&'static str, Option<ResponseCode>) {
    match e {
        NetError::Timeout => ("timeout", None),
        NetError::Io(io) => (super::tcp::reason(io), None),
        NetError::Dns(DnsError::ResponseCode(code)) => ("dns", Some(*code)),
        NetError::Dns(DnsError::NoRecordsFound(nr)) => ("dns", Some(nr.response_code)),
        _ => ("dns", None),
    }
}

/// A readable answer: the records of the answer section.
fn answered(spec: &Dns, rcode: ResponseCode, records: &[Record], limits: Limits) -> Observation {
    let rtype = record_type(spec.record);
    let answers: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| data(&r.data))
        .collect();
    let mut stdout: String = answers.iter().map(|a| format!("{a}\n")).collect();
    let stdout_truncated = stdout.len() > limits.max_output;
    if stdout_truncated {
        let mut end = limits.max_output;
        while !stdout.is_char_boundary(end) {
            end -= 1;
        }
        stdout.truncate(end);
    }
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "name": host(&r.name),
                "type": r.record_type().to_string(),
                "ttl": r.ttl,
                "data": data(&r.data),
            })
        })
        .collect();
    Observation {
        stdout,
        stdout_truncated,
        json: Some(shape(spec, Some(rcode), answers, records)),
        ..Observation::default()
    }
}

fn failed(spec: &Dns, reason: &str, message: String, rcode: Option<ResponseCode>) -> Observation {
    Observation {
        json: Some(shape(spec, rcode, Vec::new(), Vec::new())),
        error: Some(ProbeError {
            reason: reason.into(),
            message,
        }),
        ..Observation::default()
    }
}

fn shape(
    spec: &Dns,
    rcode: Option<ResponseCode>,
    answers: Vec<String>,
    records: Vec<Value>,
) -> Value {
    json!({
        "name": spec.name,
        "type": record_type(spec.record).to_string(),
        "rcode": rcode.map(rcode_name),
        "answers": answers,
        "records": records,
    })
}

/// The conventional upper-case mnemonic (`NOERROR`, `NXDOMAIN`, …), else `RCODE<n>`.
fn rcode_name(code: ResponseCode) -> String {
    use ResponseCode::*;
    let name = match code {
        NoError => "NOERROR",
        FormErr => "FORMERR",
        ServFail => "SERVFAIL",
        NXDomain => "NXDOMAIN",
        NotImp => "NOTIMP",
        Refused => "REFUSED",
        YXDomain => "YXDOMAIN",
        YXRRSet => "YXRRSET",
        NXRRSet => "NXRRSET",
        NotAuth => "NOTAUTH",
        NotZone => "NOTZONE",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_string()
}

/// A record's data as text (formats in the module docs).
fn data(rdata: &RData) -> String {
    match rdata {
        RData::A(a) => a.to_string(),
        RData::AAAA(a) => a.to_string(),
        RData::CNAME(n) => host(&n.0),
        RData::NS(n) => host(&n.0),
        RData::PTR(n) => host(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, host(&mx.exchange)),
        RData::SRV(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, host(&s.target)),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect(),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            host(&s.mname),
            host(&s.rname),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        other => other.to_string(),
    }
}

/// A name as ASCII without its trailing dot (the root stays `.`).
fn host(name: &Name) -> String {
    let s = name.to_ascii();
    match s.strip_suffix('.') {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => s,
    }
}
