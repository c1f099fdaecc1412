#!/usr/bin/env bash
# Certify the cloud substrate (AWS, Azure, OCI) of a release environment.
# Without --repair: read-only provider checks; fails when a repair is required.
# With --repair: cloud-only substrate repair, each verified, before the final result.
USAGE="certify-cloud-substrate.sh --environment <name> --topology <name> --providers aws,azure,oci --out <manifest.json> [--repair] [--valid-for 24h]"
source "$(dirname "$0")/_common.sh"
env="" topo="" providers="" out="" repair=() valid=()
while [ $# -gt 0 ]; do
  case "$1" in
    --environment) env=${2:-}; shift 2 ;;
    --topology) topo=${2:-}; shift 2 ;;
    --providers) providers=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --repair) repair=(--repair); shift ;;
    --valid-for) valid=(--valid-for "${2:-}"); shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
need --environment "$env"; need --topology "$topo"; need --providers "$providers"; need --out "$out"
case ",$providers," in *,pve,*) usage_error "--providers: pve is certified by certify-pve-substrate.sh" ;; esac
exec "$LABCERT" certify --environment "$env" --topology "$topo" --providers "$providers" \
  --out "$out" "${valid[@]}" "${repair[@]}"
