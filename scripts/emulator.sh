#!/usr/bin/env bash
# AWS emulator (patched moto server) for the privateapi operator's tests.
#
#   scripts/emulator.sh install   create/refresh the venv (no-op when up to date)
#   scripts/emulator.sh start     install if needed, start moto on 127.0.0.1:$MOTO_PORT and in
#                                 front of it the checking proxy on $EMULATOR_CHECK_PORT,
#                                 print `export AWS_...` lines  -> eval "$(scripts/emulator.sh start)"
#                                 (AWS_ENDPOINT_URL is the checking proxy: every request is
#                                 checked against AWS's service models, scripts/awsmodels.py;
#                                 a request AWS would refuse is answered with HTTP 400;
#                                 `scripts/emulator.sh checks` prints the tally)
#   scripts/emulator.sh stop      stop both servers started for $MOTO_PORT
#   scripts/emulator.sh checks    how many requests the proxy checked, and those refused (JSON)
#   scripts/emulator.sh reset     wipe all emulated AWS state (POST /moto-api/reset)
#   scripts/emulator.sh env       print the export lines only
#   scripts/emulator.sh status    say whether it runs (exit 1 if not)
#   scripts/emulator.sh smoke     start if needed, run scripts/moto/smoke.py against it
#
# Environment:
#   MOTO_PORT               port (default 5055); one server per port, state kept per port
#   EMULATOR_CHECK_PORT     the checking proxy's port (default MOTO_PORT + 1000)
#   PRIVATEAPI_CACHE        cache dir (default ~/.cache/privateapi-operator); venv in $CACHE/venv
#   PRIVATEAPI_STATE        pid/log dir (default $CACHE/state)
#   PRIVATEAPI_PYTHON       python used to create the venv (default python3.11, else python3)
#   PRIVATEAPI_MOTO_ECS_RUN 1 (default): ECS services report runningCount=desiredCount;
#                           0: moto's own behaviour (then MOTO_ECS_SERVICE_RUNNING=N applies)
#   PRIVATEAPI_MOTO_ALB_PROVISIONING_SECONDS, PRIVATEAPI_MOTO_VPC_LINK_PENDING_SECONDS,
#   PRIVATEAPI_MOTO_ENI_RELEASE_SECONDS
#                           how long a new ALB/NLB is `provisioning`, a new VPC link PENDING,
#                           and a deleted ALB's/link's/service's security groups refuse
#                           deletion (default 1 each; 0: moto's instant behaviour; at run
#                           time: POST $AWS_ENDPOINT_URL/_privateapi/delays)
#   MOTO_START_TIMEOUT      seconds to wait for the server (default 30)
# Details of the patches and moto's gaps: scripts/moto/FINDINGS.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MOTO_DIR="$SCRIPT_DIR/moto"
CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
STATE="${PRIVATEAPI_STATE:-$CACHE/state}"
VENV="$CACHE/venv"
PORT="${MOTO_PORT:-5055}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
PIDFILE="$STATE/moto-$PORT.pid"
LOG="$STATE/moto-$PORT.log"
START_TIMEOUT="${MOTO_START_TIMEOUT:-30}"
REGION=eu-west-1
CHECK_PORT="${EMULATOR_CHECK_PORT:-$((PORT + 1000))}"
CHECK_URL="http://$HOST:$CHECK_PORT"

die() { echo "emulator.sh: $*" >&2; exit 1; }
note() { echo "emulator.sh: $*" >&2; }

pick_python() {
  if [[ -n "${PRIVATEAPI_PYTHON:-}" ]]; then echo "$PRIVATEAPI_PYTHON"; return; fi
  if command -v python3.11 >/dev/null 2>&1; then echo python3.11; return; fi
  command -v python3 >/dev/null 2>&1 && { echo python3; return; }
  die "no python3 found (set PRIVATEAPI_PYTHON)"
}

# The stamp changes whenever the pins, the interpreter or this install recipe change.
stamp_value() {
  local py="$1"
  {
    echo "recipe=2"
    "$py" -c 'import sys; print(sys.version)'
    cat "$MOTO_DIR/requirements.txt"
  } | sha256sum | cut -d' ' -f1
}

venv_ok() {
  # fast path: stamp written after a successful install, matched against the pins
  [[ -x "$VENV/bin/python" && -f "$VENV/.privateapi-stamp" ]] || return 1
  [[ "$(cat "$VENV/.privateapi-stamp")" == "$(stamp_value "$VENV/bin/python")" ]]
}

cmd_install() {
  venv_ok && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.venv.lock"
  flock 9                               # concurrent installs (parallel test jobs) wait here
  if venv_ok; then exec 9>&-; return 0; fi
  local py; py="$(pick_python)"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' || die "$py is older than 3.9"
  note "installing moto into $VENV ($("$py" --version 2>&1)) ..."
  local t0=$SECONDS
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  # Every file hash-pinned (requirements.txt is the whole tree): a package changed on
  # the index is refused.
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
      --require-hashes -r "$MOTO_DIR/requirements.txt" >&2 \
    || { rm -rf "$VENV"; die "pip install failed"; }
  stamp_value "$VENV/bin/python" > "$VENV/.privateapi-stamp"
  note "installed in $((SECONDS - t0)) s"
  exec 9>&-
}

http_ok() { # url -> exit 0 when it answers 2xx
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null
  else
    "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
  fi
}

alive() { # pid -> exit 0 while it runs (a zombie waiting for its reaper counts as gone)
  [[ -r "/proc/$1/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

our_pid() { # prints the recorded pid if that process is still our server
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "moto/server.py" || return 1
  echo "$pid"
}

cmd_env() {
  cat <<EOF
export AWS_ENDPOINT_URL=$CHECK_URL
export PRIVATEAPI_MOTO_URL=$URL
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
EOF
}

# The checking proxy (scripts/awsproxy.py with validate on) in front of moto.
checker() {
  local models
  models="$("$VENV/bin/python" -c 'import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), "data"))')"
  AWSPROXY_PORT="$CHECK_PORT" AWSPROXY_UPSTREAM="$URL" AWSPROXY_MODELS="$models" \
    AWSPROXY_CONFIG='{"validate": true}' PRIVATEAPI_PYTHON="$VENV/bin/python" \
    "$SCRIPT_DIR/awsproxy.sh" "$@"
}

cmd_start() {
  if http_ok "$URL/_privateapi/patches"; then
    our_pid >/dev/null || note "an emulator not started from $STATE already serves $URL; using it"
    checker start >/dev/null
    cmd_env; return 0
  fi
  if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    die "port $PORT is taken by something that is not our emulator (set MOTO_PORT)"
  fi
  cmd_install
  mkdir -p "$STATE"
  rm -f "$PIDFILE"
  local t0; t0=$(date +%s.%N)
  MOTO_IAM_LOAD_MANAGED_POLICIES=true \
  PYTHONUNBUFFERED=1 \
    setsid "$VENV/bin/python" "$MOTO_DIR/server.py" --host "$HOST" --port "$PORT" \
      </dev/null >"$LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until http_ok "$URL/_privateapi/patches"; do
    if ! alive "$pid"; then
      rm -f "$PIDFILE"
      note "server exited during start-up; last lines of $LOG:"
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    if (( SECONDS >= deadline )); then
      note "server did not answer on $URL within ${START_TIMEOUT}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2 || true
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.1
  done
  note "started pid $pid on $URL in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (log: $LOG)"
  if grep -q "FAILED" "$LOG"; then
    note "WARNING: some patches failed to apply:"; grep "FAILED" "$LOG" >&2
  fi
  checker start >/dev/null
  cmd_env
}

cmd_stop() {
  local pid
  checker stop || true
  if ! pid="$(our_pid)"; then
    rm -f "$PIDFILE"; note "not running (port $PORT)"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.05
  done
  if alive "$pid"; then
    note "pid $pid ignored SIGTERM; killing"; kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  note "stopped pid $pid"
}

cmd_reset() {
  http_ok "$URL/_privateapi/patches" || die "no emulator answers on $URL"
  curl -fsS -m 10 -X POST -o /dev/null "$URL/moto-api/reset" || die "reset failed"
}

cmd_status() {
  local pid
  checker status || true
  if pid="$(our_pid)" && http_ok "$URL/_privateapi/patches"; then
    echo "running: pid $pid on $URL (log: $LOG)"
  elif http_ok "$URL/_privateapi/patches"; then
    echo "running on $URL (not started from $STATE)"
  else
    echo "not running (port $PORT)"; return 1
  fi
}

cmd_smoke() {
  eval "$(cmd_start)"
  "$VENV/bin/python" "$MOTO_DIR/smoke.py" "$@"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  env) cmd_env ;;
  status) cmd_status ;;
  smoke) shift; cmd_smoke "$@" ;;
  checks) checker stats | "$VENV/bin/python" -c 'import json, sys; s = json.load(sys.stdin); print(json.dumps({k: s[k] for k in ("validated", "violation_count", "violations")}, indent=1))' ;;
  *) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
