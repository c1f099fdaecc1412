//! The `dns` probe against a real `dnsmasq` on 127.0.0.1 (installed by `scripts/test.sh`;
//! the server and its zone live in `tests/support/dnsmasq.rs`).
//! Every query names the server explicitly: no other resolver is ever asked.

mod support;

use std::time::{Duration, Instant};

use labcert::model::probe::{Dns, RecordType};
use labcert::model::shapes::IntOrTemplate;
use labcert::probe::dns::run;
use labcert::probe::{Limits, Observation};
use serde_json::{Value, json};
use support::dnsmasq::{Dnsmasq, free_udp_port as free_port};

/// Asking the test server with the probe under test.
trait Ask {
    async fn ask(&self, name: &str, record: RecordType, ms: u64) -> Observation;
}

impl Ask for Dnsmasq {
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
    let dns = Dnsmasq::start();
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
    let dns = Dnsmasq::start();
    let o = dns.ask("host.lab.test", RecordType::AAAA, 2000).await;
    let j = answer(&o);
    assert_eq!(j["type"], "AAAA");
    assert_eq!(j["answers"], json!(["fd00::4"]));
    assert_eq!(o.stdout, "fd00::4\n");
}

#[tokio::test]
async fn cname_record() {
    let dns = Dnsmasq::start();
    let o = dns.ask("www.lab.test", RecordType::CNAME, 2000).await;
    let j = answer(&o);
    assert_eq!(j["answers"], json!(["host.lab.test"]));
    assert_eq!(j["records"][0]["type"], "CNAME");
}

#[tokio::test]
async fn a_through_a_cname_shows_the_chain() {
    let dns = Dnsmasq::start();
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
    let dns = Dnsmasq::start();
    let o = dns.ask("t.lab.test", RecordType::TXT, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["v=spf1 -allsecond"]));
}

#[tokio::test]
async fn mx_and_srv_formats() {
    let dns = Dnsmasq::start();
    let o = dns.ask("lab.test", RecordType::MX, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["10 mail.lab.test"]));
    let o = dns.ask("_ldap._tcp.lab.test", RecordType::SRV, 2000).await;
    assert_eq!(answer(&o)["answers"], json!(["1 5 389 ldap.lab.test"]));
}

#[tokio::test]
async fn nxdomain_is_an_answer_not_an_error() {
    let dns = Dnsmasq::start();
    let o = dns.ask("nope.lab.test", RecordType::A, 2000).await;
    let j = answer(&o);
    assert_eq!(j["rcode"], "NXDOMAIN");
    assert_eq!(j["answers"], json!([]));
    assert_eq!(o.stdout, "");
    assert_eq!(o.reason(), None);
}

#[tokio::test]
async fn no_data_is_an_answer_not_an_error() {
    let dns = Dnsmasq::start();
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
    let dns = Dnsmasq::start();
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
    let dns = Dnsmasq::start();
    let o = dns.ask("10.1.2.4", RecordType::PTR, 2000).await;
    let j = answer(&o);
    assert_eq!(j["answers"], json!(["host.lab.test"]));
    assert_eq!(j["records"][0]["name"], "4.2.1.10.in-addr.arpa");
}

#[tokio::test]
async fn a_refusing_server_is_a_dns_error() {
    let dns = Dnsmasq::start();
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
