# edged — see README.md. Every target works on a fresh Debian machine with Go.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin
PKGS      := ./...
# The real TFLite C library (linux-amd64/, linux-arm64/) for the
# edged_dynamic tests; CI has ../shared beside the clone.
TFLITE_C  ?= ../shared/vendor/tflite-c
# Cross-architecture test runs under qemu-user-static.
CROSS_PKGS ?= ./...
FUZZTIME  ?= 3s
# nfpm builds the .debs; pinned, installed from the Go module proxy into
# .cache (v2.47+ need modules the proxy refuses to serve).
NFPM_VERSION := v2.44.0
NFPM      := .cache/nfpm-$(NFPM_VERSION)/nfpm

export CGO_ENABLED=0

.PHONY: gen-check ops run all build cross test test-deps unit fuzz-short fuzz diff-long cross-test dynamic-cross-test check fmt vet staticcheck gen clean bench release release-test nfpm zoo

all: build

# The demo: edged serving person_detect, fed by a synthetic source that
# replays the model's test images; no broker needed.
run:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/edged ./cmd/edgectl
	@state=$${XDG_RUNTIME_DIR:-$${TMPDIR:-/tmp}}/edged-demo-$$(id -u); \
	echo "edged demo: status page http://127.0.0.1:9410/, state in $$state  (Ctrl-C stops)"; \
	exec $(BIN)/edged --config examples/demo.yaml --state-dir "$$state"

# The static default flavour for this machine, and the dynamic-delegate
# flavour of edged (-tags edged_dynamic: TFLite C API, Edge TPU and GPU
# delegates loaded at run time through purego; linked against glibc only)
# for linux amd64, arm64 and armv7 (armhf loader path given explicitly).
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -tags edged_dynamic -ldflags '$(LDFLAGS)' -o $(BIN)/dynamic/linux-amd64/edged ./cmd/edged
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags edged_dynamic -ldflags '$(LDFLAGS)' -o $(BIN)/dynamic/linux-arm64/edged ./cmd/edged
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -tags edged_dynamic -ldflags '$(LDFLAGS) -I /lib/ld-linux-armhf.so.3' -o $(BIN)/dynamic/linux-armv7/edged ./cmd/edged

# Static binaries for the boards edged runs on.
cross:
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/ ./cmd/...
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/ ./cmd/...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv7/ ./cmd/...
	GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv6/ ./cmd/...

# The whole test suite: set-up, static checks, unit and golden tests,
# oracle differential tests, short fuzz runs, arm64 and armv7 under qemu.
test: test-deps check unit fuzz-short cross-test dynamic-cross-test release-test

# Installs what the tests need (qemu-user-static via apt when root; the
# TFLite oracle's npm packages into .cache/oracle).
test-deps:
	./scripts/test-deps.sh

unit:
	sh scripts/edged.service_test.sh
	EDGED_REQUIRE_TOOLS=1 EDGED_ORACLE=$$(dirname "$$(./scripts/oracle-setup.sh)") $(GO) test -count=1 $(PKGS)
	# The gRPC flavour (edged_grpc: 4.7 MB more than the arm64 budget allows by default).
	$(GO) vet -tags edged_grpc ./agent/... ./cmd/edged
	$(GO) test -count=1 -tags edged_grpc -run 'TestGRPC' ./agent
	# The dynamic-delegate flavour: against the real TFLite C library, and
	# the Edge TPU and GPU paths against a fake C library (gcc).
	EDGED_REQUIRE_TOOLS=1 EDGED_TFLITE_C=$(abspath $(TFLITE_C)) $(GO) test -count=1 -tags edged_dynamic ./delegates/...

# Each fuzz target for FUZZTIME (3s in CI; 28 targets, plus a test build each);
# `make fuzz FUZZTIME=30m` for a long run.
fuzz-short:
	./scripts/fuzz.sh $(FUZZTIME)

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# Thousands of random single-op cases against the oracle.
diff-long:
	EDGED_ORACLE=$$(dirname "$$(./scripts/oracle-setup.sh)") EDGED_DIFF_CASES=$${CASES:-1000} \
		$(GO) test -count=1 -timeout 2h -run TestDifferential ./runtime/tflite/

# Checks edged against the official runtime on a directory of real models
# (not part of `make test`): `make zoo ZOO=/path/to/models`, with
# ZOO_REPORT=report.md (markdown; default stdout), ZOO_JSON=results.json,
# ZOO_BENCH=1 (time edged against the oracle, 1 thread, interleaved),
# ZOO_ONLY=regexp (model file names), ZOO_CUT=0 (skip the intermediate
# comparison that finds the first differing operator). See internal/zoo.
zoo:
	@test -n "$(ZOO)" || { echo "make zoo: set ZOO=/path/to/a/directory/of/tflite/models"; exit 2; }
	$(GO) build -trimpath -o $(BIN)/ ./cmd/edgectl
	EDGED_ORACLE=$${EDGED_ORACLE:-$$(dirname "$$(./scripts/oracle-setup.sh)")} ZOO=$(ZOO) \
		$(GO) run ./internal/zoo -edgectl $(BIN)/edgectl

cross-test:
	./scripts/cross-test.sh $(CROSS_PKGS)

# The dynamic flavour against the real TFLite C library on arm64 under
# qemu-aarch64-static (the test binary and the library both emulated; the
# loader and glibc from libc6-arm64-cross): the golden cases of the small
# models, the error text, the library checks in a child process.
ARM64_SYSROOT ?= /usr/aarch64-linux-gnu
dynamic-cross-test:
	@test -e $(ARM64_SYSROOT)/lib/ld-linux-aarch64.so.1 || { echo "dynamic-cross-test: no arm64 glibc in $(ARM64_SYSROOT) (apt-get install libc6-arm64-cross)" >&2; exit 1; }
	QEMU_LD_PREFIX=$(ARM64_SYSROOT) EDGED_TEST_EMULATOR=qemu-aarch64-static EDGED_REQUIRE_TOOLS=1 EDGED_TFLITE_C=$(abspath $(TFLITE_C)) \
		GOARCH=arm64 $(GO) test -count=1 -short -tags edged_dynamic -exec qemu-aarch64-static -run 'TestReal' ./delegates/litert/

# `make release VERSION=X.Y.Z` fills dist/: static edged and edgectl for
# linux amd64, arm64, armv7 and armv6, .debs for amd64, arm64 and armhf
# (the armv6 binary: see scripts/release.sh), SHA256SUMS and its ota/sign
# signature, by RELEASE_KEY=path/to/signing.key or else a throwaway key.
# TODO(dynamic delegates): the edged_dynamic flavour for amd64, arm64 and
# armv7 is not built yet; it belongs in scripts/release.sh at its TODO,
# before SHA256SUMS, so that the sums and the signature cover it.
release: $(NFPM)
	@case "$(VERSION)" in [0-9]*.[0-9]*.[0-9]*) ;; \
	*) echo "make release: want VERSION=X.Y.Z; got $(VERSION)" >&2; exit 2 ;; esac
	NFPM=$(NFPM) GO=$(GO) ./scripts/release.sh $(VERSION)

# Builds an amd64+arm64 release in a temp dir, checks the .debs, and (as
# root with dpkg) installs, removes and purges the amd64 one on this machine.
release-test: $(NFPM)
	NFPM=$(NFPM) GO=$(GO) sh scripts/release_test.sh

nfpm: $(NFPM)
$(NFPM):
	GOBIN=$(CURDIR)/$(dir $(NFPM)) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

check: fmt gen-check vet staticcheck
	@./scripts/check-static.sh

# staticcheck, pinned, installed from the Go module proxy into .cache.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := .cache/bin/staticcheck-$(STATICCHECK_VERSION)
$(STATICCHECK):
	mkdir -p .cache/bin
	GOBIN=$(CURDIR)/.cache/tmpbin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv .cache/tmpbin/staticcheck $@

staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(PKGS)
	$(STATICCHECK) -tags edged_dynamic ./delegates/... ./cmd/...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $${COUNT:-5} ./runtime/tflite/ | tee bench.txt

gen:
	./scripts/gen-schema.sh

# docs/OPS.md, the operator coverage table, is generated from the runtime's
# operator registry (TestOpsTable checks it in make test).
ops:
	$(GO) test ./runtime/tflite -run '^TestOpsTable$$' -count=1 -update-ops

# Generated code must be what `make gen` makes from the committed schema.
gen-check: gen
	@git diff --exit-code --stat -- runtime/tflite/internal/schema runtime/tflite/verify_gen.go || \
		{ echo "generated code is stale: run make gen and commit the result"; exit 1; }
	@out=$$(git status --porcelain -- runtime/tflite/internal/schema); \
	if [ -n "$$out" ]; then echo "make gen made files git does not track:"; echo "$$out"; exit 1; fi

clean:
	rm -rf $(BIN) .cache

# Bounded load test (loopback only, a few minutes): sustainable rates of
# /v2/models/{name}/infer for person_detect and an MLP (binary and JSON),
# p50/p99 at 50% and 90%, overload at 2x, the MQTT source at stepped rates.
# `make load SOAK=30m` adds the soak: the real edged in its own process at
# 50% for 30 minutes, its RSS sampled every 10s and its live heap every
# minute; SOAK_PROFILES=DIR keeps heap profiles from after the warm-up and
# the end (`go tool pprof -diff_base DIR/heap-start.pb.gz DIR/heap-end.pb.gz`).
.PHONY: load
load:
	$(GO) test -count=1 -timeout 2h -v -run 'TestLoad$$' ./internal/loadtest/ -args -load
	@if [ -n "$(SOAK)" ]; then $(GO) test -count=1 -timeout 0 -v -run 'TestSoak$$' ./internal/loadtest/ -args -soak $(SOAK) $(if $(SOAK_PROFILES),-soak.profiles $(SOAK_PROFILES)); fi

# The broker matrix (internal/brokertest): mosquitto, a 3-node NATS
# cluster with JetStream and MQTT, and RabbitMQ with its MQTT plugin, each
# through birth/will, telemetry, commands, the outbox across a restart, a
# resumed transfer and a 3-device rollout with real agents; NATS also
# loses a node mid-transfer, mid-rollout and mid-delivery. make test runs
# mosquitto and NATS (RabbitMQ takes a minute per start).
.PHONY: test-brokers
test-brokers:
	EDGED_REQUIRE_TOOLS=1 EDGED_BROKERS=mosquitto,nats,rabbitmq $(GO) test -count=1 -timeout 30m -v -run 'TestMatrix|TestNATSNodeLoss' ./internal/brokertest/

# Fleet load runs (agent/fleetsim, figures in the log; see docs/SCALING.md):
# FLEET_N simulated devices through one mosquitto (or FLEET_BROKER=nats,
# three nodes, or rabbitmq) take a 4-wave rollout of a 3.6 MB model; FLEET_FAIL=0.1
# makes 10% fail; FLEET_TELEMETRY=60s measures telemetry instead.
FLEET_N ?= 1000
FLEET_BROKER ?= mosquitto
FLEET_FAIL ?= 0
# edged's log records in a real systemd-journald (started here; root, no
# systemd as PID 1 needed): warnings at -p warning with their fields, the
# fatal configuration error at -p err.
.PHONY: journal-check
journal-check:
	scripts/journal-check.sh

.PHONY: fleet-load
fleet-load:
	EDGED_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 2h -v -run 'TestLoad$$' ./agent/fleetsim/ -args -fleetsim.load \
		-fleetsim.n $(FLEET_N) -fleetsim.broker $(FLEET_BROKER) -fleetsim.fail $(FLEET_FAIL) $(if $(FLEET_TELEMETRY),-fleetsim.telemetry $(FLEET_TELEMETRY))

# Power-loss harness: SIGKILL edged at random points, check the
# state it leaves; CRASH_SEED=N replays a run.
.PHONY: crash
crash:
	EDGED_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 2h -v -run 'TestCrash$$' ./internal/crashtest/ -args -crash.iterations $${CRASH_ITERATIONS:-300} -crash.seed $${CRASH_SEED:-0}
