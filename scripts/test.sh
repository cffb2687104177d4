#!/bin/sh
# Builds everything and runs the whole test suite with ctest (the README's test command).
# BUILD_DIR and SVD_SANITIZE may be set; JOBS defaults to the number of cores.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSVD_SANITIZE="${SVD_SANITIZE:-}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
