#include "base/identity.h"

#include <algorithm>

namespace svd {

bool valid_identity(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool reserved_client_identity(std::string_view s) { return s == "spool" || s == "gateway" || s == "hub"; }

}  // namespace svd
