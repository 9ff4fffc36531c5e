#!/usr/bin/env bash
# Copies the page's third-party assets (KaTeX, uPlot) from node_modules into www/vendor/, which
# Trunk ships as-is. Run by Trunk's pre-build hook; www/vendor/ is not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/katex ] || { echo "[vendor] node_modules missing: run 'make setup'" >&2; exit 1; }
out=www/vendor
mkdir -p "$out/katex/fonts" "$out/uplot"
cp node_modules/katex/dist/katex.min.css node_modules/katex/dist/katex.min.js "$out/katex/"
cp node_modules/katex/dist/fonts/*.woff2 "$out/katex/fonts/"
cp node_modules/katex/LICENSE "$out/katex/LICENSE"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$out/uplot/"
cp node_modules/uplot/LICENSE "$out/uplot/LICENSE"
# The first 1000 MNIST test digits for the Fourier figures (Fig. 6, 7): the IDX header with the
# count rewritten to 1000 (0x3e8), then 1000 × 28 × 28 pixel bytes. `make data` fetched the file.
mnist=data/mnist/t10k-images-idx3-ubyte
[ -f "$mnist" ] || { echo "[vendor] $mnist missing: run 'make data'" >&2; exit 1; }
mkdir -p "$out/mnist"
# dd in 16-byte blocks: skip the header (one block), copy 49000 blocks = 784000 bytes.
{ printf '\x00\x00\x08\x03\x00\x00\x03\xe8\x00\x00\x00\x1c\x00\x00\x00\x1c'; dd if="$mnist" bs=16 skip=1 count=49000 status=none; } > "$out/mnist/t10k-images-1000.idx"
