#!/usr/bin/env bash
# `make demo`: a local Kubernetes API server and AWS emulator, the CRD, the
# operator, and examples/privateapi.yaml applied until Ready.
#   scripts/demo.sh start   set everything up and show the result
#   scripts/demo.sh stop    stop the operator, the API server and the emulator
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PRIVATEAPI_CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PRIVATEAPI_CACHE/target}"
export PRIVATEAPI_STATE="${PRIVATEAPI_STATE:-$PRIVATEAPI_CACHE/state}"
BIN="$CARGO_TARGET_DIR/debug/privateapi"
DEMO="$PRIVATEAPI_STATE/demo"
OPERATOR_PID="$DEMO/operator.pid"
OPERATOR_LOG="$DEMO/operator.log"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

stop_operator() {
  if [[ -f "$OPERATOR_PID" ]]; then
    kill "$(cat "$OPERATOR_PID")" 2>/dev/null || true
    rm -f "$OPERATOR_PID"
  fi
}

start() {
  mkdir -p "$DEMO"
  [[ -x "$BIN" ]] || cargo build --bin privateapi

  step "AWS emulator (moto with the project's patches; first run installs it, ~40 s)"
  eval "$(scripts/emulator.sh start)"

  if [[ "${USE_EXISTING_CLUSTER:-}" == 1 ]]; then
    step "Using your cluster (KUBECONFIG=${KUBECONFIG:?})"
    KUBECTL=kubectl
  else
    step "Kubernetes API server (apiextensions-apiserver v1.36 + etcd from Debian packages; first run builds it, ~3 min)"
    eval "$(scripts/apiserver.sh start)"
    eval "$(scripts/apiserver.sh env)"
    KUBECTL=kubectl
  fi

  step "Install the CRD"
  $KUBECTL apply --server-side --force-conflicts -f crds/privateapi.io_privateapis.yaml
  $KUBECTL wait --for=condition=Established crd/privateapis.privateapi.io --timeout=30s >/dev/null

  step "Start the operator (log: $OPERATOR_LOG)"
  stop_operator
  PRIVATEAPI_AWS_PACING=off setsid "$BIN" run --poll-seconds 2 >"$OPERATOR_LOG" 2>&1 < /dev/null &
  echo $! > "$OPERATOR_PID"

  step "A VPC with two private subnets in the emulator"
  eval "$("$PRIVATEAPI_CACHE/venv/bin/python" scripts/moto/network.py)"
  sed -e "s/vpc-0123456789abcdef0/$DEMO_VPC_ID/" \
      -e "s/subnet-0123456789abcdef0/$DEMO_SUBNET_A/" \
      -e "s/subnet-0fedcba9876543210/$DEMO_SUBNET_B/" \
      examples/privateapi.yaml > "$DEMO/privateapi.yaml"
  echo "vpc $DEMO_VPC_ID, subnets $DEMO_SUBNET_A $DEMO_SUBNET_B -> $DEMO/privateapi.yaml"

  step "kubectl apply -f examples/privateapi.yaml (with the emulator's IDs)"
  $KUBECTL apply -f "$DEMO/privateapi.yaml"
  if ! $KUBECTL wait --for=condition=Ready papi/hello --timeout=120s; then
    echo "not Ready in time; the operator log says:" >&2
    tail -n 30 "$OPERATOR_LOG" >&2
    exit 1
  fi

  step "The resource"
  $KUBECTL get papi hello
  echo
  $KUBECTL get papi hello -o jsonpath='{range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.reason}{"\t"}{.message}{"\n"}{end}' | column -t -s $'\t'
  echo
  $KUBECTL get papi hello -o jsonpath='{.status.resources}' | python3 -m json.tool

  step "What the operator did"
  grep -E "applied|ready" "$OPERATOR_LOG" | sed -E 's/^[^ ]+ +//' | cut -c1-160

  step "privateapi plan on the live object (its uid finds the same AWS objects): nothing to change"
  $KUBECTL get papi hello -o yaml > "$DEMO/live.yaml"
  "$BIN" --aws-pacing off plan -f "$DEMO/live.yaml" 2>/dev/null || true

  cat <<EOT

Try it (in this shell first: eval "\$(scripts/emulator.sh env)"; eval "\$(scripts/apiserver.sh env)"):
  kubectl patch papi hello --type merge -p '{"spec":{"service":{"image":"public.ecr.aws/nginx/nginx:1.28","desiredCount":3}}}'
  kubectl get papi hello -w                      # Reconciling, then Ready again (same endpoint, no redeploy)
  kubectl delete papi hello                       # the finalizer removes every AWS part, in order
  tail -f $OPERATOR_LOG
  make demo-stop                                  # stop the operator, the API server and the emulator
EOT
}

stop() {
  stop_operator
  scripts/emulator.sh stop || true
  [[ "${USE_EXISTING_CLUSTER:-}" == 1 ]] || scripts/apiserver.sh stop || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
