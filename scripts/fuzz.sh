#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (README "Tests"): the MQTT packet decoder and the JSON envelope
# decoder, built with -sanitize=fuzzer,address from the IngestCore sources they need.
#
#   scripts/fuzz.sh [target|all] [seconds]     targets: mqtt-packet, envelope (default: all, 60 s each)
#
# Starts from the seed corpus in fuzz/corpus/<target> (read-only); inputs found on the way go to
# .build/fuzz/corpus/<target>. A crash leaves its input in .build/fuzz/artifacts/ and exits non-zero;
# replay it with `.build/fuzz/<target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-all}"
seconds="${2:-60}"
out=.build/fuzz
mkdir -p "$out/artifacts"

# The IngestCore sources each decoder needs, compiled into the fuzzer itself: the whole module would
# bring swift-crypto (device-token hashing), which the decoders do not use.
sources_mqtt_packet() {
  ls Sources/IngestCore/MQTT/*.swift Sources/IngestCore/Settings/MQTTProtocolVersion.swift
}
sources_envelope() {
  ls Sources/IngestCore/Envelope/*.swift Sources/IngestCore/Bytes/*.swift \
    Sources/IngestCore/RejectReason.swift Sources/IngestCore/LineProtocol/LineProtocolText.swift
}

build() {
  local name="$1" main="$2"
  local binary="$out/$name"
  local sources
  sources=$("sources_${name//-/_}")
  # Rebuild only when a source is newer than the binary.
  if [ -x "$binary" ] && [ -z "$(find Sources/IngestCore "$main" -name '*.swift' -newer "$binary" | head -n 1)" ]; then
    return
  fi
  echo "fuzz: building $name" >&2
  # shellcheck disable=SC2046
  swiftc -sanitize=fuzzer,address -parse-as-library -O -wmo -module-name IngestCoreFuzz \
    $sources "$main" -o "$binary"
}

run() {
  local name="$1" main="$2"
  build "$name" "$main"
  mkdir -p "$out/corpus/$name"
  local dictionary=()
  [ -f "fuzz/$name.dict" ] && dictionary=(-dict="fuzz/$name.dict")
  echo "fuzz: running $name for ${seconds}s" >&2
  # -rss_limit_mb and -timeout turn a leak or a hang into a failure, not a stuck CI job.
  "$out/$name" "$out/corpus/$name" "fuzz/corpus/$name" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -artifact_prefix="$out/artifacts/$name-" -print_final_stats=1 "${dictionary[@]}"
}

case "$target" in
  mqtt-packet) run mqtt-packet fuzz/MQTTPacketFuzzer.swift ;;
  envelope) run envelope fuzz/EnvelopeFuzzer.swift ;;
  all)
    run mqtt-packet fuzz/MQTTPacketFuzzer.swift
    run envelope fuzz/EnvelopeFuzzer.swift
    ;;
  *) echo "usage: scripts/fuzz.sh [mqtt-packet|envelope|all] [seconds]" >&2; exit 64 ;;
esac
