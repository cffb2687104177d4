#include "gateway/housekeeping.h"

#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "base/errc.h"
#include "base/service.h"
#include "deliver/forwarder.h"
#include "deliver/outbox.h"
#include "gateway/live_config.h"
#include "gateway/metrics.h"
#include "gateway/storage.h"
#include "ingest/extract_store.h"

namespace svd::gateway {

namespace asio = boost::asio;

namespace {

constexpr auto kStorageEvery = std::chrono::seconds(5);
constexpr auto kGaugesEvery = std::chrono::seconds(5);
constexpr auto kPruneEvery = std::chrono::seconds(60);
constexpr auto kPruneAge = std::chrono::minutes(10);

}  // namespace

void Housekeeping::start() {
  asio::post(p_.stores.store_io, [this] { arm_storage(); });
  asio::post(p_.stores.outbox_io, [this] {
    arm_prune();
    arm_gauges();
  });
  if (const auto interval = service::watchdog_interval()) {
    watchdog_ = std::make_unique<asio::steady_timer>(p_.net);
    ping_watchdog(*interval);
  }
}

void Housekeeping::stop() {
  watchdog_.reset();
  asio::post(p_.stores.store_io, [this] { storage_timer_.cancel(); });
  asio::post(p_.stores.outbox_io, [this] {
    prune_timer_.cancel();
    gauges_timer_.cancel();
  });
}

void Housekeeping::arm_storage() {
  storage_timer_.expires_after(kStorageEvery);
  storage_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || p_.stopping) return;
    p_.storage.refresh();
    apply_retention(p_.stores.store, p_.config.config()->storage.retain_extracts_hours, p_.clock);
    arm_storage();
  });
}

void Housekeeping::arm_prune() {
  prune_timer_.expires_after(kPruneEvery);
  prune_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || p_.stopping) return;
    auto pruned = p_.stores.outbox.prune_acknowledged(kPruneAge, 2000);
    if (!pruned)
      service::log(service::Level::warning, "outbox: cannot free acknowledged payloads: " + pruned.error().message());
    arm_prune();
  });
}

void Housekeeping::arm_gauges() {
  update_gauges();
  gauges_timer_.expires_after(kGaugesEvery);
  gauges_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !p_.stopping) arm_gauges();
  });
}

void Housekeeping::update_gauges() {
  GatewayMetrics& m = p_.metrics;
  const auto c = p_.forwarder.counters();
  m.batches.set_total({"published"}, static_cast<double>(c.pubacks));
  m.batches.set_total({"acknowledged"}, static_cast<double>(c.accepted + c.duplicates));
  m.batches.set_total({"rejected"}, static_cast<double>(c.rejected));
  if (auto s = p_.stores.outbox.stats()) {
    m.outbox_batches.set(static_cast<double>(s->queued + s->published));
    m.outbox_records.set(static_cast<double>(s->unacknowledged_records));
    const auto now = static_cast<std::int64_t>(std::chrono::system_clock::to_time_t(p_.clock.now()));
    m.outbox_oldest_age.set(s->oldest_unacknowledged_at ? static_cast<double>(now - s->oldest_unacknowledged_at) : 0);
  }
  if (auto rejected = p_.stores.outbox.rejected()) {
    std::map<std::pair<std::string, std::string>, double> now;
    // The reason is the hub's word: a label only if it looks like one of its error codes.
    for (const auto& r : *rejected)
      now[{r.feed, errc_from_name(r.reason) ? r.reason : "other"}] += static_cast<double>(r.batches);
    for (const auto& [key, n] : now) m.outbox_rejected.set({key.first, key.second}, n);
    for (const auto& key : rejected_shown_)
      if (!now.count(key)) m.outbox_rejected.set({key.first, key.second}, 0);
    for (const auto& entry : now) rejected_shown_.insert(entry.first);
  }
  if (auto acked = p_.stores.outbox.acknowledged_records_per_feed())
    for (const auto& [feed, n] : *acked) m.rows.set_total({feed, "acknowledged"}, static_cast<double>(n));
  m.storage_headroom.set(static_cast<double>(p_.storage.headroom(p_.config.config()->storage.quota_bytes)));
}

// WATCHDOG=1 only while every thread still runs its handlers: the store and outbox threads each
// answer a ping posted at the last tick.
void Housekeeping::ping_watchdog(std::chrono::microseconds interval) {
  if (!watchdog_) return;
  if (store_alive_.exchange(false) && outbox_alive_.exchange(false)) service::notify("WATCHDOG=1");
  asio::post(p_.stores.store_io, [this] { store_alive_ = true; });
  asio::post(p_.stores.outbox_io, [this] { outbox_alive_ = true; });
  watchdog_->expires_after(interval);
  watchdog_->async_wait([this, interval](const boost::system::error_code& ec) {
    if (!ec) ping_watchdog(interval);
  });
}

}  // namespace svd::gateway
