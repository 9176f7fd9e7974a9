#!/usr/bin/env bash
# Counting / throttling / fault-injecting proxy in front of the AWS emulator
# (scripts/awsproxy.py, Python standard library only).
#
#   scripts/awsproxy.sh start     start on 127.0.0.1:$AWSPROXY_PORT, print `export AWSPROXY_URL=...`
#                                 -> point the operator at it: AWS_ENDPOINT_URL=$AWSPROXY_URL
#   scripts/awsproxy.sh stop      stop the proxy started for $AWSPROXY_PORT
#   scripts/awsproxy.sh url       print its URL
#   scripts/awsproxy.sh status    say whether it runs (exit 1 if not)
#   scripts/awsproxy.sh stats     GET /_proxy/stats (JSON)
#   scripts/awsproxy.sh reset     POST /_proxy/reset (zero the counts)
#   scripts/awsproxy.sh config '{"quotas":true,"error_rate":0.1,"lose_rate":0.1,"seed":7}'
#
# Environment:
#   AWSPROXY_PORT       port (default 5095)
#   AWSPROXY_UPSTREAM   the emulator's URL; default $AWS_ENDPOINT_URL, else
#                       http://127.0.0.1:$MOTO_PORT (MOTO_PORT default 5055)
#   AWSPROXY_CONFIG     initial configuration (JSON), see scripts/awsproxy.py
#   PRIVATEAPI_CACHE    cache dir (default ~/.cache/privateapi-operator)
#   PRIVATEAPI_STATE    pid/log dir (default $CACHE/state)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
STATE="${PRIVATEAPI_STATE:-$CACHE/state}"
PORT="${AWSPROXY_PORT:-5095}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
UPSTREAM="${AWSPROXY_UPSTREAM:-${AWS_ENDPOINT_URL:-http://127.0.0.1:${MOTO_PORT:-5055}}}"
PIDFILE="$STATE/awsproxy-$PORT.pid"
LOG="$STATE/awsproxy-$PORT.log"
PY="${PRIVATEAPI_PYTHON:-python3}"

die() { echo "awsproxy.sh: $*" >&2; exit 1; }
note() { echo "awsproxy.sh: $*" >&2; }

http_ok() { # url -> exit 0 when it answers 2xx
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null
  else
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
  fi
}

http() { # method url [json-body] -> prints the answer
  "$PY" - "$@" <<'PYEOF'
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else (b"" if method == "POST" else None)
req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); sys.exit(1)
PYEOF
}

alive() { [[ -r "/proc/$1/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

our_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "awsproxy.py" || return 1
  echo "$pid"
}

cmd_start() {
  if our_pid >/dev/null && http_ok "$URL/_proxy/health"; then
    echo "export AWSPROXY_URL=$URL"; return 0
  fi
  [[ "${UPSTREAM%/}" != "$URL" ]] || die "the upstream ($UPSTREAM) is this proxy: set AWSPROXY_UPSTREAM or MOTO_PORT"
  if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    die "port $PORT is taken by something that is not our proxy (set AWSPROXY_PORT)"
  fi
  mkdir -p "$STATE"
  rm -f "$PIDFILE"
  local args=(--host "$HOST" --port "$PORT" --upstream "$UPSTREAM")
  [[ -z "${AWSPROXY_CONFIG:-}" ]] || args+=(--config "$AWSPROXY_CONFIG")
  PYTHONUNBUFFERED=1 setsid "$PY" "$SCRIPT_DIR/awsproxy.py" "${args[@]}" </dev/null >"$LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + 10))
  until http_ok "$URL/_proxy/health"; do
    if ! alive "$pid"; then
      rm -f "$PIDFILE"; note "proxy exited during start-up:"; tail -n 20 "$LOG" >&2 || true; exit 1
    fi
    if (( SECONDS >= deadline )); then
      kill -TERM "$pid" 2>/dev/null || true; rm -f "$PIDFILE"; die "no answer on $URL within 10 s (log: $LOG)"
    fi
    sleep 0.05
  done
  note "started pid $pid on $URL -> $UPSTREAM (log: $LOG)"
  echo "export AWSPROXY_URL=$URL"
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then rm -f "$PIDFILE"; note "not running (port $PORT)"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  note "stopped pid $pid"
}

cmd_status() {
  local pid
  if pid="$(our_pid)" && http_ok "$URL/_proxy/health"; then
    echo "running: pid $pid on $URL -> $UPSTREAM (log: $LOG)"
  else
    echo "not running (port $PORT)"; return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) echo "$URL" ;;
  status) cmd_status ;;
  stats) http GET "$URL/_proxy/stats" ;;
  reset) http POST "$URL/_proxy/reset" ;;
  config) http POST "$URL/_proxy/config" "${2:?config needs a JSON object}" ;;
  *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
