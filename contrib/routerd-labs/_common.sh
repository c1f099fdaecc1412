# Shared by the routerd-labs wrapper scripts: find labcert, parse flags, fail clearly.
# LABCERT (default: `labcert` on PATH) and LABCERT_CATALOGS (the catalog root) are honoured.
set -euo pipefail
LABCERT=${LABCERT:-labcert}
if ! command -v "$LABCERT" >/dev/null 2>&1; then
  echo "$(basename "$0"): labcert not found (set LABCERT=/path/to/labcert or put it on PATH)" >&2
  exit 2
fi

usage_error() {
  echo "$(basename "$0"): $1" >&2
  echo "usage: $USAGE" >&2
  exit 2
}

# need FLAG VALUE: a required flag must have been given.
need() {
  [ -n "$2" ] || usage_error "missing $1"
}
