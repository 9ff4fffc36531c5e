#!/usr/bin/env bash
# Packs the GPU benchmark for a machine that has a GPU but no Rust toolchain: the release
# binary, stripped and gzipped, into .device/, and the Vulkan loader's Debian package into .gl/
# (both ignored by git; copy or carry them there with the checkout). There, as root:
#   bash scripts/device-bench.sh        (results as JSON files in $OUT, else bench-results/)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/elbo-lab/target}"
cargo build --release --bin elbo-lab
mkdir -p .device
strip -o .device/elbo-lab "$CARGO_TARGET_DIR/release/elbo-lab"
gzip -9f .device/elbo-lab
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  # The amd64 package whatever this machine's architecture, from Debian's own archive.
  mkdir -p .gl /tmp/elbo-lab-apt/partial
  apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/elbo-lab-apt)
  apt-get "${apt[@]}" update -qq
  (cd .gl && apt-get "${apt[@]}" download libvulkan1)
fi
du -sh .device .gl
