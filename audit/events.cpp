#include "audit/events.h"

#include <boost/json.hpp>

namespace svd::audit::events {
namespace {

namespace json = boost::json;

Event make(std::string actor, std::string action, std::string object, const json::object& details,
           std::string payload_sha256 = {}) {
  Event e;
  e.time = now_utc();
  e.actor = std::move(actor);
  e.action = std::move(action);
  e.object = std::move(object);
  e.details = json::serialize(details);
  e.payload_sha256 = std::move(payload_sha256);
  return e;
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object texts(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json::object counts(const std::map<std::string, std::uint64_t>& m) {
  json::object o;
  for (const auto& [k, n] : m) o[k] = n;
  return o;
}

}  // namespace

Event extract_received(const std::string& client, const std::string& extract_id, const std::string& feed,
                       std::uint64_t bytes, const std::string& sha256) {
  return make(client, "extract.received", extract_id,
              {{"feed", feed}, {"kind", "extract"}, {"bytes", bytes}, {"sha256", sha256}}, sha256);
}

Event nil_return(const std::string& client, const std::string& extract_id, const std::string& feed,
                 const std::string& period, const std::string& sha256) {
  return make(client, "extract.nil_return", extract_id,
              {{"feed", feed}, {"kind", "nothing_to_share"}, {"period", period}, {"sha256", sha256}}, sha256);
}

Event extract_finished(const Processed& p) {
  json::object d{{"feed", p.feed},
                 {"schema", p.schema},
                 {"schema_sha256", p.schema_sha256},
                 {"key_ids", strings(p.key_ids)},
                 {"rows", p.rows},
                 {"valid", p.valid},
                 {"rejected", p.rejected},
                 {"filtered", p.filtered},
                 {"rejected_by_code", counts(p.rejected_by_code)},
                 {"batches", p.batches},
                 {"records", p.records}};
  if (p.min_group) {
    d["min_group"] = p.min_group;
    d["small_group_records"] = p.small_group_records;
  }
  const bool refused = !p.refused_reason.empty();
  if (refused) d["reason"] = p.refused_reason;
  return make("gateway", refused ? "extract.refused" : "extract.processed", p.extract_id, d, p.sha256);
}

Event rows_rejected(const Processed& p) {
  return make("gateway", "rows.rejected", p.extract_id,
              {{"feed", p.feed}, {"rejected", p.rejected}, {"by_code", counts(p.rejected_by_code)}}, p.sha256);
}

Event upload_refused(const std::string& client, const std::string& feed, int status, const std::string& code) {
  return make(client, "upload.refused", feed, {{"feed", feed}, {"status", status}, {"code", code}});
}

Event batch_published(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                      std::uint64_t seq, std::uint64_t records, std::uint32_t attempt) {
  return make("gateway", "batch.published", batch_id,
              {{"extract", extract_id}, {"feed", feed}, {"seq", seq}, {"records", records}, {"attempt", attempt}});
}

Event batch_acknowledged(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                         std::uint64_t seq, std::uint64_t records, const std::string& receipt_status) {
  return make("hub", "batch.acknowledged", batch_id,
              {{"extract", extract_id}, {"feed", feed}, {"seq", seq}, {"records", records}, {"status", receipt_status}});
}

Event batch_rejected(const std::string& batch_id, const std::string& extract_id, const std::string& feed,
                     std::uint64_t seq, std::uint64_t records, const std::string& reason) {
  return make("hub", "batch.rejected", batch_id,
              {{"extract", extract_id}, {"feed", feed}, {"seq", seq}, {"records", records}, {"reason", reason}});
}

Event batch_requeued(const std::string& by, const std::string& batch_id, const std::string& extract_id,
                     const std::string& feed, std::uint64_t seq, std::uint64_t records, const std::string& reason) {
  return make(by, "batch.requeued", batch_id,
              {{"extract", extract_id}, {"feed", feed}, {"seq", seq}, {"records", records}, {"reason", reason}});
}

Event feed_watched(const std::string& feed, const std::string& partner, const std::string& schedule,
                   const std::string& since) {
  return make("gateway", "feed.watched", feed,
              {{"feed", feed}, {"partner", partner}, {"schedule", schedule}, {"since", since}});
}

Event feed_overdue(const std::string& feed, const std::string& partner, const std::string& period,
                   const std::string& deadline) {
  return make("gateway", "feed.overdue", feed,
              {{"feed", feed}, {"partner", partner}, {"period", period}, {"deadline", deadline}});
}

Event feed_overdue_cleared(const std::string& feed, const std::string& partner, const std::string& period,
                           const std::string& extract_id) {
  return make("gateway", "feed.overdue_cleared", feed,
              {{"feed", feed}, {"partner", partner}, {"period", period}, {"extract", extract_id}});
}

Event gateway_started(const std::string& version, const std::string& partner, const std::string& config_sha256,
                      const std::map<std::string, std::string>& schemas) {
  return make("gateway", "gateway.started", partner,
              {{"version", version}, {"partner", partner}, {"config_sha256", config_sha256}, {"schemas", texts(schemas)}});
}

Event gateway_stopped(const std::string& reason) {
  return make("gateway", "gateway.stopped", "", {{"reason", reason}});
}

Event config_reloaded(const std::string& config_sha256, const std::map<std::string, std::string>& schemas) {
  return make("gateway", "config.reloaded", "", {{"config_sha256", config_sha256}, {"schemas", texts(schemas)}});
}

Event config_reload_refused(const std::string& reason) {
  return make("gateway", "config.reload_refused", "", {{"reason", reason}});
}

Event key_loaded(const std::string& key_id, const std::string& kind, const std::string& fingerprint) {
  return make("gateway", "key.loaded", key_id, {{"kind", kind}, {"fingerprint", fingerprint}});
}

Event linkage_key_loaded(const std::string& key_id, const std::string& fingerprint, const std::string& from,
                         const std::string& until) {
  auto bound = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  return make("gateway", "key.loaded", key_id,
              {{"kind", "linkage"}, {"fingerprint", fingerprint}, {"from", bound(from)}, {"until", bound(until)}});
}

Event certificate_loaded(const std::string& role, const std::string& der_sha256, const std::string& not_after) {
  return make("gateway", "certificate.loaded", role, {{"sha256", der_sha256}, {"not_after", not_after}});
}

Event certificate_refused(const std::string& role, const std::string& reason) {
  return make("gateway", "certificate.refused", role, {{"reason", reason}});
}

Event audit_source_rewound(const std::string& source, std::int64_t last_taken, std::int64_t source_last) {
  return make("gateway", "audit.source_rewound", source, {{"last_taken", last_taken}, {"source_last", source_last}});
}

}  // namespace svd::audit::events
