# ELBO Lab — two commands do everything on a fresh Debian machine:
#   make serve   install what is missing, build the site (release), serve http://127.0.0.1:8080
#   make test    install what is missing, run every check and test
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# One persistent target dir outside the clone, so a fresh clone (CI) reuses earlier builds.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/elbo-lab/target
export CARGO_BUILD_JOBS ?= 2
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export TRUNK_SKIP_VERSION_CHECK := true
# Silences a Vulkan loader warning under lavapipe; any private writable dir will do.
export XDG_RUNTIME_DIR ?= /tmp/elbo-lab-runtime
export WASM_BINDGEN_TEST_TIMEOUT ?= 300

PORT ?= 8080
WASM_TARGET := wasm32-unknown-unknown

.PHONY: setup data site serve test lint unit wasm-test js-test e2e bench clean-site

setup:
	@bash scripts/install.sh
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)

data: setup
	@bash scripts/fetch-data.sh

site: setup data
	trunk build --release

serve: site
	@echo "ELBO Lab on http://127.0.0.1:$(PORT)"
	node scripts/serve.mjs dist $(PORT)

lint: setup
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) --lib --bins --tests -- -D warnings

unit: setup data
	@bash scripts/prune-target.sh
	cargo test

wasm-test: setup
	wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install -- --test web

# The page's pure modules, in Node (no browser).
js-test: setup
	node --test tests/js/*.test.mjs

e2e: site
	node --test --test-concurrency=1 tests/e2e/*.test.mjs

test: lint unit wasm-test js-test e2e

bench: site
	bash scripts/bench.sh

clean-site:
	rm -rf dist
