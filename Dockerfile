# syntax=docker/dockerfile:1
# The operator image: the Rust binary on distroless/cc (glibc, libgcc, CA
# certificates, no shell), running as UID 65532 with nothing to write.
#   docker build -t privateapi-operator:0.1.0 .
# The chart (charts/privateapi-operator) runs it with args ["run"] and its
# settings in PRIVATEAPI_* environment variables.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The manifest, the lock file and the target directories cargo may have to
# find while reading the manifest (.dockerignore keeps everything else out).
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is
# copied out in the same step because the cached target dir is not in the layer.
# No --features: the tests' fault interceptor (feature test-faults) stays out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin privateapi \
 && install -D -m 0755 target/release/privateapi /out/privateapi

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/privateapi /privateapi
USER 65532:65532
# GET /metrics, /healthz, /readyz (PRIVATEAPI_METRICS_ADDR, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/privateapi"]
CMD ["run"]
