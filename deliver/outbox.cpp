#include "deliver/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "audit/events.h"
#include "audit/pending.h"
#include "base/sqlite.h"

namespace svd::deliver {
namespace {

using sqlite::create_private_file;
using sqlite::Db;
using sqlite::exec;
using sqlite::guarded;
using sqlite::prepare;
using sqlite::query_int;
using sqlite::query_text;
using sqlite::Stmt;
using sqlite::Use;

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

// Schema v1.
//  - extracts.ord (AUTOINCREMENT, never reused) orders extracts by the first begin_extract that
//    committed for that id; a re-run of the same extract keeps it, so ordering never depends on
//    the wall clock.
//  - Payloads live in their own table: SQLite rewrites a whole row on UPDATE, so with the blob
//    inline every mark_published/mark_acknowledged would copy megabytes through the WAL (and
//    reading a column stored after the blob walks its overflow chain).
//  - The partial index is exactly the unacknowledged() scan, already in send order, so LIMIT
//    stops early and acknowledged history costs nothing there.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE extracts(
  ord INTEGER PRIMARY KEY AUTOINCREMENT,
  extract_id TEXT NOT NULL UNIQUE,
  opened_at INTEGER NOT NULL
);
CREATE TABLE batches(
  id INTEGER PRIMARY KEY,
  batch_id TEXT NOT NULL UNIQUE,
  extract_ord INTEGER NOT NULL REFERENCES extracts(ord),
  feed TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 0),
  last INTEGER NOT NULL CHECK (last IN (0, 1)),
  records INTEGER NOT NULL CHECK (records >= 0),
  topic TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  queued_at INTEGER NOT NULL,
  published_at INTEGER,
  acknowledged_at INTEGER,
  receipt TEXT
);
CREATE INDEX batches_unacknowledged ON batches(extract_ord, seq) WHERE state < 2;
CREATE TABLE payloads(
  id INTEGER PRIMARY KEY REFERENCES batches(id) ON DELETE CASCADE,
  payload BLOB NOT NULL
);
)sql";

// `?1` (the visibility watermark, see Impl::visible_) appears in every statement that reads or
// marks batches: the extract transaction is open on this same connection, so without it the
// forwarder would see (and could mark) rows that a rollback is about to remove.
#define SVD_SELECT_BATCH \
  "SELECT b.batch_id, b.feed, e.extract_id, b.seq, b.last, b.records, b.topic, b.state, b.attempts, " \
  "       p.payload, b.extract_ord " \
  "FROM batches AS b " \
  "CROSS JOIN extracts AS e ON e.ord = b.extract_ord " \
  "CROSS JOIN payloads AS p ON p.id = b.id "
constexpr const char* kSelectUnacknowledged =
    SVD_SELECT_BATCH "WHERE b.state < 2 AND b.id <= ?1 AND (b.extract_ord, b.seq) > (?3, ?4) "
                     "ORDER BY b.extract_ord, b.seq LIMIT ?2";

// One batch by id, if it is still unacknowledged: what a receipt timeout sends again.
constexpr const char* kSelectOneUnacknowledged = SVD_SELECT_BATCH "WHERE b.state < 2 AND b.id <= ?1 AND b.batch_id = ?2";
#undef SVD_SELECT_BATCH

constexpr const char* kMarkPublished = R"sql(
UPDATE batches
SET state = CASE state WHEN 0 THEN 1 ELSE state END, attempts = attempts + 1, published_at = ?3
WHERE id <= ?1 AND batch_id = ?2
)sql";

// SET expressions see the old row, so the CASEs keep the first verdict (acknowledged or rejected)
// and its receipt; the row still counts as changed, which is how "known id" is told from "unknown" in one statement.
constexpr const char* kMarkAcknowledged = R"sql(
UPDATE batches
SET acknowledged_at = CASE WHEN state < 2 THEN ?3 ELSE acknowledged_at END,
    receipt = CASE WHEN state < 2 THEN ?4 ELSE receipt END,
    state = CASE WHEN state < 2 THEN 2 ELSE state END
WHERE id <= ?1 AND batch_id = ?2
)sql";

// Like kMarkAcknowledged: the first verdict stays; `changes` tells a known id from an unknown.
constexpr const char* kMarkRejected = R"sql(
UPDATE batches
SET acknowledged_at = CASE WHEN state < 2 THEN ?3 ELSE acknowledged_at END,
    receipt = CASE WHEN state < 2 THEN 'rejected: ' || ?4 ELSE receipt END,
    state = CASE WHEN state < 2 THEN 3 ELSE state END
WHERE id <= ?1 AND batch_id = ?2
)sql";

constexpr const char* kSelectState = "SELECT state FROM batches WHERE id <= ?1 AND batch_id = ?2";

constexpr const char* kSelectStats = R"sql(
SELECT coalesce(sum(state = 0), 0), coalesce(sum(state = 1), 0), coalesce(sum(state = 2), 0),
       coalesce(sum(state = 3), 0), coalesce(sum(CASE WHEN state < 2 THEN records END), 0),
       coalesce(min(CASE WHEN state < 2 THEN queued_at END), 0)
FROM batches WHERE id <= ?1
)sql";

constexpr const char* kSelectProgress = R"sql(
SELECT count(*), coalesce(sum(b.attempts > 0), 0), coalesce(sum(b.state = 2), 0), coalesce(sum(b.state = 3), 0),
       coalesce(sum(b.records), 0), coalesce(sum(CASE WHEN b.state = 2 THEN b.records END), 0)
FROM batches AS b CROSS JOIN extracts AS e ON e.ord = b.extract_ord
WHERE e.extract_id = ?2 AND b.id <= ?1
)sql";

// Only acknowledged batches: a rejected one keeps its payload, so that it can be sent again
// once the hub's operator has fixed what made it refuse.
constexpr const char* kPrune = R"sql(
DELETE FROM payloads WHERE id IN (
  SELECT b.id FROM batches AS b CROSS JOIN payloads AS p ON p.id = b.id
  WHERE b.state = 2 AND b.acknowledged_at <= ?1 LIMIT ?2)
)sql";

bool configure(sqlite3* db) {
  if (sqlite3_busy_timeout(db, kBusyTimeoutMs) != SQLITE_OK) return false;
  // The first read of page 1: a file that is not a database fails here (SQLITE_NOTADB).
  if (!query_int(db, "PRAGMA user_version")) return false;
  // Payloads are blobs of up to a few hundred KiB: 64 KiB pages write them in a sixteenth of the
  // page writes (and system calls) of the default 4 KiB. Takes effect only while the file is
  // still empty, i.e. before the WAL switch below creates it.
  if (!exec(db, "PRAGMA page_size=65536")) return false;
  const auto mode = query_text(db, "PRAGMA journal_mode=WAL");
  if (!mode || *mode != "wal") return false;  // e.g. a filesystem without shared memory
  // NORMAL here, FULL for an extract's transaction (set in begin_extract): an extract that was
  // committed must survive power loss (the uploader was told it is safe), while a mark that a
  // power cut takes back only costs a re-send that the hub answers `duplicate`. On a real disk
  // this saves two fsyncs per batch. WAL with NORMAL never corrupts; it may only lose the last
  // commits.
  // journal_size_limit: an extract is one transaction, so the WAL can grow to an extract's
  // size; truncate it after checkpoints instead of keeping that space forever.
  // wal_autocheckpoint: every mark appends a whole 64 KiB page to the WAL, so SQLite's default
  // of 1000 pages would let the WAL reach 64 MiB between checkpoints; 64 pages bounds it at
  // 4 MiB (plus the extract being written), which matters on a small appliance disk.
  return exec(db, "PRAGMA synchronous=NORMAL") && exec(db, "PRAGMA foreign_keys=ON") &&
         exec(db, "PRAGMA journal_size_limit=4194304") && exec(db, "PRAGMA wal_autocheckpoint=64") &&
         query_text(db, "PRAGMA foreign_keys").value_or("") == "1";
}

bool fits_int64(std::uint64_t v) { return v <= static_cast<std::uint64_t>(kMaxInt64); }

}  // namespace

struct Outbox::Impl {
  // Declared first so it is closed last, after every statement is finalized.
  Db db_;
  Stmt begin_, commit_, rollback_, insert_extract_, select_ord_, insert_batch_, insert_payload_,
      select_max_id_, select_unacknowledged_, select_one_unacknowledged_, mark_published_, mark_acknowledged_, mark_rejected_,
      select_state_, select_stats_, select_progress_, prune_, select_acked_per_feed_, select_for_audit_;

  // The open extract, if any. Its rows are the ones with id > visible_ (rowids of new rows are
  // max(id) + 1, and BEGIN IMMEDIATE keeps every other writer out), so readers on this
  // connection are limited to ids <= visible_; kMaxInt64 when no extract is open.
  bool in_extract_ = false;
  // The open extract's batches were committed before: add() writes nothing (see the header).
  bool sealed_ = false;
  std::int64_t extract_ord_ = 0;
  std::string extract_id_;
  std::int64_t visible_ = kMaxInt64;

  // Marks made while an extract is open run inside the extract's transaction. They are
  // remembered so that abandon() can re-apply them after the rollback; a crash before commit
  // loses them, which only means a re-send (at-least-once, the hub de-duplicates).
  struct Mark {
    const Stmt* stmt;
    std::string batch_id, receipt;
  };
  std::vector<Mark> marks_in_extract_;

  ~Impl() { abandon(); }

  bool prepare_all() {
    sqlite3* d = db_.get();
    return prepare(d, "BEGIN IMMEDIATE", begin_) && prepare(d, "COMMIT", commit_) &&
           prepare(d, "ROLLBACK", rollback_) &&
           prepare(d, "INSERT OR IGNORE INTO extracts(extract_id, opened_at) VALUES (?1, ?2)",
                   insert_extract_) &&
           prepare(d,
                   "SELECT ord, EXISTS(SELECT 1 FROM batches WHERE extract_ord = extracts.ord) "
                   "FROM extracts WHERE extract_id = ?1",
                   select_ord_) &&
           prepare(d,
                   "INSERT OR IGNORE INTO batches(batch_id, extract_ord, feed, seq, last, "
                   "records, topic, state, attempts, queued_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8)",
                   insert_batch_) &&
           prepare(d, "INSERT INTO payloads(id, payload) VALUES (?1, ?2)", insert_payload_) &&
           prepare(d, "SELECT coalesce(max(id), 0) FROM batches", select_max_id_) &&
           prepare(d, kSelectUnacknowledged, select_unacknowledged_) &&
           prepare(d, kSelectOneUnacknowledged, select_one_unacknowledged_) &&
           prepare(d, kMarkPublished, mark_published_) &&
           prepare(d, kMarkAcknowledged, mark_acknowledged_) &&
           prepare(d, kMarkRejected, mark_rejected_) &&
           prepare(d, kSelectState, select_state_) &&
           prepare(d,
                   "SELECT b.feed, e.extract_id, b.seq, b.records, b.state, b.attempts FROM batches AS b "
                   "CROSS JOIN extracts AS e ON e.ord = b.extract_ord WHERE b.id <= ?1 AND b.batch_id = ?2",
                   select_for_audit_) &&
           prepare(d, kSelectStats, select_stats_) && prepare(d, kSelectProgress, select_progress_) &&
           prepare(d, kPrune, prune_) &&
           prepare(d, "SELECT feed, sum(records) FROM batches WHERE state = 2 AND id <= ?1 GROUP BY feed",
                   select_acked_per_feed_);
  }

  static std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

  // SQLite rolls the whole transaction back by itself after some errors (SQLITE_FULL, IOERR,
  // NOMEM); later statements would then autocommit one by one. Detect that before writing.
  bool extract_alive() {
    if (in_extract_ && sqlite3_get_autocommit(db_.get())) abandon();
    return in_extract_;
  }

  void end_extract() {
    (void)exec(db_.get(), "PRAGMA synchronous=NORMAL");  // see configure()
    in_extract_ = false;
    sealed_ = false;
    visible_ = kMaxInt64;
    extract_id_.clear();
    marks_in_extract_.clear();
  }

  void abandon() {
    if (!in_extract_) return;
    if (!sqlite3_get_autocommit(db_.get())) {
      Use u(rollback_);
      u.step();
    }
    auto marks = std::move(marks_in_extract_);
    end_extract();
    // Best effort: a mark that fails now is repaired by the re-send it causes.
    for (const auto& m : marks) (void)mark(*m.stmt, m.batch_id, m.receipt);
  }

  // The mark and its audit event (batch.published on every attempt; batch.acknowledged or
  // batch.rejected on the first verdict only) in one transaction: the extract's, when one is
  // open, else one of its own.
  result<bool> mark(const Stmt& stmt, std::string_view batch_id, std::string_view receipt) {
    std::optional<sqlite::Transaction> tx;
    if (!in_extract_) {
      tx.emplace(db_.get());
      if (!tx->ok()) return errc::io_error;
    }
    std::string feed, extract_id;
    std::uint64_t seq = 0, records = 0;
    std::int64_t state_before = 0, attempts_before = 0;
    {
      Use u(select_for_audit_);
      if (!u.bind(1, visible_) || !u.bind(2, batch_id)) return errc::io_error;
      const int rc = u.step();
      if (rc == SQLITE_DONE) return false;
      if (rc != SQLITE_ROW) return errc::io_error;
      feed = u.text(0);
      extract_id = u.text(1);
      seq = static_cast<std::uint64_t>(u.integer(2));
      records = static_cast<std::uint64_t>(u.integer(3));
      state_before = u.integer(4);
      attempts_before = u.integer(5);
    }
    {
      Use u(stmt);
      bool ok = u.bind(1, visible_) && u.bind(2, batch_id) && u.bind(3, now());
      if (ok && &stmt != &mark_published_) ok = u.bind(4, receipt);
      if (!ok || !u.done()) return errc::io_error;
    }
    std::optional<audit::Event> event;
    const std::string id(batch_id), why(receipt);
    if (&stmt == &mark_published_)
      event = audit::events::batch_published(id, extract_id, feed, seq, records,
                                             static_cast<std::uint32_t>(attempts_before + 1));
    else if (state_before < 2 && &stmt == &mark_acknowledged_)
      event = audit::events::batch_acknowledged(id, extract_id, feed, seq, records, why);
    else if (state_before < 2 && &stmt == &mark_rejected_)
      event = audit::events::batch_rejected(id, extract_id, feed, seq, records, why);
    if (event && !audit::record_pending(db_.get(), *event)) return errc::io_error;
    if (tx && tx->commit() != SQLITE_OK) return errc::io_error;
    return true;
  }

  // A mark made inside an open extract is remembered for abandon() (see marks_in_extract_).
  result<bool> mark_and_remember(const Stmt& stmt, const std::string& batch_id, const std::string& receipt) {
    auto r = mark(stmt, batch_id, receipt);
    if (r && *r && in_extract_) marks_in_extract_.push_back({&stmt, batch_id, receipt});
    return r;
  }

  // Every failure inside an open extract abandons all of it: after a failed add() the
  // transaction would otherwise go on with a batch missing, and commit would lose its records.
  result<void> fail_extract() {
    abandon();
    return errc::io_error;
  }
};

Outbox::Outbox(std::unique_ptr<Impl> impl, std::filesystem::path file)
    : impl_(std::move(impl)), file_(std::move(file)) {}

Outbox::~Outbox() = default;

result<std::unique_ptr<Outbox>> Outbox::open(const std::filesystem::path& file) {
  return guarded([&]() -> result<std::unique_ptr<Outbox>> {
    if (!create_private_file(file)) return errc::io_error;
    auto impl = std::make_unique<Impl>();
    sqlite3* raw = nullptr;
    // NOMUTEX: one thread owns the handle (see the header), so SQLite's own locking is waste.
    const int rc = sqlite3_open_v2(file.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    impl->db_.reset(raw);  // a handle is returned even on failure and must be closed
    if (rc != SQLITE_OK) return errc::io_error;
    if (!configure(raw) || !sqlite::ensure_schema(raw, kSchemaVersion, kSchemaV1) ||
        !audit::ensure_pending_table(raw) || !impl->prepare_all())
      return errc::io_error;
    return std::unique_ptr<Outbox>(new Outbox(std::move(impl), file));
  });
}

// begin twice is an error that leaves the first extract open; the caller either commits or
// abandons it.
result<void> Outbox::begin_extract(const std::string& extract_id) {
  return guarded([&]() -> result<void> {
    Impl& im = *impl_;
    if (im.extract_alive()) return errc::io_error;
    if (!exec(im.db_.get(), "PRAGMA synchronous=FULL")) return errc::io_error;  // see configure()
    {
      Use u(im.begin_);
      if (!u.done()) return errc::io_error;
    }
    im.in_extract_ = true;
    {
      Use u(im.insert_extract_);
      if (!u.bind(1, extract_id) || !u.bind(2, Impl::now()) || !u.done()) return im.fail_extract();
    }
    {
      Use u(im.select_ord_);
      if (!u.bind(1, extract_id) || u.step() != SQLITE_ROW) return im.fail_extract();
      im.extract_ord_ = u.integer(0);
      im.sealed_ = u.integer(1) != 0;
    }
    std::int64_t max_id = 0;
    {
      Use u(im.select_max_id_);
      if (u.step() != SQLITE_ROW) return im.fail_extract();
      max_id = u.integer(0);
    }
    im.extract_id_ = extract_id;
    im.visible_ = max_id;
    return {};
  });
}

// Outside begin_extract(), or for a batch of another extract than the open one: io_error. Any
// error abandons the open extract (see fail_extract). The batch's state and attempts are
// ignored: a new row is always queued with no attempts.
result<void> Outbox::add(const OutboxBatch& batch) {
  return guarded([&]() -> result<void> {
    Impl& im = *impl_;
    if (!im.extract_alive()) return errc::io_error;
    if (batch.extract_id != im.extract_id_ || !fits_int64(batch.seq) || !fits_int64(batch.records))
      return im.fail_extract();
    if (im.sealed_) return {};
    {
      Use u(im.insert_batch_);
      const bool ok = u.bind(1, batch.batch_id) && u.bind(2, im.extract_ord_) &&
                      u.bind(3, batch.feed) && u.bind(4, static_cast<std::int64_t>(batch.seq)) &&
                      u.bind(5, std::int64_t{batch.last ? 1 : 0}) &&
                      u.bind(6, static_cast<std::int64_t>(batch.records)) &&
                      u.bind(7, batch.topic) && u.bind(8, Impl::now());
      if (!ok || !u.done()) return im.fail_extract();
    }
    if (sqlite3_changes(im.db_.get()) == 0) return {};  // the id exists: keep that row as it is
    const sqlite3_int64 id = sqlite3_last_insert_rowid(im.db_.get());
    Use u(im.insert_payload_);
    if (!u.bind(1, static_cast<std::int64_t>(id)) || !u.bind_blob(2, batch.payload) || !u.done())
      return im.fail_extract();
    return {};
  });
}

result<void> Outbox::commit_extract() {
  return guarded([&]() -> result<void> {
    Impl& im = *impl_;
    if (!im.extract_alive()) return errc::io_error;
    bool ok;
    {
      Use u(im.commit_);
      ok = u.done();
    }
    if (!ok) return im.fail_extract();
    im.end_extract();
    return {};
  });
}

void Outbox::abandon_extract() { impl_->abandon(); }

namespace {
// A row of kSelectUnacknowledged or kSelectOneUnacknowledged.
OutboxBatch read_batch(Use& u) {
  OutboxBatch b;
  b.batch_id = u.text(0);
  b.feed = u.text(1);
  b.extract_id = u.text(2);
  b.seq = static_cast<std::uint64_t>(u.integer(3));
  b.last = u.integer(4) != 0;
  b.records = static_cast<std::uint64_t>(u.integer(5));
  b.topic = u.text(6);
  b.state = u.integer(7) == 0 ? BatchState::queued : BatchState::published;
  b.attempts = static_cast<std::uint32_t>(
      std::min<std::int64_t>(u.integer(8), std::numeric_limits<std::uint32_t>::max()));
  b.payload = u.blob(9);
  b.position = {u.integer(10), b.seq};
  return b;
}
}  // namespace

result<std::vector<OutboxBatch>> Outbox::unacknowledged(std::size_t limit, std::optional<OutboxPosition> after) {
  return guarded([&]() -> result<std::vector<OutboxBatch>> {
    Impl& im = *impl_;
    std::vector<OutboxBatch> out;
    Use u(im.select_unacknowledged_);
    const auto lim = fits_int64(limit) ? static_cast<std::int64_t>(limit) : kMaxInt64;
    // Ords start at 1 and seqs at 0, so (0, -1) is before every batch.
    const std::int64_t after_ord = after ? after->extract_ord : 0;
    const std::int64_t after_seq =
        after ? static_cast<std::int64_t>(std::min<std::uint64_t>(after->seq, kMaxInt64)) : -1;
    if (!u.bind(1, im.visible_) || !u.bind(2, lim) || !u.bind(3, after_ord) || !u.bind(4, after_seq))
      return errc::io_error;
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) out.push_back(read_batch(u));
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

result<std::optional<OutboxBatch>> Outbox::unacknowledged_batch(const std::string& batch_id) {
  return guarded([&]() -> result<std::optional<OutboxBatch>> {
    Impl& im = *impl_;
    Use u(im.select_one_unacknowledged_);
    if (!u.bind(1, im.visible_) || !u.bind(2, batch_id)) return errc::io_error;
    const int rc = u.step();
    if (rc == SQLITE_ROW) return std::optional<OutboxBatch>(read_batch(u));
    if (rc != SQLITE_DONE) return errc::io_error;
    return std::optional<OutboxBatch>();
  });
}

result<bool> Outbox::mark_published(const std::string& batch_id) {
  return guarded([&]() -> result<bool> {
    return impl_->mark_and_remember(impl_->mark_published_, batch_id, {});
  });
}

result<bool> Outbox::mark_acknowledged(const std::string& batch_id,
                                       const std::string& receipt_status) {
  return guarded([&]() -> result<bool> {
    return impl_->mark_and_remember(impl_->mark_acknowledged_, batch_id, receipt_status);
  });
}

result<bool> Outbox::mark_rejected(const std::string& batch_id, const std::string& reason) {
  return guarded([&]() -> result<bool> {
    return impl_->mark_and_remember(impl_->mark_rejected_, batch_id, reason);
  });
}

result<std::optional<BatchState>> Outbox::state(const std::string& batch_id) {
  return guarded([&]() -> result<std::optional<BatchState>> {
    Impl& im = *impl_;
    Use u(im.select_state_);
    if (!u.bind(1, im.visible_) || !u.bind(2, batch_id)) return errc::io_error;
    const int rc = u.step();
    if (rc == SQLITE_DONE) return std::optional<BatchState>();
    if (rc != SQLITE_ROW) return errc::io_error;
    switch (u.integer(0)) {
      case 0: return std::optional<BatchState>(BatchState::queued);
      case 1: return std::optional<BatchState>(BatchState::published);
      case 2: return std::optional<BatchState>(BatchState::acknowledged);
      default: return std::optional<BatchState>(BatchState::rejected);  // CHECK allows only 3
    }
  });
}

namespace {

constexpr std::string_view kRejectedPrefix = "rejected: ";  // kMarkRejected's receipt

// One batch of `records`, counted into `out` (kept ordered by feed and reason).
void add_rejected(std::vector<RejectedCount>& out, std::string feed, std::string reason, std::uint64_t records) {
  const auto before = [](const RejectedCount& c, const std::pair<std::string, std::string>& k) {
    return std::tie(c.feed, c.reason) < std::tie(k.first, k.second);
  };
  auto at = std::lower_bound(out.begin(), out.end(), std::pair(feed, reason), before);
  if (at == out.end() || at->feed != feed || at->reason != reason)
    at = out.insert(at, RejectedCount{std::move(feed), std::move(reason), 0, 0});
  ++at->batches;
  at->records += records;
}

}  // namespace

result<std::vector<RejectedCount>> Outbox::rejected() {
  return guarded([&]() -> result<std::vector<RejectedCount>> {
    Impl& im = *impl_;
    Stmt s;
    if (!prepare(im.db_.get(),
                 "SELECT feed, substr(receipt, ?2), count(*), sum(records) FROM batches "
                 "WHERE state = 3 AND id <= ?1 GROUP BY 1, 2 ORDER BY 1, 2",
                 s))
      return errc::io_error;
    Use u(s);
    if (!u.bind(1, im.visible_) || !u.bind(2, static_cast<std::int64_t>(kRejectedPrefix.size() + 1)))
      return errc::io_error;
    std::vector<RejectedCount> out;
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      out.push_back({u.text(0), u.text(1), static_cast<std::uint64_t>(u.integer(2)),
                     static_cast<std::uint64_t>(u.integer(3))});
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

result<std::vector<RejectedCount>> Outbox::requeue_rejected(const RejectedFilter& filter, const std::string& by) {
  return guarded([&]() -> result<std::vector<RejectedCount>> {
    Impl& im = *impl_;
    if (im.in_extract_) return errc::io_error;
    sqlite::Transaction tx(im.db_.get());
    if (!tx.ok()) return errc::io_error;
    Stmt select, update;
    if (!prepare(im.db_.get(),
                 "SELECT b.id, b.batch_id, b.feed, e.extract_id, b.seq, b.records, substr(b.receipt, ?4) "
                 "FROM batches AS b CROSS JOIN extracts AS e ON e.ord = b.extract_ord "
                 "WHERE b.state = 3 AND (?1 IS NULL OR e.extract_id = ?1) AND (?2 IS NULL OR b.feed = ?2) "
                 "AND (?3 IS NULL OR b.receipt = ?5 || ?3) ORDER BY b.extract_ord, b.seq",
                 select) ||
        !prepare(im.db_.get(),
                 "UPDATE batches SET state = 0, acknowledged_at = NULL, receipt = NULL, queued_at = ?2 WHERE id = ?1",
                 update))
      return errc::io_error;
    Use q(select);
    bool ok = q.bind(4, static_cast<std::int64_t>(kRejectedPrefix.size() + 1)) && q.bind(5, kRejectedPrefix);
    if (filter.extract_id) ok = ok && q.bind(1, *filter.extract_id);
    if (filter.feed) ok = ok && q.bind(2, *filter.feed);
    if (filter.reason) ok = ok && q.bind(3, *filter.reason);
    if (!ok) return errc::io_error;
    std::vector<RejectedCount> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      const std::int64_t id = q.integer(0);
      const std::string batch_id = q.text(1), feed = q.text(2), extract_id = q.text(3), reason = q.text(6);
      const auto seq = static_cast<std::uint64_t>(q.integer(4)), records = static_cast<std::uint64_t>(q.integer(5));
      {
        Use u(update);
        // Queued again now: a batch rejected last week must not look a week overdue
        // (svdgw_outbox_oldest_unacknowledged_seconds, and its alert).
        if (!u.bind(1, id) || !u.bind(2, Impl::now()) || !u.done()) return errc::io_error;
      }
      if (!audit::record_pending(im.db_.get(),
                                 audit::events::batch_requeued(by, batch_id, extract_id, feed, seq, records, reason)))
        return errc::io_error;
      add_rejected(out, feed, reason, records);
    }
    if (rc != SQLITE_DONE || tx.commit() != SQLITE_OK) return errc::io_error;
    return out;
  });
}

result<OutboxStats> Outbox::stats() {
  return guarded([&]() -> result<OutboxStats> {
    Impl& im = *impl_;
    Use u(im.select_stats_);
    if (!u.bind(1, im.visible_) || u.step() != SQLITE_ROW) return errc::io_error;
    OutboxStats s;
    s.queued = static_cast<std::uint64_t>(u.integer(0));
    s.published = static_cast<std::uint64_t>(u.integer(1));
    s.acknowledged = static_cast<std::uint64_t>(u.integer(2));
    s.rejected = static_cast<std::uint64_t>(u.integer(3));
    s.unacknowledged_records = static_cast<std::uint64_t>(u.integer(4));
    s.oldest_unacknowledged_at = u.integer(5);
    return s;
  });
}

result<ExtractProgress> Outbox::progress(const std::string& extract_id) {
  return guarded([&]() -> result<ExtractProgress> {
    Impl& im = *impl_;
    Use u(im.select_progress_);
    if (!u.bind(1, im.visible_) || !u.bind(2, extract_id) || u.step() != SQLITE_ROW) return errc::io_error;
    ExtractProgress p;
    p.batches = static_cast<std::uint64_t>(u.integer(0));
    p.published = static_cast<std::uint64_t>(u.integer(1));
    p.acknowledged = static_cast<std::uint64_t>(u.integer(2));
    p.rejected = static_cast<std::uint64_t>(u.integer(3));
    p.records = static_cast<std::uint64_t>(u.integer(4));
    p.records_acknowledged = static_cast<std::uint64_t>(u.integer(5));
    return p;
  });
}

result<std::uint64_t> Outbox::prune_acknowledged(std::chrono::seconds age, std::size_t limit) {
  return guarded([&]() -> result<std::uint64_t> {
    Impl& im = *impl_;
    // Inside an open extract the delete would join (and could be rolled back with) its transaction.
    if (im.in_extract_ || limit == 0) return std::uint64_t{0};
    Use u(im.prune_);
    const auto lim = static_cast<std::int64_t>(std::min<std::size_t>(limit, 1u << 20));
    if (!u.bind(1, Impl::now() - static_cast<std::int64_t>(age.count())) || !u.bind(2, lim) || !u.done())
      return errc::io_error;
    return static_cast<std::uint64_t>(sqlite3_changes(im.db_.get()));
  });
}

result<std::map<std::string, std::uint64_t>> Outbox::acknowledged_records_per_feed() {
  return guarded([&]() -> result<std::map<std::string, std::uint64_t>> {
    Impl& im = *impl_;
    Use u(im.select_acked_per_feed_);
    if (!u.bind(1, im.visible_)) return errc::io_error;
    std::map<std::string, std::uint64_t> out;
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) out[u.text(0)] = static_cast<std::uint64_t>(u.integer(1));
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

}  // namespace svd::deliver
