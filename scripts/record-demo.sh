#!/usr/bin/env bash
# Regenerates the bundled demo's recordings (fixtures/demo/healthy and fixtures/demo/broken)
# from the live fixtures: the fake PVE API, moto + the AWS shim, fake az/oci and a guest
# sshd, and for reachability a lab of network namespaces laid out from the demo topology,
# each in private network namespaces (tests/demo_record.rs says how). Then replays
# them (tests/demo.rs). Needs root, iproute2, nftables, dnsmasq, openssh-server, curl,
# iputils-ping and target/cloud-venv (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/cloud-venv/bin/moto_server ] || bash scripts/cloud-fixtures.sh
LABCERT_DEMO_WRITE=1 cargo test --test demo_record -- --ignored --nocapture
cargo test --test demo
