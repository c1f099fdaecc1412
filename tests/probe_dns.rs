//! The `dns` probe against a real `dnsmasq` on 127.0.0.1 (installed by `scripts/test.sh`).
//! Every query names the server explicitly: no other resolver is ever asked.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use labcert::model::probe::{Dns, RecordType};
use labcert::model::shapes::IntOrTemplate;
use labcert::probe::dns::run;
use labcert::probe::{Limits, Observation};
use serde_json::{Value, json};

/// A `dnsmasq` serving the `lab.test` zone on a free port; killed on drop.
struct Dnsmasq {
    child: Child,
    port: u16,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP port that was free a moment ago.
fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    socket.local_addr().expect("local address").port()
}

fn dnsmasq_binary() -> &'static str {
    for path in ["/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    "dnsmasq"
}

impl Dnsmasq {
    /// Starts dnsmasq and waits until it answers (a few tries in case the port got taken).
    async fn start() -> Dnsmasq {
        for _ in 0..5 {
            if let Some(server) = Dnsmasq::try_start().await {
                return server;
            }
        }
        panic!("dnsmasq did not start answering on 127.0.0.1 after 5 tries");
    }

    async fn try_start() -> Option<Dnsmasq> {
        let port = free_port();
        let child = Command::new(dnsmasq_binary())
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                &format!("--port={port}"),
                // Names under lab.test that are not defined here are NXDOMAIN.
                "--local=/lab.test/",
                "--address=/a.lab.test/10.1.2.3",
                "--host-record=host.lab.test,10.1.2.4,fd00::4",
                "--cname=www.lab.test,host.lab.test",
                "--txt-record=t.lab.test,v=spf1 -all,second",
                "--mx-host=lab.test,mail.lab.test,10",
                "--srv-host=_ldap._tcp.lab.test,ldap.lab.test,389,1,5",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "dnsmasq is not installed; run scripts/test.sh, which installs the test \
                 dependencies (or apt-get install dnsmasq)"
            ),
            Err(e) => panic!("starting dnsmasq: {e}"),
        };
        let mut server = Dnsmasq { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if server.child.try_wait().expect("dnsmasq status").is_some() {
                return None; // exited: most likely the port was taken meanwhile
            }
            let o = server.ask("a.lab.test", RecordType::A, 200).await;
            if o.error.is_none() {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn ask(&self, name: &str, record: RecordType, ms: u64) -> Observation {
        let spec = Dns {
            name: name.into(),
            record,
            server: Some("127.0.0.1".into()),
            port: Some(IntOrTemplate::Int(self.port.into())),
        };
        run(&spec, limits(ms)).await
    }
}

fn limits(ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(ms),
        max_output: 1 << 16,
    }
}

/// The JSON of a readable answer (panics, with the observation, on an error).
fn answer(o: &Observation) -> &Value {
    assert!(o.error.is_none(), "unexpected error: {o:?}");
    o.json.as_ref().expect("json")
}

#[tokio::test]
async fn a_record() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("a.lab.test", RecordType::A, 2000).await;
    let j = answer(&o);
    assert_eq!(j["name"], "a.lab.test");
    assert_eq!(j["type"], "A");
    assert_eq!(j["rcode"], "NOERROR");
    assert_eq!(j["answers"], json!(["10.1.2.3"]));
    assert_eq!(j["records"][0]["name"], "a.lab.test");
    assert_eq!(j["records"][0]["type"], "A");
    assert_eq!(j["records"][0]["data"], "10.1.2.3");
    assert!(j["records"][0]["ttl"].is_u64());
    assert_eq!(o.stdout, "10.1.2.3\n");
}

#[tokio::test]
async fn aaaa_record() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("host.lab.test", RecordType::AAAA, 2000).await;
    let j = answer(&o);
    assert_eq!(j["type"], "AAAA");
    assert_eq!(j["answers"], json!(["fd00::4"]));
    assert_eq!(o.stdout, "fd00::4\n");
}

#[tokio::test]
async fn cname_record() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("www.lab.test", RecordType::CNAME, 2000).await;
    let j = answer(&o);
    assert_eq!(j["answers"], json!(["host.lab.test"]));
    assert_eq!(j["records"][0]["type"], "CNAME");
}

#[tokio::test]
async fn a_through_a_cname_shows_the_chain() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("www.lab.test", RecordType::A, 2000).await;
    let j = answer(&o);
    assert_eq!(j["rcode"], "NOERROR");
    assert_eq!(j["answers"], json!(["10.1.2.4"]));
    let chain: Vec<(&str, &str, &str)> = j["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap();
            (s("name"), s("type"), s("data"))
        })
        .collect();
    assert_eq!(
        chain,
        [
            ("www.lab.test", "CNAME", "host.lab.test"),
            ("host.lab.test", "A", "10.1.2.4"),
        ]
    );
    assert_eq!(o.stdout, "10.1.2.4\n");
}

#[tokio::test]
async fn txt_strings_are_joined() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("t.lab.test", RecordType::TXT, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["v=spf1 -allsecond"]));
}

#[tokio::test]
async fn mx_and_srv_formats() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("lab.test", RecordType::MX, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["10 mail.lab.test"]));
    let o = dns.ask("_ldap._tcp.lab.test", RecordType::SRV, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["1 5 389 ldap.lab.test"]));
}

#[tokio::test]
async fn nxdomain_is_an_answer_not_an_error() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("nope.lab.test", RecordType::A, 2000).await;
    let j = answer(&o);
    assert_eq!(j["rcode"], "NXDOMAIN");
    assert_eq!(j["answers"], json!([]));
    assert_eq!(o.stdout, "");
    assert_eq!(o.reason(), None);
}

#[tokio::test]
async fn no_data_is_an_answer_not_an_error() {
    let dns = Dnsmasq::start().await;
    // host.lab.test exists, but has no TXT record.
    let o = dns.ask("host.lab.test", RecordType::TXT, 2000).await;
    let j = answer(&o);
    assert_eq!(j["rcode"], "NOERROR");
    assert_eq!(j["answers"], json!([]));
}

#[tokio::test]
async fn nothing_listening_is_an_error_within_the_limit() {
    let spec = Dns {
        name: "a.lab.test".into(),
        record: RecordType::A,
        server: Some("127.0.0.1".into()),
        port: Some(IntOrTemplate::Int(free_port().into())),
    };
    let start = Instant::now();
    let o = run(&spec, limits(500)).await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    let reason = o.reason().expect("an error");
    assert!(reason == "timeout" || reason == "refused", "{o:?}");
    let message = &o.error.as_ref().unwrap().message;
    assert!(
        message.contains("127.0.0.1") && message.contains("a.lab.test"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bad_port_is_a_usage_error() {
    for port in [
        IntOrTemplate::Template("dns".into()),
        IntOrTemplate::Int(70000),
        IntOrTemplate::Int(0),
    ] {
        let spec = Dns {
            name: "a.lab.test".into(),
            record: RecordType::A,
            server: Some("127.0.0.1".into()),
            port: Some(port),
        };
        let o = run(&spec, limits(500)).await;
        assert_eq!(o.reason().as_deref(), Some("usage"), "{o:?}");
    }
}

#[tokio::test]
async fn a_rendered_port_string_is_accepted() {
    let dns = Dnsmasq::start().await;
    let spec = Dns {
        name: "a.lab.test".into(),
        record: RecordType::A,
        server: Some("127.0.0.1".into()),
        port: Some(IntOrTemplate::Template(dns.port.to_string())),
    };
    let o = run(&spec, limits(2000)).await;
    assert_eq!(answer(&o)["answers"], json!(["10.1.2.3"]));
}

#[tokio::test]
async fn ptr_of_an_address_asks_its_reverse_name() {
    let dns = Dnsmasq::start().await;
    let o = dns.ask("10.1.2.4", RecordType::PTR, 2000).await;
    let j = answer(&o);
    assert_eq!(j["answers"], json!(["host.lab.test"]));
    assert_eq!(j["records"][0]["name"], "4.2.1.10.in-addr.arpa");
}

#[tokio::test]
async fn a_refusing_server_is_a_dns_error() {
    let dns = Dnsmasq::start().await;
    // Outside lab.test, and dnsmasq has no upstream to forward to: it answers REFUSED.
    let o = dns.ask("elsewhere.example", RecordType::A, 2000).await;
    assert_eq!(o.reason().as_deref(), Some("dns"), "{o:?}");
    assert_eq!(o.json.as_ref().unwrap()["rcode"], "REFUSED");
    let message = &o.error.as_ref().unwrap().message;
    assert!(
        message.contains("127.0.0.1") && message.contains("elsewhere.example"),
        "{message}"
    );
}
