#include "hub/hub_metrics.h"

#include <algorithm>

#include <boost/json.hpp>

namespace svd::hub {

HubMetrics::HubMetrics(ops::Metrics& m, std::string_view version, const config::HubReceiverConfig& config)
    : m_(m),
      version_(version),
      batches_(m.counter("svdhub_batches_total", "Batches answered, by partner and outcome (accepted, duplicate, rejected)",
                         {"partner", "outcome"})),
      rejected_(m.counter("svdhub_batches_rejected_total", "Batches rejected, by reason (an error code)", {"reason"})),
      records_(m.counter("svdhub_records_stored_total", "Records stored, by partner and feed", {"partner", "feed"})),
      commits_(m.counter("svdhub_store_commits_total", "Groups of batches committed to the store (or failed)",
                         {"result"})),
      commit_seconds_(m.counter("svdhub_store_commit_seconds_total",
                                "Seconds spent storing and committing groups; divide by svdhub_store_commits_total")),
      alarms_(m.counter("svdhub_witness_alarms_total",
                        "Audit checkpoints the witness raised an alarm about, by partner", {"partner"})),
      last_batch_(m.gauge("svdhub_partner_last_batch_timestamp_seconds",
                          "When the partner's latest batch was stored (Unix time)", {"partner"})),
      since_batch_(m.gauge("svdhub_partner_seconds_since_last_batch",
                           "Seconds since the partner's latest batch was stored", {"partner"})),
      online_(m.gauge("svdhub_gateway_online", "1 while the partner's gateway says it is online, else 0",
                      {"partner"})),
      since_online_(m.gauge("svdhub_gateway_seconds_since_online",
                            "Seconds since the partner's gateway was last known online (0 while online)",
                            {"partner"})),
      queued_(m.gauge("svdhub_gateway_queued_batches",
                      "Batches the partner's gateway last said were queued or awaiting a receipt", {"partner"})),
      overdue_(m.gauge("svdhub_feed_overdue", "1 while the partner's feed has missed a deadline, else 0",
                       {"partner", "feed"})),
      overdue_seconds_(m.gauge("svdhub_feed_overdue_seconds",
                               "Seconds since the feed's first missed deadline (0 when not overdue)",
                               {"partner", "feed"})),
      pending_(m.gauge("svdhub_intake_pending_bytes", "Payload bytes received and not yet stored")),
      budget_(m.gauge("svdhub_intake_budget_bytes", "[broker] max_pending_bytes")),
      commit_last_(m.gauge("svdhub_store_commit_last_seconds", "Seconds the latest group took to store and commit")),
      connected_(m.gauge("svdhub_broker_connected", "1 while connected and subscribed to the broker, else 0")),
      store_up_(m.gauge("svdhub_store_available", "0 after the store's latest group failed (database down), else 1")),
      build_info_(m.gauge("svdhub_build_info", "svdhub's version, in the label; always 1", {"version"})),
      cert_expiry_(m.gauge("svdhub_certificate_expiry_timestamp_seconds",
                           "When the broker client certificate in use expires (Unix time)", {"role"})) {
  build_info_.set({version_}, 1);
  budget_.set(static_cast<double>(config.max_pending_bytes));
  store_up_.set(1);
  for (std::string_view result : {"ok", "failed"}) commits_.add({result}, 0);
  commit_seconds_.add(0);
  for (const auto& p : config.partners) {
    partners_.insert(p.id);
    for (std::string_view outcome : {"accepted", "duplicate", "rejected"}) batches_.add({p.id, outcome}, 0);
    for (const auto& f : p.feeds) records_.add({p.id, f}, 0);
    for (const auto& [feed, schedule] : p.schedules) {
      if (schedule.every == config::Schedule::Every::none) continue;
      overdue_.set({p.id, feed}, 0);
      overdue_seconds_.set({p.id, feed}, 0);
    }
    alarms_.add({p.id}, 0);
  }
}

namespace {
// Seconds since the feed's first missed deadline at `now`; 0 when it is not overdue.
std::int64_t overdue_seconds(const OverdueFeed& f, std::int64_t now) {
  if (!f.status.overdue || !f.status.overdue_since) return 0;
  const auto since = std::chrono::floor<std::chrono::seconds>(f.status.overdue_since->time_since_epoch()).count();
  return std::max<std::int64_t>(0, now - since);
}
}  // namespace

std::string HubMetrics::label(std::string_view partner) const {
  return partners_.contains(partner) ? std::string(partner) : "other";
}

void HubMetrics::batch(std::string_view partner, std::string_view feed, std::string_view outcome,
                       std::string_view reason, std::uint64_t records, std::int64_t now) {
  const std::string p = label(partner);
  batches_.add({p, outcome}, 1);
  if (outcome == "rejected") rejected_.add({reason}, 1);
  if (outcome != "accepted" || p == "other") return;
  records_.add({p, feed}, static_cast<double>(records));
  std::lock_guard lock(mutex_);
  last_batch_at_[p] = now;
}

void HubMetrics::commit(double seconds, bool ok) {
  commits_.add({ok ? "ok" : "failed"}, 1);
  commit_seconds_.add(seconds);
  commit_last_.set(seconds);
  store_up_.set(ok ? 1 : 0);
  std::lock_guard lock(mutex_);
  store_ok_ = ok;
}

void HubMetrics::witness_alarm(std::string_view partner) { alarms_.add({label(partner)}, 1); }

void HubMetrics::broker_connected(bool connected) {
  connected_.set(connected ? 1 : 0);
  std::lock_guard lock(mutex_);
  broker_connected_ = connected;
}

void HubMetrics::gateways(const std::map<std::string, GatewayState, std::less<>>& latest) {
  std::lock_guard lock(mutex_);
  for (const auto& [partner, state] : latest)
    if (partners_.contains(partner)) gateway_states_[partner] = state;
}

void HubMetrics::feeds(std::vector<OverdueFeed> statuses) {
  std::lock_guard lock(mutex_);
  statuses_ = std::move(statuses);
}

void HubMetrics::last_batches(const std::map<std::string, std::int64_t, std::less<>>& at) {
  std::lock_guard lock(mutex_);
  for (const auto& [partner, t] : at) {
    if (!partners_.contains(partner)) continue;
    auto& mine = last_batch_at_[partner];
    mine = std::max(mine, t);
  }
}

void HubMetrics::certificate_expiry(config::SystemTime not_after) {
  cert_expiry_.set({"broker-client"},
                   static_cast<double>(std::chrono::floor<std::chrono::seconds>(not_after.time_since_epoch()).count()));
}

std::string HubMetrics::render(std::int64_t now, std::size_t pending_bytes) {
  pending_.set(static_cast<double>(pending_bytes));
  {
    std::lock_guard lock(mutex_);
    for (const auto& [partner, t] : last_batch_at_) {
      last_batch_.set({partner}, static_cast<double>(t));
      since_batch_.set({partner}, static_cast<double>(std::max<std::int64_t>(0, now - t)));
    }
    for (const auto& f : statuses_) {
      overdue_.set({f.partner, f.feed}, f.status.overdue ? 1 : 0);
      overdue_seconds_.set({f.partner, f.feed}, static_cast<double>(overdue_seconds(f, now)));
    }
    for (const auto& [partner, s] : gateway_states_) {
      online_.set({partner}, s.online ? 1 : 0);
      // A gateway never seen online since the store began: as long ago as the status says.
      const std::int64_t seen = s.last_online_at.value_or(s.updated_at);
      since_online_.set({partner}, s.online ? 0 : static_cast<double>(std::max<std::int64_t>(0, now - seen)));
      queued_.set({partner}, static_cast<double>(s.queued_batches.value_or(0)));
    }
  }
  return m_.render();
}

std::string HubMetrics::health_json(bool stopping, std::int64_t now) const {
  namespace json = boost::json;
  std::lock_guard lock(mutex_);
  json::object o;
  o["status"] = stopping ? "stopping" : "ok";
  o["version"] = version_;
  o["broker_connected"] = broker_connected_;
  o["store_available"] = store_ok_;
  json::array overdue;
  for (const auto& f : statuses_) {
    if (!f.status.overdue) continue;
    json::object e;
    e["partner"] = f.partner;
    e["feed"] = f.feed;
    e["period"] = f.status.period;
    e["overdue_seconds"] = overdue_seconds(f, now);
    overdue.push_back(std::move(e));
  }
  o["overdue_feeds"] = std::move(overdue);
  json::array offline;
  for (const auto& [partner, s] : gateway_states_)
    if (!s.online) offline.push_back(json::string(partner));
  o["gateways_offline"] = std::move(offline);
  return json::serialize(o);
}

}  // namespace svd::hub
