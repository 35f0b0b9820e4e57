#!/usr/bin/env bash
# Installs what building, testing and the demo need, and only what is missing.
# Debian/Ubuntu: apt-get. Safe to run again; does nothing when everything is there.
set -euo pipefail

need=()
have_pkgconfig() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null || need+=(pkg-config)
have_pkgconfig libmosquitto || need+=(libmosquitto-dev)
have_pkgconfig libcurl || need+=(libcurl4-openssl-dev)
have_pkgconfig openssl || need+=(libssl-dev)   # TLS of the native MQTT client
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v influxd >/dev/null || need+=(influxdb)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v openssl >/dev/null || need+=(openssl)
command -v systemd-analyze >/dev/null || need+=(systemd)   # `systemd-analyze verify` checks the unit file
# PostgreSQL server binaries for the registry tests (they start their own server as user postgres).
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
# Prometheus and promtool: a real Prometheus scrapes ingestd, promtool checks and unit-tests the alert rules.
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || need+=(prometheus)
# RabbitMQ with its MQTT plugin, for the interoperability tests (they start their own node; Erlang's
# epmd comes with it).
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v runuser >/dev/null || [ -x /usr/sbin/runuser ] || need+=(util-linux)
# The Debian package and its test (scripts/package-deb.sh, scripts/test-deb.sh): dpkg-shlibdeps,
# fakeroot, lintian, and debootstrap for the fresh Debian root the package is installed into.
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v fakeroot >/dev/null || need+=(fakeroot)
command -v lintian >/dev/null || need+=(lintian)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # Debian's packages start their services on install where policy allows; the tests and the
  # demo start their own copies on free loopback ports, so a system-wide one is not needed.
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Python modules the tests use: prometheus_client (an independent parser for /metrics), jsonschema and
# PyYAML (the compose file against the Compose Specification's schema). From PyPI, only when missing.
py_need=()
python3 -c 'import prometheus_client' 2>/dev/null || py_need+=(prometheus_client)
python3 -c 'import jsonschema' 2>/dev/null || py_need+=(jsonschema)
python3 -c 'import yaml' 2>/dev/null || py_need+=(PyYAML)
if [ ${#py_need[@]} -gt 0 ]; then
  echo "install-deps: pip installing ${py_need[*]}"
  if ! { python3 -m pip install --quiet "${py_need[@]}" 2>/dev/null \
         || python3 -m pip install --quiet --break-system-packages "${py_need[@]}" 2>/dev/null; }; then
    # A fresh Debian's python3 has no pip: Debian packages the same modules.
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      python3-prometheus-client python3-jsonschema python3-yaml >/dev/null
  fi
fi

# amqtt, an MQTT broker in Python, for the interoperability tests. Only on PyPI: without pip, Debian's
# python3-pip brings it.
if ! command -v amqtt >/dev/null; then
  echo "install-deps: pip installing amqtt"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  python3 -m pip --version >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  python3 -m pip install --quiet amqtt 2>/dev/null \
    || $sudo python3 -m pip install --quiet --break-system-packages amqtt
fi

if ! command -v swift >/dev/null; then
  echo "install-deps: no Swift toolchain on PATH; install Swift 6.2 or later (https://www.swift.org/install/linux/)" >&2
  exit 1
fi
