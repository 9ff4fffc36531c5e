#!/usr/bin/env bash
# `make bench`: training steps/s of the VDM 2D colab configuration (2 × 512, batch 1024) natively
# on the CPU, on wgpu through burn and through the fused WGSL step, and in headless Chromium on
# WebGPU (both engines); and of the MNIST U-Net (tiny and small, batch 128) on the CPU and on wgpu,
# with the first step's time and the host's batch preparation at d = 784. JSON results in
# bench-results/, each naming the machine and the adapter. Not part of `make test`: timings are
# not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
cargo build --release --bin elbo-lab
bin="$CARGO_TARGET_DIR/release/elbo-lab"
"$bin" bench --preset vdm-colab --steps "${BENCH_CPU_STEPS:-50}" --backend cpu | tee bench-results/native-cpu.json
"$bin" bench --preset vdm-colab --steps "${BENCH_GPU_STEPS:-50}" --backend wgpu | tee bench-results/native-wgpu.json
"$bin" bench --preset vdm-colab --steps "${BENCH_FUSED_STEPS:-200}" --backend fused | tee bench-results/native-fused.json
for preset in tiny small; do
  "$bin" bench --dataset mnist --preset "$preset" --steps "${BENCH_MNIST_CPU_STEPS:-3}" --backend cpu | tee "bench-results/mnist-$preset-cpu.json"
  "$bin" bench --dataset mnist --preset "$preset" --steps "${BENCH_MNIST_GPU_STEPS:-20}" --backend wgpu | tee "bench-results/mnist-$preset-wgpu.json"
done
node scripts/bench-browser.mjs "${BENCH_BROWSER_STEPS:-20}" fused | tee bench-results/browser-fused.json
node scripts/bench-browser.mjs "${BENCH_BROWSER_STEPS:-20}" burn | tee bench-results/browser-burn.json
