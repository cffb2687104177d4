#pragma once
// Field readers shared by the protocol's parsers (envelope.cpp, checkpoint.cpp). Private to
// protocol/.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace svd::protocol::detail {

// A required field of the given kind; false when absent or of another type.
inline bool get_string(const boost::json::object& o, std::string_view key, std::string& out) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return false;
  out = std::string(v->as_string());
  return true;
}

inline bool get_uint(const boost::json::object& o, std::string_view key, std::uint64_t& out) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return false;
  if (v->is_uint64()) out = v->as_uint64();
  else if (v->is_int64() && v->as_int64() >= 0) out = static_cast<std::uint64_t>(v->as_int64());
  else return false;
  return true;
}

}  // namespace svd::protocol::detail
