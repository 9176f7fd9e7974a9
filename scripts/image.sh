#!/usr/bin/env bash
# The operator image, built without a Docker engine or a registry (buildah, vfs
# storage, chroot isolation), FROM scratch:
#
#   /privateapi                              the release binary (ENTRYPOINT, CMD ["run"])
#   /lib64/ld-linux-x86-64.so.2, /lib/…      the dynamic loader and the libraries it links (ldd)
#   /etc/ssl/certs/ca-certificates.crt       CA certificates (AWS and Kubernetes over TLS)
#   /etc/passwd, /etc/group                  the user nonroot, 65532:65532 (USER)
#   /etc/os-release, /var/lib/dpkg/status.d/ which Debian packages those libraries come
#                                            from (as distroless has it), for scanners
#
#   scripts/image.sh [build]          cargo build --release, assemble the image, write an
#                                     OCI archive; its path is the last line on stdout
#   scripts/image.sh assemble BINARY  the same from an already built binary
#   scripts/image.sh rootfs BINARY DIR   only the file tree above, in DIR (the Dockerfile's
#                                     last stage copies this tree: both images are alike)
#
# Environment:
#   PRIVATEAPI_CACHE        cache dir (default ~/.cache/privateapi-operator)
#   CARGO_TARGET_DIR        cargo's target dir (default $PRIVATEAPI_CACHE/target;
#                           the release build lands in its release/, kept between runs)
#   PRIVATEAPI_IMAGE_DIR    where the archive is written (default $PRIVATEAPI_CACHE/image)
#   PRIVATEAPI_BUILDAH_ROOT buildah's storage (default $PRIVATEAPI_CACHE/buildah)
# Installs buildah with apt-get when it is missing (Debian; needs root or sudo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PRIVATEAPI_CACHE:-$HOME/.cache/privateapi-operator}"
TARGET="${CARGO_TARGET_DIR:-$CACHE/target}"
OUT_DIR="${PRIVATEAPI_IMAGE_DIR:-$CACHE/image}"
STORE="${PRIVATEAPI_BUILDAH_ROOT:-$CACHE/buildah}"
NAME=privateapi-operator
UID_GID=65532

die() { echo "image.sh: $*" >&2; exit 1; }
note() { echo "image.sh: $*" >&2; }

version() { sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1; }

# The tree of the image in $2, from the binary $1. Runs where the binary was built:
# the libraries copied are the ones this machine's loader resolves for it.
cmd_rootfs() {
  local bin="${1:?rootfs BINARY DIR}" dir="${2:?rootfs BINARY DIR}"
  [[ -x "$bin" ]] || die "$bin: no such executable"
  local certs=/etc/ssl/certs/ca-certificates.crt
  [[ -s "$certs" ]] || die "$certs missing (apt-get install ca-certificates)"
  rm -rf "$dir"
  mkdir -p "$dir/etc/ssl/certs"
  install -m 0755 "$bin" "$dir/privateapi"
  # ldd lists `name => /path (addr)` for libraries and `/path (addr)` for the loader;
  # a static binary has neither.
  local libs lib
  libs="$(ldd "$bin" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' || true)"
  for lib in $libs; do
    install -D -m 0755 "$(readlink -f "$lib")" "$dir$lib"
  done
  # The packages of those libraries, for vulnerability scanners (trivy reads
  # distroless's one-file-per-package status.d): a copied glibc is otherwise unseen.
  if [[ -n "$libs" ]] && command -v dpkg-query >/dev/null 2>&1; then
    mkdir -p "$dir/var/lib/dpkg/status.d"
    local pkg
    for pkg in $(dpkg-query -S $libs 2>/dev/null | cut -d: -f1 | sort -u); do
      dpkg-query -s "$pkg" >"$dir/var/lib/dpkg/status.d/$pkg"
    done
    install -m 0644 "$(readlink -f /etc/os-release)" "$dir/etc/os-release"
    [[ ! -f /etc/debian_version ]] || install -m 0644 /etc/debian_version "$dir/etc/debian_version"
  fi
  install -m 0644 "$certs" "$dir/etc/ssl/certs/ca-certificates.crt"
  echo "nonroot:x:$UID_GID:$UID_GID:nonroot:/nonexistent:/sbin/nologin" >"$dir/etc/passwd"
  echo "nonroot:x:$UID_GID:" >"$dir/etc/group"
  chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

ensure_buildah() {
  command -v buildah >/dev/null 2>&1 && return 0
  note "installing buildah (apt-get) ..."
  local sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  command -v apt-get >/dev/null 2>&1 || die "buildah is missing and there is no apt-get to install it"
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq buildah >&2
  command -v buildah >/dev/null 2>&1 || die "buildah did not install"
}

bah() {
  buildah --storage-driver vfs --root "$STORE/root" --runroot "$STORE/run" "$@"
}

cmd_assemble() {
  local bin="${1:?assemble BINARY}"
  ensure_buildah
  local v; v="$(version)"
  local tree="$OUT_DIR/rootfs" archive="$OUT_DIR/$NAME-$v.oci.tar"
  mkdir -p "$OUT_DIR" "$STORE"
  cmd_rootfs "$bin" "$tree"
  # The image's creation time is the last commit's (or 0), not the build's. (The
  # archive is still not byte-for-byte the same from one build to the next.)
  local epoch; epoch="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)"
  CTR="$(bah from --quiet scratch)"
  trap 'bah rm "$CTR" >/dev/null 2>&1 || true' EXIT
  local ctr="$CTR"
  bah copy --quiet "$ctr" "$tree/" / >/dev/null
  bah config \
    --user "$UID_GID:$UID_GID" \
    --entrypoint '["/privateapi"]' --cmd run \
    --port 8080 \
    --label "org.opencontainers.image.title=$NAME" \
    --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.licenses=Apache-2.0" \
    "$ctr"
  rm -f "$archive"
  bah commit --quiet --format oci --timestamp "$epoch" "$ctr" "oci-archive:$archive:$NAME:$v" >/dev/null
  note "$archive: $(du -h "$archive" | cut -f1) (tree $(du -sh "$tree" | cut -f1))"
  echo "$archive"
}

cmd_build() {
  ensure_buildah
  note "cargo build --release (target dir $TARGET) ..."
  local t0=$SECONDS
  # No --features: the tests' fault interceptor (feature test-faults) stays out.
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --locked --bin privateapi >&2)
  note "release build: $((SECONDS - t0)) s"
  cmd_assemble "$TARGET/release/privateapi"
}

case "${1:-build}" in
  build) cmd_build ;;
  assemble) shift; cmd_assemble "$@" ;;
  rootfs) shift; cmd_rootfs "$@" ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
