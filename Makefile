# privateapi-operator — the two commands are `make demo` and `make test`.
# Everything they need (the AWS emulator, a real Kubernetes API server) is
# installed by the scripts in scripts/, cached in $(PRIVATEAPI_CACHE).

SHELL := /bin/bash
export PRIVATEAPI_CACHE ?= $(HOME)/.cache/privateapi-operator
export CARGO_TARGET_DIR ?= $(PRIVATEAPI_CACHE)/target
BIN := $(CARGO_TARGET_DIR)/debug/privateapi
# The AWS fault interceptor is built for tests only (Cargo.toml, src/aws/faults.rs).
TEST_FEATURES := --features test-faults

.PHONY: help build image demo demo-stop test bench unit lint deny crds chart chart-lint fmt emulator apiserver stop

help:
	@echo "make demo       run the operator end to end on a local API server + AWS emulator"
	@echo "make demo-stop  stop what the demo started"
	@echo "make test       every test: lint, unit, emulator integration, end to end"
	@echo "make bench      scale benchmark: N = 1, 10, 100 PrivateApis (and 10 under the AWS quotas), figures printed"
	@echo "make deny       cargo deny: advisories, licenses, bans, sources (deny.toml; skips what it cannot fetch, saying so)"
	@echo "make crds       regenerate crds/ (and the chart's CRD template and kustomize's copy) from the code"
	@echo "make chart      render the Helm chart with default values (Helm v4 from the helm-python-sdk wheel)"
	@echo "make chart-lint helm lint --strict the chart"
	@echo "make build      cargo build (debug)"
	@echo "make image      the operator image (release build, buildah, no Docker); prints the OCI archive's path last"

build:
	cargo build --bin privateapi

# Release build + buildah (installed if missing), FROM scratch; the last line is the
# path of the OCI archive (scripts/image.sh).
image:
	@scripts/image.sh

demo: build
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

unit:
	cargo test --lib --bins $(TEST_FEATURES)

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets $(TEST_FEATURES) -- -D warnings

deny:
	@scripts/cargo-deny.sh

fmt:
	cargo fmt --all

crds: build
	$(BIN) crd > crds/privateapi.io_privateapis.yaml
	scripts/crd-template.sh > charts/privateapi-operator/templates/crds.yaml
	cp crds/privateapi.io_privateapis.yaml deploy/kustomize/crds/

chart:
	@scripts/helm-render.sh template privateapi-operator charts/privateapi-operator -n privateapi-system

chart-lint:
	@scripts/helm-render.sh lint charts/privateapi-operator -n privateapi-system

emulator:
	@scripts/emulator.sh start

apiserver:
	@scripts/apiserver.sh start

stop:
	-@scripts/emulator.sh stop
	-@scripts/apiserver.sh stop
