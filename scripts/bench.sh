#!/usr/bin/env bash
# `make bench`: the scale benchmark (benches/scale.rs) on servers of its own — a
# fresh AWS emulator, the counting proxy (scripts/awsproxy.py) and a real API server,
# on their own ports and state, stopped again at the end. Prints markdown tables
# (the figures in BENCHMARKS.md come from here).
#
#   scripts/bench.sh                      N = 1, 10, 100 unthrottled + N = 10 under the quotas
#   BENCH_SIZES=1,10 BENCH_QUOTA_SIZE=0 scripts/bench.sh   quicker
#
# Knobs (environment): BENCH_SIZES (default 1,10,100), BENCH_QUOTA_SIZE (default 10,
# 0 skips the quota run), BENCH_ARCHITECTURES (true; false skips the per-example run), BENCH_QUOTA_TEARDOWN (true; false stops the quota run after
# the restart, before the deletes), BENCH_MEMORY_SIZES (1000; objects for the memory
# run, empty skips it), BENCH_WAIT_SIZE (5; resources whose VPC links stay PENDING for
# BENCH_WAIT_PENDING_SECONDS, default 120; 0 skips), BENCH_RESYNC_SECONDS (10), BENCH_STEADY_SECONDS (30),
# BENCH_STEADY_UP_TO (100: larger N of BENCH_SIZES skip the steady state, e.g. BENCH_SIZES=1000),
# BENCH_CONCURRENCY (the operator's --concurrency; its default otherwise);
# ports: PRIVATEAPI_BENCH_{MOTO,PROXY,APISERVER,ETCD_CLIENT,ETCD_PEER}_PORT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PRIVATEAPI_CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PRIVATEAPI_CACHE/target}"
export PRIVATEAPI_STATE="${PRIVATEAPI_BENCH_STATE:-$PRIVATEAPI_CACHE/bench-state}"
export MOTO_PORT="${PRIVATEAPI_BENCH_MOTO_PORT:-5057}"
export AWSPROXY_PORT="${PRIVATEAPI_BENCH_PROXY_PORT:-5097}"
export APISERVER_PORT="${PRIVATEAPI_BENCH_APISERVER_PORT:-26445}"
export ETCD_CLIENT_PORT="${PRIVATEAPI_BENCH_ETCD_CLIENT_PORT:-23792}"
export ETCD_PEER_PORT="${PRIVATEAPI_BENCH_ETCD_PEER_PORT:-23802}"
# The benchmark's own servers, never a demo's or a user's.
unset AWS_ENDPOINT_URL KUBECONFIG USE_EXISTING_CLUSTER

stop_all() {
  scripts/awsproxy.sh stop >/dev/null 2>&1 || true
  scripts/emulator.sh stop >/dev/null 2>&1 || true
  scripts/apiserver.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
stop_all   # a fresh emulator and etcd: figures do not depend on an earlier run's leftovers

printf '\033[1m==> cargo bench --bench scale (release build of the operator; the first build takes minutes)\033[0m\n' >&2
cargo bench --bench scale "$@"
