//! The fake Proxmox VE API (`tests/support/pve/`) on its own: the shapes it answers, its
//! authentication and proxy errors, the network PUT trap, tasks, and state that the API's
//! writes really change. Requests go through labcert's own `http` probe with the
//! certificate pinned, as the pve catalog sends them; reason phrases (where PVE puts its
//! error text) are read with a raw TLS client. Only 127.0.0.1 is contacted.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use labcert::model::probe::Http;
use labcert::probe::http::{Pool, run};
use labcert::probe::{Limits, Observation};
use serde_json::{Value, json};
use support::pve::{Lab, OLD_KEY, PveFixture, Scenario, uri_escape};
use tokio_rustls::rustls;

// ---- helpers ------------------------------------------------------------------------------

/// A pinned client for one fixture, as the catalog's `api` probe is.
struct Api<'a> {
    pve: &'a PveFixture,
    pool: Pool,
    auth: String,
    timeout: Duration,
}

impl<'a> Api<'a> {
    fn new(pve: &'a PveFixture) -> Api<'a> {
        Api::with_auth(pve, &pve.authorization())
    }

    fn with_auth(pve: &'a PveFixture, auth: &str) -> Api<'a> {
        Api {
            pve,
            pool: Pool::default(),
            auth: auth.into(),
            timeout: Duration::from_secs(8),
        }
    }

    async fn send(&self, method: &str, path: &str, form: Option<Value>) -> Observation {
        self.send_body(method, path, form.map(|f| ("form", f)))
            .await
    }

    /// A request with a JSON body (`Content-Type: application/json`).
    async fn send_json(&self, method: &str, path: &str, body: Value) -> Observation {
        self.send_body(method, path, Some(("json", body))).await
    }

    async fn send_body(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Value)>,
    ) -> Observation {
        let mut spec = json!({
            "method": method,
            "url": format!("{}/api2/json{path}", self.pve.url()),
            "headers": {"Authorization": self.auth},
            "tls": {"fingerprint": self.pve.fingerprint()},
        });
        if let Some((kind, b)) = body {
            spec[kind] = b;
        }
        let spec: Http = serde_json::from_value(spec).unwrap();
        let limits = Limits {
            timeout: self.timeout,
            max_output: 1 << 20,
        };
        run(&spec, limits, &self.pool).await
    }

    async fn get(&self, path: &str) -> Observation {
        self.send("GET", path, None).await
    }

    /// `data` of a 200 answer.
    async fn data(&self, path: &str) -> Value {
        let o = self.get(path).await;
        assert_eq!(o.status, Some(200), "GET {path}: {o:?}");
        o.json.unwrap()["data"].clone()
    }

    /// `data` of a 200 answer to a write.
    async fn write(&self, method: &str, path: &str, form: Value) -> Value {
        let o = self.send(method, path, Some(form)).await;
        assert_eq!(o.status, Some(200), "{method} {path}: {o:?}");
        o.json.unwrap()["data"].clone()
    }

    /// Polls a task until it stops; returns every status seen.
    async fn wait(&self, upid: &str) -> Vec<Value> {
        let node = upid.split(':').nth(1).unwrap();
        let mut seen = Vec::new();
        for _ in 0..50 {
            let st = self
                .data(&format!("/nodes/{node}/tasks/{upid}/status"))
                .await;
            seen.push(st.clone());
            if st["status"] == "stopped" {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("task {upid} never stopped: {seen:#?}");
    }
}

/// One raw HTTP/1.1 request over TLS (trusting the fixture's CA): the status line and body.
fn raw(pve: &PveFixture, request_line: &str, auth: Option<&str>) -> (String, String) {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pve.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", pve.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        tls,
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn upid_shape(upid: &str, kind: &str, id: &str) {
    let re = regex::Regex::new(&format!(
        "^UPID:pve[12]:[0-9A-F]{{8}}:[0-9A-F]{{8}}:[0-9A-F]{{8}}:{kind}:{id}:certbot@pve!labcert:$"
    ))
    .unwrap();
    assert!(re.is_match(upid), "{upid} is not a {kind} UPID for {id}");
}

// ---- shapes -------------------------------------------------------------------------------

#[tokio::test]
async fn answers_in_pve_envelopes_with_pve_types() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    let v = api.get("/version").await;
    assert_eq!(
        v.json.unwrap(),
        json!({"data": {"version": "8.2.4", "release": "8.2", "repoid": "faa83925c9641325"}})
    );

    let nodes = api.data("/nodes").await;
    assert_eq!(nodes[0]["node"], "pve1");
    assert_eq!(nodes[0]["status"], "online");
    assert_eq!(nodes[0]["ssl_fingerprint"], pve.fingerprint());
    assert_eq!(nodes[1]["node"], "pve2");
    assert_ne!(nodes[1]["ssl_fingerprint"], pve.fingerprint());

    let status = api.data("/cluster/status").await;
    assert_eq!(status[0]["type"], "cluster");
    assert_eq!(status[0]["quorate"], 1);
    assert_eq!(status[1]["online"], 1);

    // A filtered network list: `active` is the string "1", the rest 0/1 integers, strings
    // for numbers PVE reads from the interfaces file; no `changes` key.
    let o = api.get("/nodes/pve1/network?type=any_bridge").await;
    let body = o.json.unwrap();
    assert!(body.get("changes").is_none(), "{body:#}");
    let bridges = body["data"].as_array().unwrap();
    assert_eq!(bridges.len(), 2);
    let vmbr0 = bridges.iter().find(|b| b["iface"] == "vmbr0").unwrap();
    assert_eq!(vmbr0["active"], "1");
    assert_eq!(vmbr0["bridge_vlan_aware"], 1);
    assert_eq!(vmbr0["cidr"], "10.0.0.11/24");
    assert_eq!(vmbr0["netmask"], "24");
    assert_eq!(vmbr0["method"], "static");
    let vmbr1 = bridges.iter().find(|b| b["iface"] == "vmbr1").unwrap();
    assert_eq!(vmbr1["bridge_vids"], "20 30");
    assert_eq!(vmbr1["bridge_ports"], "bond0");
    assert!(vmbr1.get("cidr").is_none());
    let all = api.data("/nodes/pve1/network").await;
    let eno1 = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["iface"] == "eno1")
        .unwrap();
    assert_eq!(
        (eno1["active"].clone(), eno1["exists"].clone()),
        (json!(1), json!(1))
    );

    // VM config: property strings, numbers as numbers, sshkeys URL-encoded, MAC upper case.
    let cfg = api.data("/nodes/pve1/qemu/4101/config?current=1").await;
    assert_eq!(cfg["agent"], "1");
    assert_eq!(cfg["cores"], 2);
    assert_eq!(cfg["ide2"], "local-lvm:vm-4101-cloudinit,media=cdrom");
    assert_eq!(
        cfg["net0"],
        "virtio=BC:24:11:2E:C5:4A,bridge=vmbr1,firewall=1,tag=20"
    );
    assert!(
        cfg["sshkeys"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519%20AAAA")
    );
    assert!(cfg["digest"].is_string());
    let tpl = api.data("/nodes/pve1/qemu/9000/config?current=1").await;
    assert_eq!(tpl["template"], 1);
    assert!(
        tpl["scsi0"]
            .as_str()
            .unwrap()
            .starts_with("local-lvm:base-9000-disk-0")
    );

    let resources = api.data("/cluster/resources?type=vm").await;
    let tmpl = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vmid"] == 9000)
        .unwrap();
    assert_eq!(
        (tmpl["template"].clone(), tmpl["status"].clone()),
        (json!(1), json!("stopped"))
    );

    // The guest agent: POST ping, a double-wrapped result, lower-case MAC from the guest.
    let ping = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(ping.json.unwrap(), json!({"data": {"result": {}}}));
    let ifaces = api
        .data("/nodes/pve1/qemu/4101/agent/network-get-interfaces")
        .await;
    let eth0 = &ifaces["result"][1];
    assert_eq!(eth0["hardware-address"], "bc:24:11:2e:c5:4a");
    assert_eq!(eth0["ip-addresses"][0]["ip-address"], "10.20.0.41");
    assert_eq!(
        eth0["ip-addresses"][1]["ip-address"],
        "fe80::be24:11ff:fe2e:c54a"
    );
    let host = api.data("/nodes/pve2/qemu/4102/agent/get-host-name").await;
    assert_eq!(host, json!({"result": {"host-name": "cert-b"}}));

    // Cloud-init: nothing pending; the user-data PVE would generate.
    let ci = api.data("/nodes/pve1/qemu/4101/cloudinit").await;
    assert!(
        ci.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("pending").is_none()),
        "{ci:#}"
    );
    let user = api
        .data("/nodes/pve1/qemu/4101/cloudinit/dump?type=user")
        .await;
    let user = user.as_str().unwrap();
    assert!(
        user.starts_with("#cloud-config\nhostname: cert-a\n"),
        "{user}"
    );
    assert!(user.contains("user: certbot\n"));
    assert!(user.contains(&format!("  - {}\n", pve.lab().ssh_pubkey)));

    // Firewall: the cluster says enable 1; pve2's node options are empty (absent = on).
    assert_eq!(api.data("/cluster/firewall/options").await["enable"], 1);
    assert_eq!(api.data("/nodes/pve2/firewall/options").await, json!({}));
    let rules = api.data("/nodes/pve1/qemu/4101/firewall/rules").await;
    assert_eq!(rules[0]["dport"], "22");
    assert_eq!(rules[0]["source"], "10.10.0.0/24");

    // The token holds its role on every path GET /access/permissions evaluates.
    let perms = api.data("/access/permissions").await;
    assert_eq!(perms["/vms"]["VM.Monitor"], 1);
    assert_eq!(perms["/nodes"]["Sys.Modify"], 1);
    assert!(
        pve.writes()
            .iter()
            .all(|r| r.method == "POST" && r.path.ends_with("/agent/ping"))
    );
}

#[tokio::test]
async fn errors_carry_their_text_in_the_reason_phrase_and_the_body() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    // The agent ping is POST-only: GET has no handler.
    let o = api.get("/nodes/pve1/qemu/4101/agent/ping").await;
    assert_eq!(o.status, Some(501));
    assert_eq!(
        o.json.unwrap(),
        json!({"data": null, "message": "Method 'GET /nodes/pve1/qemu/4101/agent/ping' not implemented\n"})
    );
    let (line, _) = raw(
        &pve,
        "GET /api2/json/nodes/pve1/qemu/4101/agent/ping",
        Some(&pve.authorization()),
    );
    assert_eq!(
        line,
        "HTTP/1.1 501 Method 'GET /nodes/pve1/qemu/4101/agent/ping' not implemented"
    );
    // A VM asked for on the wrong node, or not there at all.
    let o = api.get("/nodes/pve2/qemu/4101/config").await;
    assert_eq!(o.status, Some(500));
    assert_eq!(
        o.json.unwrap()["message"],
        "Configuration file 'nodes/pve2/qemu-server/4101.conf' does not exist\n"
    );
    // A parameter error names the parameter.
    let o = api
        .send(
            "PUT",
            "/nodes/pve1/network/vmbr1",
            Some(json!({"bridge_vlan_aware": "1"})),
        )
        .await;
    assert_eq!(o.status, Some(400));
    assert_eq!(
        o.json.unwrap()["errors"],
        json!({"type": "property is missing and it is not optional"})
    );
}

#[tokio::test]
async fn an_empty_json_value_fails_the_schema_but_an_empty_form_field_is_undef() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    let path = "/nodes/pve1/network/vmbr1";
    // A JSON "" is a defined empty string: the integer type check refuses it, in the
    // errors object, with PVE's reason phrase.
    let o = api
        .send_json(
            "PUT",
            path,
            json!({"type": "bridge", "bridge_ports": "bond0", "mtu": ""}),
        )
        .await;
    assert_eq!(o.status, Some(400));
    assert_eq!(
        o.reason_phrase.as_deref(),
        Some("Parameter verification failed.")
    );
    assert_eq!(
        o.json.unwrap()["errors"],
        json!({"mtu": "type check ('integer') failed - got ''"})
    );
    // So is a format check on "".
    let o = api
        .send_json(
            "PUT",
            path,
            json!({"type": "bridge", "bridge_ports": "bond0", "gateway": ""}),
        )
        .await;
    assert_eq!(o.status, Some(400));
    assert_eq!(
        o.json.unwrap()["errors"],
        json!({"gateway": "invalid format - value does not look like a valid IPv4 address"})
    );
    // A form's `mtu=` decodes to undef: accepted, and nothing is set.
    api.write(
        "PUT",
        path,
        json!({"type": "bridge", "bridge_ports": "bond0", "mtu": "", "gateway": ""}),
    )
    .await;
    let put = pve.requests().pop().unwrap();
    assert!(put.params.sent("mtu") && put.params.get("mtu").is_none());
    let vmbr1 = api.data(path).await;
    assert!(
        vmbr1.get("mtu").is_none() && vmbr1.get("gateway").is_none(),
        "{vmbr1:#}"
    );
}

// ---- authentication ---------------------------------------------------------------------

#[test]
fn without_a_token_or_with_a_wrong_one_every_call_is_401_after_pveproxys_delay() {
    let pve = PveFixture::with_lab(
        Lab {
            unauthorized_delay: Duration::from_millis(300),
            ..Lab::default()
        },
        Scenario::Healthy,
    );
    let started = Instant::now();
    let (line, body) = raw(&pve, "GET /api2/json/version", None);
    assert_eq!(line, "HTTP/1.1 401 No ticket");
    assert_eq!(body, "");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let wrong = format!(
        "PVEAPIToken={}=00000000-0000-4000-a000-000000000000",
        pve.lab().token_id
    );
    let (line, _) = raw(&pve, "GET /api2/json/nodes", Some(&wrong));
    assert_eq!(line, "HTTP/1.1 401 invalid token value!");
    let (line, _) = raw(
        &pve,
        "GET /api2/json/nodes",
        Some("PVEAPIToken=root@pam!other=x"),
    );
    assert_eq!(
        line,
        "HTTP/1.1 401 no such token 'other' for user 'root@pam'"
    );
    let (line, body) = raw(&pve, "GET /api2/json/version", Some(&pve.authorization()));
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(body.contains("\"release\":\"8.2\""));
}

#[tokio::test]
async fn a_revoked_token_is_refused_everywhere() {
    let quick = Lab {
        unauthorized_delay: Duration::from_millis(50),
        ..Lab::default()
    };
    let pve = PveFixture::with_lab(quick, Scenario::BadToken);
    let api = Api::new(&pve);
    for path in [
        "/version",
        "/access/permissions",
        "/nodes",
        "/nodes/pve1/qemu/4101/config",
    ] {
        let o = api.get(path).await;
        assert_eq!(o.status, Some(401), "{path}");
        assert_eq!(o.stdout, "", "{path}");
    }
    let (line, _) = raw(&pve, "GET /api2/json/version", Some(&pve.authorization()));
    assert_eq!(line, "HTTP/1.1 401 invalid token value!");
    assert!(pve.requests().iter().all(|r| r.status == 401));
}

#[tokio::test]
async fn a_token_without_acls_sees_empty_lists_not_403() {
    let pve = PveFixture::start(Scenario::TokenWithoutPrivileges);
    let api = Api::new(&pve);
    assert_eq!(api.data("/version").await["release"], "8.2");
    assert_eq!(api.data("/access/permissions").await, json!({}));
    assert_eq!(api.data("/cluster/resources?type=vm").await, json!([]));
    assert_eq!(api.data("/nodes/pve1/qemu").await, json!([]));
    // /nodes lists the members, but without their usage figures.
    let nodes = api.data("/nodes").await;
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    assert!(nodes[0].get("maxmem").is_none());
    let o = api.get("/nodes/pve1/qemu/4101/config").await;
    assert_eq!(o.status, Some(403));
    assert_eq!(
        o.json.unwrap()["message"],
        "Permission check failed (/vms/4101, VM.Audit)\n"
    );
}

// ---- an offline node ----------------------------------------------------------------------

#[tokio::test]
async fn an_offline_node_is_595_through_the_proxy_and_offline_in_the_cluster() {
    let pve = PveFixture::start(Scenario::NodeOffline("pve2"));
    let api = Api::new(&pve);
    for path in [
        "/nodes/pve2/network",
        "/nodes/pve2/qemu/4102/config?current=1",
        "/nodes/pve2/firewall/options",
    ] {
        let o = api.get(path).await;
        assert_eq!(o.status, Some(595), "{path}");
        assert_eq!(o.stdout, "", "595 comes from the proxy, with no body");
    }
    let (line, _) = raw(
        &pve,
        "GET /api2/json/nodes/pve2/network",
        Some(&pve.authorization()),
    );
    assert_eq!(
        line,
        "HTTP/1.1 595 Errors during connection establishment, proxy handshake: No route to host"
    );
    let nodes = api.data("/nodes").await;
    assert_eq!(nodes[1]["status"], "offline");
    assert!(nodes[1].get("uptime").is_none());
    // Two nodes, one left: no quorum.
    let status = api.data("/cluster/status").await;
    assert_eq!(
        (status[0]["quorate"].clone(), status[2]["online"].clone()),
        (json!(0), json!(0))
    );
    let vms = api.data("/cluster/resources?type=vm").await;
    let b = vms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vmid"] == 4102)
        .unwrap();
    assert_eq!(b["status"], "unknown");
    assert_eq!(api.get("/nodes/pve1/network").await.status, Some(200));
}

// ---- the network PUT trap -------------------------------------------------------------------

#[tokio::test]
async fn a_bridge_put_without_its_address_drops_it_and_the_reload_cuts_the_node_off() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    // The naive repair: just the flag.
    let d = api
        .write(
            "PUT",
            "/nodes/pve1/network/vmbr0",
            json!({"type": "bridge", "bridge_vlan_aware": "1"}),
        )
        .await;
    assert_eq!(d, Value::Null);
    // Pending: GET shows interfaces.new and the diff; the running config is untouched.
    let o = api.get("/nodes/pve1/network").await;
    let changes = o.json.unwrap()["changes"].as_str().unwrap().to_string();
    assert!(changes.contains("-iface vmbr0 inet static"), "{changes}");
    assert!(changes.contains("+iface vmbr0 inet manual"), "{changes}");
    assert!(changes.contains("-\taddress 10.0.0.11/24"), "{changes}");
    let vmbr0 = api.data("/nodes/pve1/network/vmbr0").await;
    assert_eq!(vmbr0["method"], "manual");
    assert!(
        vmbr0.get("cidr").is_none() && vmbr0.get("gateway").is_none(),
        "{vmbr0:#}"
    );
    assert!(vmbr0.get("bridge_ports").is_none(), "not re-sent: dropped");
    let st = pve.state();
    assert_eq!(
        st.node("pve1").unwrap().network.iface("vmbr0").unwrap()["address"],
        "10.0.0.11"
    );
    // Apply it: the task succeeds, and the node has lost its management address.
    let upid = api.write("PUT", "/nodes/pve1/network", json!({})).await;
    let upid = upid.as_str().unwrap().to_string();
    upid_shape(&upid, "srvreload", "networking");
    let node = "/nodes/pve1/tasks";
    let first = api.data(&format!("{node}/{upid}/status")).await;
    assert_eq!(first["status"], "running");
    let second = api.data(&format!("{node}/{upid}/status")).await;
    assert_eq!(
        (second["status"].clone(), second["exitstatus"].clone()),
        (json!("stopped"), json!("OK"))
    );
    assert!(!pve.state().node("pve1").unwrap().reachable());
    let mut api = api;
    api.timeout = Duration::from_secs(1);
    let o = api.get("/version").await;
    assert_eq!(
        o.error.as_ref().map(|e| e.reason.as_str()),
        Some("timeout"),
        "{o:?}"
    );
}

#[tokio::test]
async fn a_complete_read_then_write_makes_the_bridge_vlan_aware_after_the_reload() {
    let pve = PveFixture::start(Scenario::BridgeNotVlanAware {
        node: "pve1",
        iface: "vmbr1",
    });
    let api = Api::new(&pve);
    let before = api.data("/nodes/pve1/network/vmbr1").await;
    assert!(before.get("bridge_vlan_aware").is_none(), "{before:#}");
    // What the catalog's repair sends: every field it read (absent ones empty), plus the fix.
    let mut form = json!({"bridge_vlan_aware": 1, "bridge_vids": "20 30"});
    for k in [
        "type",
        "cidr",
        "gateway",
        "cidr6",
        "gateway6",
        "bridge_ports",
        "autostart",
        "mtu",
        "comments",
    ] {
        form[k] = before.get(k).cloned().unwrap_or(Value::Null);
    }
    api.write("PUT", "/nodes/pve1/network/vmbr1", form).await;
    let pending = api.data("/nodes/pve1/network/vmbr1").await;
    assert_eq!(pending["bridge_vlan_aware"], 1);
    assert_eq!(pending["bridge_ports"], "bond0");
    assert_eq!(pending["autostart"], 1);
    assert!(
        pve.state()
            .node("pve1")
            .unwrap()
            .network
            .iface("vmbr1")
            .unwrap()
            .get("bridge_vlan_aware")
            .is_none()
    );
    let upid = api.write("PUT", "/nodes/pve1/network", json!({})).await;
    let seen = api.wait(upid.as_str().unwrap()).await;
    assert_eq!(seen.last().unwrap()["exitstatus"], "OK");
    let st = pve.state();
    let net = &st.node("pve1").unwrap().network;
    assert!(net.pending.is_none());
    let vmbr1 = net.iface("vmbr1").unwrap();
    assert_eq!(
        (
            vmbr1["bridge_vlan_aware"].clone(),
            vmbr1["bridge_vids"].clone()
        ),
        (json!(1), json!("20 30"))
    );
    assert_eq!(vmbr1["bridge_ports"], "bond0");
    let o = api.get("/nodes/pve1/network?type=any_bridge").await;
    assert!(o.json.unwrap().get("changes").is_none());
    assert!(st.node("pve1").unwrap().reachable());
}

#[tokio::test]
async fn pending_network_changes_show_until_applied_or_reverted() {
    let pve = PveFixture::start(Scenario::PendingNetworkChanges("pve1"));
    let api = Api::new(&pve);
    let o = api.get("/nodes/pve1/network?type=any_bridge").await;
    let body = o.json.unwrap();
    assert!(
        body["changes"].as_str().unwrap().contains("+\tmtu 9000"),
        "{body:#}"
    );
    assert_eq!(
        api.get("/nodes/pve2/network")
            .await
            .json
            .unwrap()
            .get("changes"),
        None
    );
    api.write("DELETE", "/nodes/pve1/network", json!({})).await;
    let o = api.get("/nodes/pve1/network").await;
    assert_eq!(o.json.unwrap().get("changes"), None);
    assert!(pve.state().node("pve1").unwrap().network.pending.is_none());
}

// ---- tasks and repairs ---------------------------------------------------------------------

#[tokio::test]
async fn power_tasks_run_then_stop_ok_and_change_the_vm() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    let upid = api
        .write(
            "POST",
            "/nodes/pve1/qemu/4101/status/shutdown",
            json!({"timeout": "120", "forceStop": "1"}),
        )
        .await;
    let upid = upid.as_str().unwrap().to_string();
    upid_shape(&upid, "qmshutdown", "4101");
    assert!(
        pve.state().vm(4101).unwrap().running,
        "not before the task stops"
    );
    let seen = api.wait(&upid).await;
    assert_eq!(seen[0]["status"], "running");
    assert_eq!(seen.last().unwrap()["exitstatus"], "OK");
    assert!(!pve.state().vm(4101).unwrap().running);
    let log = api
        .data(&format!("/nodes/pve1/tasks/{upid}/log?start=0&limit=500"))
        .await;
    assert_eq!(log.as_array().unwrap().last().unwrap()["t"], "TASK OK");
    let o = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(o.status, Some(500));
    assert_eq!(o.json.unwrap()["message"], "VM 4101 is not running\n");
    // Shutting down a stopped VM fails in the task, not in the call.
    let again = api
        .write("POST", "/nodes/pve1/qemu/4101/status/shutdown", json!({}))
        .await;
    let seen = api.wait(again.as_str().unwrap()).await;
    assert_eq!(seen.last().unwrap()["exitstatus"], "VM 4101 not running");
    // A task nobody polls still stops after the lab's task duration.
    let start = api
        .write("POST", "/nodes/pve1/qemu/4101/status/start", json!({}))
        .await;
    upid_shape(start.as_str().unwrap(), "qmstart", "4101");
    tokio::time::sleep(pve.lab().task_duration + Duration::from_millis(50)).await;
    assert!(pve.state().vm(4101).unwrap().running);
}

#[tokio::test]
async fn enabling_the_agent_waits_for_a_cold_start_then_the_agent_answers() {
    let pve = PveFixture::start(Scenario::QgaDisabled(4101));
    let api = Api::new(&pve);
    let o = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(
        o.json.unwrap()["message"],
        "No QEMU guest agent configured\n"
    );
    // The synchronous PUT: not hot-pluggable, so it waits in [pending].
    let d = api
        .write(
            "PUT",
            "/nodes/pve1/qemu/4101/config",
            json!({"agent": "enabled=1"}),
        )
        .await;
    assert_eq!(d, Value::Null);
    assert!(
        api.data("/nodes/pve1/qemu/4101/config?current=1")
            .await
            .get("agent")
            .is_none()
    );
    assert_eq!(
        api.data("/nodes/pve1/qemu/4101/config").await["agent"],
        "enabled=1"
    );
    let pending = api.data("/nodes/pve1/qemu/4101/pending").await;
    let row = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "agent")
        .unwrap();
    assert_eq!(row["pending"], "enabled=1");
    assert!(
        api.data("/nodes/pve1/qemu/4101/status/current")
            .await
            .get("agent")
            .is_none()
    );
    // Shutdown, start: the pending change is applied and QEMU gets the device.
    for action in ["shutdown", "start"] {
        let upid = api
            .write(
                "POST",
                &format!("/nodes/pve1/qemu/4101/status/{action}"),
                json!({}),
            )
            .await;
        assert_eq!(
            api.wait(upid.as_str().unwrap()).await.last().unwrap()["exitstatus"],
            "OK"
        );
    }
    assert_eq!(
        api.data("/nodes/pve1/qemu/4101/config?current=1").await["agent"],
        "enabled=1"
    );
    let status = api.data("/nodes/pve1/qemu/4101/status/current").await;
    assert_eq!(
        (status["status"].clone(), status["agent"].clone()),
        (json!("running"), json!(1))
    );
    // The guest is still booting for a moment; then the agent answers.
    let o = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(
        o.json.unwrap()["message"],
        "QEMU guest agent is not running\n"
    );
    tokio::time::sleep(pve.lab().agent_boot_delay).await;
    let o = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(o.json.unwrap(), json!({"data": {"result": {}}}));
    assert!(pve.state().vm(4101).unwrap().agent_device);
}

#[tokio::test]
async fn an_agent_that_is_not_installed_never_answers() {
    let pve = PveFixture::start(Scenario::QgaNotResponding(4101));
    let api = Api::new(&pve);
    let o = api
        .send("POST", "/nodes/pve1/qemu/4101/agent/ping", None)
        .await;
    assert_eq!(o.status, Some(500));
    assert_eq!(
        o.json.unwrap()["message"],
        "QEMU guest agent is not running\n"
    );
    let (line, body) = raw(
        &pve,
        "POST /api2/json/nodes/pve1/qemu/4101/agent/ping",
        Some(&pve.authorization()),
    );
    assert_eq!(line, "HTTP/1.1 500 QEMU guest agent is not running");
    assert!(
        body.contains("guest agent is not running"),
        "the catalog matches the body: {body}"
    );
    assert_eq!(
        api.data("/nodes/pve1/qemu/4101/status/current").await["agent"],
        1
    );
}

#[tokio::test]
async fn regenerating_a_stale_cloud_init_drive_clears_its_pending_keys() {
    let pve = PveFixture::start(Scenario::StaleCloudInit(4101));
    let api = Api::new(&pve);
    let rows = api.data("/nodes/pve1/qemu/4101/cloudinit").await;
    let sshkeys = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "sshkeys")
        .unwrap();
    assert_eq!(sshkeys["value"], json!(uri_escape(OLD_KEY)));
    assert_eq!(sshkeys["pending"], json!(uri_escape(&pve.lab().ssh_pubkey)));
    let d = api
        .write("PUT", "/nodes/pve1/qemu/4101/cloudinit", json!({}))
        .await;
    assert_eq!(d, Value::Null);
    let rows = api.data("/nodes/pve1/qemu/4101/cloudinit").await;
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("pending").is_none() && r.get("delete").is_none()),
        "{rows:#}"
    );
    let vm = pve.state().vm(4101).unwrap().clone();
    assert_eq!(
        vm.cloudinit_generated["sshkeys"],
        json!(uri_escape(&pve.lab().ssh_pubkey))
    );
}

#[tokio::test]
async fn firewall_repairs_turn_the_vm_firewall_on_and_add_the_ssh_rule() {
    let pve = PveFixture::start(Scenario::FirewallDisabled(4101));
    let api = Api::new(&pve);
    assert!(
        api.data("/nodes/pve1/qemu/4101/firewall/options")
            .await
            .get("enable")
            .is_none()
    );
    api.write(
        "PUT",
        "/nodes/pve1/qemu/4101/firewall/options",
        json!({"enable": "1"}),
    )
    .await;
    assert_eq!(
        api.data("/nodes/pve1/qemu/4101/firewall/options").await["enable"],
        1
    );
    assert_eq!(pve.state().vm(4101).unwrap().firewall_options["enable"], 1);
    let rule = json!({"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22",
        "source": "10.10.0.0/24", "enable": "1", "comment": "labcert"});
    api.write("POST", "/nodes/pve1/qemu/4101/firewall/rules", rule)
        .await;
    let rules = api.data("/nodes/pve1/qemu/4101/firewall/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 3);
    assert_eq!(
        (
            rules[0]["pos"].clone(),
            rules[0]["comment"].clone(),
            rules[0]["enable"].clone()
        ),
        (json!(0), json!("labcert"), json!(1))
    );
    assert_eq!(rules[1]["pos"], 1);
}

#[tokio::test]
async fn an_async_config_post_adds_a_cloud_init_drive_when_its_task_stops() {
    let pve = PveFixture::start(Scenario::VmStopped(4101));
    let api = Api::new(&pve);
    pve.edit(|st| {
        st.vm_mut(4101).unwrap().config.remove("ide2");
    });
    let upid = api
        .write(
            "POST",
            "/nodes/pve1/qemu/4101/config",
            json!({"ide2": "local-lvm:cloudinit"}),
        )
        .await;
    let upid = upid.as_str().unwrap().to_string();
    upid_shape(&upid, "qmconfig", "4101");
    assert!(
        api.data("/nodes/pve1/qemu/4101/config")
            .await
            .get("ide2")
            .is_none(),
        "not before the task stops"
    );
    api.wait(&upid).await;
    assert_eq!(
        api.data("/nodes/pve1/qemu/4101/config?current=1").await["ide2"],
        "local-lvm:vm-4101-cloudinit,media=cdrom"
    );
    // On a running VM a new IDE drive is not hot-pluggable: it waits in [pending].
    let o = api
        .send(
            "POST",
            "/nodes/pve2/qemu/4102/config",
            Some(json!({"ide0": "nosuch:cloudinit"})),
        )
        .await;
    assert_eq!(
        o.json.unwrap()["message"],
        "storage 'nosuch' does not exist\n"
    );
    pve.edit(|st| {
        st.vm_mut(4102).unwrap().config.remove("ide2");
    });
    let upid = api
        .write(
            "POST",
            "/nodes/pve2/qemu/4102/config",
            json!({"ide2": "local-lvm:cloudinit"}),
        )
        .await;
    api.wait(upid.as_str().unwrap()).await;
    assert!(
        api.data("/nodes/pve2/qemu/4102/config?current=1")
            .await
            .get("ide2")
            .is_none()
    );
    assert_eq!(
        pve.state().vm(4102).unwrap().pending["ide2"],
        "local-lvm:vm-4102-cloudinit,media=cdrom"
    );
}

#[tokio::test]
async fn a_missing_template_is_gone_from_the_inventory_and_its_config() {
    let pve = PveFixture::start(Scenario::TemplateMissing(9000));
    let api = Api::new(&pve);
    let vms = api.data("/cluster/resources?type=vm").await;
    assert!(vms.as_array().unwrap().iter().all(|r| r["vmid"] != 9000));
    assert_eq!(vms.as_array().unwrap().len(), 3);
    let o = api.get("/nodes/pve1/qemu/9000/config?current=1").await;
    assert_eq!(o.status, Some(500));
}

#[tokio::test]
async fn the_request_log_records_method_path_and_status() {
    let pve = PveFixture::start(Scenario::Healthy);
    let api = Api::new(&pve);
    api.get("/nodes/pve1/qemu/4101/config?current=1").await;
    api.get("/nodes/pve1/qemu/4101/agent/ping").await;
    let log = pve.requests();
    assert_eq!(log[0].line(), "GET /api2/json/nodes/pve1/qemu/4101/config");
    assert_eq!((log[0].query.as_str(), log[0].status), ("current=1", 200));
    assert_eq!(
        (log[1].line(), log[1].status),
        (
            "GET /api2/json/nodes/pve1/qemu/4101/agent/ping".to_string(),
            501
        )
    );
    assert_eq!(pve.count("GET", "/agent/ping"), 1);
    assert!(pve.writes().is_empty());
}
