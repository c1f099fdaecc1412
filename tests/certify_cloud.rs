//! `labcert certify --topology demo --live --providers aws|azure|oci` against live fixtures
//! (tests/support/cloud.rs): moto_server behind the real AWS CLI v1, and fake `az` / `oci`
//! CLIs (tests/fixtures-bin) with the real output shapes and error conventions. Each test
//! builds the demo lab healthy, or breaks it, and checks every `<provider>.*` check of the
//! manifest: the broken one fails — inspected, and absent or wrong — or is blocked, for
//! credentials, a missing permission, throttling or an unreachable endpoint, with the right
//! reason; its dependents are blocked naming it; everything else passes. Where one test
//! breaks several things, they are checks nothing else depends on, or ones with disjoint
//! dependents.
//!
//! The faults: moto seeded wrong (or checking IAM, with actions denied to the certifier role),
//! switches in the fake CLIs' state (a denied ARM action, a throttled OCI read, an endpoint
//! that refuses connections), the guest's state (a firewall dropping the metadata service)
//! and the runner's known_hosts (a replaced instance's key), and topology `--var`s naming
//! what the cloud does not have. Checks that poll for minutes on a wrong answer (instance
//! state, cloud-init) are driven non-passing where an answer is final at once: blocked for a
//! permission, throttling or a host key; their wrong-answer path is the same judging.
//!
//! Each lab runs in a network namespace of its own (only its loopback; the reachability
//! checks a `--providers` run brings along fail at once in there and are not looked at).
//! Needs root, `ip`, `sshd`, python3 and `target/cloud-venv` (moto[server], awscli) from
//! `scripts/cloud-fixtures.sh`.

mod support;

use serde_json::{Value, json};

use support::cloud::{
    AwsFaults, AwsLab, Lab, Run, assert_statuses, azure_lab, demo_vars, oci_lab, require_venv, s,
    var,
};

// ---- AWS ----------------------------------------------------------------------------------

fn aws_lab(faults: AwsFaults) -> (Lab, AwsLab) {
    require_venv();
    let mut lab = Lab::new();
    lab.start_moto(false);
    let aws = lab.seed_aws(&faults);
    (lab, aws)
}

/// Every tag-scoped AWS call of the run is scoped to exactly `run_id`: teardown deletes what
/// these find, so an empty or missing tag filter (which matches everything) must never go out.
fn assert_tag_calls_scoped(lab: &Lab, run_id: &str) -> usize {
    let mut scoped = 0;
    for call in lab.aws_calls() {
        let tagged = call.iter().any(|w| w.contains("qual:run-id"));
        let inventory = call.first().map(String::as_str) == Some("resourcegroupstaggingapi")
            || call.iter().any(|w| w == "describe-addresses");
        if !(tagged || inventory) {
            continue;
        }
        let input: Value = call
            .iter()
            .position(|w| w == "--cli-input-json")
            .and_then(|i| serde_json::from_str(&call[i + 1]).ok())
            .unwrap_or(Value::Null);
        let filters = input["Filters"]
            .as_array()
            .or(input["TagFilters"].as_array())
            .cloned()
            .unwrap_or_default();
        let run_filter = filters
            .iter()
            .find(|f| f["Name"] == "tag:qual:run-id" || f["Key"] == "qual:run-id");
        let values = run_filter.map(|f| f["Values"].clone());
        assert_eq!(
            values,
            Some(json!([run_id])),
            "an inventory call not scoped to run {run_id:?}: {call:?}"
        );
        scoped += 1;
    }
    scoped
}

#[test]
fn aws_healthy_lab_passes_every_check() {
    let (lab, aws) = aws_lab(AwsFaults::default());
    let run = lab.certify("aws", &aws.vars, &aws.env);
    // Bounded by the AWS CLI: ~0.5 s of CPU per call (Python start-up), 21 calls.
    eprintln!(
        "aws healthy certify: {:.1?} wall, {:.1?} CPU (labcert and its probes)",
        run.took, run.cpu
    );
    assert_statuses(&run.manifest, "aws", &[]);
    // The inventory went out scoped to the run: get-resources, describe-instances, -addresses.
    let run_id = s(&demo_vars("aws"), "run_id");
    assert_eq!(assert_tag_calls_scoped(&lab, &run_id), 3);
    // The quota came from the shim (moto has no EC2 quotas) and the headroom counted the
    // running m6i.large (1 core) from the CpuOptions it added.
    let headroom = support::manifest::check(&run.manifest, "aws.capacity.headroom");
    let counted = headroom["expectations"][0]["actual"].as_f64();
    assert_eq!(counted, Some(6.0), "{headroom:#}");
}

#[test]
fn aws_rejected_credentials_block_the_identity_check_and_everything_after_it() {
    require_venv();
    let mut lab = Lab::new();
    lab.start_moto(true);
    let env = lab.aws_env_bad_credentials();
    let run = lab.certify("aws", &[], &env);
    assert_statuses(
        &run.manifest,
        "aws",
        &[
            ("aws.*", "blocked/dependency"),
            ("aws.identity.caller", "blocked/auth"),
        ],
    );
    let caller = support::manifest::check(&run.manifest, "aws.identity.caller");
    assert!(
        caller.to_string().contains("InvalidClientTokenId"),
        "{caller:#}"
    );
    // Nothing else was asked.
    let calls = lab.aws_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0][..2], ["sts", "get-caller-identity"]);
}

/// Each `(dependent, need)`: the dependent is blocked, and its message names the need (or,
/// for `a|b`, one of them: the first of its needs settled not passing).
fn assert_blocked_naming(m: &Value, pairs: &[(&str, &str)]) {
    for (dependent, need) in pairs {
        let c = support::manifest::check(m, dependent);
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("blocked"), Some("dependency")),
            "{dependent}: {c:#}"
        );
        let message = c["message"].as_str().unwrap_or("");
        assert!(
            need.split('|')
                .any(|n| message.contains(&format!("needs {n},"))),
            "{dependent} should name {need}: {message:?}"
        );
    }
}

/// The text of a check's result (status, reason, message, expectations, evidence).
fn text(m: &Value, id: &str) -> String {
    support::manifest::check(m, id).to_string()
}

#[test]
fn aws_compute_network_guest_and_inventory_faults_fail_their_checks_and_block_dependents() {
    // Eleven faults, each failing a different check: a 5-vCPU quota (the AWS default for new
    // accounts) leaves no room beside the running instance; the base AMI was deregistered and
    // the key pair deleted after the instance launched (both block the launch template); the
    // topology names a1.medium, which eu-west-1a does not offer and which is too small and
    // arm64 only; the VPC lost DNS hostnames and the subnet maps public addresses against the
    // design; the runner's known_hosts pins a host key the instance no longer has (replaced:
    // nothing is sent to it); the certification instance lost its run tag; a volume carries
    // the run id but another owner; an Elastic IP of the run is not associated. The instance's
    // own checks read the instance whatever the template's state, and the inventory needs
    // only the run id, so they still run.
    let (lab, mut aws) = aws_lab(AwsFaults {
        seed: vec![
            "ami-deregistered",
            "vpc-dns-off",
            "instance-run-tag-missing",
            "foreign-run-resource",
            "orphan-eip",
        ],
        vcpu_quota: Some(5.0),
        ..AwsFaults::default()
    });
    aws.vars.push(var("aws", "instance_type", "a1.medium"));
    let stale = lab.stale_known_hosts();
    aws.vars
        .push(var("aws", "known_hosts", &stale.display().to_string()));
    let run = lab.certify("aws", &aws.vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.capacity.headroom", "fail/expectation"),
            // moto answers a deregistered id with an empty list, as AWS does once it is gone.
            ("aws.compute.ami", "fail/expectation"),
            ("aws.compute.launch-template", "blocked/dependency"),
            ("aws.compute.type-offered", "fail/expectation"),
            ("aws.compute.type-size", "fail/expectation"),
            ("aws.network.vpc-dns", "fail/expectation"),
            ("aws.instance.cloudinit", "blocked/hostkey"),
            ("aws.instance.imds-guest", "blocked/dependency"),
            ("aws.inventory.instances", "fail/expectation"),
            ("aws.inventory.tagged", "fail/expectation"),
            ("aws.inventory.orphan-eips", "fail/expectation"),
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("aws.compute.launch-template", "aws.compute.ami"),
            ("aws.instance.imds-guest", "aws.instance.cloudinit"),
        ],
    );
    assert!(text(m, "aws.capacity.headroom").contains("not enough vCPU headroom"));
    assert!(text(m, "aws.inventory.tagged").contains("not the owner tag"));
    assert!(text(m, "aws.inventory.orphan-eips").contains("orphaned Elastic IPs"));
    assert_eq!(
        support::manifest::check(m, "aws.inventory.orphan-eips")["severity"],
        "advisory"
    );
    // a1.medium: 1 vCPU, 2048 MiB, arm64 only; every expectation of type-size fails.
    let size = support::manifest::check(m, "aws.compute.type-size");
    let failed: Vec<bool> = size["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(failed, [false, false, false], "{size:#}");
    // The guest was never logged into: the host key did not match.
    let cloudinit = support::manifest::check(m, "aws.instance.cloudinit");
    assert_eq!(
        cloudinit["attempts"].as_array().unwrap().len(),
        1,
        "{cloudinit:#}"
    );
    let run_id = s(&demo_vars("aws"), "run_id");
    assert_eq!(assert_tag_calls_scoped(&lab, &run_id), 3);
}

#[test]
fn aws_quota_zone_template_guest_imds_vpc_and_run_id_faults_fail_their_checks_and_block_dependents()
{
    // A quota below what one run needs (its headroom is then not computed); the launch
    // template allows IMDSv1; a firewall inside the instance drops the metadata address; and
    // no run id at all: the tag-scoped inventory must not run, since an empty tag filter
    // matches everything.
    let (lab, mut aws) = aws_lab(AwsFaults {
        seed: vec!["lt-imdsv1"],
        vcpu_quota: Some(2.0),
        ..AwsFaults::default()
    });
    lab.update_guest(|g| g["imds"]["unreachable"] = json!(true));
    aws.vars.push(var("aws", "run_id", ""));
    // And AWS throttles the VPC attribute reads, past the CLI's own retries.
    let shim = lab.path("aws/shim.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&shim).unwrap()).unwrap();
    state["throttled"] = json!(["ec2 describe-vpc-attribute"]);
    std::fs::write(&shim, state.to_string()).unwrap();
    let run = lab.certify("aws", &aws.vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.capacity.vcpu", "fail/expectation"),
            ("aws.capacity.headroom", "blocked/dependency"),
            ("aws.compute.launch-template", "fail/expectation"),
            ("aws.network.vpc-dns", "blocked/throttled"),
            ("aws.instance.imds-guest", "fail/expectation"),
            ("aws.inventory.run-id", "fail/expectation"),
            // `when = "vars.run_id | length > 0"`: not run at all.
            ("aws.inventory.tagged", "skipped"),
            ("aws.inventory.instances", "skipped"),
            ("aws.inventory.orphan-eips", "skipped"),
        ],
    );
    assert_blocked_naming(m, &[("aws.capacity.headroom", "aws.capacity.vcpu")]);
    // Rate limiting says nothing about the lab: retried, then blocked, never a failure.
    let throttled = support::manifest::check(m, "aws.network.vpc-dns");
    assert_eq!(
        throttled["attempts"].as_array().unwrap().len(),
        3,
        "{throttled:#}"
    );
    assert!(text(m, "aws.network.vpc-dns").contains("Rate exceeded"));
    state["throttled"] = json!([]);
    std::fs::write(&shim, state.to_string()).unwrap();
    assert!(text(m, "aws.compute.launch-template").contains("IMDSv1 still allowed"));
    assert!(text(m, "aws.inventory.run-id").contains("refusing tag-scoped inventory"));
    // Without a run id, no tag-scoped inventory call went out at all.
    assert_eq!(assert_tag_calls_scoped(&lab, ""), 0);

    // The topology names eu-west-1d, a zone eu-west-1 does not have: the subnet is then not
    // in the lab's zone, and whether the type is offered there is not asked; the guest,
    // whose address depends on the subnet, is not logged into.
    aws.vars.push(var("aws", "az", "eu-west-1d"));
    let run = lab.certify("aws", &aws.vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.capacity.vcpu", "fail/expectation"),
            ("aws.capacity.headroom", "blocked/dependency"),
            ("aws.compute.launch-template", "fail/expectation"),
            ("aws.region.zone", "fail/expectation"),
            ("aws.compute.type-offered", "blocked/dependency"),
            ("aws.network.subnet", "fail/expectation"),
            ("aws.network.public-ip", "blocked/dependency"),
            ("aws.network.routes", "blocked/dependency"),
            ("aws.instance.cloudinit", "blocked/dependency"),
            ("aws.instance.imds-guest", "blocked/dependency"),
            ("aws.inventory.*", "skipped"),
            ("aws.inventory.run-id", "fail/expectation"),
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("aws.compute.type-offered", "aws.region.zone"),
            ("aws.network.public-ip", "aws.network.subnet"),
            ("aws.network.routes", "aws.network.subnet"),
        ],
    );
    assert!(text(m, "aws.network.subnet").contains("eu-west-1d"));
    aws.vars.retain(|(k, _)| k != "aws.az");

    // The same lab, with the topology pointing at the region's default VPC (172.31.0.0/16):
    // the VPC fails, and nothing in it is asked.
    let default_vpc = aws.ids["default_vpc_id"].as_str().unwrap();
    aws.vars.push(var("aws", "vpc_id", default_vpc));
    let run = lab.certify("aws", &aws.vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.capacity.vcpu", "fail/expectation"),
            ("aws.capacity.headroom", "blocked/dependency"),
            ("aws.compute.launch-template", "fail/expectation"),
            ("aws.network.*", "blocked/dependency"),
            ("aws.network.vpc", "fail/expectation"),
            ("aws.instance.cloudinit", "blocked/dependency"),
            ("aws.instance.imds-guest", "blocked/dependency"),
            ("aws.inventory.*", "skipped"),
            ("aws.inventory.run-id", "fail/expectation"),
        ],
    );
    for id in [
        "aws.network.vpc-dns",
        "aws.network.subnet",
        "aws.network.sg-ingress",
    ] {
        assert_blocked_naming(m, &[(id, "aws.network.vpc")]);
    }
    assert_blocked_naming(m, &[("aws.network.routes", "aws.network.subnet")]);
    assert!(text(m, "aws.network.vpc").contains("172.31.0.0/16"));
}

#[test]
fn aws_denied_instance_reads_block_and_a_broken_network_or_region_fails() {
    // moto checks IAM here, as AWS does. The certifier role may not describe instances or
    // their status: those checks are blocked (permission), not failed — and so are the
    // headroom and the run's instance inventory, which describe instances too. The security
    // group lost the runner's SSH rule, the route table its default route, and the instance
    // was launched by hand without user-data: each fails, and the guest checks are blocked.
    require_venv();
    let mut lab = Lab::new();
    lab.start_moto_iam();
    let aws = lab.seed_aws(&AwsFaults {
        seed: vec![
            "sg-no-runner-ssh",
            "no-default-route",
            "instance-no-userdata",
            "keypair-deleted",
            "public-ip-flipped",
        ],
        deny: vec!["ec2:DescribeInstances", "ec2:DescribeInstanceStatus"],
        ..AwsFaults::default()
    });
    let run = lab.certify("aws", &aws.vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.capacity.headroom", "blocked/permission"),
            ("aws.compute.keypair", "fail/not_found"),
            ("aws.compute.launch-template", "blocked/dependency"),
            ("aws.network.public-ip", "fail/expectation"),
            ("aws.network.sg-ingress", "fail/expectation"),
            ("aws.network.routes", "fail/expectation"),
            ("aws.instance.status", "blocked/permission"),
            ("aws.instance.imds", "blocked/permission"),
            ("aws.instance.userdata", "fail/expectation"),
            ("aws.instance.cloudinit", "blocked/dependency"),
            ("aws.instance.imds-guest", "blocked/dependency"),
            ("aws.inventory.instances", "blocked/permission"),
        ],
    );
    // Blocked by whichever of its needs was settled first.
    assert_blocked_naming(
        m,
        &[
            (
                "aws.instance.cloudinit",
                "aws.instance.status|aws.instance.imds|aws.instance.userdata|\
                 aws.compute.keypair|aws.network.sg-ingress|aws.network.routes|\
                 aws.network.public-ip",
            ),
            (
                "aws.instance.imds-guest",
                "aws.instance.imds|aws.instance.cloudinit",
            ),
        ],
    );
    for id in ["aws.instance.status", "aws.instance.imds"] {
        let t = text(m, id);
        assert!(t.contains("AccessDenied"), "{id}: {t}");
        // Blocked on the first answer: a permission does not come by polling.
        let attempts = support::manifest::check(m, id)["attempts"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(attempts, 1, "{id}: {t}");
    }
    assert!(text(m, "aws.network.sg-ingress").contains("SSH from the runner is not admitted"));
    assert!(text(m, "aws.compute.keypair").contains("InvalidKeyPair.NotFound"));
    assert!(text(m, "aws.network.routes").contains("no active default route"));

    // The same account, pointed at eu-central-2, an opt-in region it never enabled: the
    // identity still passes, the region check fails, and nothing regional is asked.
    let before = lab.aws_calls().len();
    let mut vars = aws.vars.clone();
    vars.push(var("aws", "region", "eu-central-2"));
    let run = lab.certify("aws", &vars, &aws.env);
    let m = &run.manifest;
    assert_statuses(
        m,
        "aws",
        &[
            ("aws.*", "blocked/dependency"),
            ("aws.identity.caller", "pass"),
            ("aws.region.enabled", "fail/expectation"),
        ],
    );
    assert!(text(m, "aws.region.enabled").contains("not-opted-in"));
    for id in [
        "aws.region.zone",
        "aws.capacity.vcpu",
        "aws.compute.ami",
        "aws.network.vpc",
        "aws.instance.status",
        "aws.inventory.run-id",
    ] {
        assert_blocked_naming(m, &[(id, "aws.region.enabled")]);
    }
    let calls = lab.aws_calls()[before..].to_vec();
    assert_eq!(calls.len(), 2, "{calls:?}");
}

// ---- Azure --------------------------------------------------------------------------------

/// The demo Azure lab (changed by `mutate`), a guest for its VM, and a certify run.
fn azure_run(mutate: impl FnOnce(&mut Value), extra_vars: &[(String, String)]) -> (Lab, Run) {
    azure_run_with(mutate, |_| {}, |_| extra_vars.to_vec())
}

/// [`azure_run`] with the guest's state changed by `guest` and `--var`s made with the lab.
fn azure_run_with(
    mutate: impl FnOnce(&mut Value),
    guest: impl FnOnce(&mut Value),
    extra_vars: impl FnOnce(&Lab) -> Vec<(String, String)>,
) -> (Lab, Run) {
    let (lab, (mut vars, env)) = azure_lab(mutate, guest);
    vars.extend(extra_vars(&lab));
    let run = lab.certify("azure", &vars, &env);
    (lab, run)
}

fn resource<'a>(state: &'a mut Value, rtype: &str) -> &'a mut Value {
    state["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["type"] == rtype)
        .unwrap_or_else(|| panic!("no {rtype} in the state"))
}

/// Everything after the login: what a blocked login or token leaves.
const AZURE_ALL_BLOCKED: (&str, &str) = ("azure.*", "blocked/dependency");
/// The VM group, and the effective-routes check that needs a running VM.
const AZURE_VM_BLOCKED: [(&str, &str); 2] = [
    ("azure.vm.*", "blocked/dependency"),
    ("azure.network.routes", "blocked/dependency"),
];

#[test]
fn azure_healthy_lab_passes_every_check() {
    let (_lab, run) = azure_run(|_| {}, &[]);
    eprintln!("azure healthy certify: {:.1?}", run.took);
    assert_statuses(&run.manifest, "azure", &[]);
}

#[test]
fn azure_logged_out_blocks_everything() {
    let (_lab, run) = azure_run(|st| st["logged_in"] = json!(false), &[]);
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            AZURE_ALL_BLOCKED,
            ("azure.identity.account", "blocked/auth"),
        ],
    );
    let account = support::manifest::check(&run.manifest, "azure.identity.account");
    assert!(account.to_string().contains("az login"), "{account:#}");
}

#[test]
fn azure_expired_refresh_token_passes_the_cached_account_but_blocks_the_token() {
    let (_lab, run) = azure_run(
        |st| {
            st["token_error"] = json!(
                "AADSTS700082: The refresh token has expired due to inactivity. The token was \
                 issued on 2025-01-01T00:00:00Z and was inactive for 90.00:00:00."
            );
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            AZURE_ALL_BLOCKED,
            ("azure.identity.account", "pass"),
            ("azure.identity.token", "blocked/auth"),
        ],
    );
}

#[test]
fn azure_unknown_subscription_is_blocked_not_failed() {
    let other = "99999999-8888-7777-6666-555555555555";
    let (_lab, run) = azure_run(|_| {}, &[var("azure", "subscription", other)]);
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            AZURE_ALL_BLOCKED,
            ("azure.identity.account", "blocked/subscription"),
        ],
    );
}

#[test]
fn azure_missing_nsg_rule_fails_and_blocks_the_guest_checks() {
    let (_lab, run) = azure_run(
        |st| {
            let nsg = resource(st, "Microsoft.Network/networkSecurityGroups");
            nsg["securityRules"]
                .as_array_mut()
                .unwrap()
                .retain(|r| r["name"] != "labcert-ssh-runner");
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            ("azure.network.nsg-rules", "fail/expectation"),
            ("azure.vm.cloudinit", "blocked/dependency"),
            ("azure.vm.imds", "blocked/dependency"),
        ],
    );
}

#[test]
fn azure_deny_rule_shadowing_ssh_fails_the_nsg_check() {
    let (_lab, run) = azure_run(
        |st| {
            let nsg = resource(st, "Microsoft.Network/networkSecurityGroups");
            let mut deny = nsg["securityRules"][0].clone();
            deny["name"] = json!("deny-ssh");
            deny["access"] = json!("Deny");
            deny["priority"] = json!(100);
            deny["sourceAddressPrefix"] = json!("*");
            nsg["securityRules"].as_array_mut().unwrap().push(deny);
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            ("azure.network.nsg-rules", "fail/expectation"),
            ("azure.vm.cloudinit", "blocked/dependency"),
            ("azure.vm.imds", "blocked/dependency"),
        ],
    );
    let nsg = support::manifest::check(&run.manifest, "azure.network.nsg-rules");
    assert!(nsg["message"].to_string().contains("shadows"), "{nsg:#}");
}

#[test]
fn azure_missing_image_version_fails_not_found_and_blocks_bootstrap_and_vm() {
    let (_lab, run) = azure_run(
        |st| {
            st["resources"]
                .as_array_mut()
                .unwrap()
                .retain(|r| r["type"] != "Microsoft.Compute/galleries/images/versions");
        },
        &[],
    );
    let mut want = vec![
        ("azure.compute.image", "fail/not_found"),
        ("azure.compute.bootstrap", "blocked/dependency"),
    ];
    want.extend(AZURE_VM_BLOCKED);
    assert_statuses(&run.manifest, "azure", &want);
}

#[test]
fn azure_unregistered_compute_provider_fails_and_blocks_what_needs_it() {
    let (_lab, run) = azure_run(
        |st| st["providers"]["Microsoft.Compute"]["registrationState"] = json!("NotRegistered"),
        &[],
    );
    let mut want = vec![
        (
            "azure.platform.providers[Microsoft.Compute]",
            "fail/expectation",
        ),
        ("azure.platform.sku", "blocked/dependency"),
        ("azure.platform.quota", "blocked/dependency"),
        ("azure.compute.image", "blocked/dependency"),
        ("azure.compute.bootstrap", "blocked/dependency"),
    ];
    want.extend(AZURE_VM_BLOCKED);
    assert_statuses(&run.manifest, "azure", &want);
}

#[test]
fn azure_low_vcpu_quota_fails_the_quota_check_only() {
    // 8 of the 10 DSv5-family vCPUs in use: the run's 4 do not fit (the region has room).
    let (_lab, run) = azure_run(
        |st| {
            let usages = st["usages"]["westeurope"].as_array_mut().unwrap();
            for u in usages {
                if u["name"]["value"] == "standardDSv5Family" {
                    u["currentValue"] = json!("8");
                }
            }
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "azure",
        &[("azure.platform.quota", "fail/expectation")],
    );
    let quota = support::manifest::check(&run.manifest, "azure.platform.quota");
    assert!(
        quota["message"].to_string().contains("size family"),
        "{quota:#}"
    );
}

#[test]
fn azure_foreign_resource_with_the_run_tag_fails_the_inventory() {
    let (_lab, run) = azure_run(
        |st| {
            let mut disk = resource(st, "Microsoft.Network/publicIPAddresses").clone();
            disk["type"] = json!("Microsoft.Compute/disks");
            disk["name"] = json!("disk-not-ours");
            disk["id"] = json!(disk["id"].as_str().unwrap().replace(
                "Microsoft.Network/publicIPAddresses/pip-cert-az-a",
                "Microsoft.Compute/disks/disk-not-ours"
            ));
            disk["tags"] = json!({"qual-run-id": "qr-demo0001", "qual-owner": "someone-else"});
            st["resources"].as_array_mut().unwrap().push(disk);
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "azure",
        &[("azure.inventory.resources", "fail/expectation")],
    );
}

#[test]
fn azure_missing_run_id_runs_no_tag_scoped_listing() {
    let (lab, run) = azure_run(|_| {}, &[var("azure", "run_id", "")]);
    assert_statuses(
        &run.manifest,
        "azure",
        &[
            ("azure.inventory.run-id", "fail/expectation"),
            // `when: vars.run_id | length > 0`: not run at all.
            ("azure.inventory.resources", "skipped"),
            ("azure.inventory.groups", "skipped"),
            // The VM's run tag, seen through IMDS, is checked against the (empty) run id too.
            ("azure.vm.imds", "fail/expectation"),
        ],
    );
    let calls = std::fs::read_to_string(lab.path("az-calls.log")).unwrap();
    assert!(!calls.contains("--tag"), "a tag listing went out:\n{calls}");
}

#[test]
fn azure_restricted_size_foreign_key_detached_nsg_basic_ip_and_foreign_group_fail_their_checks() {
    // The size is restricted for the subscription (NotAvailableForSubscription), which leaves
    // quota and image unasked and the bootstrap and VM blocked; the SSH key resource holds
    // someone else's key; the NSG is not attached to the subnet; the public IP is a dynamic
    // Basic one; a resource group carries the run id but another owner.
    let (_lab, run) = azure_run(
        |st| {
            st["skus"][0]["restrictions"] = json!([{
                "reasonCode": "NotAvailableForSubscription", "type": "Location",
                "values": ["westeurope"],
                "restrictionInfo": {"locations": ["westeurope"], "zones": null}
            }]);
            resource(st, "Microsoft.Compute/sshPublicKeys")["publicKey"] = json!(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNvbWVvbmUtZWxzZXMta2V5LW5vdC10aGUtcnVubmVy someone@else"
            );
            resource(st, "Microsoft.Network/virtualNetworks")["subnets"][0]["networkSecurityGroup"] =
                Value::Null;
            let pip = resource(st, "Microsoft.Network/publicIPAddresses");
            pip["sku"] = json!({"name": "Basic", "tier": "Regional"});
            pip["publicIPAllocationMethod"] = json!("Dynamic");
            let mut other = st["groups"][0].clone();
            other["name"] = json!("rg-not-ours");
            other["id"] = json!(
                other["id"]
                    .as_str()
                    .unwrap()
                    .replace("rg-labcert", "rg-not-ours")
            );
            other["tags"]["qual-owner"] = json!("someone-else");
            st["groups"].as_array_mut().unwrap().push(other);
        },
        &[],
    );
    let m = &run.manifest;
    let mut want = vec![
        ("azure.platform.sku", "fail/expectation"),
        ("azure.platform.quota", "blocked/dependency"),
        ("azure.compute.image", "blocked/dependency"),
        ("azure.compute.sshkey", "fail/expectation"),
        ("azure.compute.bootstrap", "blocked/dependency"),
        ("azure.network.nsg-attached", "fail/expectation"),
        ("azure.network.publicip", "fail/expectation"),
        ("azure.inventory.groups", "fail/expectation"),
    ];
    want.extend(AZURE_VM_BLOCKED);
    assert_statuses(m, "azure", &want);
    assert_blocked_naming(
        m,
        &[
            ("azure.platform.quota", "azure.platform.sku"),
            ("azure.compute.image", "azure.platform.sku"),
            (
                "azure.compute.bootstrap",
                "azure.compute.image|azure.compute.sshkey",
            ),
            ("azure.vm.running", "azure.compute.bootstrap"),
        ],
    );
    assert!(text(m, "azure.platform.sku").contains("restricted for this subscription"));
    assert!(text(m, "azure.inventory.groups").contains("not the owner tag"));
}

#[test]
fn azure_private_subnet_without_nat_fails_and_a_role_without_instance_view_blocks_the_vm() {
    // The subnet has neither default outbound access nor a NAT gateway (private subnets are
    // the default for new VNets); the principal may not read the VM's instance view: the VM
    // checks are blocked (permission), not failed, and at once — a role does not come by
    // polling.
    let (_lab, run) = azure_run(
        |st| {
            let vnet = resource(st, "Microsoft.Network/virtualNetworks");
            vnet["subnets"][0]["natGateway"] = Value::Null;
            vnet["subnets"][0]["defaultOutboundAccess"] = json!(false);
            st["denied"] = json!({
                "vm get-instance-view": "Microsoft.Compute/virtualMachines/instanceView/read"
            });
        },
        &[],
    );
    let m = &run.manifest;
    let mut want = vec![
        ("azure.network.vnet", "fail/expectation"),
        ("azure.network.nsg-rules", "blocked/dependency"),
        ("azure.network.nsg-attached", "blocked/dependency"),
        ("azure.network.publicip", "blocked/dependency"),
    ];
    want.extend(AZURE_VM_BLOCKED);
    want.push(("azure.vm.running", "blocked/permission"));
    assert_statuses(m, "azure", &want);
    assert_blocked_naming(
        m,
        &[
            ("azure.network.nsg-rules", "azure.network.vnet"),
            ("azure.network.publicip", "azure.network.vnet"),
            ("azure.vm.computer-name", "azure.vm.running"),
            (
                "azure.network.routes",
                "azure.network.vnet|azure.vm.running",
            ),
        ],
    );
    assert!(text(m, "azure.network.vnet").contains("neither default outbound access nor a NAT"));
    let running = support::manifest::check(m, "azure.vm.running");
    assert!(
        running.to_string().contains("AuthorizationFailed"),
        "{running:#}"
    );
    assert_eq!(
        running["attempts"].as_array().unwrap().len(),
        1,
        "{running:#}"
    );
}

/// ARM throttles the usage read past the CLI's retries: the quota check is retried, then
/// blocked (throttled) — rate limiting says nothing about the lab — and the rest passes.
#[test]
fn azure_throttled_usage_read_is_blocked_after_retries_not_a_failure() {
    let (_lab, run) = azure_run(|st| st["throttled"] = json!(["vm list-usage"]), &[]);
    let m = &run.manifest;
    assert_statuses(m, "azure", &[("azure.platform.quota", "blocked/throttled")]);
    let quota = support::manifest::check(m, "azure.platform.quota");
    assert_eq!(quota["attempts"].as_array().unwrap().len(), 3, "{quota:#}");
    assert!(text(m, "azure.platform.quota").contains("TooManyRequests"));
}

#[test]
fn azure_template_denied_by_policy_fails_the_bootstrap_and_blocks_the_vm() {
    let (_lab, run) = azure_run(
        |st| {
            st["validate"] = json!({"rg-labcert-demo": {"error": {
                "code": "InvalidTemplateDeployment",
                "message": "The template deployment 'cert-vm' is not valid according to the validation procedure. See inner errors for details.",
                "details": [{
                    "code": "RequestDisallowedByPolicy", "target": "vm-cert-az-a",
                    "message": "Resource 'vm-cert-az-a' was disallowed by policy. Policy identifiers: '[{\"policyAssignment\":{\"name\":\"Allowed virtual machine size SKUs\"}}]'."
                }]
            }}});
        },
        &[],
    );
    let m = &run.manifest;
    let mut want = vec![("azure.compute.bootstrap", "fail/expectation")];
    want.extend(AZURE_VM_BLOCKED);
    assert_statuses(m, "azure", &want);
    assert_blocked_naming(m, &[("azure.vm.running", "azure.compute.bootstrap")]);
    assert!(text(m, "azure.compute.bootstrap").contains("RequestDisallowedByPolicy"));
}

#[test]
fn azure_vm_without_a_pve_route_renamed_and_with_a_replaced_host_key() {
    // The PVE lab's route is gone from the NIC's effective routes; the VM's computer name is
    // not the expected hostname; the runner's known_hosts pins another host key (the VM was
    // replaced): nothing is sent to it and the IMDS check behind it is blocked.
    let (_lab, run) = azure_run_with(
        |st| {
            for routes in st["effective_routes"].as_object_mut().unwrap().values_mut() {
                routes
                    .as_array_mut()
                    .unwrap()
                    .retain(|r| r["nextHopType"] != "VirtualAppliance");
            }
            resource(st, "Microsoft.Compute/virtualMachines")["osProfile"]["computerName"] =
                json!("cert-az-old");
        },
        |_| {},
        |lab| {
            let stale = lab.stale_known_hosts();
            vec![var("azure", "known_hosts", &stale.display().to_string())]
        },
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "azure",
        &[
            ("azure.network.routes", "fail/expectation"),
            ("azure.vm.computer-name", "fail/expectation"),
            ("azure.vm.cloudinit", "blocked/hostkey"),
            ("azure.vm.imds", "blocked/dependency"),
        ],
    );
    assert_blocked_naming(m, &[("azure.vm.imds", "azure.vm.cloudinit")]);
    assert!(text(m, "azure.network.routes").contains("no active route to the PVE lab"));
    assert!(text(m, "azure.vm.computer-name").contains("cert-az-old"));
}

// ---- OCI ----------------------------------------------------------------------------------

/// The demo OCI lab (changed by `mutate`), a guest for its instance, and a certify run.
fn oci_run(mutate: impl FnOnce(&mut Value), extra_vars: &[(String, String)]) -> (Lab, Run) {
    oci_run_with(mutate, |_| {}, |_| extra_vars.to_vec())
}

/// [`oci_run`] with the guest's state changed by `guest` and `--var`s made with the lab.
fn oci_run_with(
    mutate: impl FnOnce(&mut Value),
    guest: impl FnOnce(&mut Value),
    extra_vars: impl FnOnce(&Lab) -> Vec<(String, String)>,
) -> (Lab, Run) {
    let (lab, (mut vars, env)) = oci_lab(mutate, guest);
    vars.extend(extra_vars(&lab));
    let run = lab.certify("oci", &vars, &env);
    (lab, run)
}

const OCI_ALL_BLOCKED: (&str, &str) = ("oci.*", "blocked/dependency");
const OCI_INSTANCE_BLOCKED: (&str, &str) = ("oci.instance.*", "blocked/dependency");

#[test]
fn oci_healthy_lab_passes_every_check() {
    let (_lab, run) = oci_run(|_| {}, &[]);
    eprintln!("oci healthy certify: {:.1?}", run.took);
    assert_statuses(&run.manifest, "oci", &[]);
}

#[test]
fn oci_rejected_api_key_blocks_everything() {
    let (_lab, run) = oci_run(
        |st| st["auth_error"] = json!({"status": 401, "code": "NotAuthenticated"}),
        &[],
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[OCI_ALL_BLOCKED, ("oci.identity.tenancy", "blocked/auth")],
    );
}

#[test]
fn oci_missing_config_file_blocks_everything() {
    let (_lab, run) = oci_run(
        |_| {},
        &[var("oci", "config_file", "/nonexistent/oci/config")],
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[OCI_ALL_BLOCKED, ("oci.identity.tenancy", "blocked/auth")],
    );
}

#[test]
fn oci_missing_profile_blocks_everything() {
    let (_lab, run) = oci_run(|_| {}, &[var("oci", "profile", "NOSUCHPROFILE")]);
    assert_statuses(
        &run.manifest,
        "oci",
        &[OCI_ALL_BLOCKED, ("oci.identity.tenancy", "blocked/auth")],
    );
}

#[test]
fn oci_unknown_tenancy_is_blocked_not_failed() {
    // 404 before any access is established: missing, or just not allowed.
    let (_lab, run) = oci_run(
        |st| {
            st["tenancies"] = json!({});
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[
            OCI_ALL_BLOCKED,
            (
                "oci.identity.tenancy",
                "blocked/not_authorized_or_not_found",
            ),
        ],
    );
}

#[test]
fn oci_missing_image_fails_not_found_and_blocks_shape_config_and_instance() {
    let (_lab, run) = oci_run(|st| st["images"] = json!({}), &[]);
    assert_statuses(
        &run.manifest,
        "oci",
        &[
            ("oci.compute.image", "fail/not_found"),
            ("oci.compute.shape", "blocked/dependency"),
            ("oci.compute.instance-config", "blocked/dependency"),
            OCI_INSTANCE_BLOCKED,
        ],
    );
}

#[test]
fn oci_missing_nsg_rule_fails_and_blocks_the_instance() {
    let (_lab, run) = oci_run(
        |st| {
            for rules in st["nsg_rules"].as_object_mut().unwrap().values_mut() {
                rules
                    .as_array_mut()
                    .unwrap()
                    .retain(|r| r["source"] != "203.0.113.0/28");
            }
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[
            ("oci.network.nsg-rules", "fail/expectation"),
            OCI_INSTANCE_BLOCKED,
        ],
    );
}

#[test]
fn oci_too_few_cores_fails_and_an_unsupported_limit_blocks() {
    let (_lab, run) = oci_run(
        |st| {
            st["availability"][0]["data"]["available"] = json!(1);
            st["availability"][0]["data"]["fractional-availability"] = json!(1.0);
        },
        &[],
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[("oci.capacity.cores", "fail/expectation")],
    );
    let (_lab, run) = oci_run(|st| st["availability"] = json!([]), &[]);
    assert_statuses(
        &run.manifest,
        "oci",
        &[("oci.capacity.cores", "blocked/limit_unsupported")],
    );
}

#[test]
fn oci_throttled_instance_read_unreachable_search_unready_region_and_disabled_gateway() {
    // Reading the instance is throttled (429) on every try: blocked after the retries, not
    // polled for five minutes as a wrong answer; the search endpoint refuses connections
    // (the runner's proxy does not allow it): the inventory is blocked; the region
    // subscription is still IN_PROGRESS: the region fails and the limits are not asked; the
    // VCN's internet gateway is disabled.
    let (_lab, run) = oci_run(
        |st| {
            st["throttled"] = json!(["compute instance get"]);
            st["unreachable"] = json!(["search"]);
            for subs in st["region_subscriptions"]
                .as_object_mut()
                .unwrap()
                .values_mut()
            {
                subs[0]["status"] = json!("IN_PROGRESS");
            }
            st["internet_gateways"][0]["is-enabled"] = json!(false);
        },
        &[],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.identity.region", "fail/expectation"),
            ("oci.capacity.cores", "blocked/dependency"),
            ("oci.network.igw", "fail/expectation"),
            OCI_INSTANCE_BLOCKED,
            ("oci.instance.state", "blocked/throttled"),
            ("oci.inventory.tagged", "blocked/endpoint_unreachable"),
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("oci.capacity.cores", "oci.identity.region"),
            ("oci.instance.vnic", "oci.instance.state"),
        ],
    );
    let state = support::manifest::check(m, "oci.instance.state");
    let attempts: Vec<&str> = state["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["why"].as_str().unwrap())
        .collect();
    assert_eq!(attempts, ["first", "retry", "retry"], "{state:#}");
    let tagged = support::manifest::check(m, "oci.inventory.tagged");
    assert_eq!(
        tagged["attempts"].as_array().unwrap().len(),
        1,
        "{tagged:#}"
    );
    assert!(
        tagged.to_string().contains("query.eu-frankfurt-1"),
        "{tagged:#}"
    );
    assert!(text(m, "oci.network.igw").contains("no enabled internet gateway"));
}

#[test]
fn oci_vnic_outside_the_test_subnet_fails_and_blocks_the_guest_checks() {
    let (_lab, run) = oci_run(
        |st| {
            for vnics in st["vnics"].as_object_mut().unwrap().values_mut() {
                vnics[0]["private-ip"] = json!("10.60.2.10");
            }
        },
        &[],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.instance.vnic", "fail/expectation"),
            ("oci.instance.cloudinit", "blocked/dependency"),
            ("oci.instance.imds", "blocked/dependency"),
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("oci.instance.cloudinit", "oci.instance.vnic"),
            (
                "oci.instance.imds",
                "oci.instance.vnic|oci.instance.cloudinit",
            ),
        ],
    );
}

#[test]
fn oci_replaced_host_key_blocks_cloudinit_and_sends_nothing() {
    let (_lab, run) = oci_run_with(
        |_| {},
        |_| {},
        |lab| {
            let stale = lab.stale_known_hosts();
            vec![var("oci", "known_hosts", &stale.display().to_string())]
        },
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.instance.cloudinit", "blocked/hostkey"),
            ("oci.instance.imds", "blocked/dependency"),
        ],
    );
    assert_blocked_naming(m, &[("oci.instance.imds", "oci.instance.cloudinit")]);
    let cloudinit = support::manifest::check(m, "oci.instance.cloudinit");
    assert_eq!(
        cloudinit["attempts"].as_array().unwrap().len(),
        1,
        "{cloudinit:#}"
    );
}

#[test]
fn oci_guest_firewall_dropping_the_metadata_service_fails_the_imds_check() {
    let (_lab, run) = oci_run_with(
        |_| {},
        |g| g["imds"]["unreachable"] = json!(true),
        |_| Vec::new(),
    );
    assert_statuses(
        &run.manifest,
        "oci",
        &[("oci.instance.imds", "fail/expectation")],
    );
}

#[test]
fn oci_unoffered_shape_missing_default_route_and_no_run_id_fail_and_block_the_instance() {
    // The shape is not offered for the image in the AD (the instance configuration behind it
    // is not asked); the route table lost its default route; no run id: the tag search is not
    // run, and the instance (whose run tag would be compared with it) is blocked anyway.
    let (_lab, run) = oci_run(
        |st| {
            st["shapes"][0]["data"]
                .as_array_mut()
                .unwrap()
                .retain(|sh| sh["shape"] != "VM.Standard.E4.Flex");
            for rt in st["route_tables"].as_object_mut().unwrap().values_mut() {
                rt["route-rules"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|r| r["destination"] != "0.0.0.0/0");
            }
        },
        &[var("oci", "run_id", "")],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.compute.shape", "fail/expectation"),
            ("oci.compute.instance-config", "blocked/dependency"),
            ("oci.network.route-table", "fail/expectation"),
            OCI_INSTANCE_BLOCKED,
            ("oci.inventory.run-id", "fail/expectation"),
            ("oci.inventory.tagged", "skipped"),
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("oci.compute.instance-config", "oci.compute.shape"),
            (
                "oci.instance.state",
                "oci.compute.instance-config|oci.network.route-table",
            ),
        ],
    );
    assert!(text(m, "oci.compute.shape").contains("not offered"));
    assert!(text(m, "oci.network.route-table").contains("no default route"));
}

#[test]
fn oci_vcn_with_another_cidr_fails_and_blocks_the_network_and_the_instance() {
    let (_lab, run) = oci_run(
        |st| {
            for vcn in st["vcns"].as_object_mut().unwrap().values_mut() {
                vcn["cidr-block"] = json!("10.61.0.0/16");
                vcn["cidr-blocks"] = json!(["10.61.0.0/16"]);
            }
        },
        &[],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.network.vcn", "fail/expectation"),
            ("oci.network.subnet", "blocked/dependency"),
            ("oci.network.route-table", "blocked/dependency"),
            ("oci.network.igw", "blocked/dependency"),
            ("oci.network.nsg-rules", "blocked/dependency"),
            OCI_INSTANCE_BLOCKED,
        ],
    );
    assert_blocked_naming(
        m,
        &[
            ("oci.network.subnet", "oci.network.vcn"),
            ("oci.network.igw", "oci.network.vcn"),
            ("oci.network.nsg-rules", "oci.network.vcn"),
        ],
    );
}

#[test]
fn oci_subnet_on_another_route_table_and_a_config_allowing_legacy_imds_fail() {
    let (_lab, run) = oci_run(
        |st| {
            for subnet in st["subnets"].as_object_mut().unwrap().values_mut() {
                subnet["route-table-id"] =
                    json!("ocid1.routetable.oc1.eu-frankfurt-1.aaaaaaaaother");
            }
            for ic in st["instance_configurations"]
                .as_object_mut()
                .unwrap()
                .values_mut()
            {
                ic["instance-details"]["launch-details"]["instance-options"]["are-legacy-imds-endpoints-disabled"] =
                    json!(false);
            }
        },
        &[],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            ("oci.network.subnet", "fail/expectation"),
            ("oci.network.route-table", "blocked/dependency"),
            ("oci.compute.instance-config", "fail/expectation"),
            OCI_INSTANCE_BLOCKED,
        ],
    );
    assert_blocked_naming(m, &[("oci.network.route-table", "oci.network.subnet")]);
    assert!(
        text(m, "oci.compute.instance-config").contains("legacy IMDS (v1) endpoints stay enabled")
    );
}

#[test]
fn oci_deleted_compartment_fails_and_blocks_everything_in_it() {
    let (_lab, run) = oci_run(
        |st| {
            for c in st["compartments"].as_object_mut().unwrap().values_mut() {
                c["lifecycle-state"] = json!("DELETED");
            }
        },
        &[],
    );
    let m = &run.manifest;
    assert_statuses(
        m,
        "oci",
        &[
            OCI_ALL_BLOCKED,
            ("oci.identity.tenancy", "pass"),
            ("oci.identity.region", "pass"),
            ("oci.identity.compartment", "fail/expectation"),
        ],
    );
    for id in [
        "oci.capacity.cores",
        "oci.compute.image",
        "oci.network.vcn",
        "oci.inventory.run-id",
    ] {
        assert_blocked_naming(m, &[(id, "oci.identity.compartment")]);
    }
}
