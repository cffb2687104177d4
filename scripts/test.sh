#!/bin/sh
# Builds everything and runs the whole test suite with ctest (the README's test command): once
# in the normal build, then again under AddressSanitizer + UndefinedBehaviorSanitizer, because
# the parsers here take untrusted input. SANITIZE=0 skips the second pass; BUILD_DIR and JOBS
# may be set.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

run_suite() {  # build dir, sanitizers
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSVD_SANITIZE="$2" >/dev/null
  cmake --build "$1" -j "$JOBS"
  ctest --test-dir "$1" --output-on-failure -j "$JOBS"
}

if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== address,undefined sanitizers ($BUILD_DIR-asan)"
  run_suite "$BUILD_DIR-asan" address,undefined
fi
echo "== normal build ($BUILD_DIR)"
run_suite "$BUILD_DIR" ""
