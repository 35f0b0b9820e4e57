#!/usr/bin/env bash
# ingestd end to end on this machine: installs what is missing, builds ingestd, starts a mosquitto
# broker and an InfluxDB 1.x on free loopback ports, runs ingestd with a sample registry, simulates a
# small fleet (plus a few bad messages, to show the reject counters), stops ingestd with SIGTERM and
# shows the points in InfluxDB. Nothing is installed as a service; everything runs from a temporary
# folder that is removed at the end (KEEP=1 keeps it).
#
#   scripts/demo.sh                 # 20 devices, 10 seconds
#   DEVICES=50 SECONDS_TO_RUN=30 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/servers.sh

DEVICES=${DEVICES:-20}
SECONDS_TO_RUN=${SECONDS_TO_RUN:-10}
TENANT=acme

scripts/install-deps.sh
echo "==> building ingestd"
swift build --product ingestd 2>&1 | tail -n 1
BIN=$(swift build --product ingestd --show-bin-path)/ingestd

WORK=$(mktemp -d /tmp/ingestd-demo.XXXXXX)
INGESTD_PID=""
cleanup() {
  [ -n "$INGESTD_PID" ] && kill "$INGESTD_PID" 2>/dev/null || true
  stop_servers
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

MQTT_PORT=$(free_port); HTTP_PORT=$(free_port); RPC_PORT=$(free_port)
echo "==> starting mosquitto on 127.0.0.1:$MQTT_PORT and InfluxDB on 127.0.0.1:$HTTP_PORT (work folder $WORK)"
start_mosquitto "$WORK" "$MQTT_PORT"
start_influxd "$WORK" "$HTTP_PORT" "$RPC_PORT"

echo "==> writing a registry of $DEVICES devices (tokens hashed with 'ingestd hash-token')"
{
  echo "["
  for ((d = 1; d <= DEVICES; d++)); do
    hash=$("$BIN" hash-token "token-d$d")
    sep=","; [ "$d" -eq "$DEVICES" ] && sep=""
    echo "  {\"tenant_id\":\"$TENANT\",\"device_id\":\"d$d\",\"site_id\":\"site-$(( (d - 1) % 3 + 1 ))\",\"status\":\"ACTIVE\",\"provision_token_hash\":\"$hash\"}$sep"
  done
  echo "]"
} > "$WORK/devices.json"

echo "==> starting ingestd"
env -i PATH="$PATH" \
  MQTT_HOST=127.0.0.1 MQTT_PORT="$MQTT_PORT" MQTT_CLIENT_ID=ingestd-demo \
  INFLUXDB_URL="http://127.0.0.1:$HTTP_PORT" INFLUXDB_API=v1 \
  REGISTRY_FILE="$WORK/devices.json" SPOOL_DIR="$WORK/spool" LOG_STATS_EVERY_SECONDS=5 INFLUX_FLUSH_INTERVAL_MS=500 \
  RATE_LIMIT_RPS=50 RATE_LIMIT_BURST=50 \
  "$BIN" run 2> >(tee "$WORK/ingestd.log" >&2) &
INGESTD_PID=$!
for ((i = 0; i < 300; i++)); do
  grep -q 'msg="mqtt subscribed"\|msg="mqtt connected"' "$WORK/ingestd.log" 2>/dev/null && break
  kill -0 "$INGESTD_PID" 2>/dev/null || { echo "ingestd exited early" >&2; exit 1; }
  sleep 0.1
done

echo "==> simulating $DEVICES devices for ${SECONDS_TO_RUN}s (2 messages a second each)"
sent=0; seq=0
end=$((SECONDS + SECONDS_TO_RUN))
while [ $SECONDS -lt $end ]; do
  publishers=()
  for ((d = 1; d <= DEVICES; d++)); do
    seq=$((seq + 1))
    temp=$(( (RANDOM % 150) + 150 ))
    printf '{"version":"1","ts":"%s","site_id":"site-%d","seq":%d,"provision_token":"token-d%d","metrics":{"temp_c":%d.%d,"door_open":%s}}\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" $(( (d - 1) % 3 + 1 )) "$seq" "$d" $((temp / 10)) $((temp % 10)) \
      "$([ $((RANDOM % 2)) = 0 ] && echo true || echo false)" > "$WORK/msg-$d.json"
    mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t "tenant/$TENANT/device/d$d/telemetry" -f "$WORK/msg-$d.json" &
    publishers+=($!)
    sent=$((sent + 1))
  done
  # Wait for this round's publishers only: a bare `wait` would wait for ingestd too.
  for pid in "${publishers[@]}"; do wait "$pid" || { echo "mosquitto_pub failed" >&2; exit 1; }; done
  sleep 0.5
done
echo "==> and three messages ingestd must refuse: a wrong token, an unknown device, broken JSON"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t "tenant/$TENANT/device/d1/telemetry" \
  -m '{"site_id":"site-1","provision_token":"wrong","metrics":{"temp_c":1}}'
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t "tenant/$TENANT/device/intruder/telemetry" \
  -m '{"site_id":"site-1","provision_token":"x","metrics":{"temp_c":1}}'
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t "tenant/$TENANT/device/d2/telemetry" -m '{"site_id":'

echo "==> stopping ingestd with SIGTERM (it drains every buffer first)"
sleep 1
kill -TERM "$INGESTD_PID"
set +e; wait "$INGESTD_PID"; code=$?; set -e
INGESTD_PID=""
echo "ingestd exited with code $code"

echo "==> points in InfluxDB (database telemetry_$TENANT)"
count=$(influx_query "$HTTP_PORT" "telemetry_$TENANT" 'SELECT count(seq) FROM telemetry' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["series"][0]["values"][0][1] if "series" in r else 0)')
influx_query "$HTTP_PORT" "telemetry_$TENANT" 'SELECT * FROM telemetry ORDER BY time DESC LIMIT 5' \
  | python3 -c '
import json, sys
series = json.load(sys.stdin)["results"][0].get("series", [])
for s in series:
    print("  " + "  ".join(f"{c:>24}" for c in s["columns"]))
    for row in s["values"]:
        print("  " + "  ".join(f"{str(v):>24}" for v in row))'
echo "==> ingestd's final stats line"
grep 'msg=stats' "$WORK/ingestd.log" | tail -n 1
echo "published $sent valid messages; InfluxDB holds $count points"
if [ "$code" -ne 0 ] || [ "$count" -ne "$sent" ]; then
  echo "demo FAILED (see the log above)" >&2
  exit 1
fi
echo "demo ok: every accepted message is in InfluxDB"
