#include "gateway/schedule_watch.h"

#include <set>

#include "audit/events.h"
#include "audit/keeper.h"
#include "base/service.h"
#include "base/time.h"
#include "gateway/metrics.h"
#include "ingest/extract_store.h"

namespace svd::gateway {

namespace {

constexpr auto kScheduleEvery = std::chrono::seconds(30);

}  // namespace

std::optional<std::vector<config::WatchedFeed>> watched_feeds(const config::GatewayConfig& cfg, ingest::ExtractStore& store,
                                                              const Clock& clock) {
  auto last = store.last_received_per_feed();
  if (!last) return std::nullopt;
  std::vector<config::WatchedFeed> out;
  const auto now_t = std::chrono::system_clock::to_time_t(clock.now());
  for (const auto& f : cfg.feeds) {
    auto since = store.watched_since(f.id, now_t,
                                     audit::events::feed_watched(f.id, cfg.partner, f.schedule.to_string(), utc_iso(now_t)));
    if (!since) return std::nullopt;
    config::WatchedFeed w{f.id, f.schedule, std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*since)), {}};
    if (auto it = last->find(f.id); it != last->end()) w.last_delivery = parse_utc_iso(it->second);
    out.push_back(std::move(w));
  }
  return out;
}

void ScheduleWatch::watch(const std::string& partner, std::vector<config::WatchedFeed> feeds) {
  partner_ = partner;
  std::set<std::string> keep;
  for (const auto& w : feeds) keep.insert(w.id);
  for (const auto& f : tracker_.statuses())
    if (!keep.count(f.first)) tracker_.unwatch(f.first);
  for (auto& w : feeds) tracker_.watch(std::move(w));
}

void ScheduleWatch::delivered(const std::string& feed, const std::string& extract_id, config::SystemTime at) {
  last_delivery_[feed] = extract_id;
  tracker_.record_delivery(feed, at);
  check();
}

void ScheduleWatch::start() {
  check();
  arm();
}

void ScheduleWatch::arm() {
  timer_.expires_after(kScheduleEvery);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    check();
    arm();
  });
}

void ScheduleWatch::check() {
  const auto now = clock_.now();
  for (const auto& change : tracker_.evaluate_all(now)) {
    if (change.overdue) {
      service::log(service::Level::warning, "feed.overdue: feed " + change.feed + " of partner " + partner_ +
                                                " missed its deadline (" + change.status.period + ")");
      const auto deadline = change.status.missed_deadline.value_or(now);
      audit_.record(audit::events::feed_overdue(change.feed, partner_, change.status.period, utc_iso(deadline)));
      overdue_period_[change.feed] = change.status.period;
    } else {
      service::log(service::Level::info, "feed.overdue_cleared: feed " + change.feed + " of partner " + partner_ + " delivered");
      audit_.record(audit::events::feed_overdue_cleared(change.feed, partner_, overdue_period_[change.feed],
                                                        last_delivery_[change.feed]));
      overdue_period_.erase(change.feed);
    }
  }
  for (const auto& [feed, st] : tracker_.statuses()) {
    metrics_.feed_overdue.set({feed}, st.overdue ? 1 : 0);
    metrics_.feed_overdue_seconds.set({feed}, static_cast<double>(st.overdue_for.count()));
  }
}

std::string ScheduleWatch::overdue_json() const {
  std::string out;
  for (const auto& [feed, st] : tracker_.overdue()) {
    if (!out.empty()) out += ',';
    out += "{\"feed\":\"" + feed + "\",\"partner\":\"" + partner_ + "\",\"period\":\"" + st.period +
           "\",\"overdue_seconds\":" + std::to_string(st.overdue_for.count()) + "}";
  }
  return out;
}

}  // namespace svd::gateway
