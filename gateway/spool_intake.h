#pragma once
// The spool directory in `svdgw run`: scans it every [storage] spool_scan_seconds and whenever
// inotify says a feed directory changed, takes complete files into the extract store (while
// the storage quota has room), and hands each new extract on. Reopened when a reload changes
// the feeds. Every method on the store thread, which owns it and the store.

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/gateway_config.h"
#include "ingest/extract_store.h"
#include "ingest/spool.h"

namespace svd::gateway {

class LiveConfig;
class StorageQuota;

class SpoolIntake {
 public:
  using Delivered = std::function<void(const ingest::StoredExtract&)>;
  SpoolIntake(boost::asio::io_context& store_io, const LiveConfig& config, ingest::ExtractStore& store,
              StorageQuota& storage, const std::atomic<bool>& stopping, Delivered delivered)
      : io_(store_io), config_(config), store_(store), storage_(storage), stopping_(stopping),
        delivered_(std::move(delivered)), timer_(store_io) {}

  // Prepares the directories of `cfg`'s feeds and the inotify watch (without one, the periodic
  // scan still takes every file, only later). False, logged, when the directories cannot be made.
  bool open(const config::GatewayConfig& cfg);
  // A reload: reopens when the feeds changed (keeping the old ones if that fails), then scans.
  void reconfigure(const config::GatewayConfig& next);
  // Scans now, then on every change and every spool_scan_seconds until stop().
  void start();
  void stop();

 private:
  void scan();
  void arm_watch();
  void wait_watch();
  void arm_timer();

  boost::asio::io_context& io_;
  const LiveConfig& config_;
  ingest::ExtractStore& store_;
  StorageQuota& storage_;
  const std::atomic<bool>& stopping_;
  Delivered delivered_;
  std::unique_ptr<ingest::Spool> spool_;
  std::vector<std::string> feeds_;
  std::unique_ptr<ingest::SpoolWatch> watch_;
  std::shared_ptr<boost::asio::posix::stream_descriptor> watch_fd_;
  boost::asio::steady_timer timer_;
};

}  // namespace svd::gateway
