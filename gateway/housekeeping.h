#pragma once
// The periodic chores of `svdgw run`, each on the thread that owns what it touches: the storage
// figure and retention (store thread, every 5 s), freeing acknowledged payloads from the outbox
// (outbox thread, every 60 s), the outbox's and forwarder's gauges (outbox thread, every 5 s),
// and the systemd watchdog (network thread), pinged only while the store and outbox threads
// still run their handlers. start() and stop() from the network thread; stop() is idempotent.

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "base/clock.h"
#include "gateway/stores.h"

namespace svd::deliver {
class Forwarder;
}

namespace svd::gateway {

class LiveConfig;
class StorageQuota;
struct GatewayMetrics;

class Housekeeping {
 public:
  struct Parts {
    const LiveConfig& config;
    boost::asio::io_context& net;
    Stores stores;
    deliver::Forwarder& forwarder;
    StorageQuota& storage;
    GatewayMetrics& metrics;
    const Clock& clock;
    const std::atomic<bool>& stopping;
  };
  explicit Housekeeping(Parts parts)
      : p_(parts), storage_timer_(p_.stores.store_io), prune_timer_(p_.stores.outbox_io), gauges_timer_(p_.stores.outbox_io) {}

  void start();
  void stop();

 private:
  void arm_storage();
  void arm_prune();
  void arm_gauges();
  void update_gauges();
  void ping_watchdog(std::chrono::microseconds interval);

  Parts p_;
  boost::asio::steady_timer storage_timer_, prune_timer_, gauges_timer_;
  // (feed, reason) series of svdgw_outbox_rejected_batches shown so far: one re-queued reads 0.
  std::set<std::pair<std::string, std::string>> rejected_shown_;
  std::unique_ptr<boost::asio::steady_timer> watchdog_;  // the network thread's
  std::atomic<bool> store_alive_{true}, outbox_alive_{true};
};

}  // namespace svd::gateway
