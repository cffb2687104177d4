#pragma once
// The product's version, one number for svdgw, svdhub and the Debian package: the CMake
// project's VERSION (the top-level CMakeLists.txt), compiled into this library alone.

#include <string_view>

namespace svd {

std::string_view version();

}  // namespace svd
