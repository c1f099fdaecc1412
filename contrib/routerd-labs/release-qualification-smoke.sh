#!/usr/bin/env bash
# Qualification smoke: preflight first (abort, exit 4, when it says no-go), then the
# qualification catalog (LABCERT_QUALIFICATION_CATALOG, default
# $LABCERT_CATALOGS/qualification.yaml: the lab's own smoke checks, `class: product` or
# `class: substrate`; a `release` var, when declared, receives --release). Product failures exit 1, infrastructure
# failures stop the run and exit 3. No repair happens here.
USAGE="release-qualification-smoke.sh --certification <manifest.json> --release <version-or-commit> --out <qualification-result.json>"
source "$(dirname "$0")/_common.sh"
cert="" release="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --certification) cert=${2:-}; shift 2 ;;
    --release) release=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
need --certification "$cert"; need --release "$release"; need --out "$out"
catalog=${LABCERT_QUALIFICATION_CATALOG:-${LABCERT_CATALOGS:-catalogs}/qualification.yaml}
extra=()
[ -n "${LABCERT_VERIFY_KEY:-}" ] && extra+=(--verify-key "$LABCERT_VERIFY_KEY")
[ -n "${LABCERT_ALLOW_REPLAYED:-}" ] && extra+=(--allow-replayed)
exec "$LABCERT" qualify --certification "$cert" --release "$release" --catalog "$catalog" \
  --out "$out" "${extra[@]}"
