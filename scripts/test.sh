#!/usr/bin/env bash
# The whole test suite: unit tests of the pure logic, service tests, and integration tests that
# start a real mosquitto and a real InfluxDB on free loopback ports. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
# DebianPackageTests packages an ingestd that carries the Swift runtime (--static-swift-stdlib). It is
# built in a build folder of its own: objects compiled for the static runtime name the static
# Foundation's libraries, so building them into .build would break the next link of the test bundle.
swift build --product ingestd --static-swift-stdlib --scratch-path .build-static
INGESTD_STATIC_BINARY="$PWD/.build-static/debug/ingestd"
export INGESTD_STATIC_BINARY
swift test --skip-build "$@"
