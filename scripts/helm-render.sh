#!/usr/bin/env bash
# Render the Helm chart without a helm binary (none can be installed here).
#
# scripts/helm/render.go reimplements what `helm template` does (Go
# text/template + the sprig function library + Helm's own functions, values
# merging, values.schema.json validation, manifest sorting and "# Source:"
# output) and is built from Debian sid's Go sources (sprig, sigs.k8s.io/yaml,
# santhosh-tekuri/jsonschema, gopher-lua, k8s.io/api), pinned in scripts/helm/packages.lock
# and fetched through a private apt configuration: the host's apt state is never
# touched and nothing is installed into the system. The Go toolchain is the one
# scripts/apiserver.sh extracted when it is the pinned version, else it is
# fetched too.
#
# Usage: scripts/helm-render.sh <command> [args]
#   template [NAME] CHART [flags]  render manifests like `helm template` (see below)
#   notes    [NAME] CHART [flags]  render the chart's NOTES.txt
#   values   [NAME] CHART [flags]  print the final values (defaults + -f + --set)
#   kube-validate [FILE]           decode built-in objects strictly into their k8s.io/api
#                                  Go types (unknown/mistyped fields fail)
#   argocd-health SCRIPT.lua [FILE] run an Argo CD Lua health check on each object
#   install   fetch the pinned packages and build the renderer (cached, idempotent)
#   path      install if needed and print the renderer binary's path
#   prune     delete the sources and Go build cache (keeps the binary)
#   lock      re-resolve sid and rewrite scripts/helm/packages.lock (maintainers)
#
# Flags of template/notes/values: -n NAMESPACE, -f VALUES.yaml, --set k=v,
# --set-string k=v, --set-json k=JSON, --set-file k=PATH, --skip-crds,
# -s/--show-only templates/x.yaml, --kube-version v1.36.0, -a/--api-versions GV.
# Example: scripts/helm-render.sh template privateapi-operator charts/privateapi-operator \
#            -n privateapi-system --set rbac.scope=namespace --set watchNamespace=team-a
#
# Environment:
#   PRIVATEAPI_CACHE  cache dir (default ~/.cache/privateapi-operator); the build
#                     lives in $PRIVATEAPI_CACHE/helm-render
#   DEBIAN_MIRROR     Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOCK_FILE=$SCRIPT_DIR/helm/packages.lock
MAIN_GO=$SCRIPT_DIR/helm/render.go

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
CACHE=$(abspath "${PRIVATEAPI_CACHE:-${HOME:?HOME is not set; set PRIVATEAPI_CACHE}/.cache/privateapi-operator}")
HR=$CACHE/helm-render
TREE=$HR/tree
BIN=$HR/bin
APTDIR=$HR/apt
STAMP=$HR/installed.stamp
# The tree scripts/apiserver.sh extracts (its Go toolchain is reused when it is ours).
APISERVER_TREE=$CACHE/apiserver/tree

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=sid
GO_SERIES=${HELM_RENDER_GO_SERIES:-1.26}
# Packages whose dependency closure provides everything render.go imports.
ROOT_PACKAGES=(golang-github-masterminds-sprig-dev golang-github-masterminds-semver-dev golang-k8s-sigs-yaml-dev
  golang-github-santhosh-tekuri-jsonschema-dev golang-github-yuin-gopher-lua-dev golang-k8s-api-dev
  golang-k8s-apimachinery-dev)
TOOL_PACKAGES=("golang-$GO_SERIES-go" "golang-$GO_SERIES-src")
# Bump to force a rebuild when the build recipe below changes.
BUILD_REV=1

log() { printf 'helm-render.sh: %s\n' "$*" >&2; }
warn() { printf 'helm-render.sh: WARNING: %s\n' "$*" >&2; }
die() { printf 'helm-render.sh: ERROR: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required ($2)"; }

# ---------------------------------------------------------------- private apt

apt_setup() {
  need apt-get "Debian's apt"
  need dpkg-deb "Debian's dpkg"
  [ "$(dpkg --print-architecture 2>/dev/null || echo amd64)" = amd64 ] || die "only amd64 is supported"
  mkdir -p "$APTDIR"/{etc/apt.conf.d,etc/sources.list.d,etc/preferences.d,lists/partial,cache/archives/partial,state}
  : >"$APTDIR/status"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$MIRROR" "$SUITE" \
    >"$APTDIR/etc/sources.list"
  {
    # APT_CONFIG is read first, so these keep the host's /etc/apt and dpkg status out.
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
    apt-config dump 2>/dev/null | grep -E '^Acquire::(http|https)::Proxy' || true
  } >"$APTDIR/apt.conf"
}

apt_() { APT_CONFIG=$APTDIR/apt.conf "$@"; }

apt_update() {
  log "apt-get update ($MIRROR $SUITE, private config in $APTDIR)"
  apt_ apt-get -q update >"$APTDIR/update.log" 2>&1 || { tail -n 20 "$APTDIR/update.log" >&2; die "apt-get update failed"; }
}

# name=version of every Go source package (and the toolchain) that a simulated
# install of "$@" on an empty system would unpack.
apt_closure() {
  local out
  out=$(apt_ apt-get -s -q install "$@" 2>&1) || { printf '%s\n' "$out" | tail -n 20 >&2; die "cannot resolve $*"; }
  printf '%s\n' "$out" | awk '/^Inst /{v=$3; gsub(/[()]/, "", v); print $2 "=" v}' |
    grep -E '^golang-' |
    grep -vE '^golang-(go|src|any|doc|golang-x-tools)=' |
    grep -vE "^golang-[0-9.]+-(go|src|doc)=" |
    sort -u
  printf '%s\n' "$out" | awk '/^Inst /{v=$3; gsub(/[()]/, "", v); print $2 "=" v}' |
    grep -E "^golang-$GO_SERIES-(go|src)=" || true
}

lock_pins() { grep -vE '^[[:space:]]*(#|$)' "$LOCK_FILE" | tr -d '[:blank:]'; }

apt_download() { # dir name=version...
  local dir=$1
  shift
  rm -rf "$dir" && mkdir -p "$dir"
  log "downloading $# packages"
  (cd "$dir" && apt_ apt-get -q download "$@") >"$APTDIR/download.log" 2>&1 ||
    { tail -n 20 "$APTDIR/download.log" >&2; die "apt-get download failed"; }
}

extract_debs() { # dir tree
  local dir=$1 tree=$2 deb
  mkdir -p "$tree"
  log "extracting $(find "$dir" -name '*.deb' | wc -l) packages into $tree"
  for deb in "$dir"/*.deb; do
    dpkg-deb -x "$deb" "$tree"
    dpkg-deb -f "$deb" Package Version | awk '/^Package:/{p=$2} /^Version:/{print p "=" $2}'
  done | sort -u >>"$tree/.packages"
  sort -u -o "$tree/.packages" "$tree/.packages"
}

# The pinned toolchain packages (name=version) of the lock file.
tool_pins() { lock_pins | grep -E "^golang-[0-9.]+-(go|src)=" || true; }

# Does tree $1 hold exactly the pinned toolchain?
has_pinned_toolchain() {
  local tree=$1 pin
  [ -f "$tree/.packages" ] || return 1
  for pin in $(tool_pins); do grep -qxF "$pin" "$tree/.packages" || return 1; done
  [ -n "$(find "$tree/usr/lib" -maxdepth 1 -name 'go-*' -type d 2>/dev/null)" ]
}

# Print the GOROOT to build with: ours, else apiserver.sh's when it is the pinned
# one, else fetch the pinned toolchain into our tree.
goroot() {
  local tree
  if [ -n "${GOROOT_OVERRIDE:-}" ]; then printf '%s\n' "$GOROOT_OVERRIDE"; return 0; fi
  for tree in "$TREE" "$APISERVER_TREE"; do
    if has_pinned_toolchain "$tree"; then
      find "$tree/usr/lib" -maxdepth 1 -name 'go-*' -type d | sort -V | tail -n 1
      return 0
    fi
  done
  log "the pinned Go toolchain is not extracted yet; fetching it"
  apt_setup
  apt_update
  local -a pins=()
  mapfile -t pins < <(tool_pins)
  apt_download "$HR/debs-go" "${pins[@]}"
  extract_debs "$HR/debs-go" "$TREE" >&2
  rm -rf "$HR/debs-go" "$APTDIR/lists" "$APTDIR/cache"
  has_pinned_toolchain "$TREE" || die "no Go toolchain after fetching ${pins[*]}"
  find "$TREE/usr/lib" -maxdepth 1 -name 'go-*' -type d | sort -V | tail -n 1
}

# A GOPATH entry of symlinks for import paths that Debian ships under another
# directory: modules whose path ends in a major version (github.com/x/y/v3 in
# github.com/x/y), and sprig's old import path of mergo (now dario.cat/mergo).
make_shims() { # tree shimdir
  local src=$1/usr/share/gocode/src shim=$2/src gomod dir mod link target
  rm -rf "$2" && mkdir -p "$shim"
  link_as() { # import-path directory
    [ -d "$src/$2" ] && [ ! -e "$src/$1" ] && [ ! -e "$shim/$1" ] || return 0
    mkdir -p "$(dirname "$shim/$1")"
    ln -s "$src/$2" "$shim/$1"
  }
  while IFS= read -r gomod; do
    dir=${gomod#"$src/"}
    dir=${dir%/go.mod}
    mod=$(awk '$1 == "module" {gsub(/"/, "", $2); print $2; exit}' "$gomod")
    [[ $mod =~ ^"$dir"/v[0-9]+$ ]] && link_as "$mod" "$dir"
  done < <(find "$src" -name go.mod -not -path '*/testdata/*' -not -path '*/_*')
  link_as github.com/imdario/mergo dario.cat/mergo
}

# go build render.go against the Go sources of tree $1 into binary $2.
build_renderer() {
  local tree=$1 out=$2 src=$HR/src/helm-render root
  root=$(goroot)
  rm -rf "$src" && mkdir -p "$src" "$(dirname "$out")"
  cp "$MAIN_GO" "$src/main.go"
  make_shims "$tree" "$HR/shim"
  (
    export GOROOT=$root PATH=$root/bin:$PATH GOPATH=$HR/shim:$tree/usr/share/gocode
    export GO111MODULE=off GOPROXY=off GOFLAGS= GOWORK=off GOENV=off GOTOOLCHAIN=local CGO_ENABLED=0
    export GOCACHE=$HR/gocache GOTMPDIR=""
    log "building the renderer with $(go version | cut -d' ' -f3) (GOROOT $root)"
    cd "$src"
    go build -trimpath -ldflags "-s -w" -o "$out.tmp" .
  )
  mv "$out.tmp" "$out"
}

install_hash() { { cat "$LOCK_FILE" "$MAIN_GO"; echo "rev=$BUILD_REV"; } | sha256sum | cut -d' ' -f1; }
lock_hash() { sha256sum <"$LOCK_FILE" | cut -d' ' -f1; }

installed() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(install_hash)" ] && [ -x "$BIN/helm-render" ]; }

cmd_install() {
  [ -f "$LOCK_FILE" ] || die "missing $LOCK_FILE"
  [ -f "$MAIN_GO" ] || die "missing $MAIN_GO"
  installed && return 0
  mkdir -p "$HR"
  need flock "util-linux"
  exec 9>"$HR/.install.lock"
  flock 9
  if installed; then exec 9>&-; return 0; fi # another process just did it
  local t0=$SECONDS
  if [ -f "$TREE/.lock-hash" ] && [ "$(cat "$TREE/.lock-hash")" = "$(lock_hash)" ]; then
    log "packages of packages.lock already extracted in $TREE"
  else
    fetch_tree
  fi
  build_renderer "$TREE" "$BIN/helm-render"
  install_hash >"$STAMP"
  log "installed $BIN/helm-render in $((SECONDS - t0)) s"
  exec 9>&-
}

# Download the pinned Go sources (and the toolchain unless apiserver.sh's is the
# pinned one) and extract them into $TREE.
fetch_tree() {
  apt_setup
  apt_update
  local -a pins=() want=() missing=() names=()
  mapfile -t pins < <(lock_pins)
  [ ${#pins[@]} -gt 0 ] || die "$LOCK_FILE pins no packages"
  local p reuse_go=0
  has_pinned_toolchain "$APISERVER_TREE" && reuse_go=1
  for p in "${pins[@]}"; do
    if [ $reuse_go = 1 ] && [[ $p =~ ^golang-[0-9.]+-(go|src)= ]]; then continue; fi
    want+=("$p")
    names+=("${p%%=*}")
  done
  [ $reuse_go = 1 ] && log "reusing the Go toolchain extracted by scripts/apiserver.sh ($APISERVER_TREE)"
  local available
  available=$({ apt_ apt-cache show "${names[@]}" 2>/dev/null || true; } | awk '/^Package:/{p=$2} /^Version:/{print p "=" $2}' | sort -u)
  for p in "${want[@]}"; do grep -qxF "$p" <<<"$available" || missing+=("$p"); done
  local debs=$HR/debs
  if [ ${#missing[@]} -eq 0 ]; then
    apt_download "$debs" "${want[@]}"
  else
    warn "${#missing[@]} pinned package version(s) are no longer on $MIRROR $SUITE: ${missing[*]}"
    warn "falling back to the CURRENT sid versions of the whole closure; run 'scripts/helm-render.sh lock' and commit scripts/helm/packages.lock."
    local -a closure=()
    mapfile -t closure < <(apt_closure "${ROOT_PACKAGES[@]}" "${TOOL_PACKAGES[@]}")
    apt_download "$debs" "${closure[@]}"
  fi
  rm -rf "$TREE.new"
  extract_debs "$debs" "$TREE.new"
  lock_hash >"$TREE.new/.lock-hash"
  rm -rf "$TREE" && mv "$TREE.new" "$TREE"
  rm -rf "$debs" "$APTDIR/lists" "$APTDIR/cache"
}

cmd_prune() {
  rm -rf "$TREE" "$TREE.new" "$HR/gocache" "$HR/src" "$HR/shim" "$HR/debs" "$HR/debs-go" "$HR/lock-work" "$APTDIR"
  log "pruned; kept $BIN"
}

# Rewrite packages.lock: resolve the closure on current sid, build against all of
# it, keep the packages whose Go sources the build uses, plus the toolchain.
cmd_lock() {
  apt_setup
  apt_update
  local work=$HR/lock-work
  local -a closure=()
  mapfile -t closure < <(apt_closure "${ROOT_PACKAGES[@]}" "${TOOL_PACKAGES[@]}")
  log "closure on $SUITE: ${#closure[@]} packages"
  apt_download "$work/debs" "${closure[@]}"
  rm -rf "$work/tree"
  extract_debs "$work/debs" "$work/tree"
  # Build against the work tree, with its own toolchain.
  GOROOT_OVERRIDE=$(find "$work/tree/usr/lib" -maxdepth 1 -name 'go-*' -type d | sort -V | tail -n 1)
  [ -n "$GOROOT_OVERRIDE" ] || die "no Go toolchain in the resolved closure"
  export GOROOT_OVERRIDE
  build_renderer "$work/tree" "$work/helm-render"
  log "computing the packages the build uses"
  local deps
  deps=$(
    root=$(goroot)
    export GOROOT=$root PATH=$root/bin:$PATH GOPATH=$HR/shim:$work/tree/usr/share/gocode
    export GO111MODULE=off GOPROXY=off GOFLAGS= GOWORK=off GOENV=off GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE=$HR/gocache
    cd "$HR/src/helm-render"
    go list -deps -f '{{if not .Standard}}{{.Dir}}{{end}}' . | grep -v '^$' |
      while read -r d; do readlink -f "$d"; done | sed "s#^$work/tree##" | sort -u
  )
  unset GOROOT_OVERRIDE
  local deb used
  used=$(for deb in "$work"/debs/*.deb; do
    if dpkg-deb -c "$deb" | awk '$6 ~ /\.go$/ {print $6}' | sed 's#^\.##; s#/[^/]*$##' | sort -u |
      grep -xF -f <(printf '%s\n' "$deps") >/dev/null; then
      dpkg-deb -f "$deb" Package
    fi
  done | sort -u)
  local tmp=$LOCK_FILE.tmp
  {
    echo "# Debian $SUITE packages for scripts/helm-render.sh, pinned as name=version."
    echo "# Go sources (GOPATH mode) actually used to build scripts/helm/render.go, plus the"
    echo "# Go toolchain. Generated by 'scripts/helm-render.sh lock' on $(date -u +%Y-%m-%d)"
    echo "# from $MIRROR $SUITE (Release date: $(sed -n 's/^Date: //p' "$APTDIR"/lists/*_InRelease | head -n 1))."
    echo "# Re-run it when render.go's imports change or when the pinned versions leave sid."
    grep -E "^($(printf '%s\n' "$used" "${TOOL_PACKAGES[@]}" | paste -sd'|' - | sed 's/\./\\./g'))=" "$work/tree/.packages"
  } >"$tmp"
  mv "$tmp" "$LOCK_FILE"
  rm -rf "$work" "$APTDIR/lists" "$APTDIR/cache"
  log "wrote $LOCK_FILE ($(lock_pins | wc -l) packages)"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    template | notes | values | kube-validate | argocd-health)
      cmd_install
      exec "$BIN/helm-render" "$cmd" "$@"
      ;;
    install) cmd_install ;;
    path) cmd_install && printf '%s\n' "$BIN/helm-render" ;;
    prune) cmd_prune ;;
    lock) cmd_lock ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
