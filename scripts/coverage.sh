#!/usr/bin/env bash
# Which checks of the shipped catalogs the live-fixture tests drive to `pass` and to a
# non-passing status. Runs the live-fixture test files with LABCERT_COVERAGE_DIR set (every
# certify run then leaves a copy of its manifest there), then lists, per check definition
# (instances folded), the statuses seen.
#
#   bash scripts/coverage.sh            # prints the listing and the gaps
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d /tmp/labcert-coverage.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
bash scripts/cloud-fixtures.sh
tests=(--test certify_pve --test certify_cloud --test certify_reachability)
[ -f tests/demo.rs ] && tests+=(--test demo)
LABCERT_COVERAGE_DIR=$DIR cargo nextest run --no-fail-fast "${tests[@]}" >/dev/null 2>&1 || true
cargo build -q
python3 - "$DIR" <<'PY'
import glob, json, re, subprocess, sys
seen = {}
for f in glob.glob(sys.argv[1] + "/*.json"):
    m = json.load(open(f))
    for g in m["groups"]:
        for c in g["checks"]:
            key = re.sub(r"\[.*\]$", "", c["id"])
            # Blocked because of another check, or cancelled, exercises nothing of this one.
            if c["status"] == "blocked" and c.get("reason") in ("dependency", "cancelled"):
                continue
            seen.setdefault(key, set()).add(c["status"])
plan = json.loads(subprocess.run(
    ["target/debug/labcert", "plan", "--topology", "demo", "--format", "json"],
    capture_output=True, text=True, check=True).stdout)
defs = sorted({re.sub(r"\[.*\]$", "", c["id"]) for c in plan["checks"]})
both = neither = 0
print(f"{'check':58} pass  non-pass")
for d in defs:
    st = seen.get(d, set())
    p = "pass" in st or "repaired" in st
    n = bool(st - {"pass", "repaired", "skipped"})
    both += p and n
    neither += not p and not n
    print(f"{d:58} {'yes ' if p else ' -  '}  {'yes' if n else ' - '}")
print(f"\n{len(defs)} checks: {both} seen passing and not passing, {neither} never driven by a live fixture")
PY
