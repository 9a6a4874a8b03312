# Pinned Ethereum toolchain: anvil + forge (Foundry 1.7.1), solc 0.8.28 (solcjs behind tools/solc),
# OpenZeppelin Contracts. Versions live in package.json / package-lock.json; everything installs
# into node_modules/ with the npm cache under .cache/npm (nothing in $HOME, nothing fetched later).
#
# Why `npm install` and not `npm ci`: the Foundry packages list optional per-platform binaries
# (@foundry-rs/anvil-darwin-amd64, ...) of which only some exist in the registry, so npm leaves the
# missing ones out of the lock file and `npm ci` then refuses it as "not in sync". `npm install`
# with the committed lock installs exactly the locked versions (integrity-checked); the recipe
# fails if the lock file would change. --ignore-scripts: the packages' postinstall is only a
# fallback that downloads the binary when the optional platform package is missing; the binary
# must come from the registry package instead (never pass --omit=optional).

NPM ?= npm
NODE ?= node
TOOLCHAIN_NPM_FLAGS := --ignore-scripts --no-audit --no-fund --no-update-notifier \
	--omit-lockfile-registry-resolved

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
	@cp package-lock.json .cache/package-lock.json.before
	rm -rf node_modules
	npm_config_cache=$(CURDIR)/.cache/npm $(NPM) install $(TOOLCHAIN_NPM_FLAGS)
	@if ! cmp -s package-lock.json .cache/package-lock.json.before; then \
		cp .cache/package-lock.json.before package-lock.json; \
		echo "error: npm wanted to change package-lock.json (package.json and the lock disagree);" \
		     "run 'npm install' by hand and commit the new lock" >&2; \
		exit 1; \
	fi
	@rm -f .cache/package-lock.json.before
	@test -x $(ANVIL) || { echo "error: $(ANVIL) missing (optional platform package not installed)" >&2; exit 1; }
	@test -x $(FORGE_BIN) || { echo "error: $(FORGE_BIN) missing (optional platform package not installed)" >&2; exit 1; }
	touch $@

.PHONY: tools-check
tools-check: node_modules/.installed
	@$(ANVIL) --version | head -n 1
	@$(FORGE) --version | head -n 1
	@$(SOLC) --version | tail -n 1 | sed 's/^/solc /'
	@$(NODE) -p '"openzeppelin-contracts " + require("./node_modules/@openzeppelin/contracts/package.json").version'
