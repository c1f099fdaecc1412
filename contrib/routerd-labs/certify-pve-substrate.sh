#!/usr/bin/env bash
# Certify the PVE substrate of a release environment (the release policy's script contract).
# Without --repair: read-only checks; fails when a repair is required (the summary says which).
# With --repair: PVE-only substrate repair, each verified, before the final result.
USAGE="certify-pve-substrate.sh --environment <name> --topology <name> --out <manifest.json> [--repair] [--valid-for 24h]"
source "$(dirname "$0")/_common.sh"
env="" topo="" out="" repair=() valid=()
while [ $# -gt 0 ]; do
  case "$1" in
    --environment) env=${2:-}; shift 2 ;;
    --topology) topo=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --repair) repair=(--repair); shift ;;
    --valid-for) valid=(--valid-for "${2:-}"); shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
need --environment "$env"; need --topology "$topo"; need --out "$out"
exec "$LABCERT" certify --environment "$env" --topology "$topo" --providers pve \
  --out "$out" "${valid[@]}" "${repair[@]}"
