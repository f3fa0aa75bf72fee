#!/usr/bin/env bash
# One redis-server and three traffic_server nodes on 127.0.0.1: n1 and n2 run atsreuse.so, n3 does not (the control).
# A session established on n1 must resume on n2 and must not on n3, for a TLS 1.2 ticket, a TLS 1.2 session id and a
# TLS 1.3 ticket; n2's stats must show the shared session it inserted.
# Usage: [DEST_IP=1] two_nodes_test.sh TRAFFIC_SERVER /abs/path/atsreuse.so REDIS_SERVER
set -u
traffic_server=$1
plugin=$(readlink -f "$2")
redis_server=$3
. "$(dirname "$0")/sandbox.sh"

dir=$(mktemp -d /tmp/atsreuse-two.XXXXXX)
redis_pid=
cleanup() {
  for node in n1 n2 n3; do sandbox_stop "$dir/$node"; done
  [ -n "$redis_pid" ] && kill -KILL "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for node in n1 n2; do echo "--- $node"; grep -h "atsreuse" "$dir/$node/log/diags.log" | tail -15; done
  exit 1
}

# Redis with the PSK as its password (redis_password_mode=psk), so AUTH is exercised too.
redis_port=$(free_port)
psk=$(openssl rand -hex 32)
printf '%s\n' "$psk" >"$dir/psk"
chmod 600 "$dir/psk"
"$redis_server" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --requirepass "$psk" \
  >"$dir/redis.log" 2>&1 &
redis_pid=$!
cat >"$dir/atsreuse.config" <<EOF
ssl_session.ClusterName=ctest
atsreuse.redis_endpoints=127.0.0.1:$redis_port
atsreuse.psk_file=$dir/psk
atsreuse.redis_password_mode=psk
atsreuse.rotation_interval_secs=3600
atsreuse.lead_time_secs=300
atsreuse.ticket_lifetime_secs=3600
EOF

declare -A tls http
for node in n1 n2 n3; do
  tls[$node]=$(free_port)
  http[$node]=$(free_port)
  sandbox_make "$dir/$node" "${tls[$node]}" "${http[$node]}"
done
# One certificate for the whole pod, as operators deploy it.
for node in n2 n3; do cp "$dir/n1/etc/server.pem" "$dir/n1/etc/server.key" "$dir/$node/etc/"; done
# DEST_IP=1: an ssl_multicert line bound to the address instead of dest_ip=* (docs/plugin.md, operator notes).
if [ -n "${DEST_IP:-}" ]; then
  for node in n1 n2 n3; do
    echo "dest_ip=127.0.0.1 ssl_cert_name=server.pem ssl_key_name=server.key" >"$dir/$node/etc/ssl_multicert.config"
  done
fi
for node in n1 n2; do printf 'stats_over_http.so\n%s %s\n' "$plugin" "$dir/atsreuse.config" >"$dir/$node/etc/plugin.config"; done
for node in n1 n2 n3; do sandbox_start "$dir/$node" "$traffic_server"; done
for node in n1 n2 n3; do sandbox_wait_tls "${tls[$node]}" 20 || fail "no TLS on $node"; done

# handshake NODE ARGS...: prints New or Reused.
handshake() {
  local node=$1
  shift
  (sleep 0.3; echo) | openssl s_client -connect "127.0.0.1:${tls[$node]}" "$@" 2>/dev/null | grep -o -m1 '^\(New\|Reused\)'
}

# The two nodes agree on the pod keyring within a few seconds of starting; wait for that before asserting.
for ((i = 0; i < 40; i++)); do
  handshake n1 -tls1_2 -sess_out "$dir/probe.pem" >/dev/null
  [ "$(handshake n2 -tls1_2 -sess_in "$dir/probe.pem")" = Reused ] && break
  sleep 0.25
done

status=0
for mode in "tls12_ticket -tls1_2" "tls12_session_id -tls1_2 -no_ticket" "tls13_ticket -tls1_3"; do
  set -- $mode
  name=$1
  shift
  first=$(handshake n1 "$@" -sess_out "$dir/$name.pem")
  sleep 0.3 # a session id travels through Redis
  second=$(handshake n2 "$@" -sess_in "$dir/$name.pem")
  control=$(handshake n3 "$@" -sess_in "$dir/$name.pem")
  printf '%-18s n1: %-7s n2: %-7s n3 (no plugin): %s\n' "$name" "$first" "$second" "$control"
  [ "$first" = New ] && [ "$second" = Reused ] && [ "$control" = New ] || status=1
done
[ $status -eq 0 ] || fail "a session did not resume on n2, or resumed on the control node"

# n2 inserted the shared TLS 1.2 session id into ATS's cache: its stats say so (refreshed every second).
for ((i = 0; i < 20; i++)); do
  inserted=$(curl -s "http://127.0.0.1:${http[n2]}/_stats" | grep -o '"plugin.atsreuse.sessions_inserted": "[0-9]*"' |
    grep -o '[0-9]*"$' | tr -d '"')
  [ "${inserted:-0}" -ge 1 ] && break
  sleep 0.25
done
[ "${inserted:-0}" -ge 1 ] || fail "plugin.atsreuse.sessions_inserted on n2 is ${inserted:-missing}"
echo "PASS: sessions established on n1 resume on n2 (inserted: $inserted), not on the control node"
