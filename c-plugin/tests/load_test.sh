#!/usr/bin/env bash
# traffic_server loads atsreuse.so with every symbol resolved: `verify_global_plugin` in a private runroot.
# Usage: load_test.sh TRAFFIC_SERVER /abs/path/atsreuse.so
set -u
traffic_server=$1
plugin=$(readlink -f "$2")
. "$(dirname "$0")/sandbox.sh"

dir=$(mktemp -d /tmp/atsreuse-load.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sandbox_make "$dir" "$(free_port)" "$(free_port)"

output=$("$traffic_server" --run-root="$dir" -C "verify_global_plugin $plugin" 2>&1)
status=$?
echo "$output"
if [ $status -ne 0 ]; then
  echo "FAIL: verify_global_plugin exited with $status"
  exit 1
fi
if ! grep -q "verifying plugin .* Success" <<<"$output"; then
  echo "FAIL: traffic_server did not report the plugin as loadable"
  exit 1
fi
echo "PASS: $plugin loads into $traffic_server"
