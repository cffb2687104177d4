#!/bin/sh
# Builds everything and runs the whole test suite with ctest (the README's test command): under
# AddressSanitizer + UndefinedBehaviorSanitizer, because the parsers here take untrusted input,
# then in the normal build. SANITIZE=0 skips the sanitizer pass; BUILD_DIR and JOBS may be set.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

run_suite() {  # build dir, sanitizers, ctest's -E pattern ("" for none), cmake arguments...
  dir=$1 sanitize=$2 exclude=$3
  shift 3
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSVD_SANITIZE="$sanitize" "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  if [ -n "$exclude" ]; then
    ctest --test-dir "$dir" --output-on-failure -j "$JOBS" -E "$exclude"
  else
    ctest --test-dir "$dir" --output-on-failure -j "$JOBS"
  fi
}

if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== address,undefined sanitizers ($BUILD_DIR-asan)"
  # testssl.sh probes the server's TLS configuration from outside, which the sanitizers cannot
  # see into: it runs (30 s to 90 s) in the normal pass only.
  run_suite "$BUILD_DIR-asan" address,undefined Testssl
fi
echo "== normal build ($BUILD_DIR)"
# -O2 as shipped, with -g1 (line tables, no variable locations) instead of -g: full debug info
# costs the Beast coroutine units a third of their compile time (http_api.cpp: 105 s against
# 74 s), and CI has a time budget; backtraces still have file:line.
run_suite "$BUILD_DIR" "" "" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
