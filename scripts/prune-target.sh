#!/usr/bin/env bash
# Keeps the shared target dir from filling the disk: every change of dependencies or features
# leaves the previous test executables behind (about 1 GB each with debug info), and nothing
# else removes them. Keeps the newest executable of each name; cargo rebuilds any it needs. The
# crate's own unit-test executables are left alone: the library's and the binary's share a name.
set -euo pipefail
deps="${CARGO_TARGET_DIR:-$HOME/.cache/elbo-lab/target}/debug/deps"
[ -d "$deps" ] || exit 0
find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended \
  -regex '.*/[A-Za-z0-9_]+-[0-9a-f]{16}' -printf '%T@ %p\n' |
  sort -rn |
  awk '{ name = $2; sub(/-[0-9a-f]+$/, "", name); sub(/.*\//, "", name); if (name != "elbo_lab" && seen[name]++) print $2 }' |
  xargs -r rm -f
