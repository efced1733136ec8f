#!/usr/bin/env bash
# Schemathesis (PyPI), the schema-based fuzzer of the contract tests, in a venv under the stack's
# cache dir. Installs on first use from infra/schemathesis/requirements.txt (every package pinned,
# so two machines fuzz with the same generator); later runs need no network.
#
#   bash infra/schemathesis.sh --install        install if missing, print the venv's path
#   bash infra/schemathesis.sh run URL [...]    run schemathesis with these arguments
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${TOLLGATE_STATE_DIR:-$REPO_DIR/.tollgate}"
CACHE_DIR="${TOLLGATE_CACHE_DIR:-$STATE_DIR/cache}"
REQUIREMENTS="$REPO_DIR/infra/schemathesis/requirements.txt"
# One venv per set of pins: changing requirements.txt installs a new one beside the old.
PINS="$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
VENV="$CACHE_DIR/schemathesis-$PINS"

say() { echo "tollgate schemathesis: $*" >&2; }

install() {
  [[ -f $VENV/.installed ]] && return 0
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.schemathesis.lock" # parallel test files install once
  flock 8
  if [[ ! -f $VENV/.installed ]]; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      [[ $EUID -eq 0 ]] || {
        say "python3 has no venv module: apt-get install python3-venv"
        exit 1
      }
      say "apt-get install python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    say "installing schemathesis from PyPI into $VENV"
    # A venv cannot be moved (its scripts name its path), so it is built in place and counts as
    # installed only once the marker is written: a half install is wiped and redone.
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS" >&2
    touch "$VENV/.installed"
  fi
  exec 8>&-
}

if [[ ${1:-} == --install ]]; then
  install
  echo "$VENV"
  exit 0
fi
install
exec "$VENV/bin/schemathesis" "$@"
