#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need when it
# is missing, then checks formatting, lints, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# Tests start real servers (dnsmasq, sshd) and network namespaces (iproute2) with
# firewall rules inside them (nftables); a fresh machine gets their packages here.
for pkg in curl dnsmasq iproute2 iputils-ping nftables openssh-server chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

bash scripts/cloud-fixtures.sh   # moto + AWS CLI venv for tests/certify_cloud.rs

export CI="${CI:-true}"          # insta: never write new snapshots in a test run
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi
