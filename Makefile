# lktoken — common tasks. `make help` lists them.
SHELL := /bin/bash
BUF := web-client/node_modules/.bin/buf
PROTOVALIDATE_VERSION := v1.2.2

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

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
	go build -trimpath -o bin/lktoken ./cmd/lktoken

.PHONY: run
run: ## run the service in dev mode
	go run ./cmd/lktoken --dev

# System packages the browser and load tests need. Installed only when missing,
# and only as root (CI); otherwise the missing ones are named.
APT_PACKAGES := chromium wrk nghttp2-client iproute2 util-linux
.PHONY: system-deps
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages: $$missing (sudo apt-get install $$missing)"; exit 1; fi; \
	fi

.PHONY: deps
deps: system-deps web-client/node_modules proto-deps ## install what the tests need (apt, npm, go)
	go mod download
	cd e2e/livekit && ./build.sh >/dev/null

.PHONY: test-go
test-go: ## unit and integration tests of the Go service
	go test -race -count=1 ./...
	@# The micro-benchmarks, briefly: they compile and their requests succeed.
	go test -run '^$$' -bench . -benchtime=100x ./service/

.PHONY: test-e2e
test-e2e: ## real LiveKit server end-to-end suite
	@echo "e2e: not yet"

.PHONY: test-web
test-web: ## web-client unit tests and the real-browser suite
	@echo "web: not yet"

.PHONY: test
test: deps check-generated lint test-go test-e2e test-web ## everything: what CI runs

# The load benchmark's tools (docs/BENCHMARKS.md). Installed only when missing,
# and only as root; otherwise the missing ones are named.
BENCH_APT_PACKAGES := wrk nghttp2-client util-linux curl
.PHONY: bench-deps
bench-deps: ## install wrk and h2load when missing (as root)
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages: $$missing (sudo apt-get install $$missing)"; exit 1; fi; \
	fi

.PHONY: bench
bench: bench-deps ## load benchmark: the real binary vs a bare net/http ceiling (~3 min)
	bench/run.sh

.PHONY: bench-micro
bench-micro: ## micro-benchmarks of the hot path (ns/op, allocs/op)
	go test -run '^$$' -bench . -benchmem -count=5 ./service/
