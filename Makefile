# zkmarket: `make demo` runs the system end to end, `make test` runs every test.
# Both set everything up first (idempotent, cached under .cache/, nothing in $HOME).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
# The cache's real path (CI links .cache to a directory outside the clone): cargo fingerprints
# absolute paths, so a stable path lets later runs from another clone reuse the build.
CACHE := $(shell mkdir -p .cache && cd .cache && pwd -P)
export CARGO_HOME := $(CACHE)/cargo
export CARGO_TARGET_DIR := $(CACHE)/cargo-target
export PIP_CACHE_DIR := $(CACHE)/pip
export ZKMARKET_CACHE_DIR := $(CACHE)/zkmarket
export MPLCONFIGDIR := $(CACHE)/matplotlib
export PYTHONDONTWRITEBYTECODE := 1

include mk/toolchain.mk
include mk/kubo.mk

PROVER_SOURCES := $(shell find prover/src -name '*.rs') prover/Cargo.toml prover/Cargo.lock

.PHONY: setup demo test test-rust test-forge test-slither test-python bench bench-mobilenet clean
setup: $(VENV)/.installed $(VENV)/.prover-built node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip==24.3.1
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# The Rust prover as a Python extension (PyO3 + maturin), rebuilt when its sources change.
$(VENV)/.prover-built: $(VENV)/.installed $(PROVER_SOURCES) prover/pyproject.toml
	$(VENV)/bin/maturin develop --release --quiet -m prover/Cargo.toml
	touch $@

demo: setup
	$(PY) -m zkmarket.demo

test: setup test-rust test-forge test-slither test-python

test-rust:
	cd prover && cargo test --release --quiet

# Foundry tests live in contracts/test.
test-forge: node_modules/.installed
	@if find contracts/test -name '*.t.sol' 2>/dev/null | grep -q .; then $(FORGE) test; else echo "no Foundry tests yet"; fi

# Static analysis in its own virtual environment (slither needs web3 < 8). Medium and high
# findings fail the build; the few accepted ones are explained next to the code
# (`slither-disable-next-line` with the reason above it).
SLITHER_VENV := .venv-slither
$(SLITHER_VENV)/.installed:
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet slither-analyzer==0.11.3
	touch $@

test-slither: $(SLITHER_VENV)/.installed node_modules/.installed
	HOME=$(CURDIR)/.cache/foundry-home PATH=$(dir $(FORGE_BIN)):$$PATH $(SLITHER_VENV)/bin/slither . \
		--filter-paths "node_modules|contracts/test" --exclude-informational --exclude-low \
		--exclude-optimization --fail-medium

test-python: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/prover_bench.py

# The paper's Table 1 on this machine: MobileNet v2 configurations (hours for all of them; e.g.
# `make bench-mobilenet ARGS="--config 0.35,96"`).
bench-mobilenet: setup
	$(PY) benchmarks/mobilenet_bench.py $(ARGS)

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules .cache/zkmarket .cache/solc
