#include "protocol/status.h"

#include <boost/json.hpp>

#include "base/identity.h"
#include "base/time.h"
#include "protocol/detail/json_fields.h"

namespace svd::protocol {
namespace json = boost::json;

std::string to_json(const GatewayStatus& s) {
  json::object o;
  o["state"] = s.online ? "online" : "offline";
  o["version"] = s.version;
  if (s.queued_batches) o["queued_batches"] = *s.queued_batches;
  if (s.unacknowledged_records) o["unacknowledged_records"] = *s.unacknowledged_records;
  if (s.rejected_batches) o["rejected_batches"] = *s.rejected_batches;
  if (!s.time.empty()) o["time"] = s.time;
  return json::serialize(o);
}

result<GatewayStatus> parse_status(std::string_view payload) {
  if (payload.size() > kMaxStatusBytes) return errc::bad_envelope;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return errc::bad_envelope;
  const json::object& o = v.as_object();
  GatewayStatus s;
  std::string state;
  if (!detail::get_string(o, "state", state) || (state != "online" && state != "offline")) return errc::bad_envelope;
  s.online = state == "online";
  if (!detail::get_string(o, "version", s.version) || s.version.size() > 64) return errc::bad_envelope;
  for (const char c : s.version)
    if (c < 0x20 || c > 0x7e) return errc::bad_envelope;
  for (auto [key, out] : {std::pair{"queued_batches", &s.queued_batches},
                          std::pair{"unacknowledged_records", &s.unacknowledged_records},
                          std::pair{"rejected_batches", &s.rejected_batches}}) {
    if (!o.contains(key)) continue;
    std::uint64_t n = 0;
    if (!detail::get_uint(o, key, n)) return errc::bad_envelope;
    *out = n;
  }
  if (o.contains("time")) {
    if (!detail::get_string(o, "time", s.time) || !parse_utc_iso(s.time)) return errc::bad_envelope;
  }
  return s;
}

bool parse_status_topic(std::string_view topic, std::string& partner) {
  constexpr std::string_view kPrefix = "svd/v1/", kSuffix = "/status";
  if (!topic.starts_with(kPrefix) || !topic.ends_with(kSuffix) || topic.size() <= kPrefix.size() + kSuffix.size())
    return false;
  const std::string_view id = topic.substr(kPrefix.size(), topic.size() - kPrefix.size() - kSuffix.size());
  if (!valid_identity(id)) return false;
  partner = std::string(id);
  return true;
}

}  // namespace svd::protocol
