#!/bin/sh
# Installs every Debian 12 package the build, the tests, the demo and the benchmarks need.
# Idempotent and non-interactive; run as root (or through sudo).
set -eu

PACKAGES="
  build-essential cmake ninja-build pkg-config git file dpkg-dev systemd
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl
  libpaho-mqttpp-dev libpaho-mqtt-dev
  libsqlite3-dev sqlite3
  libgtest-dev
  libtomlplusplus-dev libcli11-dev
  libicu-dev
  libsystemd-dev
  mosquitto rabbitmq-server curl testssl.sh tinyproxy
  python3 python3-paho-mqtt
  chromium python3-pil
  postgresql-15 libpq-dev
  prometheus
  faketime
  clang-14 libclang-rt-14-dev
"
# postgresql-15 is for the hub's PostgreSQL tests (tests/hub/pg_test). Debian's package creates, and
# may start, a default cluster on port 5432; the tests run their own server in a temporary
# directory on a free loopback port (tests/support/postgres_server.h), and neither use nor stop it.
# prometheus is for its promtool, which checks the shipped alert rules (deploy/monitoring/); the
# tests never start or scrape a Prometheus server, and neither use nor stop the one the package
# may start on port 9090.
# clang-14 and libclang-rt-14-dev (its libFuzzer and sanitizer runtimes) build the fuzz targets
# (fuzz/, scripts/fuzz.sh); the shipped and test builds are GCC's.
# faketime (libfaketime) sets the clock of the gateways in the report's end-to-end test
# (tests/integration/scenario_test.cpp), which delivers weeks of extracts in minutes.

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
  echo "install-deps.sh: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
