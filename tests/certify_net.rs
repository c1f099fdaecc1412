//! `labcert certify` end to end against real network servers the tests start: an HTTPS API
//! with a pinned certificate, a `dnsmasq`, and TCP targets inside a network namespace made
//! for the test (a listener, a closed port, and a port whose SYNs are silently dropped).
//! The catalogs are in `fixtures/certify-net/`. Only 127.0.0.0/8 and the namespace's own
//! veth addresses (10.250.0.0/16) are ever contacted.
//!
//! The namespace tests need root, `ip` (iproute2) and `nft` (nftables); `scripts/test.sh`
//! installs both.

mod common;
mod support;

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Out, labcert_env};
use support::dnsmasq::Dnsmasq;
use support::https::{Background, Certs};
use support::manifest::{assert_valid, check};

// ---- running certify ----------------------------------------------------------------------

/// `labcert --catalogs fixtures/certify-net certify --topology T --var T.k=v…`: its output,
/// the manifest (validated against its schema) and how long the run took.
fn certify(topology: &str, vars: &[(&str, String)]) -> (Out, Value, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifest.json");
    let mut args: Vec<String> = [
        "--catalogs",
        "fixtures/certify-net",
        "certify",
        "--environment",
        "net-test",
        "--topology",
        topology,
        "--out",
    ]
    .map(String::from)
    .to_vec();
    args.push(out.display().to_string());
    for (name, value) in vars {
        args.push("--var".into());
        args.push(format!("{topology}.{name}={value}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let o = labcert_env(&args, &[("CI".to_string(), "true".to_string())]);
    let took = started.elapsed();
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| {
        panic!(
            "no manifest ({e}); exit {}:\n{}{}",
            o.code, o.stdout, o.stderr
        )
    });
    let m: Value = serde_json::from_str(&text).expect("the manifest is JSON");
    assert_valid(&m);
    (o, m, took)
}

/// Every check's `(id, status, reason)`, in manifest order.
fn statuses(m: &Value) -> Vec<(String, String, Option<String>)> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    m["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .map(|c| {
            (
                s(&c["id"]).unwrap(),
                s(&c["status"]).unwrap(),
                s(&c["reason"]),
            )
        })
        .collect()
}

fn row(id: &str, status: &str, reason: Option<&str>) -> (String, String, Option<String>) {
    (id.into(), status.into(), reason.map(str::to_string))
}

/// The durations of a check's attempts, in milliseconds.
fn attempt_ms(c: &Value) -> Vec<u64> {
    c["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["durationMs"].as_u64().unwrap())
        .collect()
}

// ---- HTTPS --------------------------------------------------------------------------------

#[test]
fn https_with_the_pinned_fingerprint_passes() {
    let server = Background::https();
    let (o, m, _) = certify(
        "https",
        &[
            ("port", server.port.to_string()),
            ("fingerprint", server.fingerprint.clone()),
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "pass");
    let c = check(&m, "https.api.version");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(c["reason"], Value::Null);
    assert_eq!(c["evidence"]["status"], 200);
    assert_eq!(c["captures"]["release"], "8.2");
    let judged: Vec<(&str, bool)> = c["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["matcher"].as_str().unwrap(),
                e["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        judged,
        [("status", true), ("semver", true), ("matches", true)],
        "{c:#}"
    );
    assert_eq!(c["expectations"][1]["actual"], "8.2");
    assert_eq!(attempt_ms(c).len(), 1);
    assert!(server.connections.load(Ordering::SeqCst) >= 1);
}

#[test]
fn https_with_a_wrong_pin_is_blocked_tls_naming_both_fingerprints() {
    let server = Background::https();
    // The pin of another certificate: well-formed, and wrong.
    let wrong = Certs::new().fingerprint();
    let (o, m, _) = certify(
        "https",
        &[
            ("port", server.port.to_string()),
            ("fingerprint", wrong.clone()),
        ],
    );
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "blocked");
    let c = check(&m, "https.api.version");
    assert_eq!(c["status"], "blocked", "{c:#}");
    assert_eq!(c["reason"], "tls");
    let message = c["message"].as_str().unwrap();
    assert!(
        message.contains(&wrong) && message.contains(&server.fingerprint),
        "the message names neither or one fingerprint: {message}"
    );
    assert_eq!(
        message,
        format!(
            "certificate fingerprint mismatch: expected {wrong}, server presented {}",
            server.fingerprint
        )
    );
    // Not judged: nothing was read over an untrusted connection.
    assert_eq!(c["expectations"], serde_json::json!([]));
    assert_eq!(c["captures"], serde_json::json!({}));
    assert_eq!(m["summary"]["requiredBlocked"], 1);
    assert!(o.stdout.contains(&server.fingerprint), "{}", o.stdout);
}

// ---- DNS ----------------------------------------------------------------------------------

#[test]
fn dns_answers_pass_and_nxdomain_fails_a_presence_check_without_blocking() {
    let dns = Dnsmasq::start();
    let (o, m, _) = certify("dns", &[("port", dns.port.to_string())]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "fail");
    assert_eq!(
        statuses(&m),
        [
            row("dns.records.a", "pass", None),
            row("dns.records.aaaa", "pass", None),
            row("dns.records.cname", "pass", None),
            row("dns.records.through-cname", "pass", None),
            row("dns.records.txt", "pass", None),
            row("dns.missing.expected-present", "fail", Some("expectation")),
            row("dns.missing.expected-absent", "pass", None),
        ],
        "{m:#}"
    );
    // The failure is judged on the NXDOMAIN answer: expected vs actual are recorded.
    let present = check(&m, "dns.missing.expected-present");
    let e = &present["expectations"][0];
    assert_eq!(e["query"], "answers");
    assert_eq!(e["matcher"], "contains");
    assert_eq!(e["expected"], "10.9.9.9");
    assert_eq!(e["actual"], serde_json::json!([]));
    assert_eq!(e["passed"], false);
    assert!(present["message"].as_str().is_some_and(|s| !s.is_empty()));
    let absent = check(&m, "dns.missing.expected-absent");
    assert_eq!(absent["expectations"][0]["actual"], "NXDOMAIN");
    assert_eq!(m["summary"]["pass"], 6);
    assert_eq!(m["summary"]["requiredFail"], 1);
    assert_eq!(m["summary"]["blocked"], 0);
}

// ---- TCP in a network namespace -----------------------------------------------------------

/// The port the namespace's firewall drops SYNs to, and one nothing listens on.
const DROPPED_PORT: u16 = 9;
const CLOSED_PORT: u16 = 7;

#[test]
fn tcp_silent_drop_is_blocked_timeout_within_the_limit() {
    let ns = Netns::new();
    ns.drop_syns_to(DROPPED_PORT);
    let banner = ns.banner_server("SSH-2.0-labcert-test\r\n");
    ns.assert_behaves(banner.port);
    let connections = banner.accepted();
    let (o, m, took) = certify(
        "tcp",
        &[
            ("host", ns.ns_addr.to_string()),
            ("open_port", banner.port.to_string()),
            ("closed_port", CLOSED_PORT.to_string()),
            ("dropped_port", DROPPED_PORT.to_string()),
        ],
    );
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "blocked");
    assert_eq!(
        statuses(&m),
        [
            row("tcp.reach.open", "pass", None),
            row("tcp.reach.refused", "blocked", Some("refused")),
            row("tcp.reach.dropped", "blocked", Some("timeout")),
        ],
        "{m:#}"
    );
    let dropped = check(&m, "tcp.reach.dropped");
    let ms = attempt_ms(dropped);
    assert_eq!(ms.len(), 1, "{dropped:#}");
    assert!(
        (950..2500).contains(&ms[0]),
        "timeout: 1s took {} ms",
        ms[0]
    );
    let message = dropped["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{}:{DROPPED_PORT}", ns.ns_addr)),
        "{message}"
    );
    assert!(took < Duration::from_secs(6), "the run took {took:?}");
    let refused = check(&m, "tcp.reach.refused");
    assert!(attempt_ms(refused)[0] < 900, "{refused:#}");
    assert_eq!(
        banner.accepted(),
        connections + 1,
        "one connection to the open port"
    );
}

#[test]
fn tcp_silent_drop_classified_as_fail_is_the_finding() {
    let ns = Netns::new();
    ns.drop_syns_to(DROPPED_PORT);
    ns.assert_silent(DROPPED_PORT);
    let (o, m, took) = certify(
        "tcp-finding",
        &[
            ("host", ns.ns_addr.to_string()),
            ("dropped_port", DROPPED_PORT.to_string()),
        ],
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(m["status"], "fail");
    assert_eq!(
        statuses(&m),
        [row("tcp-finding.reach.dropped", "fail", Some("timeout"))],
        "{m:#}"
    );
    let ms = attempt_ms(check(&m, "tcp-finding.reach.dropped"));
    assert!(
        (950..2500).contains(&ms[0]),
        "timeout: 1s took {} ms",
        ms[0]
    );
    assert!(took < Duration::from_secs(6), "the run took {took:?}");
    assert_eq!(m["summary"]["requiredFail"], 1);
    assert_eq!(m["summary"]["blocked"], 0);
}

/// A network namespace `lc-<pid>-<n>` joined to this one by a veth pair on its own /30 of
/// 10.250.0.0/16: `host_addr` here, `ns_addr` inside. Deleted (namespace and veth) on drop.
struct Netns {
    name: String,
    veth: Option<String>,
    host_addr: Ipv4Addr,
    ns_addr: Ipv4Addr,
}

/// Namespaces made by this process so far.
static MADE: AtomicU32 = AtomicU32::new(0);

/// Runs `cmd args…`; `Err` holds its stderr.
fn run(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {cmd}: {e} (the namespace tests need root, iproute2 and nftables; \
                 scripts/test.sh installs them)"
            )
        })?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .map_err(|e| format!("{cmd}: writing stdin: {e}"))?;
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// `name` from the system directories (a test's PATH may lack the sbin ones), else as is.
fn tool(name: &str) -> String {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| name.to_string())
}

fn ip(args: &[&str]) -> Result<(), String> {
    run(&tool("ip"), args, None)
}

impl Netns {
    fn new() -> Netns {
        remove_stale_namespaces();
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let name = format!("lc-{pid}-{n}");
        ip(&["netns", "add", &name]).unwrap_or_else(|e| panic!("{e}"));
        let mut ns = Netns {
            name,
            veth: None,
            host_addr: Ipv4Addr::UNSPECIFIED,
            ns_addr: Ipv4Addr::UNSPECIFIED,
        };
        // 16384 subnets of 4 addresses; the host-side veth is named after its subnet, so
        // creating it claims the subnet even against a concurrent test run.
        const SUBNETS: u32 = 1 << 14;
        let start = (pid.wrapping_mul(97) + n * 13) % SUBNETS;
        for i in (0..64).map(|k| (start + k) % SUBNETS) {
            let (x, b) = (i / 64, (i % 64) * 4);
            let veth = format!("lcv{x}-{b}");
            let peer = format!("lcp{x}-{b}");
            if subnet_in_use(x, b) {
                continue;
            }
            let add = ["link", "add", &veth, "type", "veth", "peer", "name", &peer];
            let add: Vec<&str> = add.into_iter().chain(["netns", &ns.name]).collect();
            if ip(&add).is_err() {
                continue; // taken meanwhile
            }
            ns.veth = Some(veth.clone());
            ns.host_addr = Ipv4Addr::new(10, 250, x as u8, b as u8 + 1);
            ns.ns_addr = Ipv4Addr::new(10, 250, x as u8, b as u8 + 2);
            let host = format!("{}/30", ns.host_addr);
            let inside = format!("{}/30", ns.ns_addr);
            for args in [
                vec!["addr", "add", &host, "dev", &veth],
                vec!["link", "set", &veth, "up"],
                vec!["-n", &ns.name, "addr", "add", &inside, "dev", &peer],
                vec!["-n", &ns.name, "link", "set", &peer, "up"],
                vec!["-n", &ns.name, "link", "set", "lo", "up"],
            ] {
                ip(&args).unwrap_or_else(|e| panic!("{e}"));
            }
            return ns;
        }
        panic!("no free /30 in 10.250.0.0/16 for a test namespace after 64 tries");
    }

    /// Makes the namespace drop every TCP packet to `port` without an answer.
    fn drop_syns_to(&self, port: u16) {
        let rules = format!(
            "table inet labcert_test {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    tcp dport {port} drop\n  }}\n}}\n"
        );
        run(
            "ip",
            &["netns", "exec", &self.name, "nft", "-f", "-"],
            Some(&rules),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A listener on `ns_addr` inside the namespace that greets every connection.
    fn banner_server(&self, banner: &'static str) -> BannerServer {
        let path = format!("/run/netns/{}", self.name);
        let addr = SocketAddr::from((self.ns_addr, 0));
        // A socket belongs to the namespace of the thread that made it: make it in a
        // thread that joined the namespace, and use it from anywhere.
        let listener = std::thread::spawn(move || {
            let f = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns with a valid namespace fd changes only this (short-lived) thread.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            TcpListener::bind(addr).expect("bind in the namespace")
        })
        .join()
        .unwrap();
        BannerServer::start(listener, banner)
    }

    /// The fixture behaves as the checks assume, seen from here: the open port accepts, the
    /// closed one refuses, the dropped one stays silent.
    fn assert_behaves(&self, open: u16) {
        let to = |port| SocketAddr::from((self.ns_addr, port));
        let wait = Duration::from_millis(300);
        let mut s = TcpStream::connect_timeout(&to(open), wait).expect("the open port accepts");
        // Reading the banner also means the server counted this connection.
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut greeting = [0u8; 4];
        std::io::Read::read_exact(&mut s, &mut greeting).expect("the open port greets");
        assert_eq!(&greeting, b"SSH-");
        let e = TcpStream::connect_timeout(&to(CLOSED_PORT), wait).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        self.assert_silent(DROPPED_PORT);
    }

    /// Seen from here, a connection to `port` gets no answer at all.
    fn assert_silent(&self, port: u16) {
        let to = SocketAddr::from((self.ns_addr, port));
        let e = TcpStream::connect_timeout(&to, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth deletes both; the namespace goes with its name.
        if let Some(veth) = &self.veth {
            let _ = ip(&["link", "del", veth]);
        }
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Whether an address of this namespace is already in 10.250.`x`.`b`/30.
fn subnet_in_use(x: u32, b: u32) -> bool {
    let prefix = format!("10.250.{x}.{b}/30");
    Command::new(tool("ip"))
        .args(["-o", "-4", "addr", "show", "to", &prefix])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

/// Deletes `lc-<pid>-<n>` namespaces whose test process is gone (killed before its drop).
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, n)) = name
            .strip_prefix("lc-")
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(pid) && numeric(n) && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// Accepts connections and writes a banner to each, until dropped.
struct BannerServer {
    port: u16,
    accepted: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BannerServer {
    fn start(listener: TcpListener, banner: &'static str) -> BannerServer {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let accepted = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = s.set_nonblocking(false);
                        let _ = s.write_all(banner.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        BannerServer {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BannerServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
