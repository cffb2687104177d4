#!/bin/sh
# Builds everything and runs the whole test suite (the README's test command):
#   1. every test with ctest under AddressSanitizer + UndefinedBehaviorSanitizer ($BUILD_DIR-asan),
#      because the parsers here take untrusted input: unit, golden, integration against real
#      mosquitto and RabbitMQ brokers with the real svdgw and svdhub, the kill -9 loop, Chromium;
#   2. the programs as shipped (-O2, $BUILD_DIR): testssl.sh against their upload API (it probes the
#      TLS configuration from outside, which the sanitizers cannot see into), the two-minute crash
#      and outage soak (scripts/soak.py --ci: kill -9s, an outage, every record once); the fuzz
#      targets (clang, $BUILD_DIR-fuzz) over their seeds and regressions and for 5 s each
#      (scripts/fuzz.sh); then, as root, the
#      Debian package's life cycle with dpkg (scripts/package-test.sh), and the units' systemd
#      exposure scores (scripts/unit-security.sh, at most 2.0).
# The shipped build runs no other test: it would repeat the first pass's tests on the same code
# without the sanitizers, and CI has a time budget (docs/decisions.md, "The test script").
# SANITIZE=0 skips the sanitizer pass and runs the whole suite in the shipped build instead;
# BUILD_DIR and JOBS may be set.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

configure() {  # build dir, sanitizers, cmake arguments...
  dir=$1 sanitize=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSVD_SANITIZE="$sanitize" "$@" >/dev/null
}

# -O2 as shipped, with -g1 (line tables, no variable locations) instead of -g: full debug info
# costs the Beast coroutine units a third of their compile time, and backtraces keep file:line.
SHIPPED="-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"

# The fuzz targets (clang's libFuzzer, $BUILD_DIR-fuzz): each once over its seeds and the inputs
# of bugs it found (a regression fails here), then a few seconds of fuzzing each.
fuzz() {
  echo "== libFuzzer: every target over fuzz/corpus/ and fuzz/regressions/, then 5 s of fuzzing each"
  BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" ./scripts/fuzz.sh regress
  BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" ./scripts/fuzz.sh all 5
}

if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== address,undefined sanitizers: every test but testssl.sh ($BUILD_DIR-asan)"
  configure "$BUILD_DIR-asan" address,undefined
  cmake --build "$BUILD_DIR-asan" -j "$JOBS"
  # The shipped programs compile at the lowest priority while the tests run: the tests mostly
  # wait on brokers, daemons and databases and leave a core idle, and this saves CI minutes.
  configure "$BUILD_DIR" "" "$SHIPPED"
  nice -n 19 cmake --build "$BUILD_DIR" -j "$JOBS" --target svdgw svdhub >"$BUILD_DIR/shipped-build.log" 2>&1 &
  shipped_build=$!
  # Twice as many tests as cores: most of them wait on brokers, daemons and databases (on two
  # cores, two at a time kept one core busy), and each waits on state with generous deadlines.
  tests=0
  ctest --test-dir "$BUILD_DIR-asan" --output-on-failure -j "$((JOBS * 2))" -E Testssl || tests=$?
  wait "$shipped_build" || { cat "$BUILD_DIR/shipped-build.log" >&2; echo "the shipped build failed" >&2; exit 1; }
  [ "$tests" -eq 0 ] || exit "$tests"

  echo "== as shipped: testssl.sh against $BUILD_DIR's svdgw run"
  # The sanitizer build's test drives the shipped daemon (tests/integration/daemon_fixture.h), so
  # the shipped build compiles no test code.
  case $BUILD_DIR in /*) shipped=$BUILD_DIR ;; *) shipped=$PWD/$BUILD_DIR ;; esac
  SVD_TEST_DAEMON="$shipped/apps/svdgw/svdgw" ctest --test-dir "$BUILD_DIR-asan" --output-on-failure -R Testssl

  echo "== as shipped: the two-minute crash and outage soak (scripts/soak.py --ci)"
  SVD_SYNTH="$PWD/$BUILD_DIR-asan/tests/synth/svd-synth" BUILD_DIR="$shipped" python3 scripts/soak.py --ci \
    --out "$shipped/soak"
  fuzz
else
  echo "== the whole suite, as shipped ($BUILD_DIR)"
  configure "$BUILD_DIR" "" "$SHIPPED"
  cmake --build "$BUILD_DIR" -j "$JOBS"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
  echo "== the two-minute crash and outage soak (scripts/soak.py --ci)"
  BUILD_DIR="$BUILD_DIR" python3 scripts/soak.py --ci --out "$BUILD_DIR/soak"
  fuzz
fi

echo "== the Debian package and the hardened units ($BUILD_DIR)"
if [ "$(id -u)" -eq 0 ]; then
  ./scripts/package-test.sh "$BUILD_DIR"  # runs scripts/unit-security.sh too
else
  echo "package test skipped: dpkg needs root (run this script as root, as CI does)"
  ./scripts/unit-security.sh
fi
