#!/usr/bin/env bash
# Smoke test of the server that scripts/apiserver.sh runs: CRD semantics that
# privateapi-operator relies on, and the core-API gaps it must tolerate.
# Needs a running server (scripts/apiserver.sh start). Leaves no objects behind.
set -euo pipefail

AS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/apiserver.sh
eval "$("$AS" env)"
[ -f "$KUBECONFIG" ] || { echo "smoke: no kubeconfig; run scripts/apiserver.sh start" >&2; exit 1; }
k() { kubectl "$@"; }
PKI=$(dirname "$KUBECONFIG")/pki
SERVER=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
curl_admin() { curl -sS --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"; }

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # description command...
  local d=$1
  shift
  if "$@" >/tmp/smoke.$$ 2>&1; then ok "$d"; else nok "$d"; sed 's/^/       /' /tmp/smoke.$$; fi
}
expect_fail_with() { # text command...: command fails and its output has text
  local text=$1 out
  shift
  if out=$("$@" 2>&1); then echo "unexpectedly succeeded: $out"; return 1; fi
  grep -qF -- "$text" <<<"$out" || { echo "$out"; return 1; }
}
cleanup() {
  k delete crd widgets.smoke.privateapi.io --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -f /tmp/smoke.$$
  [ -z "${watch_pid:-}" ] || kill "$watch_pid" 2>/dev/null || true
}
trap cleanup EXIT

k apply -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.privateapi.io
spec:
  group: smoke.privateapi.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - {rule: "self.replicas <= 10 || self.size == 'large'", message: "replicas above 10 need size large"}
            properties:
              size: {type: string, enum: [small, medium, large]}
              replicas: {type: integer, minimum: 0, default: 1}
          status:
            type: object
            properties:
              conditions:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [type]
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
EOF
check "CRD established" k wait --for=condition=Established crd/widgets.smoke.privateapi.io --timeout=30s

widget() { # namespace name size [replicas]
  printf 'apiVersion: smoke.privateapi.io/v1alpha1\nkind: Widget\nmetadata: {name: %s, namespace: %s}\nspec: {size: %s, replicas: %s}\n' \
    "$2" "$1" "$3" "${4:-1}"
}
kubectl get widgets.smoke.privateapi.io -n default --watch-only -o name >/tmp/smoke.watch.$$ 2>&1 &
watch_pid=$!
check "create CR in namespace default" k apply -f <(widget default w1 small)
check "create CR in namespace team-a (no Namespace object needed)" k apply -f <(widget team-a w1 small)
check "CEL rule rejects with its message" expect_fail_with "replicas above 10 need size large" k apply -f <(widget default bad small 20)
check "enum rejects" expect_fail_with 'Unsupported value: "huge"' k apply -f <(widget default bad huge)
check "defaulting (replicas=1)" test "$(k get widgets.smoke.privateapi.io w1 -n team-a -o jsonpath='{.spec.replicas}')" = 1

kubectl wait --for=condition=Ready widgets.smoke.privateapi.io/w1 -n default --timeout=30s >/tmp/smoke.wait.$$ 2>&1 &
wait_pid=$!
sleep 1
check "server-side apply of /status" k apply --server-side --subresource=status --field-manager=smoke-controller -f - <<'EOF'
apiVersion: smoke.privateapi.io/v1alpha1
kind: Widget
metadata: {name: w1, namespace: default}
status:
  conditions:
  - {type: Ready, status: "True", reason: Reconciled}
EOF
if wait "$wait_pid"; then ok "kubectl wait --for=condition=Ready"; else nok "kubectl wait --for=condition=Ready"; cat /tmp/smoke.wait.$$; fi
rm -f /tmp/smoke.wait.$$
check "status managedFields owned by smoke-controller" grep -q smoke-controller <(k get widgets.smoke.privateapi.io w1 -o jsonpath='{.metadata.managedFields[*].manager}')

check "add finalizer" k patch widgets.smoke.privateapi.io w1 --type=merge -p '{"metadata":{"finalizers":["smoke.privateapi.io/cleanup"]}}'
check "delete with finalizer" k delete widgets.smoke.privateapi.io w1 --wait=false
check "object stays with deletionTimestamp" test -n "$(k get widgets.smoke.privateapi.io w1 -o jsonpath='{.metadata.deletionTimestamp}')"
check "remove finalizer" k patch widgets.smoke.privateapi.io w1 --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
gone() { for _ in $(seq 50); do k get widgets.smoke.privateapi.io w1 >/dev/null 2>&1 || return 0; sleep 0.1; done; return 1; }
check "object gone after finalizer removal" gone
sleep 0.5
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
check "watch saw the object" grep -q 'widget.smoke.privateapi.io/w1' /tmp/smoke.watch.$$
rm -f /tmp/smoke.watch.$$

check "kubectl get pods fails cleanly" expect_fail_with "doesn't have a resource type \"pods\"" timeout 20 kubectl get pods
check "POST core Event -> 404" test "$(curl_admin -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"default"}}' "$SERVER/api/v1/namespaces/default/events")" = 404
check "no coordination.k8s.io group -> 404" test "$(curl_admin -o /dev/null -w '%{http_code}' "$SERVER/apis/coordination.k8s.io")" = 404
check "anonymous is forbidden -> 403" test "$(curl -sS --cacert "$PKI/ca.crt" -o /dev/null -w '%{http_code}' "$SERVER/apis/smoke.privateapi.io/v1alpha1/widgets")" = 403
check "static token authenticates" test "$(curl -sS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$PKI/token")" -o /dev/null -w '%{http_code}' "$SERVER/apis/smoke.privateapi.io/v1alpha1/widgets")" = 200
check "CRD group in /apis root discovery" grep -q '"smoke.privateapi.io"' <(curl_admin "$SERVER/apis")

k delete widgets.smoke.privateapi.io --all -A >/dev/null 2>&1 || true
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
