#!/usr/bin/env bash
# CPU profile of one ingestd drain (see bench/profile.py). N=100000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "error: perf is missing" >&2; exit 1; }
swift build -c release 2>&1 | tail -n 1
. scripts/lib/servers.sh
WORK=${WORK:-$(mktemp -d /tmp/ingestd-profile.XXXXXX)}
trap 'stop_servers; echo "work folder: $WORK"' EXIT
MQTT_PORT=$(free_port)
start_mosquitto "$WORK" "$MQTT_PORT"
export WORK MQTT_PORT INFLUX_PORT=0
python3 bench/profile.py
