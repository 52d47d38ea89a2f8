# lktoken — common tasks. `make help` lists them.
SHELL := /bin/bash
BUF := web-client/node_modules/.bin/buf
PROTOVALIDATE_VERSION := v1.2.2

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

web-client/node_modules: web-client/package-lock.json
	cd web-client && npm ci --no-audit --no-fund
	@touch $@

.buf-deps/buf/validate/validate.proto:
	@mkdir -p .buf-deps/buf/validate
	@dir=$$(go mod download -json github.com/bufbuild/protovalidate@$(PROTOVALIDATE_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir" || { echo "could not download github.com/bufbuild/protovalidate@$(PROTOVALIDATE_VERSION)"; exit 1; }; \
	  install -m 0644 "$$dir/proto/protovalidate/buf/validate/validate.proto" $@

.PHONY: proto-deps
proto-deps: web-client/node_modules .buf-deps/buf/validate/validate.proto ## fetch buf and protovalidate's schema

.PHONY: generate
generate: proto-deps ## regenerate gen/ from proto/
	$(BUF) generate

.PHONY: lint
lint: proto-deps ## buf lint, buf format, go vet, gofmt
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || { echo "gofmt needed: $$out"; exit 1; }

.PHONY: check-generated
check-generated: generate ## fail if gen/ differs from what proto/ generates
	@out=$$(git status --porcelain --untracked-files=all -- gen); \
	  test -z "$$out" || { echo "$$out"; echo "gen/ differs from what proto/ generates: run 'make generate' and commit gen/"; exit 1; }

.PHONY: build
build: ## build bin/lktoken
	go build -trimpath -buildvcs=auto -o bin/lktoken ./cmd/lktoken

.PHONY: run
run: ## run the service in dev mode
	go run ./cmd/lktoken --dev

# System packages the browser and load tests need. Installed only when missing,
# and only as root (CI); otherwise the missing ones are named.
APT_PACKAGES := chromium wrk nghttp2-client iproute2 util-linux

# apt_install installs the Debian packages $(1) that are missing when run as
# root, and otherwise names them and fails.
apt_install = missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages: $$missing (sudo apt-get install $$missing)"; exit 1; fi; \
	fi

.PHONY: system-deps
system-deps:
	@$(call apt_install,$(APT_PACKAGES))

.PHONY: deps
deps: system-deps web-client/node_modules proto-deps ## install what the tests need (apt, npm, go)
	go mod download
	cd e2e/livekit && ./build.sh >/dev/null

.PHONY: test-go
test-go: ## unit and integration tests of the Go service
	go test -race -count=1 ./...
	@# Tracing lives in builds tagged otel (service/httpserver/tracing.go): its test too.
	go vet -tags otel ./...
	go test -race -count=1 -tags otel -run Tracing ./cmd/lktoken/
	@# The micro-benchmarks, briefly: they compile and their requests succeed.
	go test -run '^$$' -bench . -benchtime=100x ./service/...

# Each fuzz target runs for FUZZTIME; with CI=true `make test` runs them all.
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzConnectJSON FuzzConnectProto FuzzGRPCWebFraming FuzzTokenEndpointJSON
.PHONY: fuzz
fuzz: ## fuzz request decoding + validation (Connect, gRPC-Web, /api/token), $(FUZZTIME) per target
	@FUZZTIME=$(FUZZTIME) .ci/fuzz.sh $(FUZZ_TARGETS)

# The suite builds livekit-server itself when missing, but building it here
# first shows progress and keeps the 3-6 minute cold build outside go test's
# timeout. Locally a failed build is left to the suite, which then skips
# loudly; under CI=true it fails here.
.PHONY: test-e2e
test-e2e: ## real LiveKit server end-to-end suite (e2e/)
	cd e2e/livekit && { ./build.sh >/dev/null || { [ "$$CI" != true ] && \
	  echo "!!! livekit-server could not be built: the e2e suite will SKIP (proving nothing)" >&2; }; }
	cd e2e && go vet ./...
	cd e2e && go test -count=1 -timeout 15m ./...

# livekit-client's TokenSource.endpoint (Node) against the real lktoken binary
# and a real livekit-server; its own npm project, pinned by its lockfile.
e2e/tokensource/node_modules: e2e/tokensource/package-lock.json
	cd e2e/tokensource && npm ci --no-audit --no-fund
	@touch $@

.PHONY: test-tokensource
test-tokensource: build e2e/tokensource/node_modules ## LiveKit's TokenSource.endpoint against lktoken and a real LiveKit server
	@lk=$$(e2e/livekit/build.sh) && cd e2e/tokensource && \
	  LKTOKEN_BIN=$(CURDIR)/bin/lktoken LIVEKIT_SERVER_BIN=$$lk npm test
test-e2e: test-tokensource

# The browser suite runs Chromium, lktoken and livekit-server inside a network
# namespace of their own (test-browser/run.sh): root or user namespaces needed.
.PHONY: test-web
test-web: system-deps web-client/node_modules build ## web-client unit tests, build (package + example app), real-browser suite
	cd web-client && npm run typecheck
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm test
	cd web-client && npm run build
	cd web-client && npm run test:pack
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm run test:browser

.PHONY: test
test: deps check-generated lint test-go test-e2e test-web $(if $(filter true,$(CI)),fuzz) ## everything: what CI runs (fuzzing when CI=true)

# The load benchmark's tools (docs/BENCHMARKS.md). Installed only when missing,
# and only as root; otherwise the missing ones are named.
BENCH_APT_PACKAGES := wrk nghttp2-client util-linux curl
.PHONY: bench-deps
bench-deps: ## install wrk and h2load when missing (as root)
	@$(call apt_install,$(BENCH_APT_PACKAGES))

.PHONY: bench
bench: bench-deps ## load benchmark: the real binary vs the connect-go floor and a net/http ceiling (~4 min)
	bench/run.sh

.PHONY: bench-micro
bench-micro: ## micro-benchmarks of the hot path (ns/op, allocs/op)
	go test -run '^$$' -bench . -benchmem -count=5 ./service/...
