#include "audit/event.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <boost/json.hpp>

#include "base/hex.h"
#include "base/time.h"
#include "crypto/sha256.h"

namespace svd::audit {
namespace {

bool clean_field(std::string_view s, std::size_t max) {
  return s.size() <= max &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

bool valid_event(const Event& e) {
  if (e.time.empty() || e.actor.empty() || e.action.empty()) return false;
  if (!clean_field(e.time, 64) || !clean_field(e.actor, kMaxFieldBytes) || !clean_field(e.action, kMaxFieldBytes) ||
      !clean_field(e.object, kMaxFieldBytes) || !clean_field(e.details, kMaxDetailsBytes))
    return false;
  if (!e.payload_sha256.empty() && !is_lower_hex(e.payload_sha256, 64)) return false;
  boost::system::error_code ec;
  const auto v = boost::json::parse(e.details, ec);
  return !ec && v.is_object();
}

std::string canonical_row(std::uint64_t seq, const Event& e) {
  std::string row = std::to_string(seq);
  for (const std::string* f : {&e.time, &e.actor, &e.action, &e.object, &e.details, &e.payload_sha256}) {
    row += '\n';
    row += *f;
  }
  return row;
}

Hash leaf_hash(std::uint64_t seq, const Event& e) {
  crypto::Sha256 h;
  h.update(std::string_view("\0", 1));
  h.update(canonical_row(seq, e));
  return h.finish();
}

Hash chain_next(const Hash& previous, const Hash& leaf) {
  crypto::Sha256 h;
  h.update(std::string_view(reinterpret_cast<const char*>(previous.data()), previous.size()));
  h.update(std::string_view(reinterpret_cast<const char*>(leaf.data()), leaf.size()));
  return h.finish();
}

std::string now_utc() { return utc_iso_ms(std::chrono::system_clock::now()); }

}  // namespace svd::audit
