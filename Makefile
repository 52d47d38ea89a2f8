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
	@# The web client's core (gen/ts): descriptors without the protovalidate options.
	$(BUF) generate --template buf.gen.web-core.yaml

.PHONY: lint
lint: proto-deps ## buf lint, buf format, go vet, staticcheck, gofmt
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	go vet ./...
	go tool staticcheck ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || { echo "gofmt needed: $$out"; exit 1; }

.PHONY: check-generated
check-generated: generate ## fail if gen/ differs from what proto/ generates
	@out=$$(git status --porcelain --untracked-files=all -- gen); \
	  test -z "$$out" || { echo "$$out"; echo "gen/ differs from what proto/ generates: run 'make generate' and commit gen/"; exit 1; }

# buf breaking against the last release (a v* tag), else main's merge base,
# else (on main) the first parent of the last proto/ change on main's first-parent line; a reviewed break passes
# with a "Buf-Breaking: <why>" trailer. The rules are in .ci/buf-breaking.sh.
.PHONY: breaking
breaking: proto-deps ## fail on an incompatible change to proto/ (buf breaking)
	@BUF=$(BUF) .ci/buf-breaking.sh
test: breaking

.PHONY: build
build: ## build bin/lktoken
	go build -trimpath -buildvcs=auto -o bin/lktoken ./cmd/lktoken

.PHONY: run
run: ## run the service in dev mode
	go run ./cmd/lktoken --dev

# System packages the tests need: Chromium and network namespaces (ip, unshare)
# for the browser suite, a C compiler and libc headers for `go test -race`
# (cgo). The benchmark's wrk and h2load are bench-deps, not test deps.
# Installed only when missing, and only as root (CI); otherwise named.
APT_PACKAGES := chromium iproute2 util-linux gcc libc6-dev

# apt_install installs the Debian packages $(1) that are missing when run as
# root, and otherwise names them and fails.
apt_install = missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt: installing" $$missing "(a few minutes on a fresh machine)"; echo "apt: apt-get update"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 $$missing \
	      | sed -un -E 's/^(Get:[0-9]+ [^ ]+ [^ ]+ [^ ]+ ([^ ]+) .*)$$/apt: downloading \2/p; s/^Setting up ([^ ]+) .*/apt: set up \1/p'; \
	    test "$${PIPESTATUS[0]}" = 0; \
	  else echo "missing Debian packages: $$missing (sudo apt-get install $$missing)"; exit 1; fi; \
	fi

# Ory Hydra (e2e/hydra) builds with cgo for its sqlite driver.
HYDRA_APT_PACKAGES := gcc libc6-dev

.PHONY: system-deps
system-deps:
	@$(call apt_install,$(APT_PACKAGES))
	@$(call apt_install,$(HYDRA_APT_PACKAGES))

.PHONY: deps
deps: system-deps web-client/node_modules proto-deps ## install what the tests need (apt, npm, go)
	go mod download
	cd e2e/livekit && ./build.sh >/dev/null
	cd e2e/hydra && ./build.sh >/dev/null

.PHONY: test-go
test-go: ## unit and integration tests of the Go service
	go test -race -count=1 ./...
	@# Tracing lives in builds tagged otel (service/app/tracing.go): its test too.
	go vet -tags otel ./...
	go test -race -count=1 -tags otel -run Tracing ./cmd/lktoken/
	@# Allocation budgets hold only without the race detector (it drops sync.Pool items).
	go test -count=1 -run 'TestProductionWiringTakesEveryFastPath' ./service/app/
	@# The micro-benchmarks, briefly: they compile and their requests succeed.
	go test -run '^$$' -bench . -benchtime=100x ./service/...

# The container image (deploy/container/): FROM scratch, assembled from a
# static binary compiled here, built with Debian's podman (no registry needed).
IMAGE_APT_PACKAGES := podman runc ca-certificates
APT_PACKAGES += $(IMAGE_APT_PACKAGES)
IMAGE ?= localhost/lktoken:$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
.PHONY: image
image: ## container image localhost/lktoken:<version> with podman (deploy/container/, FROM scratch)
	@$(call apt_install,$(IMAGE_APT_PACKAGES))
	@IMAGE=$(IMAGE) deploy/container/build.sh >/dev/null
# The e2e suite's scale-out test (e2e/scaleout) runs replicas behind haproxy.
APT_PACKAGES += haproxy
# The rate limit suite (e2e/ratelimit) starts its own redis-server on a free
# loopback port; a system service the package may start is left alone.
APT_PACKAGES += redis-server
# The e2e suite's container test (e2e/container) checks the image just built.
test-e2e: image
test-e2e: export LKTOKEN_IMAGE = $(IMAGE)

# The deployment checks: deploy/kubernetes rendered by kustomize (krusty,
# v5.8.1) and decoded strictly, in a module of its own (k8s.io/*, kustomize).
.PHONY: test-deploy
test-deploy: ## Kubernetes manifests: kustomize build, strict decoding, settings vs lktoken --help, security
	cd deploy/kubernetes/check && go vet ./... && go test -count=1 ./...
test: test-deploy

# The real-cluster suite (e2e/kubernetes): etcd, a Kubernetes control plane, a
# kubelet on Debian's containerd + runc (bridge CNI) and kube-proxy (nftables)
# started on this machine, in namespaces of the suite's own; deploy/kubernetes
# applied to it, rolled, scaled, rotated and broken under load. build.sh builds
# etcd and Kubernetes' six binaries from the Go module proxy into
# ~/.cache/lktoken/ (cold: about 1,700 CPU-seconds, 15-30 minutes; warm: a
# look at the cache). Locally a failed build skips the suite loudly; under
# CI=true it fails the run. Needs root (CI runs as root).
K8S_APT_PACKAGES := containerd runc containernetworking-plugins nftables iproute2 util-linux
APT_PACKAGES += $(K8S_APT_PACKAGES)
.PHONY: test-k8s
test-k8s: system-deps image ## real Kubernetes cluster (e2e/kubernetes): deploy/kubernetes rolled, scaled, rotated under load
	@if dir=$$(e2e/kubernetes/build.sh); then \
	  cd e2e/kubernetes && go vet ./... && \
	  KUBERNETES_BIN_DIR=$$dir LKTOKEN_IMAGE=$(IMAGE) go test -count=1 -timeout 20m -v ./...; \
	elif [ "$$CI" = true ]; then echo "FAIL: etcd/Kubernetes could not be built (CI=true: the real-cluster suite must run)" >&2; exit 1; \
	else echo "!!! etcd/Kubernetes could not be built: the real-cluster suite SKIPPED (proving nothing)" >&2; fi
test: test-k8s

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
	cd e2e/hydra && { ./build.sh >/dev/null || { [ "$$CI" != true ] && \
	  echo "!!! Ory Hydra could not be built: the OpenID Connect e2e suite will SKIP (proving nothing)" >&2; }; }
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

# What the example needs, and no more (`make deps` is the test suite's: apt
# packages, Hydra): the npm packages, and livekit-server so that Join connects.
.PHONY: example-deps
example-deps: web-client/node_modules ## npm packages and livekit-server for `make example` (3-6 min once)
	cd e2e/livekit && ./build.sh >/dev/null

# The Angular example app (ng serve) against lktoken --dev and, when built,
# livekit-server --dev: open http://localhost:4200 (web-client/README.md).
.PHONY: example
example: web-client/node_modules build ## serve the Angular example against lktoken --dev (and livekit-server --dev)
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm run example

# The npm package as a tarball, ready to install or publish (web-client/README.md).
.PHONY: web-client-pack
web-client-pack: web-client/node_modules ## build dist/lktoken-web-client-<version>.tgz (npm install ./that.tgz)
	@web-client/scripts/pack.sh $(CURDIR)/dist

# The browser suite runs Chromium, lktoken and livekit-server inside a network
# namespace of their own (test-browser/run.sh): root or user namespaces needed.
.PHONY: test-web
test-web: system-deps web-client/node_modules build ## web-client unit tests, build (package + example app), real-browser suite
	cd web-client && npm run typecheck
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm test
	cd web-client && npm run build
	cd web-client && npm run test:pack
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm run test:browser
	@# npm run example, checked: ng serve + lktoken --dev, a token in Chromium.
	cd web-client && EXAMPLE_CHECK=1 LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm run example
	@# A fresh `ng new` Angular 21 app: tarball, file: (NG0203 shown), file: --install-links.
	cd web-client && LKTOKEN_BIN=$(CURDIR)/bin/lktoken npm run test:install

.PHONY: test
test: deps check-generated lint test-go test-e2e test-web $(if $(filter true,$(CI)),fuzz) ## everything: what CI runs (fuzzing when CI=true)

# The load benchmark's tools (docs/BENCHMARKS.md). Installed only when missing,
# and only as root; otherwise the missing ones are named.
BENCH_APT_PACKAGES := wrk nghttp2-client util-linux curl redis-server
.PHONY: bench-deps
bench-deps: ## install wrk and h2load when missing (as root)
	@$(call apt_install,$(BENCH_APT_PACKAGES))

.PHONY: bench
bench: bench-deps ## load benchmark: the real binary vs the connect-go floor and a net/http ceiling (~4 min)
	bench/run.sh
	bench/oidc.sh
	bench/ratelimit.sh

.PHONY: bench-micro
bench-micro: ## micro-benchmarks of the hot path (ns/op, allocs/op)
	go test -run '^$$' -bench . -benchmem -count=5 ./service/...
