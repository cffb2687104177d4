#!/bin/sh
# Builds the Debian package on a fresh Debian 12 machine, from the repository root:
#   ./deploy/build-package.sh            → prints the path of svd-gateway_<version>_<arch>.deb
# Installs the build dependencies (deploy/install-deps.sh: needs root or sudo), configures a
# Release build without the test suites in build-package/ (BUILD_DIR), builds only svdgw and
# svdhub, and packages them with CPack (cmake/Packaging.cmake). JOBS may be set.
# Install it with `apt install ./svd-gateway_<version>_<arch>.deb` (which also installs its
# dependencies), then see /usr/share/doc/svd-gateway/.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-package}
JOBS=${JOBS:-$(nproc)}

./deploy/install-deps.sh
# -O2, not CMake's Release default -O3: the optimisation level CI tests (scripts/test.sh) and
# Debian builds its packages with; and at -O3 GCC 12 reports false -Wrestrict errors inside
# libstdc++'s std::string (GCC bug 105329), which -Werror turns into a failed build.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DSVD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target svdgw svdhub
(cd "$BUILD_DIR" && cpack --config CPackConfig.cmake -G DEB >cpack.log 2>&1) || {
  cat "$BUILD_DIR/cpack.log" >&2
  echo "build-package: cpack failed" >&2
  exit 1
}
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' "$BUILD_DIR/cpack.log")
[ -f "$deb" ] || { cat "$BUILD_DIR/cpack.log" >&2; echo "build-package: no .deb in cpack's output" >&2; exit 1; }
echo "$deb"
