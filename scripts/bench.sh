#!/usr/bin/env bash
# Benchmarks of the pod: handshake rates through a node with the plugin and one without
# (the ratio is the plugin's cost), >= 10,000 cross-node resumptions over three nodes with a
# rotation in the middle, and the delay from a new session on node 1 to its first resumption
# on node 2. Writes docs/benchmarks.md (figures, machine, and this command) and
# target/bench/bench.json. Extra arguments go to atsreuse-bench (--help).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
cargo build --release -p atsreuse -p atsreuse-pod

export ATSREUSE_PLUGIN="$PWD/build/c-plugin/atsreuse.so"
export ATSREUSE_BIN="$PWD/target/release/atsreuse"
mkdir -p target/bench
target/release/atsreuse-bench --json target/bench/bench.json "$@" | tee target/bench/report.md

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# Benchmarks"
  echo
  echo "Made by \`scripts/bench.sh${*:+ $*}\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit"
  echo "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`. Machine: $(nproc) cores ($cpu),"
  echo "$(uname -sr); $(traffic_server --version 2>/dev/null | head -1 | cut -d' ' -f1-3),"
  echo "$(redis-server --version | cut -d' ' -f1-3), $(openssl version | cut -d' ' -f1-2)."
  echo "Everything runs on this one machine: the client, one redis-server and the ATS nodes"
  echo "(2 exec threads each), all on 127.0.0.1, so the figures show relative cost, not capacity."
  echo
  echo "How it measures (tests/pod/src/bin/bench.rs):"
  echo
  echo "- Rates: for each mode, full handshakes (no session offered) and resumed handshakes (a"
  echo "  session made on that node, offered again and again) for a fixed time with several"
  echo "  client threads, on node 1 of the plugin pod and on a control node without the plugin,"
  echo "  in alternating runs. TLS 1.3 handshakes here stop after the handshake (no request)."
  echo "  Ratio = with / without: below 1 is the plugin's cost. Other work on the machine moves"
  echo "  single runs by about 10 %; compare the spread before reading a ratio."
  echo "- Cross-node: sessions made round-robin on the three plugin nodes, each offered on the"
  echo "  two other nodes; then a rotation by \`traffic_ctl plugin msg atsreuse rotate\` (the"
  echo "  pod waits until every node holds the new keyring and seals new tickets with the new"
  echo "  key); then the same sessions offered again, and new sessions made and offered."
  echo "- Delay: a full handshake on node 1, then handshakes on node 2 offering that session"
  echo "  until one resumes; the time from the end of the first handshake to the end of the"
  echo "  resumed one. Each failed try is a full handshake (about 1 ms), which bounds the"
  echo "  resolution. Tickets need no propagation (the keys are shared beforehand)."
  echo
  echo "Where the plugin costs: a full TLS 1.2 handshake without a ticket makes a session the"
  echo "plugin copies into its publish queue; library threads seal it and publish it, and every"
  echo "other node opens and stores it. Here all of that runs on the same two cores as the node"
  echo "under test, so the tls12-id full ratio includes the pod's work, not only the node's."
  echo "Ticket handshakes cost the plugin nothing per handshake (ATS seals with the installed"
  echo "keys); a session-ID resumption costs one map lookup (and, for a session made on another"
  echo "node, one insert into ATS's session cache)."
  echo
  cat target/bench/report.md
} > docs/benchmarks.md
echo "bench: wrote docs/benchmarks.md"
