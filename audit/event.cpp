#include "audit/event.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <boost/json.hpp>

#include "crypto/sha256.h"

namespace svd::audit {
namespace {

bool clean_field(std::string_view s, std::size_t max) {
  return s.size() <= max &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool valid_event(const Event& e) {
  if (e.time.empty() || e.actor.empty() || e.action.empty()) return false;
  if (!clean_field(e.time, 64) || !clean_field(e.actor, kMaxFieldBytes) || !clean_field(e.action, kMaxFieldBytes) ||
      !clean_field(e.object, kMaxFieldBytes) || !clean_field(e.details, kMaxDetailsBytes))
    return false;
  if (!e.payload_sha256.empty() && (e.payload_sha256.size() != 64 || !lower_hex(e.payload_sha256))) return false;
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

std::string hex(const Hash& h) { return crypto::to_hex(h.data(), h.size()); }

bool from_hex(std::string_view text, Hash& out) {
  if (text.size() != 64 || !lower_hex(text)) return false;
  auto nibble = [](char c) { return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10); };
  for (std::size_t i = 0; i < 32; ++i) out[i] = static_cast<unsigned char>(nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]));
  return true;
}

std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf, n) + frac;
}

}  // namespace svd::audit
