#!/usr/bin/env bash
# The whole test suite: unit tests of the pure logic, service tests, and integration tests that
# start a real mosquitto and a real InfluxDB on free loopback ports. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
# DebianPackageTests packages this build's ingestd, which must carry the Swift runtime: linking it with
# --static-swift-stdlib reuses the objects just compiled (a relink, not a second build).
swift build --product ingestd --static-swift-stdlib
swift test --skip-build "$@"
