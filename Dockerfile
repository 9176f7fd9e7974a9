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

FROM rust:${RUST_VERSION}-bookworm AS build
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

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
# GET /metrics, /healthz, /readyz (PRIVATEAPI_METRICS_ADDR, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/privateapi"]
CMD ["run"]
