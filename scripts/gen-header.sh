#!/usr/bin/env bash
# Regenerates include/atsreuse.h from bindings/src with the pinned cbindgen.
#   scripts/gen-header.sh          write the header
#   scripts/gen-header.sh --check  fail (exit 1) when the committed header is stale (CI)
set -euo pipefail

CBINDGEN_VERSION=0.29.2
root=$(cd "$(dirname "$0")/.." && pwd)
cbindgen=${CBINDGEN:-$HOME/.cargo/bin/cbindgen}

if ! [ -x "$cbindgen" ] || ! "$cbindgen" --version | grep -q " $CBINDGEN_VERSION\$"; then
  echo "gen-header: need cbindgen $CBINDGEN_VERSION at $cbindgen (scripts/setup.sh installs it)" >&2
  exit 2
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$cbindgen" --quiet --config "$root/bindings/cbindgen.toml" --crate atsreuse \
  --output "$tmp" "$root/bindings"

if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$root/include/atsreuse.h" "$tmp"; then
    echo "gen-header: include/atsreuse.h is stale: run scripts/gen-header.sh and commit it" >&2
    exit 1
  fi
  echo "gen-header: include/atsreuse.h is up to date"
else
  mkdir -p "$root/include"
  cp "$tmp" "$root/include/atsreuse.h"
  echo "gen-header: wrote include/atsreuse.h"
fi
