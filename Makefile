# libsecucard - run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO       ?= go
GOOS     := $(shell $(GO) env GOOS)
GOARCH   := $(shell $(GO) env GOARCH)
HOST     := $(GOOS)-$(GOARCH)
BUILD    := build/$(HOST)
SANDBOX  := $(BUILD)/secucard-sandbox
PYTHON   ?= /usr/bin/python3
# The one version: SECUCARD_VERSION in include/secucard.h.
VERSION  := $(shell ./build.sh --version)

# The machines tills run on. The host builds natively, the others cross.
TARGETS  := linux-amd64 linux-arm64 linux-arm windows-amd64
CROSS    := $(filter-out $(HOST),$(TARGETS))
# qemu-user runs another Linux target's programs (its C library from the cross packages).
QEMU_linux-arm64 := qemu-aarch64 -L /usr/aarch64-linux-gnu
QEMU_linux-arm   := qemu-arm -L /usr/arm-linux-gnueabihf
QEMU_linux-amd64 := qemu-x86_64 -L /usr/x86_64-linux-gnu
CC_linux-arm64   := aarch64-linux-gnu-gcc
CC_linux-arm     := arm-linux-gnueabihf-gcc
CC_linux-amd64   := x86_64-linux-gnu-gcc

PYTOOLS  := build/pytools
DIST     := build/dist
NUGET    := build/nuget
FUZZTIME ?= 60s
SOAK     ?= 10m

.PHONY: help deps build cross sandbox demo test test-go test-store-readonly test-rabbitmq test-c test-cross test-python test-csharp \
        lint-python test-dist test-nuget fuzz faults soak check-js-sdk bench pytools python-wheel wheels csharp dist nuget clean

help: ## Show this help
	@echo "libsecucard - the secucard connect client as a C shared library"
	@echo
	@echo "Set-up commands for a newcomer:"
	@echo "  make demo     run the cashier demo against the built-in sandbox"
	@echo "  make test     run every test suite (what CI runs)"
	@echo
	@echo "All targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

build: ## Build the library, header, secucard.pc and CMake package into build/<host>/
	./build.sh

cross: ## Build the other targets (linux-arm64, linux-arm, windows-amd64) with the cross compilers
	./build.sh $(CROSS)

sandbox: ## Build the secucard-sandbox binary into build/<os>-<arch>/
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $(SANDBOX) ./sandbox/cmd/secucard-sandbox

demo: build sandbox ## Run the cashier demo (C) against a local sandbox with device auto-approval
	$(MAKE) -C examples/c demo BUILD_DIR=$(CURDIR)/$(BUILD)

test: deps ## Run every test suite (CI runs this); installs missing packages first
	$(MAKE) test-go test-rabbitmq test-c test-cross test-python lint-python test-csharp test-dist test-nuget

deps: ## Install what the test suites need (Debian packages, the wine tree) when missing
	./.ci/install-deps

test-go: ## go vet and the Go test suite (with the race detector); needs no services
	$(GO) vet ./...
	$(GO) vet -tags rabbitmq ./core/stomp/
	$(GO) test -race -count=1 ./...
	$(MAKE) test-store-readonly

test-store-readonly: ## Token store turning read-only under an open client (root: mounts, loop device, chattr)
	@if [ "$$(id -u)" != 0 ]; then echo "test-store-readonly needs root (bind mounts, a loop device, chattr)" >&2; exit 1; fi
	unshare --mount --propagation private $(GO) test -tags roottests -count=1 -run 'ReadOnly' ./core/store/sqlite/

# The node gives the command its own HOME; the Go caches stay the user's, so the
# race build of core/stomp is not compiled again from nothing (~90 s cold).
test-rabbitmq: ## STOMP conformance against a real RabbitMQ (a private node on free ports)
	./.ci/rabbitmq-node run -- env GOCACHE="$$($(GO) env GOCACHE)" GOMODCACHE="$$($(GO) env GOMODCACHE)" $(GO) test -race -count=1 -tags rabbitmq -run '^TestRabbitMQConformance$$' ./core/stomp/

test-c: build sandbox ## C ABI tests: C test programs, symbol parity with the header, valgrind, the CardPointe example
	$(MAKE) -C capi/ctest test BUILD_DIR=$(CURDIR)/$(BUILD)
	$(MAKE) -C examples/c run-cardpointe BUILD_DIR=$(CURDIR)/$(BUILD)

# Linux targets: symbol parity, then capi/ctest built with the cross compiler
# and run under qemu-user against the host's sandbox. Windows: symbol parity
# (the DLL's export table), a mingw-built program linked through the import
# library, run under wine when .ci/wine is installed.
test-cross: build cross sandbox ## Every other target's library: exports, C tests under qemu-user / wine
	$(foreach t,$(filter linux-%,$(CROSS)),$(MAKE) -C capi/ctest cross BUILD_DIR=$(CURDIR)/build/$(t) \
	  SANDBOX_DIR=$(CURDIR)/$(BUILD) CC="$(CC_$(t))" RUN="$(QEMU_$(t))" OUT=$(CURDIR)/build/test/$(t) && ) true
	$(if $(filter windows-amd64,$(CROSS)),$(MAKE) -C capi/ctest windows BUILD_DIR=$(CURDIR)/build/windows-amd64 \
	  SANDBOX_DIR=$(CURDIR)/$(BUILD) OUT=$(CURDIR)/build/test/windows-amd64)

test-python: build sandbox python-wheel ## Python binding tests (pytest), incl. the wheel in a fresh venv
	$(MAKE) -C bindings/python test BUILD_DIR=$(CURDIR)/$(BUILD) PYTHON=$(PYTHON) WHEEL_DIR=$(CURDIR)/build/python

lint-python: pytools ## mypy --strict and ruff on the Python package
	$(MAKE) -C bindings/python lint PYTOOLS=$(CURDIR)/$(PYTOOLS)

test-csharp: build sandbox ## C# binding tests (Mono + NUnit 2.6)
	$(MAKE) -C bindings/csharp test BUILD_DIR=$(CURDIR)/$(BUILD)

test-dist: dist sandbox ## The archives: examples/c built with CMake and with Make from unpacked archives
	examples/c/test-dist.sh $(CURDIR)/$(DIST) $(VERSION) $(CURDIR)/$(BUILD)

test-nuget: nuget sandbox ## The NuGet package: unpacked into a clean folder, a Mono program run from it
	$(MAKE) -C bindings/csharp test-package NUPKG=$(CURDIR)/$(NUGET)/Secucard.Connect.$(VERSION).nupkg \
	  SANDBOX_DIR=$(CURDIR)/$(BUILD)

fuzz: ## Fuzz every target for FUZZTIME each (default 60s), one after the other (test runs their seeds)
	GO=$(GO) ./.ci/fuzz $(FUZZTIME)

faults: ## The fault matrix against the sandbox: prints fault x transport x operation, fails on a broken invariant
	$(GO) test -count=1 -run '^TestFaultMatrix$$' -v ./internal/reliability/ | grep -vE '^(=== (RUN|PAUSE|CONT)|\s+--- PASS)'; exit $${PIPESTATUS[0]}

soak: sandbox ## SOAK=10m of 8 callers, a push stream and random faults; flat memory, no goroutine growth (not part of test)
	$(GO) test -count=1 -tags soak -timeout 0 -run '^TestSoak$$' -v ./internal/reliability/ -args -soak=$(SOAK) -sandbox=$(CURDIR)/$(SANDBOX)

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

bench: build sandbox ## Paired benchmark: net/http, Go core, C ABI, Python, C# (CPU, context switches, push latency); ~1-2 min, not part of test
	$(MAKE) -C capi/bench run BUILD_DIR=$(CURDIR)/$(BUILD)

# The pinned Python tools (build, auditwheel, mypy, ruff) in a venv from PyPI.
pytools: $(PYTOOLS)/.installed ## Install the pinned Python packaging/lint tools into build/pytools
$(PYTOOLS)/.installed: bindings/python/requirements-dev.txt
	rm -rf $(PYTOOLS)
	$(PYTHON) -m venv $(PYTOOLS)
	$(PYTOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

python-wheel: build pytools ## Build the host's Python wheel into build/python/
	$(MAKE) -C bindings/python wheel BUILD_DIR=$(CURDIR)/$(BUILD) PYTOOLS=$(CURDIR)/$(PYTOOLS)

wheels: build cross pytools ## Build a Python wheel for every target into build/python/
	@set -e; for t in $(TARGETS); do \
	  $(MAKE) -C bindings/python wheel BUILD_DIR=$(CURDIR)/build/$$t PYTOOLS=$(CURDIR)/$(PYTOOLS); \
	done
	@ls -1 build/python/secucard-$(VERSION)-*.whl

csharp: build ## Build the C# binding with mcs
	$(MAKE) -C bindings/csharp build BUILD_DIR=$(CURDIR)/$(BUILD)

# One archive per target (tar.gz for Linux, zip for Windows) holding the
# target's build directory under secucard-<version>-<target>/, and SHA256SUMS.
dist: build cross ## Pack build/dist/secucard-<version>-<target>.{tar.gz,zip} and SHA256SUMS
	rm -rf $(DIST)
	@set -e; mkdir -p $(DIST); for t in $(TARGETS); do \
	  name=secucard-$(VERSION)-$$t; stage=$(DIST)/.stage/$$name; mkdir -p $$stage; \
	  cp -P build/$$t/secucard.h build/$$t/secucard.pc build/$$t/secucardConfig*.cmake $$stage/; \
	  case $$t in \
	  windows-*) cp build/$$t/secucard.dll build/$$t/libsecucard.dll.a build/$$t/secucard.def $$stage/; \
	             (cd $(DIST)/.stage && zip -qrX ../$$name.zip $$name) ;; \
	  *)         cp -P build/$$t/libsecucard.so* $$stage/; \
	             tar -C $(DIST)/.stage --owner=0 --group=0 --numeric-owner -czf $(DIST)/$$name.tar.gz $$name ;; \
	  esac; \
	done; rm -rf $(DIST)/.stage
	cd $(DIST) && sha256sum secucard-$(VERSION)-* > SHA256SUMS && cat SHA256SUMS

nuget: csharp cross ## Pack build/nuget/Secucard.Connect.<version>.nupkg (managed DLL + every native library)
	$(MAKE) -C bindings/csharp nuget VERSION=$(VERSION) NATIVE_ROOT=$(CURDIR)/build OUT_NUGET=$(CURDIR)/$(NUGET)

clean: ## Remove build outputs
	rm -rf build
	-$(MAKE) -C examples/c clean
	-$(MAKE) -C capi/ctest clean
	-$(MAKE) -C bindings/python clean
	-$(MAKE) -C bindings/csharp clean
