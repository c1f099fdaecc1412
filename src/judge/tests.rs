use serde_json::{Value, json};

use super::*;

fn expect(v: Value) -> Expectation {
    Expectation::compile(serde_json::from_value(v).expect("expectation"))
}

/// One expectation judged on its own (shadows the module's three-argument `judge`).
fn judge(e: &Expectation, obs: &Observation) -> ExpectationResult {
    judge_all(std::slice::from_ref(e), obs).remove(0)
}

fn body(v: Value) -> Observation {
    Observation {
        status: Some(200),
        json: Some(v),
        ..Observation::default()
    }
}

fn passes(e: Value, data: Value) -> bool {
    judge(&expect(e), &body(data)).passed
}

#[test]
fn numbers_coerce_across_strings() {
    assert!(passes(
        json!({"query": "data.mtu", "equals": 9000}),
        json!({"data": {"mtu": "9000"}})
    ));
    assert!(passes(
        json!({"query": "n", "equals": "5"}),
        json!({"n": 5.0})
    ));
    assert!(passes(json!({"query": "n", "ge": 5}), json!({"n": "5"})));
    assert!(!passes(json!({"query": "n", "gt": 5}), json!({"n": "5"})));
    assert!(passes(json!({"query": "n", "lt": "10"}), json!({"n": 9.5})));
}

#[test]
fn pve_booleans_and_absent_defaults() {
    assert!(passes(
        json!({"query": "data.active", "equals": true}),
        json!({"data": {"active": "1"}})
    ));
    assert!(passes(
        json!({"query": "data.active", "equals": 1}),
        json!({"data": {"active": true}})
    ));
    let e = json!({"query": "data.bridge_vlan_aware", "equals": 1, "absent_means": 0});
    let r = judge(&expect(e), &body(json!({"data": {}})));
    assert!(!r.passed);
    assert_eq!((r.expected, r.actual), (json!(1), json!(0)));
}

#[test]
fn lists_sets_and_quantifiers() {
    let nodes = json!({"data": [{"node": "pve1", "status": "online"}, {"node": "pve2", "status": "offline"}]});
    assert!(passes(
        json!({"query": "data[].node", "superset_of": ["pve1", "pve2"]}),
        nodes.clone()
    ));
    let r = judge(
        &expect(json!({"query": "data[].node", "superset_of": ["pve1", "pve3"]})),
        &body(nodes.clone()),
    );
    assert_eq!(r.message.as_deref(), Some("missing: [\"pve3\"]"));
    assert!(!passes(
        json!({"query": "data[].status", "all": {"equals": "online"}}),
        nodes.clone()
    ));
    assert!(passes(
        json!({"query": "data[].status", "any": {"equals": "online"}}),
        nodes.clone()
    ));
    assert!(passes(json!({"query": "data", "length": 2}), nodes.clone()));
    assert!(passes(
        json!({"query": "data", "length": {"ge": 1}}),
        nodes.clone()
    ));
    assert!(passes(
        json!({"query": "data[].node", "subset_of": ["pve1", "pve2", "pve3"]}),
        nodes.clone()
    ));
    assert!(passes(
        json!({"query": "data[].node", "contains": "pve2"}),
        nodes
    ));
}

#[test]
fn text_versions_and_networks() {
    assert!(passes(
        json!({"query": "data.release", "semver": ">=8.1"}),
        json!({"data": {"release": "8.2"}})
    ));
    assert!(!passes(
        json!({"query": "data.release", "semver": ">=8.1"}),
        json!({"data": {"release": "7.4-3"}})
    ));
    assert!(passes(
        json!({"query": "ip", "cidr_contains": "10.20.0.0/16"}),
        json!({"ip": "10.20.3.4"})
    ));
    assert!(!passes(
        json!({"query": "ip", "cidr_contains": "10.20.0.0/16"}),
        json!({"ip": "10.21.0.1"})
    ));
    assert!(passes(
        json!({"query": "net", "cidr_contains": "10.20.3.4"}),
        json!({"net": "10.20.0.0/16"})
    ));
    assert!(passes(
        json!({"query": "v", "matches": "^vmbr[0-9]+$"}),
        json!({"v": "vmbr1"})
    ));
    assert!(passes(
        json!({"query": "v", "in": ["DROP", "REJECT"]}),
        json!({"v": "DROP"})
    ));
    assert!(passes(json!({"query": "v", "absent": true}), json!({})));
    assert!(passes(
        json!({"query": "v", "exists": true}),
        json!({"v": 0})
    ));
}

#[test]
fn shortcuts_and_bad_queries() {
    let obs = Observation {
        exit: Some(2),
        stdout: "done\n".into(),
        stderr: "An error occurred (InvalidAMIID.NotFound)".into(),
        ..Observation::default()
    };
    let r = judge(&expect(json!({"exit": [0, 1]})), &obs);
    assert!(!r.passed);
    assert_eq!((r.expected, r.actual), (json!([0, 1]), json!(2)));
    assert!(judge(&expect(json!({"stdout": {"contains": "done"}})), &obs).passed);
    assert!(
        judge(
            &expect(json!({"stderr": {"matches": "InvalidAMIID\\.NotFound"}})),
            &obs
        )
        .passed
    );
    assert!(judge(&expect(json!({"status": 200})), &body(json!(null))).passed);
    let r = judge(
        &expect(json!({"query": "data.[x", "equals": 1})),
        &body(json!({})),
    );
    assert!(!r.passed && r.message.unwrap().contains("invalid JMESPath"));
}
