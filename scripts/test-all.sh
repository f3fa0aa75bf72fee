#!/usr/bin/env bash
# Every test of atsreuse, from a fresh Debian 12 machine: installs what is missing, then runs the
# checks in the order that fails fastest. Each step prints a heading; the first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==== %s ====\n' "$*"; }

step "setup"
scripts/setup.sh --dev
export PATH="$HOME/.cargo/bin:$PATH"

step "rustfmt"
cargo fmt --all --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std build of the core (thumbv7em-none-eabihf)"
cargo build -p atsreuse-core --target thumbv7em-none-eabihf --locked

step "C header is up to date"
scripts/gen-header.sh
git diff --exit-code -- include/atsreuse.h

step "Rust tests (core, vectors, simulation, real redis-server)"
cargo test --workspace --exclude atsreuse-pod --locked

step "criterion benches compile and run once"
cargo bench --workspace --exclude atsreuse-pod --locked -- --test >/dev/null

step "CMake build: libatsreuse, plugin, C tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure

step "end-to-end: real ATS pod, real redis-server, real TLS handshakes"
scripts/e2e.sh
