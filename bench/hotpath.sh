#!/usr/bin/env bash
# Instructions per message of IngestCore's hot path (decode -> validate -> line protocol) on the bench
# payloads, counted by callgrind: (I(N2) - I(N1)) / (N2 - N1). Repeatable on a noisy machine.
# AUTH=1 adds an auth cache hit (LRUCache lookup + DeviceAuthorizer, see HotPath.swift).
# MAPPED=1 runs Zigbee2MQTT payloads through the rules of config/mappings/zigbee2mqtt.yaml instead.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-20000} N2=${N2:-120000}
swift build -c release --product ingestd-bench 2>&1 | tail -n 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# valgrind 3.19 cannot read the DWARF 5 debug info swiftc writes; the symbol table is enough.
objcopy --strip-debug .build/release/ingestd-bench "$tmp/ingestd-bench"
extra=(); label="hot path"
if [ "${AUTH:-0}" = 1 ]; then extra=(--auth); label="hot path + auth cache hit"; fi
if [ "${MAPPED:-0}" = 1 ]; then extra=(--mapped); label="mapped hot path (zigbee2mqtt rule)"; fi
count() { valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$tmp/ingestd-bench" hotpath --count "$1" "${extra[@]}" 2>&1 \
  | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
i1=$(count "$N1"); i2=$(count "$N2")
echo "$label: $(( (i2 - i1) / (N2 - N1) )) instructions/message (callgrind, N=$N1 and $N2)"
if [ "${ANNOTATE:-0}" = 1 ]; then callgrind_annotate "$tmp/cg.$N2" 2>/dev/null | head -40 | swift demangle --simplified | cut -c1-160; fi
