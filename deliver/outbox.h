#pragma once
// The outbox: the only durable record of what must reach the hub (<state_dir>/outbox.db, SQLite,
// WAL, created 0600). An extract's batches are written in one transaction, with
// synchronous=FULL, so a crash leaves all of them or none; state marks commit with NORMAL (a lost
// mark only means a re-send). Batch ids are deterministic, so an extract written again queues
// nothing twice. Batch states: queued -> published (the broker's PUBACK) -> acknowledged (the
// hub's receipt: accepted or duplicate), or -> rejected (kept, counted, not sent again). Every
// transition is one transaction with its audit event (audit/pending.h). Errors are io_error; a
// failed transaction leaves nothing half-written. More: docs/forwarding.md, "The outbox".
//
// Thread-safety: none. An Outbox belongs to one thread (in the daemon, the outbox thread, which
// also runs the forwarder's strand); the sqlite3 handle is touched nowhere else.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/errc.h"

namespace svd::deliver {

enum class BatchState { queued, published, acknowledged, rejected };

struct OutboxBatch;

// Where the batcher writes one extract's batches: the Outbox itself, or (in the daemon) a proxy
// that runs each call on the thread that owns the Outbox. Semantics as Outbox's below.
class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  virtual result<void> begin_extract(const std::string& extract_id) = 0;
  virtual result<void> add(const OutboxBatch& batch) = 0;
  virtual result<void> commit_extract() = 0;
  virtual void abandon_extract() = 0;
};

// Where a batch stands in send order (its extract's place, then seq). Only for comparing and for
// passing back to unacknowledged(); the numbers mean nothing outside this outbox.
struct OutboxPosition {
  std::int64_t extract_ord = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const OutboxPosition&, const OutboxPosition&) = default;
};

struct OutboxBatch {
  std::string batch_id;
  std::string feed;
  std::string extract_id;
  std::uint64_t seq = 0;
  bool last = false;
  std::uint64_t records = 0;
  std::string topic;
  std::string payload;  // the complete MQTT payload (header line + records)
  BatchState state = BatchState::queued;
  std::uint32_t attempts = 0;  // times published
  OutboxPosition position;     // set by unacknowledged(); ignored by add()
};

struct OutboxStats {
  std::uint64_t queued = 0, published = 0, acknowledged = 0, rejected = 0;
  std::uint64_t unacknowledged_records = 0;
  // Unix seconds when the oldest batch not yet acknowledged was queued; 0 when there is none.
  std::int64_t oldest_unacknowledged_at = 0;
};

// Rejected batches of one feed for one reason (the hub's error code).
struct RejectedCount {
  std::string feed, reason;
  std::uint64_t batches = 0, records = 0;
  friend bool operator==(const RejectedCount&, const RejectedCount&) = default;
};

// Which rejected batches requeue_rejected() takes: those matching every field given (none: all).
struct RejectedFilter {
  std::optional<std::string> extract_id, feed, reason;
};

// One extract's batches, for GET /v1/extracts/{id}.
struct ExtractProgress {
  std::uint64_t batches = 0, published = 0, acknowledged = 0, rejected = 0;  // published: ever sent
  std::uint64_t records = 0, records_acknowledged = 0;
};

class Outbox final : public BatchWriter {
 public:
  // Opens or creates the database (parent directory must exist; file mode 0600). Errors:
  // io_error (cannot open, not a database, schema from a newer version).
  static result<std::unique_ptr<Outbox>> open(const std::filesystem::path& file);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Writes one extract's batches atomically: begin(), add() per batch in seq order, commit().
  // Nothing is visible to unacknowledged() before commit(); abandon() (or destruction without
  // commit) rolls everything back, and so does any failed add() or commit. A batch whose id
  // already exists is skipped (see above); the caller's state and attempts are ignored (a new
  // batch is queued, never published). An extract whose batches were committed once is sealed:
  // writing it again adds nothing, so an extract processed again after a crash (between this
  // commit and its final state) keeps the batches it was first cut into, even if [batches] or
  // its schema changed meanwhile; cut again, its records would reach the hub twice under new
  // seqs, with two batches marked last. Only one extract may be open at a time: begin twice, or
  // add() for another extract id, is io_error. Marks (mark_published/acknowledged) made while an
  // extract is open share its transaction; if it is abandoned they are applied again, and a crash
  // before commit loses them, which costs only a re-send. An extract's place in the order is fixed
  // by its first committed begin.
  result<void> begin_extract(const std::string& extract_id) override;
  result<void> add(const OutboxBatch& batch) override;
  result<void> commit_extract() override;
  void abandon_extract() override;

  // Batches neither acknowledged nor rejected, oldest extract first and in seq order within it,
  // at most `limit`, and only those after `after` when given: what a (re)connected forwarder
  // sends, in order, and where it continues. Payloads included, so memory is about
  // limit × batch size: keep `limit` to the in-flight window.
  result<std::vector<OutboxBatch>> unacknowledged(std::size_t limit,
                                                  std::optional<OutboxPosition> after = std::nullopt);

  // The batch `batch_id` with its payload while it is neither acknowledged nor rejected; nullopt
  // once it is (or for an unknown id). What a receipt timeout sends again.
  result<std::optional<OutboxBatch>> unacknowledged_batch(const std::string& batch_id);

  // queued -> published (attempts + 1). Publishing again (a re-send) keeps the state and counts
  // the attempt; an acknowledged batch stays acknowledged. Returns false for an unknown id.
  result<bool> mark_published(const std::string& batch_id);
  // -> acknowledged, whatever the state before (a receipt can overtake the PUBACK). Stores the
  // receipt status ("accepted" or "duplicate"). Returns false for an unknown id, and leaves an
  // already acknowledged batch unchanged (receipts are at-least-once too).
  result<bool> mark_acknowledged(const std::string& batch_id, const std::string& receipt_status);
  // queued/published -> rejected, keeping the hub's reason (an error-code name). Returns false for
  // an unknown id; an acknowledged batch stays acknowledged (the hub stored it once already), and
  // a rejected one keeps its first reason.
  result<bool> mark_rejected(const std::string& batch_id, const std::string& reason);

  result<std::optional<BatchState>> state(const std::string& batch_id);
  result<OutboxStats> stats();
  // Records in acknowledged batches, per feed (for the rows-acknowledged metric).
  result<std::map<std::string, std::uint64_t>> acknowledged_records_per_feed();
  // Rejected batches now in the outbox, by feed and reason, ordered by both.
  result<std::vector<RejectedCount>> rejected();
  // rejected -> queued for the batches `filter` matches, once the hub's operator has fixed what
  // made it refuse them (a feed missing there, a column its store lacks): each with its audit
  // event (batch.requeued, actor `by`), all in one transaction. A forwarder sends them again
  // when it next reads the outbox from the top (at the latest once nothing is in flight), so
  // this may run in another process than the one forwarding. Returns what was re-queued, by feed
  // and reason. io_error while an extract is open here.
  result<std::vector<RejectedCount>> requeue_rejected(const RejectedFilter& filter, const std::string& by);
  // Counts of one committed extract's batches (all zero for an unknown id).
  result<ExtractProgress> progress(const std::string& extract_id);
  // Frees the payloads of batches acknowledged at least `age` ago, at most `limit` per call (so
  // one call never holds the database for long); the batch rows stay, for stats and progress.
  // Returns how many payloads were freed. An acknowledged batch is never sent again, so its
  // payload is dead weight against the storage quota.
  result<std::uint64_t> prune_acknowledged(std::chrono::seconds age, std::size_t limit);

  // Test hook: the database file's path.
  const std::filesystem::path& file_for_test() const { return file_; }

 private:
  struct Impl;
  explicit Outbox(std::unique_ptr<Impl> impl, std::filesystem::path file);
  std::unique_ptr<Impl> impl_;
  std::filesystem::path file_;
};

}  // namespace svd::deliver
