#include "protocol/checkpoint.h"

#include <algorithm>

#include <boost/json.hpp>

#include "base/hex.h"
#include "base/identity.h"
#include "protocol/detail/json_fields.h"

namespace svd::protocol {
namespace json = boost::json;

namespace {

constexpr int kCheckpointVersion = 1;
constexpr std::size_t kChainHashDigits = 64;
constexpr std::size_t kSignatureDigits = 128;
// kMaxCheckpointLeaves leaves of 64 hex digits are about 270 KiB of JSON: anything beyond this
// bound is refused before the parser allocates for it.
constexpr std::size_t kMaxMessageBytes = std::size_t{512} << 10;
// A receipt carries no leaves (a few hundred bytes); the bound is parse_receipt's, so a payload
// above it is refused as a receipt of either kind.
constexpr std::size_t kMaxReceiptBytes = std::size_t{64} << 10;
// Times are ISO 8601 (about 24 characters); the bound only keeps logs and notes sane.
constexpr std::size_t kMaxTimeChars = 64;
constexpr std::size_t kMaxReasonChars = 64;

using detail::get_string;
using detail::get_uint;

// The notes are newline-separated and the witness note extends the checkpoint note: a time with
// a newline or a space could make one note spell another ("…\nwitnessed …"), so times are
// printable ASCII without spaces.
bool valid_time(std::string_view s) {
  return !s.empty() && s.size() <= kMaxTimeChars &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c <= '~'; });
}

// crypto::fingerprint's form, "xxxx xxxx … xxxx" (8 groups): it is only shown to people, but
// checking its form keeps arbitrary text out of the logs that show it.
bool valid_fingerprint(std::string_view s) {
  if (s.size() != 8 * 4 + 7) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i % 5 == 4) {
      if (c != ' ') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// An errc name: it is logged and stored by the gateway.
bool valid_reason(std::string_view s) {
  return !s.empty() && s.size() <= kMaxReasonChars &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

json::object checkpoint_to_json(const Checkpoint& c) {
  json::object o;
  o["partner"] = c.partner;
  o["seq"] = c.seq;
  o["chain_hash"] = c.chain_hash;
  o["time"] = c.time;
  return o;
}

// The four members with their types; what their values must be is up to the caller.
bool read_checkpoint(const json::value* v, Checkpoint& c) {
  if (!v || !v->is_object()) return false;
  const json::object& o = v->as_object();
  return get_string(o, "partner", c.partner) && get_uint(o, "seq", c.seq) &&
         get_string(o, "chain_hash", c.chain_hash) && get_string(o, "time", c.time);
}

bool valid_checkpoint(const Checkpoint& c) {
  return valid_identity(c.partner) && is_lower_hex(c.chain_hash, kChainHashDigits) && valid_time(c.time);
}

// In a rejection the hub echoes what it could read of a message it may not have been able to
// parse (the partner from the topic, seq 0, empty hash and time); what is there must still be
// well formed.
bool valid_rejected_checkpoint(const Checkpoint& c) {
  return (c.partner.empty() || valid_identity(c.partner)) &&
         (c.chain_hash.empty() || is_lower_hex(c.chain_hash, kChainHashDigits)) && (c.time.empty() || valid_time(c.time));
}

}  // namespace

std::string checkpoint_note(const Checkpoint& c) {
  std::string note = "svd-gateway audit checkpoint v1\n";
  note += c.partner;
  note += '\n';
  note += std::to_string(c.seq);
  note += '\n';
  note += c.chain_hash;
  note += '\n';
  note += c.time;
  note += '\n';
  return note;
}

std::string witness_note(const Checkpoint& c, std::string_view witnessed_at) {
  std::string note = checkpoint_note(c);
  note += "witnessed ";
  note += witnessed_at;
  note += '\n';
  return note;
}

std::string to_json(const CheckpointMessage& m) {
  json::object o;
  o["v"] = m.v;
  o["checkpoint"] = checkpoint_to_json(m.checkpoint);
  o["signature"] = m.signature;
  o["key_fingerprint"] = m.key_fingerprint;
  if (m.prev) o["prev"] = {{"seq", m.prev->seq}, {"chain_hash", m.prev->chain_hash}};
  json::array leaves;
  leaves.reserve(m.leaves.size());
  for (const auto& leaf : m.leaves) leaves.emplace_back(leaf);
  o["leaves"] = std::move(leaves);
  return json::serialize(o);
}

result<CheckpointMessage> parse_checkpoint_message(std::string_view text) {
  if (text.size() > kMaxMessageBytes) return errc::bad_checkpoint;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return errc::bad_checkpoint;
  const json::object& o = v.as_object();

  // The version first: a later version may change anything else.
  std::uint64_t version = 0;
  if (!get_uint(o, "v", version)) return errc::bad_checkpoint;
  if (version != kCheckpointVersion) return errc::unsupported_version;

  CheckpointMessage m;
  m.v = kCheckpointVersion;
  if (!read_checkpoint(o.if_contains("checkpoint"), m.checkpoint) || !valid_checkpoint(m.checkpoint))
    return errc::bad_checkpoint;
  if (!get_string(o, "signature", m.signature) || !is_lower_hex(m.signature, kSignatureDigits)) return errc::bad_checkpoint;
  if (!get_string(o, "key_fingerprint", m.key_fingerprint) || !valid_fingerprint(m.key_fingerprint))
    return errc::bad_checkpoint;

  // Absent (or null, as other languages write a missing value) for the first checkpoint, whose
  // leaves start after seq 0.
  std::uint64_t base_seq = 0;
  if (const json::value* prev = o.if_contains("prev"); prev && !prev->is_null()) {
    if (!prev->is_object()) return errc::bad_checkpoint;
    ChainPoint p;
    if (!get_uint(prev->as_object(), "seq", p.seq) || !get_string(prev->as_object(), "chain_hash", p.chain_hash) ||
        !is_lower_hex(p.chain_hash, kChainHashDigits))
      return errc::bad_checkpoint;
    // A checkpoint never goes back; one at the same seq (a restart with no new events) has no
    // leaves.
    if (p.seq > m.checkpoint.seq) return errc::bad_checkpoint;
    base_seq = p.seq;
    m.prev = std::move(p);
  }

  const std::uint64_t expected_leaves = m.checkpoint.seq - base_seq;
  if (expected_leaves > kMaxCheckpointLeaves) return errc::bad_checkpoint;
  const json::value* leaves = o.if_contains("leaves");
  if (!leaves || !leaves->is_array() || leaves->as_array().size() != expected_leaves) return errc::bad_checkpoint;
  m.leaves.reserve(leaves->as_array().size());
  for (const auto& leaf : leaves->as_array()) {
    if (!leaf.is_string() || !is_lower_hex(leaf.as_string(), kChainHashDigits)) return errc::bad_checkpoint;
    m.leaves.emplace_back(leaf.as_string());
  }
  return m;
}

std::string_view to_string(CheckpointStatus s) {
  switch (s) {
    case CheckpointStatus::accepted: return "accepted";
    case CheckpointStatus::duplicate: return "duplicate";
    case CheckpointStatus::rejected: return "rejected";
  }
  return "?";
}

std::string to_json(const CheckpointReceipt& r) {
  json::object o;
  o["checkpoint"] = checkpoint_to_json(r.checkpoint);
  o["status"] = to_string(r.status);
  if (r.status == CheckpointStatus::rejected) {
    o["reason"] = r.reason;
  } else {
    o["witnessed_at"] = r.witnessed_at;
    o["cosignature"] = r.cosignature;
    o["witness_fingerprint"] = r.witness_fingerprint;
  }
  return json::serialize(o);
}

result<CheckpointReceipt> parse_checkpoint_receipt(std::string_view text) {
  if (text.size() > kMaxReceiptBytes) return errc::bad_receipt;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return errc::bad_receipt;
  const json::object& o = v.as_object();

  CheckpointReceipt r;
  std::string status;
  if (!read_checkpoint(o.if_contains("checkpoint"), r.checkpoint) || !get_string(o, "status", status))
    return errc::bad_receipt;
  if (status == "accepted") r.status = CheckpointStatus::accepted;
  else if (status == "duplicate") r.status = CheckpointStatus::duplicate;
  else if (status == "rejected") r.status = CheckpointStatus::rejected;
  else return errc::bad_receipt;

  if (r.status == CheckpointStatus::rejected) {
    if (!valid_rejected_checkpoint(r.checkpoint) || !get_string(o, "reason", r.reason) || !valid_reason(r.reason))
      return errc::bad_receipt;
    return r;
  }
  if (!valid_checkpoint(r.checkpoint) || !get_string(o, "witnessed_at", r.witnessed_at) ||
      !valid_time(r.witnessed_at) || !get_string(o, "cosignature", r.cosignature) ||
      !is_lower_hex(r.cosignature, kSignatureDigits))
    return errc::bad_receipt;
  // Shown to people only (the cosignature is checked against the configured hub key), so it may
  // be missing; when it is there, it must have the fingerprint's form.
  if (o.contains("witness_fingerprint") &&
      (!get_string(o, "witness_fingerprint", r.witness_fingerprint) ||
       (!r.witness_fingerprint.empty() && !valid_fingerprint(r.witness_fingerprint))))
    return errc::bad_receipt;
  return r;
}

bool is_checkpoint_receipt(std::string_view text) {
  // Beyond the bound it is no valid receipt of either kind, and parse_receipt refuses it too.
  if (text.size() > kMaxReceiptBytes) return false;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return !ec && v.is_object() && v.as_object().contains("checkpoint");
}

}  // namespace svd::protocol
