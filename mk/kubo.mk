# The Kubo (IPFS) daemon that the IPFS content-store tests run against, built from source with Go
# from the Go module proxy: github.com/ipfs/kubo/cmd/ipfs at the version pinned (with every
# dependency's checksum) in tools/kubo/go.mod and go.sum. `go install ...@version` cannot be used:
# it asks the proxy for Kubo's version list, which the proxy refuses here.
#
# Module downloads live under .cache/go (530 MB); the binary (60 MB) under .cache/kubo/<hash of
# go.mod and go.sum>/, so a fresh clone reuses it and a version change builds a new one. A cold
# build took 3 min wall (166 s CPU, 0.9 GB peak memory) on a busy 2-core machine; warm, nothing
# runs. Go's build cache (800 MB) is dropped after the build: only a version change would use it.
# IPFS_TELEMETRY=off: Kubo >= 0.37 otherwise reports usage to its developers from a daemon that
# runs long enough; our test daemons are offline anyway.

# Go 1.25 or newer; /usr/local/go/bin is where the machine image keeps it, if PATH lacks it.
GO ?= $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go),go)
KUBO_KEY := $(shell cat tools/kubo/go.mod tools/kubo/go.sum | sha256sum | cut -c1-16)
KUBO := $(CACHE)/kubo/$(KUBO_KEY)/ipfs
export ZKMARKET_KUBO := $(KUBO)
export IPFS_TELEMETRY := off
KUBO_GOENV := GOPATH=$(CACHE)/go GOMODCACHE=$(CACHE)/go/pkg/mod GOCACHE=$(CACHE)/go/build \
	GOTOOLCHAIN=local GOFLAGS='-mod=readonly -modcacherw -buildvcs=false' CGO_ENABLED=0

$(KUBO):
	@command -v $(GO) >/dev/null || { echo "error: Go not found (needed to build Kubo for the IPFS store tests)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	cd tools/kubo && $(KUBO_GOENV) $(GO) build -trimpath -ldflags='-s -w' -o $@.tmp github.com/ipfs/kubo/cmd/ipfs
	@mv $@.tmp $@
	$(KUBO_GOENV) $(GO) clean -cache
	@$@ version

.PHONY: kubo
kubo: $(KUBO)

# The Python tests include the IPFS store tests against a real daemon: build it first.
test-python: $(KUBO)
