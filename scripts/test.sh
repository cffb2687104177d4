#!/bin/sh
# Builds everything and runs the whole test suite with ctest (the README's test command): once
# in the normal build, then again under AddressSanitizer + UndefinedBehaviorSanitizer, because
# the parsers here take untrusted input. SANITIZE=0 skips the second pass; BUILD_DIR and JOBS
# may be set.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

run_suite() {  # build dir, sanitizers, ctest arguments...
  dir=$1 sanitize=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSVD_SANITIZE="$sanitize" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@"
}

if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== address,undefined sanitizers ($BUILD_DIR-asan)"
  # testssl.sh probes the server's TLS configuration from outside, which the sanitizers cannot
  # see into: it runs (30 s to 90 s) in the normal pass only.
  run_suite "$BUILD_DIR-asan" address,undefined -E Testssl
fi
echo "== normal build ($BUILD_DIR)"
run_suite "$BUILD_DIR" ""
