#!/usr/bin/env bash
# Every test of atsreuse, from a fresh Debian 12 machine: installs what is missing, then runs the
# checks in the order that fails fastest. Each step prints a heading; the first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==== %s ====\n' "$*"; }


run_all() {
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
}

# Everything is also written to a log, from which the closing line counts the tests that ran.
mkdir -p target
log=target/test-all.log
set +e
(set -e; run_all) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set +o pipefail   # a grep below that finds nothing is not a failure

# One closing line for the whole run: cargo's "test result" lines and ctest's summary, added up.
passed=$(grep -Eo 'test result: [a-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '; [0-9]+ failed;' "$log" | awk '{s += $2} END {print s + 0}')
ctest_total=$(grep -Eo 'tests failed out of [0-9]+' "$log" | awk '{s += $5} END {print s + 0}')
ctest_failed=$(grep -Eo '[0-9]+ tests failed out of' "$log" | awk '{s += $1} END {print s + 0}')
passed=$((passed + ctest_total - ctest_failed))
failed=$((failed + ctest_failed))
printf '\ntest-all: %d passed, %d failed\n' "$passed" "$failed"
exit "$rc"
