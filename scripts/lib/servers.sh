# Shell helpers to run a throw-away mosquitto and InfluxDB 1.x on free loopback ports.
# Sourced by scripts/demo.sh and bench/. Everything lives in one work folder; stop_servers ends it all.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # port seconds what
  local port=$1 seconds=$2 what=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "error: $what did not listen on 127.0.0.1:$port within ${seconds}s" >&2
  return 1
}

SERVER_PIDS=()
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}

start_mosquitto() { # workdir port
  local dir=$1/mosquitto port=$2
  mkdir -p "$dir"
  {
    echo "listener $port 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence true"
    echo "persistence_location $dir/"
    echo "max_queued_messages 0"
    echo "log_dest file $dir/mosquitto.log"
    # As root, mosquitto would switch to its own user and could not write this folder.
    [ "$(id -u)" -eq 0 ] && echo "user root"
  } > "$dir/mosquitto.conf"
  local bin
  bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  "$bin" -c "$dir/mosquitto.conf" >"$dir/stdout.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_for_port "$port" 30 mosquitto
}

start_influxd() { # workdir http_port rpc_port
  local dir=$1/influxdb http=$2 rpc=$3
  mkdir -p "$dir"
  influxd config 2>/dev/null | sed \
    -e "s#^bind-address = .*#bind-address = \"127.0.0.1:$rpc\"#" \
    -e "s#/var/lib/influxdb#$dir#g" \
    -e "/^\[http\]/,/^\[/ s#^  bind-address = .*#  bind-address = \"127.0.0.1:$http\"#" \
    -e "s#^  query-log-enabled = true#  query-log-enabled = false#" \
    -e "/^\[http\]/,/^\[/ s#^  log-enabled = true#  log-enabled = false#" \
    -e "s#^reporting-enabled = .*#reporting-enabled = false#" \
    -e "/^\[monitor\]/,/^\[/ s#^  store-enabled = true#  store-enabled = false#" \
    > "$dir/influxdb.conf"
  INFLUXDB_CONFIG_PATH="$dir/influxdb.conf" influxd -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
  SERVER_PIDS+=($!)
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/ping")" = 204 ] && return 0
    sleep 0.1
  done
  echo "error: influxd did not answer /ping on 127.0.0.1:$http within 60s (log: $dir/influxd.log)" >&2
  return 1
}

influx_query() { # http_port db query
  curl -s -G "http://127.0.0.1:$1/query" --data-urlencode "db=$2" --data-urlencode "q=$3"
}
