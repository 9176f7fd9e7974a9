#!/usr/bin/env bash
# `make test`: lint, the operator image, then every test (unit, emulator
# integration, the image, end to end),
# on servers of its own (own ports and state), stopped again at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PRIVATEAPI_CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PRIVATEAPI_CACHE/target}"
# Servers for the tests only: never the demo's, never a user's cluster.
export PRIVATEAPI_STATE="${PRIVATEAPI_TEST_STATE:-$PRIVATEAPI_CACHE/test-state}"
export MOTO_PORT="${PRIVATEAPI_TEST_MOTO_PORT:-5056}"
export APISERVER_PORT="${PRIVATEAPI_TEST_APISERVER_PORT:-26444}"
export ETCD_CLIENT_PORT="${PRIVATEAPI_TEST_ETCD_CLIENT_PORT:-23791}"
export ETCD_PEER_PORT="${PRIVATEAPI_TEST_ETCD_PEER_PORT:-23801}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

cleanup() {
  scripts/emulator.sh stop >/dev/null 2>&1 || true
  [[ "${USE_EXISTING_CLUSTER:-}" == 1 ]] || scripts/apiserver.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The fault interceptor (src/aws/faults.rs) exists only with this feature, which the
# tests need and the operator's own build leaves out.
FEATURES=(--features test-faults)

step "lint: cargo fmt --check, cargo clippy -D warnings (with and without test-faults)"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets "${FEATURES[@]}" -- -D warnings

step "supply chain: cargo deny (advisories, licenses, bans, sources; deny.toml)"
scripts/cargo-deny.sh

step "the operator image (scripts/image.sh: release build, buildah, OCI archive) for tests/image.rs"
PRIVATEAPI_IMAGE="$(scripts/image.sh | tail -n1)"
export PRIVATEAPI_IMAGE

step "AWS emulator (moto, patched) and Kubernetes API server (apiextensions-apiserver + etcd)"
eval "$(scripts/emulator.sh start)"
if [[ "${USE_EXISTING_CLUSTER:-}" == 1 ]]; then
  echo "using the cluster of KUBECONFIG=${KUBECONFIG:?USE_EXISTING_CLUSTER=1 needs KUBECONFIG}" >&2
else
  eval "$(scripts/apiserver.sh start)"
fi
scripts/emulator.sh smoke >/dev/null

step "cargo test (unit, engine against the emulator, end to end against the API server)"
tests_status=0
cargo test --all-targets "${FEATURES[@]}" --no-fail-fast -- --test-threads "${PRIVATEAPI_TEST_THREADS:-4}" \
  || tests_status=$?

step "requests checked against AWS's service models (scripts/awsmodels.py, in front of the emulator)"
# Every test's AWS traffic went through the checking proxy (AWS_ENDPOINT_URL): a request
# AWS would refuse is a finding of the run even if the test that sent it passed.
checks="$(scripts/emulator.sh checks)"
"$PRIVATEAPI_CACHE/venv/bin/python" - "$checks" <<'PYEOF' || tests_status=1
import json, sys
checks = json.loads(sys.argv[1])
print("AWS requests checked: %d, refused as AWS would: %d" % (checks["validated"], checks["violation_count"]))
for v in checks["violations"]:
    print("  %s: %s" % (v["operation"], "; ".join(v["problems"])))
sys.exit(1 if checks["violation_count"] else 0)
PYEOF
exit "$tests_status"
