# Private traffic_server instances on 127.0.0.1, for the plugin's tests. Source this file (bash).
#
#   sandbox_make DIR TLS_PORT HTTP_PORT      a runroot in DIR with its own config, cert and logs
#   sandbox_plugin DIR LINE                  write plugin.config (e.g. "/abs/atsreuse.so /abs/atsreuse.config")
#   sandbox_start DIR TRAFFIC_SERVER         start it in the background; PID in DIR/ts.pid
#   sandbox_wait_tls PORT SECONDS            until a TLS handshake with 127.0.0.1:PORT succeeds
#   sandbox_stop DIR                         SIGKILL the instance started by sandbox_start
#   free_port                                a TCP port nothing listens on now
#
# Nothing here touches /etc/trafficserver except reading it as the template, and nothing listens beyond loopback.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

sandbox_make() {
  local dir=$1 tls_port=$2 http_port=$3
  mkdir -p "$dir"/{etc,log,run,cache,var}
  cp -r /etc/trafficserver/. "$dir/etc/"
  cat >"$dir/runroot.yaml" <<EOF
prefix: $dir
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
sysconfdir: $dir/etc
datadir: $dir/var
localstatedir: $dir/var
runtimedir: $dir/run
logdir: $dir/log
cachedir: $dir/cache
EOF
  cat >>"$dir/etc/records.config" <<EOF
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.http.server_ports STRING $tls_port:ssl:ip-in=127.0.0.1 $http_port:ip-in=127.0.0.1
CONFIG proxy.config.ssl.server.cert.path STRING $dir/etc
CONFIG proxy.config.ssl.server.private_key.path STRING $dir/etc
CONFIG proxy.config.ssl.session_cache INT 2
CONFIG proxy.config.crash_log_helper STRING /bin/true
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 2
CONFIG proxy.config.diags.debug.enabled INT 1
CONFIG proxy.config.diags.debug.tags STRING atsreuse
CONFIG proxy.config.diags.output.debug STRING L
CONFIG proxy.config.diags.output.diag STRING L
EOF
  if [ ! -f "$dir/etc/server.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -keyout "$dir/etc/server.key" -out "$dir/etc/server.pem" 2>/dev/null
  fi
  echo "dest_ip=* ssl_cert_name=server.pem ssl_key_name=server.key" >"$dir/etc/ssl_multicert.config"
  : >"$dir/etc/storage.config"
  : >"$dir/etc/plugin.config"
}

sandbox_plugin() {
  echo "$2" >"$1/etc/plugin.config"
}

sandbox_start() {
  local dir=$1 traffic_server=$2
  setsid "$traffic_server" --run-root="$dir" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/ts.pid"
}

sandbox_wait_tls() {
  local port=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    if openssl s_client -connect "127.0.0.1:$port" -brief </dev/null >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

sandbox_stop() {
  local dir=$1 pid
  if [ -f "$dir/ts.pid" ]; then
    pid=$(cat "$dir/ts.pid")
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$dir/ts.pid"
  fi
}
