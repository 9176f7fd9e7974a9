# privateapi-operator — the two commands are `make demo` and `make test`.
# Everything they need (the AWS emulator, a real Kubernetes API server) is
# installed by the scripts in scripts/, cached in $(PRIVATEAPI_CACHE).

SHELL := /bin/bash
export PRIVATEAPI_CACHE ?= $(HOME)/.cache/privateapi-operator
export CARGO_TARGET_DIR ?= $(PRIVATEAPI_CACHE)/target
BIN := $(CARGO_TARGET_DIR)/debug/privateapi

.PHONY: help build demo demo-stop test unit lint crds fmt emulator apiserver stop clean-state

help:
	@echo "make demo       run the operator end to end on a local API server + AWS emulator"
	@echo "make demo-stop  stop what the demo started"
	@echo "make test       every test: lint, unit, emulator integration, end to end"
	@echo "make crds       regenerate crds/ from the code"
	@echo "make build      cargo build (debug)"

build:
	cargo build --bin privateapi

demo: build
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

test:
	@scripts/test.sh

unit:
	cargo test --lib --bins

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt --all

crds: build
	$(BIN) crd > crds/privateapi.io_privateapis.yaml

emulator:
	@scripts/emulator.sh start

apiserver:
	@scripts/apiserver.sh start

stop:
	-@scripts/emulator.sh stop
	-@scripts/apiserver.sh stop
