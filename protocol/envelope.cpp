#include "protocol/envelope.h"

#include <algorithm>
#include <cstring>

#include <boost/json.hpp>

#include "base/hex.h"
#include "crypto/sha256.h"
#include "protocol/detail/json_fields.h"

namespace svd::protocol {
namespace json = boost::json;

namespace {

// memchr is vectorised in glibc; a byte loop (std::count at -O2) is several times slower, and
// both sides count every batch's hundreds of KiB.
std::uint64_t count_lines(std::string_view s) {
  std::uint64_t n = 0;
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (p == nullptr) break;
    ++n;
    ++p;
  }
  return n;
}

constexpr std::size_t kMaxHeaderBytes = 64 << 10;

using detail::get_string;
using detail::get_uint;

}  // namespace

std::string batch_id_for(std::string_view partner, std::string_view feed, std::string_view extract_sha256,
                         std::uint64_t seq) {
  crypto::Sha256 h;
  const std::string_view nul("\0", 1);
  h.update("svd-batch-v1");
  for (std::string_view part : {partner, feed, extract_sha256}) {
    h.update(nul);
    h.update(part);
  }
  h.update(nul);
  h.update(std::to_string(seq));
  return h.finish_hex().substr(0, 32);
}

std::string make_batch_payload(BatchHeader header, std::string_view records) {
  header.count = count_lines(records);
  header.records_sha256 = crypto::sha256_hex(records);
  json::object o;
  o["v"] = header.v;
  o["batch_id"] = header.batch_id;
  o["partner"] = header.partner;
  o["feed"] = header.feed;
  o["schema"] = header.schema;
  json::array keys;
  for (const auto& k : header.key_ids) keys.emplace_back(k);
  o["key_ids"] = std::move(keys);
  o["extract"] = {{"id", header.extract.id}, {"sha256", header.extract.sha256}, {"received_at", header.extract.received_at}};
  o["seq"] = header.seq;
  o["last"] = header.last;
  o["count"] = header.count;
  o["records_sha256"] = header.records_sha256;
  if (header.nil_return) o["nil_return"] = true;
  std::string out = json::serialize(o);
  out.reserve(out.size() + 1 + records.size());
  out += '\n';
  out.append(records);
  return out;
}

result<Batch> parse_batch(std::string_view payload) {
  const std::size_t nl = payload.find('\n');
  if (nl == std::string_view::npos || nl > kMaxHeaderBytes) return errc::bad_envelope;
  boost::system::error_code ec;
  json::value v = json::parse(payload.substr(0, nl), ec);
  if (ec || !v.is_object()) return errc::bad_envelope;
  const json::object& o = v.as_object();
  Batch b;
  BatchHeader& h = b.header;
  std::uint64_t version = 0;
  if (!get_uint(o, "v", version)) return errc::bad_envelope;
  if (version != kVersion) return errc::unsupported_version;
  h.v = kVersion;
  const json::value* extract = o.if_contains("extract");
  const json::value* keys = o.if_contains("key_ids");
  const json::value* last = o.if_contains("last");
  if (!get_string(o, "batch_id", h.batch_id) || !get_string(o, "partner", h.partner) ||
      !get_string(o, "feed", h.feed) || !get_string(o, "schema", h.schema) || !get_uint(o, "seq", h.seq) ||
      !get_uint(o, "count", h.count) || !get_string(o, "records_sha256", h.records_sha256) || !extract ||
      !extract->is_object() || !keys || !keys->is_array() || !last || !last->is_bool())
    return errc::bad_envelope;
  const json::object& e = extract->as_object();
  if (!get_string(e, "id", h.extract.id) || !get_string(e, "sha256", h.extract.sha256) ||
      !get_string(e, "received_at", h.extract.received_at))
    return errc::bad_envelope;
  for (const auto& k : keys->as_array()) {
    if (!k.is_string()) return errc::bad_envelope;
    h.key_ids.emplace_back(k.as_string());
  }
  h.last = last->as_bool();
  if (const json::value* nil = o.if_contains("nil_return")) {
    if (!nil->is_bool()) return errc::bad_envelope;
    h.nil_return = nil->as_bool();
  }
  if (!is_lower_hex(h.records_sha256, 64)) return errc::bad_envelope;

  b.records = payload.substr(nl + 1);
  if (crypto::sha256_hex(b.records) != h.records_sha256) return errc::records_digest_mismatch;
  const std::uint64_t lines = count_lines(b.records);
  if (lines != h.count || (!b.records.empty() && b.records.back() != '\n')) return errc::record_count_mismatch;
  return b;
}

std::string peek_batch_id(std::string_view payload) {
  const std::size_t nl = payload.find('\n');
  if (nl == std::string_view::npos || nl > kMaxHeaderBytes) return {};
  boost::system::error_code ec;
  json::value v = json::parse(payload.substr(0, nl), ec);
  std::string id;
  if (!ec && v.is_object() && get_string(v.as_object(), "batch_id", id) && id.size() <= 64) return id;
  return {};
}

std::string batch_topic(std::string_view partner, std::string_view feed) {
  return "svd/v1/" + std::string(partner) + "/" + std::string(feed) + "/batch";
}
std::string receipt_topic(std::string_view partner) { return "svd/v1/" + std::string(partner) + "/receipt"; }
std::string audit_topic(std::string_view partner) { return "svd/v1/" + std::string(partner) + "/audit"; }
std::string status_topic(std::string_view partner) { return "svd/v1/" + std::string(partner) + "/status"; }

bool parse_batch_topic(std::string_view topic, std::string& partner, std::string& feed) {
  constexpr std::string_view kPrefix = "svd/v1/", kSuffix = "/batch";
  if (!topic.starts_with(kPrefix) || !topic.ends_with(kSuffix)) return false;
  std::string_view middle = topic.substr(kPrefix.size(), topic.size() - kPrefix.size() - kSuffix.size());
  const std::size_t slash = middle.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == middle.size() ||
      middle.find('/', slash + 1) != std::string_view::npos)
    return false;
  partner = std::string(middle.substr(0, slash));
  feed = std::string(middle.substr(slash + 1));
  return true;
}

std::string_view to_string(ReceiptStatus s) {
  switch (s) {
    case ReceiptStatus::accepted: return "accepted";
    case ReceiptStatus::duplicate: return "duplicate";
    case ReceiptStatus::rejected: return "rejected";
  }
  return "?";
}

std::string to_json(const Receipt& r) {
  json::object o;
  o["batch_id"] = r.batch_id;
  o["status"] = to_string(r.status);
  o["reason"] = r.reason;
  return json::serialize(o);
}

result<Receipt> parse_receipt(std::string_view text) {
  if (text.size() > kMaxHeaderBytes) return errc::bad_receipt;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return errc::bad_receipt;
  const json::object& o = v.as_object();
  Receipt r;
  std::string status;
  if (!get_string(o, "batch_id", r.batch_id) || !get_string(o, "status", status)) return errc::bad_receipt;
  get_string(o, "reason", r.reason);
  if (status == "accepted") r.status = ReceiptStatus::accepted;
  else if (status == "duplicate") r.status = ReceiptStatus::duplicate;
  else if (status == "rejected") r.status = ReceiptStatus::rejected;
  else return errc::bad_receipt;
  return r;
}

}  // namespace svd::protocol
