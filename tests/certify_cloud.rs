//! `labcert certify --topology demo --live --providers aws|azure|oci` against live fixtures
//! (tests/support/cloud.rs): moto_server behind the real AWS CLI v1, and fake `az` / `oci`
//! CLIs (tests/fixtures-bin) with the real output shapes and error conventions. Each test
//! builds the demo lab healthy, or breaks it, and checks every `<provider>.*` check of the
//! manifest: the broken one fails (blocked, for credentials) with the right reason, its
//! dependents are blocked, everything else passes. Where one test breaks several things, they
//! are checks nothing else depends on, or ones with disjoint dependents.
//!
//! Each lab runs in a network namespace of its own (only its loopback; the reachability
//! checks a `--providers` run brings along fail at once in there and are not looked at).
//! Needs root, `ip`, `sshd`, python3 and `target/cloud-venv` (moto[server], awscli) from
//! `scripts/cloud-fixtures.sh`.

mod support;

use serde_json::{Value, json};

use support::cloud::{
    AwsFaults, AwsLab, Lab, Run, assert_statuses, azure_imds, azure_state, cloud_init_done,
    demo_vars, oci_config, oci_imds, oci_state, python3, require_venv, s, var,
};

// ---- AWS ----------------------------------------------------------------------------------

fn aws_lab(faults: AwsFaults) -> (Lab, AwsLab) {
    require_venv();
    let mut lab = Lab::new();
    lab.start_moto(false);
    let aws = lab.seed_aws(&faults);
    (lab, aws)
}

/// The instance group and everything in it, blocked by a dependency.
const AWS_INSTANCE_BLOCKED: (&str, &str) = ("aws.instance.*", "blocked/dependency");

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
    eprintln!("aws healthy certify: {:.1?}", run.took);
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

#[test]
fn aws_compute_and_inventory_faults_fail_their_checks_and_block_dependents() {
    // Six faults, each failing a different check: a 5-vCPU quota (the AWS default for new
    // accounts) leaves no room beside the running instance; the base AMI was deregistered and
    // the key pair deleted after the instance launched (both block the launch template and,
    // through it, the instance group); the certification instance lost its run tag; a volume
    // carries the run id but another owner; an Elastic IP of the run is not associated. The
    // inventory checks need only the run id, so they still run.
    let (lab, aws) = aws_lab(AwsFaults {
        seed: vec![
            "ami-deregistered",
            "keypair-deleted",
            "instance-run-tag-missing",
            "foreign-run-resource",
            "orphan-eip",
        ],
        vcpu_quota: Some(5.0),
    });
    let run = lab.certify("aws", &aws.vars, &aws.env);
    assert_statuses(
        &run.manifest,
        "aws",
        &[
            ("aws.capacity.headroom", "fail/expectation"),
            // moto answers a deregistered id with an empty list, as AWS does once it is gone.
            ("aws.compute.ami", "fail/expectation"),
            ("aws.compute.keypair", "fail/not_found"),
            ("aws.compute.launch-template", "blocked/dependency"),
            AWS_INSTANCE_BLOCKED,
            ("aws.inventory.instances", "fail/expectation"),
            ("aws.inventory.tagged", "fail/expectation"),
            ("aws.inventory.orphan-eips", "fail/expectation"),
        ],
    );
    let check = |id: &str| support::manifest::check(&run.manifest, id).to_string();
    assert!(check("aws.capacity.headroom").contains("not enough vCPU headroom"));
    assert!(check("aws.compute.keypair").contains("InvalidKeyPair.NotFound"));
    assert!(check("aws.inventory.tagged").contains("not the owner tag"));
    assert!(check("aws.inventory.orphan-eips").contains("orphaned Elastic IPs"));
    let orphan = support::manifest::check(&run.manifest, "aws.inventory.orphan-eips");
    assert_eq!(orphan["severity"], "advisory");
    let run_id = s(&demo_vars("aws"), "run_id");
    assert_eq!(assert_tag_calls_scoped(&lab, &run_id), 3);
}

#[test]
fn aws_quota_network_template_and_run_id_faults_fail_their_checks_and_block_dependents() {
    // A quota below what one run needs (its headroom is then not computed); the security
    // group lost the runner's SSH rule; the route table lost its default route; the launch
    // template allows IMDSv1 (all three block the instance group); and no run id at all: the
    // tag-scoped inventory must not run, since an empty tag filter matches everything.
    let (lab, mut aws) = aws_lab(AwsFaults {
        seed: vec!["sg-no-runner-ssh", "no-default-route", "lt-imdsv1"],
        vcpu_quota: Some(2.0),
    });
    aws.vars.push(var("aws", "run_id", ""));
    let run = lab.certify("aws", &aws.vars, &aws.env);
    assert_statuses(
        &run.manifest,
        "aws",
        &[
            ("aws.capacity.vcpu", "fail/expectation"),
            ("aws.capacity.headroom", "blocked/dependency"),
            ("aws.network.sg-ingress", "fail/expectation"),
            ("aws.network.routes", "fail/expectation"),
            ("aws.compute.launch-template", "fail/expectation"),
            AWS_INSTANCE_BLOCKED,
            ("aws.inventory.run-id", "fail/expectation"),
            // `when = "vars.run_id | length > 0"`: not run at all.
            ("aws.inventory.tagged", "skipped"),
            ("aws.inventory.instances", "skipped"),
            ("aws.inventory.orphan-eips", "skipped"),
        ],
    );
    let check = |id: &str| support::manifest::check(&run.manifest, id).to_string();
    assert!(check("aws.network.sg-ingress").contains("SSH from the runner is not admitted"));
    assert!(check("aws.network.routes").contains("no active default route"));
    assert!(check("aws.compute.launch-template").contains("IMDSv1 still allowed"));
    assert!(check("aws.inventory.run-id").contains("refusing tag-scoped inventory"));
    // Without a run id, no tag-scoped inventory call went out at all.
    assert_eq!(assert_tag_calls_scoped(&lab, ""), 0);
}

// ---- Azure --------------------------------------------------------------------------------

/// The demo Azure lab (changed by `mutate`), a guest for its VM, and a certify run.
fn azure_run(mutate: impl FnOnce(&mut Value), extra_vars: &[(String, String)]) -> (Lab, Run) {
    python3();
    let mut lab = Lab::new();
    let mut v = demo_vars("azure");
    v.insert("ssh_pubkey".into(), json!(lab.pubkey.clone()));
    lab.start_guest(&json!({
        "hostname": s(&v, "hostname"),
        "cloud_init": cloud_init_done("Azure"),
        "imds": {"kind": "azure", "instance": azure_imds(&v)},
    }));
    let mut state = azure_state(&v, &lab.path("az-calls.log"));
    mutate(&mut state);
    let state_file = lab.path("az-state.json");
    std::fs::write(&state_file, state.to_string()).unwrap();
    // `az deployment group validate --template-file` reads the file locally.
    let template = lab.path("cert-vm.bicep");
    std::fs::write(&template, "param runId string\n").unwrap();
    let mut vars = lab.guest_vars("azure");
    vars.push(var(
        "azure",
        "template_file",
        &template.display().to_string(),
    ));
    vars.extend(extra_vars.iter().cloned());
    let env = [(
        "LABCERT_FAKE_AZ_STATE".to_string(),
        state_file.display().to_string(),
    )];
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
            )
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

// ---- OCI ----------------------------------------------------------------------------------

/// The demo OCI lab (changed by `mutate`), a guest for its instance, and a certify run.
fn oci_run(mutate: impl FnOnce(&mut Value), extra_vars: &[(String, String)]) -> (Lab, Run) {
    python3();
    let mut lab = Lab::new();
    let mut v = demo_vars("oci");
    v.insert("ssh_pubkey".into(), json!(lab.pubkey.clone()));
    lab.start_guest(&json!({
        "hostname": s(&v, "hostname"),
        "cloud_init": cloud_init_done("oracle"),
        "imds": {"kind": "oci", "legacy_disabled": true, "instance": oci_imds(&v)},
    }));
    let mut state = oci_state(&v, &lab.path("oci-calls.log"));
    mutate(&mut state);
    let state_file = lab.path("oci-state.json");
    std::fs::write(&state_file, state.to_string()).unwrap();
    let config = oci_config(
        lab.dir.path(),
        &s(&v, "profile"),
        &s(&v, "tenancy_id"),
        &s(&v, "region"),
    );
    let mut vars = lab.guest_vars("oci");
    vars.push(var("oci", "config_file", &config.display().to_string()));
    vars.extend(extra_vars.iter().cloned());
    let env = [(
        "LABCERT_FAKE_OCI_STATE".to_string(),
        state_file.display().to_string(),
    )];
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
