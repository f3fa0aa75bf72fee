#!/usr/bin/env bash
# The main job in one command, on a fresh Debian 12 machine: installs what is missing, builds
# the plugin and the pod tools, starts one redis-server and three ATS nodes with the plugin on
# 127.0.0.1, and shows sessions made on node 1 resuming on nodes 2 and 3 (TLS 1.2 ticket,
# TLS 1.2 session id, TLS 1.3 ticket), before and after a forced rotation.
#
# Everything it starts is stopped when it ends, fails or is interrupted (Ctrl-C, SIGTERM).
# Exit status: 0 when every session resumed everywhere, 1 when one did not, 2 when the pod
# could not start. Options go to the demo program (atsreuse-pod --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
cargo build --release -p atsreuse -p atsreuse-pod -p atsreuse-tlsclient

export ATSREUSE_PLUGIN="$PWD/build/c-plugin/atsreuse.so"
export ATSREUSE_BIN="$PWD/target/release/atsreuse"

# The demo runs in the background so that this shell can act on signals while it waits. The
# demo stops its own redis-server and ATS processes on SIGINT/SIGTERM; they also die with it
# if it is killed outright (they get a parent-death signal).
demo_pid=""
stop_demo() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
}
trap stop_demo EXIT
trap 'stop_demo; exit 130' INT TERM

target/release/atsreuse-pod "$@" &
demo_pid=$!
set +e
wait "$demo_pid"
rc=$?
set -e
demo_pid=""
exit "$rc"
