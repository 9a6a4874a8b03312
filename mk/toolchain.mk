# Pinned Ethereum toolchain: anvil + forge (Foundry 1.7.1), solc 0.8.28 (solcjs behind tools/solc),
# OpenZeppelin Contracts, and snarkjs (the tests make a .ptau powers-of-tau file with it). Versions
# live in package.json / package-lock.json; everything installs into node_modules/ with the npm cache under .cache/npm (nothing in $HOME, nothing fetched later).
#
# tools/npm_locked_install.py runs `npm install` with the committed lock and refuses any package
# installed here whose version or integrity the lock does not pin (and a package.json the lock does
# not match); it restores the committed lock, so what the registry lists for other platforms on a
# given day (the Foundry packages' optional per-platform binaries) never breaks set-up. Why not
# `npm ci`: it refuses a lock that lacks some other platform's optional entry. --ignore-scripts:
# the packages' postinstall is only a fallback that downloads the binary when the optional platform
# package is missing; the binary must come from the registry package instead (never pass
# --omit=optional).

NPM ?= npm
NODE ?= node
FOUNDRY_OS := $(shell uname -s | tr A-Z a-z)
FOUNDRY_ARCH := $(subst x86_64,amd64,$(subst aarch64,arm64,$(shell uname -m)))
FOUNDRY_PLATFORM := $(FOUNDRY_OS)-$(FOUNDRY_ARCH)

ANVIL := $(CURDIR)/node_modules/@foundry-rs/anvil-$(FOUNDRY_PLATFORM)/bin/anvil
FORGE_BIN := $(CURDIR)/node_modules/@foundry-rs/forge-$(FOUNDRY_PLATFORM)/bin/forge
# forge keeps a signature cache in ~/.foundry: point HOME into .cache for it.
FORGE := HOME=$(CURDIR)/.cache/foundry-home $(FORGE_BIN)
SOLC := $(CURDIR)/tools/solc

node_modules/.installed: package.json package-lock.json
	@mkdir -p .cache/npm .cache/foundry-home
	$(PYTHON) tools/npm_locked_install.py --npm $(NPM) --cache $(CURDIR)/.cache/npm .
	@test -x $(ANVIL) || { echo "error: $(ANVIL) missing (optional platform package not installed)" >&2; exit 1; }
	@test -x $(FORGE_BIN) || { echo "error: $(FORGE_BIN) missing (optional platform package not installed)" >&2; exit 1; }
	touch $@

.PHONY: tools-check
tools-check: node_modules/.installed
	@$(ANVIL) --version | head -n 1
	@$(FORGE) --version | head -n 1
	@$(SOLC) --version | tail -n 1 | sed 's/^/solc /'
	@$(NODE) -p '"openzeppelin-contracts " + require("./node_modules/@openzeppelin/contracts/package.json").version'
