#!/usr/bin/env bash
# Installs what ELBO Lab needs to build, serve and test, skipping anything already at its pinned
# version. Idempotent; everything comes from Debian apt, crates.io or npm (no other downloads).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
TRUNK_VERSION=0.21.14
# wasm-bindgen-cli must match the wasm-bindgen crate exactly, so read the version from Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

say() { printf '[install] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages: browser + driver for the browser tests, lavapipe for native WebGPU tests.
missing_debs=()
command -v chromium >/dev/null || missing_debs+=(chromium)
command -v chromedriver >/dev/null || missing_debs+=(chromium-driver)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing_debs+=(mesa-vulkan-drivers)
command -v npm >/dev/null || missing_debs+=(nodejs npm)
command -v cc >/dev/null || missing_debs+=(build-essential)
command -v pkg-config >/dev/null || missing_debs+=(pkg-config)
if [ ${#missing_debs[@]} -gt 0 ]; then
  say "apt-get install ${missing_debs[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}"
fi

# --- Rust: the wasm target and the lint components.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

# --- Cargo tools, each only when its pinned version is not already on PATH.
has_version() { command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -qF "$2"; }
if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  # Not --locked: its lockfile pins a webpki-roots version the registry no longer serves.
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if ! has_version wasm-pack "$WASM_PACK_VERSION"; then
  say "cargo install wasm-pack $WASM_PACK_VERSION"
  cargo install --locked wasm-pack --version "$WASM_PACK_VERSION" --force
fi
if ! has_version trunk "$TRUNK_VERSION"; then
  say "cargo install trunk $TRUNK_VERSION"
  cargo install --locked trunk --version "$TRUNK_VERSION" --force
fi

# --- npm dev dependencies (wasm-opt, playwright-core, KaTeX, uPlot) from the committed lockfile.
stamp=node_modules/.elbo-lab-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
