#include "base/version.h"

namespace svd {

std::string_view version() { return SVD_VERSION; }

}  // namespace svd
