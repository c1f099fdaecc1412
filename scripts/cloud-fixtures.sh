#!/usr/bin/env bash
# What tests/certify_cloud.rs needs for the AWS catalog: a venv in target/cloud-venv with
# moto's server (`moto_server`, the EC2/STS/tagging API on 127.0.0.1) and the AWS CLI v1
# (`aws`), both from PyPI. Idempotent: a venv that already has both is left alone.
# Prints nothing on success. The Azure and OCI fakes (tests/fixtures-bin/az, oci) need only
# python3, which the venv needs too.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=$PWD/target/cloud-venv
# Versions measured in ../shared/research/domain-checks.md §2.3 (moto 5.2.5, awscli 1.46.3)
# or later: the CLI must stay v1 (`aws` exits 255 for every error; the catalog classifies
# by stderr).
PACKAGES=("moto[server]>=5.1,<6" "awscli>=1.36,<2")

ready() {
  [ -x "$VENV/bin/moto_server" ] && [ -x "$VENV/bin/aws" ] &&
    "$VENV/bin/python" -c 'import moto.server, awscli' >/dev/null 2>&1
}

if ready; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { python3 -m venv --clear "$VENV" &&
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "cloud-fixtures: could not set up $VENV" >&2
  exit 1
fi
ready || { echo "cloud-fixtures: $VENV lacks moto_server or aws after install" >&2; exit 1; }
