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
