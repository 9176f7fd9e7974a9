# syntax=docker/dockerfile:1
# The operator image for CI with a Docker engine (.github/workflows/release.yml).
# Its last stage is FROM scratch with the tree scripts/image.sh makes — the same
# one `make image` builds here with buildah: /privateapi, the dynamic loader and
# the libraries it links (glibc, libgcc_s), the CA certificates, an /etc/passwd
# with the user nonroot (65532), nothing else — no shell, nothing to write.
#   docker build -t privateapi-operator:0.1.0 .
# The chart (charts/privateapi-operator) runs it with args ["run"] and its
# settings in PRIVATEAPI_* environment variables.

ARG RUST_VERSION=1.95
# The build stage's image also supplies what the final image ships besides the binary
# (the dynamic loader, glibc, libgcc_s, CA certificates: scripts/image.sh rootfs), so
# pin it by digest where the image is built for release:
#   docker build --build-arg BUILD_IMAGE=rust:1.95-bookworm@sha256:<digest> .
# (`docker buildx imagetools inspect rust:1.95-bookworm` prints the digest). The
# default is the tag: the digest could not be looked up where this file is tested
# (no registry reachable), and a made-up one would break every build.
ARG BUILD_IMAGE=rust:${RUST_VERSION}-bookworm

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# The manifest, the lock file, the target directories cargo may have to find
# while reading the manifest, and scripts/image.sh (.dockerignore keeps
# everything else out).
COPY . .
# Cache mounts keep the registry and target dir between builds; the tree is
# assembled in the same step because the cached target dir is not in the layer.
# No --features: the tests' fault interceptor (feature test-faults) stays out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin privateapi \
 && scripts/image.sh rootfs target/release/privateapi /rootfs

# scratch is no image (no layers, nothing to pin): the tree above is all there is.
FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
# GET /metrics, /healthz, /readyz (PRIVATEAPI_METRICS_ADDR, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/privateapi"]
CMD ["run"]
