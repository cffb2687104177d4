#pragma once
// The extract worker of `svdgw run`: one thread that processes stored extracts one at a time
// (process::run_pipeline, which has its own pool), writing their batches through the outbox's
// own thread so the outbox keeps a single writer, then records the final state (processed or
// refused, with the report and its audit events) through the store's thread.
// enqueue() from any thread; an extract already waiting or in progress is not queued twice, and
// one whose final state (processed, refused) is recorded is never processed again. A failure that may
// pass (an unreadable store, a full disk) is retried after a pause; once stopping is set, the
// extract in progress is abandoned at its next batch and processed again at the next start,
// with the same batch ids.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "gateway/stores.h"
#include "ingest/extract_store.h"

namespace svd::audit {
class AuditKeeper;
}

namespace svd::gateway {

class LiveConfig;
class StorageQuota;
struct GatewayMetrics;

class ExtractWorker {
 public:
  struct Parts {
    const LiveConfig& config;
    Stores stores;
    boost::asio::io_context& timers_io;  // the retry timers (the network thread)
    audit::AuditKeeper& audit;
    StorageQuota& storage;
    GatewayMetrics& metrics;
    const Clock& clock;
    const std::atomic<bool>& stopping;
    std::function<void()> queued;  // batches were committed to the outbox (or may have been)
  };
  explicit ExtractWorker(Parts parts) : p_(std::move(parts)) {}
  ~ExtractWorker() { stop(); }
  ExtractWorker(const ExtractWorker&) = delete;
  ExtractWorker& operator=(const ExtractWorker&) = delete;

  void start();
  void enqueue(ingest::StoredExtract e);
  // Drops what waits and joins the thread; `stopping` must already be set. Idempotent.
  void stop();

 private:
  void work();
  void process(const ingest::StoredExtract& e);
  void retry_later(const ingest::StoredExtract& e);

  Parts p_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ingest::StoredExtract> queue_;
  std::string current_;  // the id being processed; guarded by mu_
  std::thread thread_;
};

}  // namespace svd::gateway
