#!/usr/bin/env bash
# The whole test suite: unit tests of the pure logic, service tests, and integration tests that
# start a real mosquitto and a real InfluxDB on free loopback ports. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
# DebianPackageTests packages this build's ingestd, which must carry the Swift runtime. Linking it with
# --static-swift-stdlib reuses the objects just compiled (a relink of one binary, not a second build).
# Objects compiled for the shared runtime do not name the static Foundation's own libraries
# (CoreFoundation, ICU: an -static-stdlib compile records them), so the link names them itself.
foundation_static=()
for lib in Foundation CoreFoundation _FoundationICU _FoundationCShims _FoundationCollections \
           FoundationEssentials FoundationInternationalization swiftSynchronization; do
  foundation_static+=(-Xlinker "-l$lib")
done
swift build --product ingestd --static-swift-stdlib -Xlinker --start-group "${foundation_static[@]}" -Xlinker --end-group
swift test --skip-build "$@"
