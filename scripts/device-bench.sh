#!/usr/bin/env bash
# On a GPU machine, from a checkout with .device/ and .gl/ made by scripts/device-pack.sh:
# the VDM 2D colab configuration (2 × 512, batch 1024) timed on the fused WGSL step, on burn's
# wgpu backend and on the CPU, the real 20 000-step run through `elbo-lab train`, and the PyTorch
# reference (scripts/torch_reference.py, eager and as one CUDA graph) on the same GPU. One JSON
# file per measurement in $OUT (else bench-results/), each naming the adapter; a failed one
# leaves its error's tail.
# Step counts can be lowered through FUSED_STEPS, TRAIN_STEPS, WGPU_STEPS, CPU_STEPS, TORCH_STEPS.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench-results}"
mkdir -p "$out"
# grep reads all of ldconfig's output (no -q): an early exit would fail the pipe under pipefail.
if ! ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; then
  for deb in .gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi
bin=/tmp/elbo-lab-bench
gunzip -c .device/elbo-lab.gz >"$bin" && chmod +x "$bin" || exit 1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv

# measure NAME SECONDS COMMAND...: stdout to $out/NAME.json, or the error's tail on failure.
measure() {
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*"
  if timeout "$limit" "$@" >"$out/$name.json" 2>/tmp/"$name".err; then
    cat "$out/$name.json"
  else
    echo "$name failed (exit $?):"
    rm -f "$out/$name.json"
    tail -20 /tmp/"$name".err | tee "$out/$name.error.txt"
  fi
}
# Worst case, every limit reached: 590 s, inside one device call's 600 (the machine's own limit).
colab=(--preset vdm-colab)
measure fused 150 "$bin" bench "${colab[@]}" --backend fused --steps "${FUSED_STEPS:-20000}"
measure train-fused 200 "$bin" train "${colab[@]}" --dataset moons --backend fused --steps "${TRAIN_STEPS:-20000}" --out /tmp/elbo-lab-run
measure wgpu 120 "$bin" bench "${colab[@]}" --backend wgpu --steps "${WGPU_STEPS:-300}"
measure cpu 40 "$bin" bench "${colab[@]}" --backend cpu --steps "${CPU_STEPS:-20}"
measure torch 40 python3 scripts/torch_reference.py --steps "${TORCH_STEPS:-5000}"
measure torch-graph 40 python3 scripts/torch_reference.py --mode graph --steps "${TORCH_STEPS:-5000}"
