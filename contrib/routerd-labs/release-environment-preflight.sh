#!/usr/bin/env bash
# The release gate: go (exit 0) only for a valid, unexpired, matching certification that
# says pass; otherwise no-go (exit 1) with every reason, or exit 2 for an unreadable one.
# Never probes or repairs anything. LABCERT_VERIFY_KEY, when set, requires a signature.
USAGE="release-environment-preflight.sh --certification <manifest.json> --environment <name> --topology <name> --providers aws,azure,oci,pve"
source "$(dirname "$0")/_common.sh"
cert="" env="" topo="" providers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --certification) cert=${2:-}; shift 2 ;;
    --environment) env=${2:-}; shift 2 ;;
    --topology) topo=${2:-}; shift 2 ;;
    --providers) providers=${2:-}; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
need --certification "$cert"; need --environment "$env"; need --topology "$topo"; need --providers "$providers"
extra=()
[ -n "${LABCERT_VERIFY_KEY:-}" ] && extra+=(--verify-key "$LABCERT_VERIFY_KEY")
[ -n "${LABCERT_ALLOW_REPLAYED:-}" ] && extra+=(--allow-replayed)
exec "$LABCERT" preflight --certification "$cert" --environment "$env" --topology "$topo" \
  --providers "$providers" "${extra[@]}"
