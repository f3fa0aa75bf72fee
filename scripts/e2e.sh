#!/usr/bin/env bash
# End-to-end tests: real redis-server, real ATS 9.2 nodes with the plugin, real TLS clients.
# Builds the plugin (top-level CMake) and the operator command, then runs the tests of
# tests/pod with the plugin path in ATSREUSE_PLUGIN. Extra arguments go to the test binary
# (e.g. a test name filter). Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
cargo build --release -p atsreuse

export ATSREUSE_PLUGIN="$PWD/build/c-plugin/atsreuse.so"
export ATSREUSE_BIN="$PWD/target/release/atsreuse"
test -f "$ATSREUSE_PLUGIN" || { echo "e2e: no plugin at $ATSREUSE_PLUGIN" >&2; exit 1; }

# Two test threads: each test runs its own pod, and the machine this was sized on has 2 cores.
cargo test --release --no-fail-fast -p atsreuse-pod -p atsreuse-tlsclient -- --test-threads=2 "$@"
