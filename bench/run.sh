#!/usr/bin/env bash
# ingestd benchmark (README "Benchmark"): builds release, starts a throw-away mosquitto and influxd on free
# loopback ports, runs bench/bench.py, prints a table and writes bench/results/<timestamp>.json.
#   N=50000 bench/run.sh          quick run (default N=200000)
#   SKIP_INFLUX=1 bench/run.sh    without the real-InfluxDB variant
#   BASELINE=<git rev> bench/run.sh   also drains with that revision's ingestd in the same run (before/after)
# Other knobs: DEVICES, LIVE_RATE, LIVE_SECONDS, INFLUX_BATCH_SIZE, INFLUX_FLUSH_INTERVAL_MS, KEEP=1,
#   SLOW_N, SLOW_SINKS_MS, TENANTS, TENANTS_N, TENANTS_SINKS_MS, INFLUXD_CPU_SHARE, INFLUXD_CAPPED_RUNS,
#   BENCH_STATS_SECONDS.
#   PHASES=slow,tenants,influx bench/run.sh   only those phases (also limit, drain, durability, mapped, mosquitto, live)
# Installs nothing: it stops with a message when a tool is missing (scripts/install-deps.sh has them).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in swift mosquitto mosquitto_sub python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ "${SKIP_INFLUX:-0}" = 1 ] || command -v influxd >/dev/null 2>&1 || missing+=(influxd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: missing ${missing[*]} (scripts/install-deps.sh installs them; SKIP_INFLUX=1 skips influxd)" >&2
  exit 1
fi

echo "==> swift build -c release"
swift build -c release 2>&1 | tail -n 1

# A change is measured against the revision before it in the same run: the machine is shared and noisy,
# so numbers from two runs are not comparable. The baseline is built from a clean checkout of that
# revision in .build-baseline/ (ignored by git), with its own build folder.
if [ -n "${BASELINE:-}" ]; then
  rev=$(git rev-parse --verify "$BASELINE^{commit}")
  src=.build-baseline/src
  if [ ! -d "$src" ]; then git worktree add --detach "$src" "$rev" >/dev/null; fi
  git -C "$src" checkout -q --detach "$rev"
  echo "==> baseline $(git -C "$src" log -1 --format='%h %s' | cut -c1-80): swift build -c release"
  (cd -P "$src" && swift build -c release 2>&1 | tail -n 1)  # -P: the path it was built at
  BASELINE_BIN_DIR="$(cd -P "$src" && pwd)/.build/release"
  BASELINE_REV=$(git -C "$src" log -1 --format=%h)
  export BASELINE_BIN_DIR BASELINE_REV
fi

. scripts/lib/servers.sh
WORK=$(mktemp -d /tmp/ingestd-bench.XXXXXX)
INFLUXD_CGROUP=""
cleanup() {
  stop_servers
  # The cgroup can be removed once influxd's last thread is gone, which may take a moment.
  local i
  for ((i = 0; i < 50; i++)); do
    [ -z "$INFLUXD_CGROUP" ] || [ ! -d "$INFLUXD_CGROUP" ] || rmdir "$INFLUXD_CGROUP" 2>/dev/null || { sleep 0.1; continue; }
    break
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

MQTT_PORT=$(free_port)
start_mosquitto "$WORK" "$MQTT_PORT"
INFLUX_PORT=0
if [ "${SKIP_INFLUX:-0}" != 1 ]; then
  # influxd snapshots its write cache to disk every 25 MB by default; a snapshot costs a burst of CPU that
  # lands in whichever drain is running, and moved influxd's CPU per line by up to 2x between identical
  # POSTs. Every drain here is at most a few hundred MB, so with 512 MB none snapshots and the real
  # InfluxDB phase compares like with like (README "Benchmark").
  export INFLUXDB_DATA_CACHE_SNAPSHOT_MEMORY_SIZE=${INFLUXDB_DATA_CACHE_SNAPSHOT_MEMORY_SIZE:-536870912}
  export INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION=${INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION:-1h}
  INFLUX_PORT=$(free_port)
  start_influxd "$WORK" "$INFLUX_PORT" "$(free_port)"
fi
INFLUXD_PID=0
if [ "$INFLUX_PORT" != 0 ]; then
  INFLUXD_PID=${SERVER_PIDS[1]}
  # A CPU cgroup of influxd's own, so bench.py can hold influxd to INFLUXD_CPU_SHARE of a core for the
  # second real-InfluxDB drain (README "Benchmark": InfluxDB as the bottleneck). Needs root and the cgroup
  # v1 cpu controller or cgroup v2 with cpu.max; without them that drain is skipped and says so.
  if [ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/cpu/cgroup.procs ] && mkdir "/sys/fs/cgroup/cpu/ingestd-bench-$$" 2>/dev/null; then
    INFLUXD_CGROUP=/sys/fs/cgroup/cpu/ingestd-bench-$$
  elif [ "$(id -u)" = 0 ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null \
      && mkdir "/sys/fs/cgroup/ingestd-bench-$$" 2>/dev/null; then
    INFLUXD_CGROUP=/sys/fs/cgroup/ingestd-bench-$$
  fi
  if [ -n "$INFLUXD_CGROUP" ] && ! echo "$INFLUXD_PID" > "$INFLUXD_CGROUP/cgroup.procs" 2>/dev/null; then
    rmdir "$INFLUXD_CGROUP" 2>/dev/null || true
    INFLUXD_CGROUP=""
  fi
fi
export WORK MQTT_PORT INFLUX_PORT INFLUXD_PID INFLUXD_CGROUP
python3 bench/bench.py
