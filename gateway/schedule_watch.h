#pragma once
// Expected deliveries in `svdgw run`: the feeds' schedules (config/schedule.h) against what
// arrives. Raises `feed.overdue` once when a feed misses its deadline and `feed.overdue_cleared`
// once when it delivers again (log line and audit event), keeps the overdue gauges, and gives
// /healthz its list of overdue feeds. Every method on the network thread, which owns it;
// watched_feeds() on the store thread.

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "base/clock.h"
#include "config/gateway_config.h"
#include "config/schedule.h"

namespace svd::audit {
class AuditKeeper;
}
namespace svd::ingest {
class ExtractStore;
}

namespace svd::gateway {

struct GatewayMetrics;

// Each configured feed's schedule state from the store: since when the gateway watches it
// (recorded, with `feed.watched`, the first time) and its last delivery. Nothing when the store
// cannot be read. On the store thread.
std::optional<std::vector<config::WatchedFeed>> watched_feeds(const config::GatewayConfig& cfg, ingest::ExtractStore& store,
                                                              const Clock& clock);

class ScheduleWatch {
 public:
  ScheduleWatch(boost::asio::io_context& net, audit::AuditKeeper& audit, GatewayMetrics& metrics, const Clock& clock)
      : timer_(net), audit_(audit), metrics_(metrics), clock_(clock) {}

  // The feeds to watch, from watched_feeds(): those of `partner`'s config; feeds no longer in
  // it are forgotten. Takes effect at the next check().
  void watch(const std::string& partner, std::vector<config::WatchedFeed> feeds);
  // An extract (or a nothing-to-share return) of `feed` arrived at `at`.
  void delivered(const std::string& feed, const std::string& extract_id, config::SystemTime at);
  // Evaluates now and then every 30 s until stop().
  void start();
  void stop() { timer_.cancel(); }
  // Evaluates now: raises and clears, sets the gauges.
  void check();

  // The overdue feeds as JSON array elements, for /healthz.
  std::string overdue_json() const;

 private:
  void arm();

  boost::asio::steady_timer timer_;
  audit::AuditKeeper& audit_;
  GatewayMetrics& metrics_;
  const Clock& clock_;
  std::string partner_;
  config::ScheduleTracker tracker_;
  std::map<std::string, std::string> overdue_period_, last_delivery_;  // per feed
};

}  // namespace svd::gateway
