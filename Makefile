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

.PHONY: help deps build sandbox demo test test-go test-rabbitmq test-c test-python test-csharp check-js-sdk bench python-wheel csharp clean

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

# The secucard JavaScript SDK 0.8.4 ("secucard-connect"), unmodified, against the sandbox: a real
# client the sandbox must serve as the real service would. JS_SDK names an unpacked release; without
# it npm fetches secucard-connect@0.8.4, which needs a registry that serves it (not part of `test`
# for that reason). Its dependencies are pinned to the versions its code works with: the SDK mixes
# eventemitter3's prototype into its objects and reads uuid's default export, which eventemitter3 >= 2
# and uuid >= 7 (the ranges its package.json names) no longer allow.
JS_SDK_DIR := $(BUILD)/jssdk
check-js-sdk: sandbox ## Run the secucard JS SDK 0.8.4 unmodified against the sandbox (JS_SDK=<unpacked release>; not part of test)
	rm -rf $(JS_SDK_DIR) && mkdir -p $(JS_SDK_DIR)
	echo '{"private":true,"dependencies":{"es6-shim":"0.35","minilog":"3","sizzle":"2","superagent":"8","eventemitter3":"1","uuid":"3"}}' \
		> $(JS_SDK_DIR)/package.json
	cd $(JS_SDK_DIR) && npm install --ignore-scripts --no-audit --no-fund --no-package-lock
	if [[ -n "$(JS_SDK)" ]]; then \
		test -f "$(JS_SDK)/package.json" || { echo "JS_SDK=$(JS_SDK) holds no package.json" >&2; exit 2; }; \
		cp -r "$(JS_SDK)" $(JS_SDK_DIR)/node_modules/secucard-connect; \
	else \
		cd $(JS_SDK_DIR) && npm pack --silent secucard-connect@0.8.4 \
		  || { echo "secucard-connect@0.8.4 is not available from the npm registry here: set JS_SDK" >&2; exit 2; }; \
		mkdir -p node_modules/secucard-connect && tar -xzf secucard-connect-0.8.4.tgz --strip-components=1 -C node_modules/secucard-connect; \
	fi
	NODE_PATH=$(CURDIR)/$(JS_SDK_DIR)/node_modules examples/c/with-sandbox.sh $(BUILD) -stomp 127.0.0.1:0 \
		-device-interval 1 -start-delay 20ms -- node sandbox/interop/jssdk/check.js

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
