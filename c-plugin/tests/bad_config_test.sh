#!/usr/bin/env bash
# A config file that cannot be used: ATS logs why (error.log / diags.log) and keeps serving TLS, without sharing.
# Usage: bad_config_test.sh TRAFFIC_SERVER /abs/path/atsreuse.so
set -u
traffic_server=$1
plugin=$(readlink -f "$2")
. "$(dirname "$0")/sandbox.sh"

dir=$(mktemp -d /tmp/atsreuse-badcfg.XXXXXX)
trap 'sandbox_stop "$dir"; rm -rf "$dir"' EXIT
tls_port=$(free_port)
sandbox_make "$dir" "$tls_port" "$(free_port)"

# A relative path: resolved against the runroot's config directory, where the file exists but is unusable.
printf 'redis.RedisEndpoints=127.0.0.1:notaport\nssl_session.ClusterName=\n' >"$dir/etc/atsreuse-broken.config"
sandbox_plugin "$dir" "$plugin atsreuse-broken.config"
sandbox_start "$dir" "$traffic_server"

if ! sandbox_wait_tls "$tls_port" 20; then
  echo "FAIL: no TLS handshake on 127.0.0.1:$tls_port"
  cat "$dir/log/stdout.log" "$dir/log/diags.log" 2>/dev/null | tail -30
  exit 1
fi
sleep 0.5
if ! grep -h "\[atsreuse\]" "$dir/log/diags.log" "$dir/log/error.log" 2>/dev/null | grep -q "$dir/etc/atsreuse-broken.config"; then
  echo "FAIL: no [atsreuse] error line naming the config file"
  tail -30 "$dir/log/diags.log"
  exit 1
fi
# libatsreuse's own line names the file, the line and the key (through the plugin's log callback).
if ! grep -h "\[atsreuse\]" "$dir/log/diags.log" | grep -q "atsreuse-broken.config:[0-9][0-9]*: [a-zA-Z_.]*"; then
  echo "FAIL: no [atsreuse] line naming file:line: key"
  grep -h "\[atsreuse\]" "$dir/log/diags.log"
  exit 1
fi
grep -h "\[atsreuse\]" "$dir/log/diags.log"
echo "PASS: bad config logged with file, line and key; ATS still serves TLS"
