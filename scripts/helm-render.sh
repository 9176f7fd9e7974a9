#!/usr/bin/env bash
# Real Helm (v4, from the helm-python-sdk wheel) for the chart: `make chart`, the
# chart tests (tests/chart.rs), `make lint-chart`. No helm binary is needed: the
# wheel carries Helm's Go SDK as a library. It is installed, pinned by version
# and hash (scripts/helm/requirements.txt), into a venv under $PRIVATEAPI_CACHE,
# like scripts/emulator.sh installs moto.
#
# Usage: scripts/helm-render.sh <command> [args]
#   template [NAME] CHART [flags]  `helm template` (a client-only dry-run install)
#   notes    [NAME] CHART [flags]  the chart's rendered NOTES.txt
#   values   [NAME] CHART [flags]  the final values (defaults + -f + --set), JSON
#   lint     CHART [flags]         `helm lint --strict` (exit 1 on a warning)
#   argocd-health SCRIPT.lua [FILE] run an Argo CD Lua health check on each object
#   install                        create/refresh the venv (no-op when up to date)
#   version                        print the Helm SDK version
#
# Flags: -n NAMESPACE, -f VALUES.yaml, --set k=v, --set-string k=v,
# --set-json k=JSON, --set-file k=PATH, -s/--show-only templates/x.yaml.
# Example: scripts/helm-render.sh template privateapi-operator charts/privateapi-operator \
#            -n privateapi-system --set rbac.scope=namespace --set watchNamespace=team-a
#
# Environment:
#   PRIVATEAPI_CACHE   cache dir (default ~/.cache/privateapi-operator); venv in $CACHE/helm-venv
#   PRIVATEAPI_PYTHON  python used to create the venv (default python3.11, else python3; >= 3.10)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQUIREMENTS=$SCRIPT_DIR/helm/requirements.txt
DRIVER=$SCRIPT_DIR/helm/helm.py
CACHE=${PRIVATEAPI_CACHE:-${HOME:?HOME is not set; set PRIVATEAPI_CACHE}/.cache/privateapi-operator}
VENV=$CACHE/helm-venv

die() { printf 'helm-render.sh: ERROR: %s\n' "$*" >&2; exit 1; }
note() { printf 'helm-render.sh: %s\n' "$*" >&2; }

pick_python() {
  if [[ -n "${PRIVATEAPI_PYTHON:-}" ]]; then echo "$PRIVATEAPI_PYTHON"; return; fi
  if command -v python3.11 >/dev/null 2>&1; then echo python3.11; return; fi
  command -v python3 >/dev/null 2>&1 && { echo python3; return; }
  die "no python3 found (set PRIVATEAPI_PYTHON)"
}

# The stamp changes whenever the pins, the interpreter or this install recipe change.
stamp_value() {
  { echo "recipe=1"; "$1" -c 'import sys; print(sys.version)'; cat "$REQUIREMENTS"; } | sha256sum | cut -d' ' -f1
}

venv_ok() {
  [[ -x "$VENV/bin/python" && -f "$VENV/.privateapi-stamp" ]] || return 1
  [[ "$(cat "$VENV/.privateapi-stamp")" == "$(stamp_value "$VENV/bin/python")" ]]
}

cmd_install() {
  venv_ok && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.helm-venv.lock"
  flock 9 # parallel tests wait here for one install
  if venv_ok; then exec 9>&-; return 0; fi
  local py
  py=$(pick_python)
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "$py is older than 3.10 (helm-python-sdk needs 3.10+)"
  note "installing helm-python-sdk into $VENV ($("$py" --version 2>&1)) ..."
  local t0=$SECONDS
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    --require-hashes --only-binary=:all: -r "$REQUIREMENTS" >&2 ||
    { rm -rf "$VENV"; die "pip install failed"; }
  "$VENV/bin/python" -c 'import helm_python, lupa.lua51' || { rm -rf "$VENV"; die "the installed venv does not import"; }
  stamp_value "$VENV/bin/python" >"$VENV/.privateapi-stamp"
  note "installed Helm $("$VENV/bin/python" -c 'import helm_python as h; print(h.helm_sdk_version())') in $((SECONDS - t0)) s"
  exec 9>&-
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    template | notes | values | lint | argocd-health)
      cmd_install
      exec "$VENV/bin/python" "$DRIVER" "$cmd" "$@"
      ;;
    install) cmd_install ;;
    version) cmd_install && "$VENV/bin/python" -c 'import helm_python as h; print(h.helm_sdk_version())' ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
