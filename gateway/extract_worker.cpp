#include "gateway/extract_worker.h"

#include <future>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "audit/events.h"
#include "audit/keeper.h"
#include "base/service.h"
#include "base/time.h"
#include "crypto/sha256.h"
#include "deliver/batcher.h"
#include "deliver/outbox.h"
#include "gateway/live_config.h"
#include "gateway/metrics.h"
#include "gateway/storage.h"
#include "process/pipeline.h"

namespace svd::gateway {

namespace asio = boost::asio;

namespace {

constexpr auto kRetryProcessingAfter = std::chrono::seconds(10);

void info(const std::string& m) { service::log(service::Level::info, m); }
void warn(const std::string& m) { service::log(service::Level::warning, m); }
void fail(const std::string& m) { service::log(service::Level::error, m); }

// Runs `f` on the thread that runs `io` and waits for its result. For the worker thread, which
// never touches a store itself; never call it from the thread that runs `io`.
template <class F>
auto run_on(asio::io_context& io, F f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto done = task.get_future();
  asio::post(io, [&task] { task(); });
  return done.get();
}

// The batcher's view of the outbox from the worker thread: every call runs on the outbox's own
// thread, between the forwarder's reads and marks, so the outbox keeps one writer. Once the
// daemon is stopping, add() fails, which abandons the extract (it is processed again at the next
// start, with the same batch ids).
class OutboxOnItsThread final : public deliver::BatchWriter {
 public:
  OutboxOnItsThread(asio::io_context& io, deliver::Outbox& outbox, const std::atomic<bool>& stopping)
      : io_(io), outbox_(outbox), stopping_(stopping) {}
  result<void> begin_extract(const std::string& id) override {
    return run_on(io_, [&] { return outbox_.begin_extract(id); });
  }
  result<void> add(const deliver::OutboxBatch& batch) override {
    if (stopping_) return errc::io_error;
    auto r = run_on(io_, [&] { return outbox_.add(batch); });
    if (r) ++batches_;
    return r;
  }
  result<void> commit_extract() override {
    return run_on(io_, [&] { return outbox_.commit_extract(); });
  }
  void abandon_extract() override {
    run_on(io_, [&] { outbox_.abandon_extract(); });
  }
  std::uint64_t batches() const { return batches_; }  // added so far (for the audit event)

 private:
  asio::io_context& io_;
  deliver::Outbox& outbox_;
  const std::atomic<bool>& stopping_;
  std::uint64_t batches_ = 0;
};

// The report of a nothing-to-share return: no rows, the keys in force, no batches.
process::ExtractReport nil_report(const config::GatewayConfig& cfg, const config::FeedConfig& feed,
                                  const ingest::StoredExtract& e, std::vector<std::string> key_ids, const Clock& clock) {
  process::ExtractReport r;
  r.partner = cfg.partner;
  r.feed = feed.id;
  r.schema_name = feed.schema.name;
  r.schema_sha256 = crypto::sha256_hex(feed.schema.source);  // as run_pipeline records it
  r.key_ids = std::move(key_ids);
  r.extract_sha256 = e.sha256;
  r.extract_bytes = e.bytes;
  r.started_at = r.finished_at = utc_iso(clock.now());
  return r;
}

audit::events::Processed summary_of(const ingest::StoredExtract& e, const config::FeedConfig& feed,
                                    const process::ExtractReport& report, std::uint64_t batches) {
  audit::events::Processed s;
  s.extract_id = e.id;
  s.feed = feed.id;
  s.schema = feed.schema.name;
  s.schema_sha256 = report.schema_sha256;
  s.sha256 = e.sha256;
  s.key_ids = report.key_ids;
  s.rows = report.rows_total;
  s.valid = report.rows_valid;
  s.rejected = report.rows_rejected;
  s.filtered = report.rows_filtered;
  if (report.small_groups) {
    s.min_group = report.small_groups->min_group;
    s.small_group_records = report.small_groups->records_below;
  }
  s.rejected_by_code = report.rejections_by_code;
  s.batches = batches;
  s.records = report.refused ? 0 : report.rows_valid;
  if (report.refused) s.refused_reason = std::string(errc_name(report.refusal));
  return s;
}

}  // namespace

void ExtractWorker::start() {
  thread_ = std::thread([this] { work(); });
}

void ExtractWorker::enqueue(ingest::StoredExtract e) {
  {
    std::lock_guard lock(mu_);
    // At start the spool scan and the store's list of unfinished extracts both name a file left
    // in the spool; the one being processed must not be queued behind itself either.
    if (e.id == current_) return;
    for (const auto& q : queue_)
      if (q.id == e.id) return;
    queue_.push_back(std::move(e));
  }
  cv_.notify_one();
}

void ExtractWorker::stop() {
  {
    std::lock_guard lock(mu_);
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExtractWorker::work() {
  for (;;) {
    ingest::StoredExtract e;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return p_.stopping || !queue_.empty(); });
      if (p_.stopping) return;
      e = std::move(queue_.front());
      queue_.pop_front();
      current_ = e.id;
    }
    process(e);
    std::lock_guard lock(mu_);
    current_.clear();
  }
}

void ExtractWorker::process(const ingest::StoredExtract& e) {
  const ConfigPtr cfg = p_.config.config();
  const config::FeedConfig* feed = cfg->find_feed(e.feed);
  if (!feed) {
    warn("extract " + e.id + ": feed " + e.feed + " is no longer configured; it waits (add the feed back and reload)");
    return;
  }
  // The received time picks the linkage keys: processing again after a crash or a restart gives
  // the same records and batch ids (as long as the configured keys are the same).
  const auto received = parse_utc_iso(e.received_at);
  if (!received) {
    fail("extract " + e.id + ": its received time is unreadable; it cannot be processed");
    return;
  }
  const std::int64_t keys_at = std::chrono::system_clock::to_time_t(*received);
  const KeysPtr keys = p_.config.keys();
  // Whatever queued it, an extract whose final state is recorded is never processed again: that
  // would blank its report and, its file gone by retention, retry for ever. The check and the
  // change to `processing` are one step on the store's thread, which every change goes through.
  auto started = run_on(p_.stores.store_io, [&]() -> result<bool> {
    auto now = p_.stores.store.get(e.id);
    if (!now) return {boost::system::in_place_error, now.error()};
    if (!*now || (*now)->state == ingest::ExtractState::processed || (*now)->state == ingest::ExtractState::refused)
      return false;
    if (auto r = p_.stores.store.set_state(e.id, ingest::ExtractState::processing); !r)
      return {boost::system::in_place_error, r.error()};
    return true;
  });
  if (!started) {
    fail("extract " + e.id + ": cannot record that processing started: " + started.error().message());
    retry_later(e);
    return;
  }
  if (!*started) return;  // finished already (or no longer in the store)
  deliver::BatchContext context{cfg->partner, feed->id, feed->schema.name, keys->ids_in_force(keys_at),
                                {e.id, e.sha256, e.received_at}, e.kind == ingest::ExtractKind::nothing_to_share};
  OutboxOnItsThread writer(p_.stores.outbox_io, p_.stores.outbox, p_.stopping);
  auto sink = deliver::open_outbox_sink(writer, std::move(context), {cfg->batches.max_records, cfg->batches.max_bytes});
  if (!sink) {
    fail("extract " + e.id + ": cannot open the outbox: " + sink.error().message());
    retry_later(e);
    return;
  }
  result<process::ExtractReport> report = errc::io_error;
  if (e.kind == ingest::ExtractKind::nothing_to_share) {
    if ((*sink)->commit()) report = nil_report(*cfg, *feed, e, keys->ids_in_force(keys_at), p_.clock);
  } else if (e.file.empty()) {
    // Only a damaged store gets here: unfinished extracts keep their files.
    fail("extract " + e.id + ": its file is gone; it cannot be processed");
    sink->reset();
    return;
  } else {
    process::ExtractJob job{cfg.get(), feed, e.file, process::Now::system(), {}, 0, keys_at};
    report = process::run_pipeline(job, *keys, **sink);
  }
  sink->reset();
  if (!report) {
    if (p_.stopping) return;  // abandoned on purpose; processed again at the next start
    fail("extract " + e.id + ": processing failed (" + report.error().message() + "); trying again in " +
         std::to_string(kRetryProcessingAfter.count()) + " s");
    retry_later(e);
    return;
  }
  const ingest::ExtractState state = report->refused ? ingest::ExtractState::refused : ingest::ExtractState::processed;
  // What the outbox holds for the extract, not what this run cut: processed again after a crash
  // that followed its commit, the extract keeps its first batches (deliver/outbox.h).
  std::uint64_t batches = writer.batches();
  if (auto held = run_on(p_.stores.outbox_io, [&] { return p_.stores.outbox.progress(e.id); });
      held && held->batches != batches && !report->refused) {
    info("extract " + e.id + ": its " + std::to_string(held->batches) +
         " batch(es) were committed before a restart and stand as first cut");
    batches = held->batches;
  }
  const audit::events::Processed summary = summary_of(e, *feed, *report, batches);
  std::vector<audit::Event> events{audit::events::extract_finished(summary)};
  if (summary.rejected > 0) events.push_back(audit::events::rows_rejected(summary));
  auto marked = run_on(p_.stores.store_io, [&]() -> result<void> {
    auto r = p_.stores.store.set_state(e.id, state, report->to_json(), events);
    if (r && cfg->storage.retain_extracts_hours == 0) apply_retention(p_.stores.store, 0, p_.clock);
    p_.storage.refresh();
    return r;
  });
  if (!marked) {
    // E.g. a full disk. Processing again is idempotent (same batch ids, the outbox keeps what it
    // holds), so it is simply done again until the state sticks.
    fail("extract " + e.id + ": processed, but its state could not be recorded (" + marked.error().message() +
         "); processing it again in " + std::to_string(kRetryProcessingAfter.count()) + " s, queueing nothing twice");
    retry_later(e);
    p_.queued();  // what it queued may go; it is counted once its state sticks
    return;
  }
  p_.metrics.extracts.add({e.feed, report->refused ? "refused" : "processed"}, 1);
  p_.metrics.rows.add({e.feed, "received"}, static_cast<double>(report->rows_total));
  p_.metrics.rows.add({e.feed, "rejected"}, static_cast<double>(report->rows_rejected));
  p_.metrics.rows.add({e.feed, "filtered"}, static_cast<double>(report->rows_filtered));
  if (!report->refused) p_.metrics.rows.add({e.feed, "forwarded"}, static_cast<double>(report->rows_valid));
  if (report->small_groups && report->small_groups->records_below && !report->refused)
    warn("extract " + e.id + ": " + std::to_string(report->small_groups->records_below) + " record(s) in groups of fewer than " +
         std::to_string(report->small_groups->min_group) + " sharing their quasi-identifiers (min_group); shared as the feed's "
         "small_groups policy says (warn)");
  if (report->refused)
    warn("extract " + e.id + " refused: " + std::string(errc_name(report->refusal)) + "; nothing was queued");
  else
    info("extract " + e.id + " processed: " + std::to_string(report->rows_total) + " rows, " +
         std::to_string(report->rows_valid) + " valid, " + std::to_string(report->rows_rejected) + " rejected" +
         (report->rows_filtered ? ", " + std::to_string(report->rows_filtered) + " outside the feed's filter" : std::string()));
  p_.audit.nudge();
  p_.queued();
}

void ExtractWorker::retry_later(const ingest::StoredExtract& e) {
  auto timer = std::make_shared<asio::steady_timer>(p_.timers_io, kRetryProcessingAfter);
  timer->async_wait([this, timer, e](const boost::system::error_code& ec) {
    if (!ec && !p_.stopping) enqueue(e);
  });
}

}  // namespace svd::gateway
