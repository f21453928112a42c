# libsecucard - run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO       ?= go
GOOS     := $(shell $(GO) env GOOS)
GOARCH   := $(shell $(GO) env GOARCH)
BUILD    := build/$(GOOS)-$(GOARCH)
SANDBOX  := $(BUILD)/secucard-sandbox
PYTHON   ?= /usr/bin/python3

.PHONY: help deps build sandbox demo test test-go test-rabbitmq test-c test-python test-csharp bench python-wheel csharp clean

help: ## Show this help
	@echo "libsecucard - the secucard connect client as a C shared library"
	@echo
	@echo "Set-up commands for a newcomer:"
	@echo "  make demo     run the cashier demo against the built-in sandbox"
	@echo "  make test     run every test suite (what CI runs)"
	@echo
	@echo "All targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

build: ## Build the shared library, header and pkg-config file into build/<os>-<arch>/
	./build.sh

sandbox: ## Build the secucard-sandbox binary into build/<os>-<arch>/
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $(SANDBOX) ./sandbox/cmd/secucard-sandbox

demo: build sandbox ## Run the cashier demo (C) against a local sandbox with device auto-approval
	$(MAKE) -C examples/c demo BUILD_DIR=$(CURDIR)/$(BUILD)

test: deps ## Run every test suite (CI runs this); installs missing Debian packages first
	$(MAKE) test-go test-rabbitmq test-c test-python test-csharp

deps: ## Install the Debian packages the test suites need (only those missing)
	./.ci/install-deps

test-go: ## go vet and the Go test suite (with the race detector); needs no services
	$(GO) vet ./...
	$(GO) vet -tags rabbitmq ./core/stomp/
	$(GO) test -race -count=1 ./...

test-rabbitmq: ## STOMP conformance against a real RabbitMQ (a private node on free ports)
	./.ci/rabbitmq-node run -- $(GO) test -race -count=1 -tags rabbitmq -run '^TestRabbitMQConformance$$' ./core/stomp/

test-c: build sandbox ## C ABI tests: C test programs, symbol parity with the header, valgrind, the CardPointe example
	$(MAKE) -C capi/ctest test BUILD_DIR=$(CURDIR)/$(BUILD)
	$(MAKE) -C examples/c run-cardpointe BUILD_DIR=$(CURDIR)/$(BUILD)

test-python: build sandbox ## Python binding tests (pytest)
	$(MAKE) -C bindings/python test BUILD_DIR=$(CURDIR)/$(BUILD) PYTHON=$(PYTHON)

test-csharp: build sandbox ## C# binding tests (Mono + NUnit 2.6)
	$(MAKE) -C bindings/csharp test BUILD_DIR=$(CURDIR)/$(BUILD)

bench: build sandbox ## Benchmarks: latency/throughput of net/http vs Go core vs C ABI (not part of test)
	$(MAKE) -C capi/bench run BUILD_DIR=$(CURDIR)/$(BUILD)

python-wheel: build ## Build a Python wheel with the native library inside (offline)
	$(MAKE) -C bindings/python wheel BUILD_DIR=$(CURDIR)/$(BUILD) PYTHON=$(PYTHON)

csharp: build ## Build the C# binding with mcs
	$(MAKE) -C bindings/csharp build BUILD_DIR=$(CURDIR)/$(BUILD)

clean: ## Remove build outputs
	rm -rf build
	-$(MAKE) -C examples/c clean
	-$(MAKE) -C capi/ctest clean
	-$(MAKE) -C bindings/python clean
	-$(MAKE) -C bindings/csharp clean
