#include "audit/audit_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>

#include "audit/events.h"
#include "base/hex.h"
#include "base/sqlite.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"

namespace svd::audit {
namespace {

using sqlite::Db;
using sqlite::exec;
using sqlite::guarded;
using sqlite::Stmt;
using sqlite::Use;

constexpr int kSchemaVersion = 1;

// Hashes are stored as hex text so that an auditor reading the file with the sqlite3 shell sees
// what `svdgw audit export` prints. The triggers guard against bugs, not attackers (who can drop
// them): the signed checkpoints, and the hub's copies of them, are what catch an attacker.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  details TEXT NOT NULL,
  payload_sha256 TEXT NOT NULL,
  leaf_hash TEXT NOT NULL,
  chain_hash TEXT NOT NULL
);
CREATE INDEX events_time ON events(time);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE sources (
  name TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL
);

CREATE TABLE checkpoints (
  seq INTEGER PRIMARY KEY,
  partner TEXT NOT NULL,
  chain_hash TEXT NOT NULL,
  time TEXT NOT NULL,
  signature TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  witnessed_at TEXT NOT NULL DEFAULT '',
  cosignature TEXT NOT NULL DEFAULT '',
  witness_fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_receipt_only BEFORE UPDATE ON checkpoints
  WHEN OLD.status IN ('accepted', 'duplicate') OR NEW.seq IS NOT OLD.seq OR NEW.partner IS NOT OLD.partner
    OR NEW.chain_hash IS NOT OLD.chain_hash OR NEW.time IS NOT OLD.time OR NEW.signature IS NOT OLD.signature
    OR NEW.key_fingerprint IS NOT OLD.key_fingerprint
  BEGIN SELECT RAISE(ABORT, 'only a missing hub receipt may be added to a checkpoint'); END;
)sql";

bool configure(sqlite3* db, bool read_only) {
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  if (read_only) return true;
  // FULL: an event is evidence; the checkpoint that vouches for it must never precede it on disk.
  return exec(db, "PRAGMA journal_mode=WAL") && exec(db, "PRAGMA synchronous=FULL") &&
         exec(db, "PRAGMA foreign_keys=ON");
}

StoredCheckpoint read_checkpoint(Use& u) {
  // Columns: seq, partner, chain_hash, time, signature, key_fingerprint, status, reason,
  // witnessed_at, cosignature, witness_fingerprint.
  StoredCheckpoint c;
  c.checkpoint.seq = static_cast<std::uint64_t>(u.integer(0));
  c.checkpoint.partner = u.text(1);
  c.checkpoint.chain_hash = u.text(2);
  c.checkpoint.time = u.text(3);
  c.signature = u.text(4);
  c.key_fingerprint = u.text(5);
  c.status = u.text(6);
  c.reason = u.text(7);
  c.witnessed_at = u.text(8);
  c.cosignature = u.text(9);
  c.witness_fingerprint = u.text(10);
  return c;
}

constexpr const char* kCheckpointColumns =
    "seq, partner, chain_hash, time, signature, key_fingerprint, status, reason, witnessed_at, cosignature, "
    "witness_fingerprint";

bool prepare_once(sqlite3* db, Stmt& s, const std::string& sql) {
  return s || sqlite::prepare(db, sql.c_str(), s);
}

Entry read_entry(Use& u) {
  // Columns: seq, time, actor, action, object, details, payload_sha256, leaf_hash, chain_hash.
  Entry e;
  e.seq = static_cast<std::uint64_t>(u.integer(0));
  e.event.time = u.text(1);
  e.event.actor = u.text(2);
  e.event.action = u.text(3);
  e.event.object = u.text(4);
  e.event.details = u.text(5);
  e.event.payload_sha256 = u.text(6);
  // Stored hashes are taken as found (verify() checks them); unreadable ones read as zero.
  if (!from_hex(u.text(7), e.leaf_hash)) e.leaf_hash = {};
  if (!from_hex(u.text(8), e.chain_hash)) e.chain_hash = {};
  return e;
}

constexpr const char* kEntryColumns =
    "seq, time, actor, action, object, details, payload_sha256, leaf_hash, chain_hash";

}  // namespace

// ---- AuditLog ----------------------------------------------------------------------------------

struct AuditLog::Impl {
  std::filesystem::path file;
  std::string partner;
  Db db;
  Head head;
  Stmt insert_event, set_source, get_source, chain_at, insert_checkpoint, last_checkpoint, checkpoint_before,
      oldest_unwitnessed, leaves, set_receipt;
  std::map<std::string, Db> sources;  // source name -> its database, opened on first drain
  std::set<std::string> checked;      // sources whose restore check has run (their first drain)

  // Appends inside the caller's transaction; advances `h` (the caller adopts it after commit).
  bool insert(Head& h, const Event& e) {
    if (!valid_event(e)) return false;
    const std::uint64_t seq = h.seq + 1;
    const Hash leaf = leaf_hash(seq, e);
    const Hash chain = chain_next(h.chain_hash, leaf);
    if (!prepare_once(db.get(), insert_event,
                      "INSERT INTO events(seq, time, actor, action, object, details, payload_sha256, leaf_hash,"
                      " chain_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"))
      return false;
    Use u(insert_event);
    const std::string leaf_hex = to_hex(leaf), chain_hex = to_hex(chain);
    if (!u.bind(1, static_cast<std::int64_t>(seq)) || !u.bind(2, e.time) || !u.bind(3, e.actor) ||
        !u.bind(4, e.action) || !u.bind(5, e.object) || !u.bind(6, e.details) || !u.bind(7, e.payload_sha256) ||
        !u.bind(8, leaf_hex) || !u.bind(9, chain_hex) || !u.done())
      return false;
    h.seq = seq;
    h.chain_hash = chain;
    return true;
  }

  bool read_head() {
    auto last = sqlite::query_one(db.get(), "SELECT seq, chain_hash FROM events ORDER BY seq DESC LIMIT 1",
                                  [](Use& u) { return std::make_pair(u.integer(0), u.text(1)); });
    head = Head{};
    if (!last) return sqlite::query_int(db.get(), "SELECT count(*) FROM events").value_or(-1) == 0;
    head.seq = static_cast<std::uint64_t>(last->first);
    return from_hex(last->second, head.chain_hash);
  }

  std::optional<std::string> chain_hash_at(std::uint64_t seq) {
    if (!prepare_once(db.get(), chain_at, "SELECT chain_hash FROM events WHERE seq = ?1")) return std::nullopt;
    Use u(chain_at);
    if (!u.bind(1, static_cast<std::int64_t>(seq)) || u.step() != SQLITE_ROW) return std::nullopt;
    return u.text(0);
  }

  std::optional<std::optional<StoredCheckpoint>> last_stored_checkpoint() {
    if (!prepare_once(db.get(), last_checkpoint,
                      std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints ORDER BY seq DESC LIMIT 1"))
      return std::nullopt;
    Use u(last_checkpoint);
    const int rc = u.step();
    if (rc == SQLITE_DONE) return std::optional<StoredCheckpoint>{};
    if (rc != SQLITE_ROW) return std::nullopt;
    return std::optional<StoredCheckpoint>{read_checkpoint(u)};
  }

  sqlite3* source_db(const std::string& name, const std::filesystem::path& path, bool& missing) {
    missing = false;
    auto it = sources.find(name);
    if (it != sources.end()) return it->second.get();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      missing = true;
      return nullptr;
    }
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    Db handle(raw);
    if (rc != SQLITE_OK) return nullptr;
    sqlite3_extended_result_codes(raw, 1);
    // Reading waits briefly for a writer's commit; the clean-up afterwards does not wait at all.
    sqlite3_busy_timeout(raw, 2000);
    return sources.emplace(name, std::move(handle)).first->second.get();
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::~AuditLog() = default;

result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& file, std::string partner) {
  return guarded([&]() -> result<std::unique_ptr<AuditLog>> {
    if (!sqlite::create_private_file(file)) return errc::io_error;
    auto impl = std::make_unique<Impl>();
    impl->file = file;
    impl->partner = std::move(partner);
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    impl->db.reset(raw);
    if (rc != SQLITE_OK || !configure(raw, false) || !sqlite::ensure_schema(raw, kSchemaVersion, kSchemaV1) ||
        !impl->read_head())
      return errc::io_error;
    return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
  });
}

const std::filesystem::path& AuditLog::file() const { return impl_->file; }

result<std::uint64_t> AuditLog::append(const Event& e) {
  return guarded([&]() -> result<std::uint64_t> {
    Impl& im = *impl_;
    sqlite::Transaction tx(im.db.get());
    Head h = im.head;
    if (!tx.ok() || !im.insert(h, e) || tx.commit() != SQLITE_OK) return errc::io_error;
    im.head = h;
    return h.seq;
  });
}

result<std::size_t> AuditLog::drain(const std::string& source, const std::filesystem::path& source_db) {
  return guarded([&]() -> result<std::size_t> {
    Impl& im = *impl_;
    bool missing = false;
    sqlite3* src = im.source_db(source, source_db, missing);
    if (missing) return std::size_t{0};
    if (src == nullptr) return errc::io_error;

    if (!prepare_once(im.db.get(), im.get_source, "SELECT last_id FROM sources WHERE name = ?1") ||
        !prepare_once(im.db.get(), im.set_source,
                      "INSERT INTO sources(name, last_id) VALUES (?1, ?2)"
                      " ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id"))
      return errc::io_error;
    std::int64_t last_id = 0;
    {
      Use u(im.get_source);
      if (!u.bind(1, source)) return errc::io_error;
      const int rc = u.step();
      if (rc == SQLITE_ROW) last_id = u.integer(0);
      else if (rc != SQLITE_DONE) return errc::io_error;
    }

    // A source restored from an older copy than audit.db issues ids up to last_id again, and they
    // would be skipped as taken. Its AUTOINCREMENT counter (never lowered by deletes) tells: then
    // the log records that and takes the source's ids from where the source is. Checked at the
    // source's first drain only: a restore happens with the gateway stopped, and the gateway
    // drains once when it opens the log, before its stores write anything; later, new events
    // would have moved the counter on.
    if (im.checked.insert(source).second && last_id > 0) {
      std::int64_t issued = 0;
      sqlite3_stmt* raw = nullptr;
      const int rc = sqlite3_prepare_v2(src, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_pending'", -1, &raw, nullptr);
      Stmt s(raw);
      if (rc == SQLITE_OK) {
        Use u(s);
        const int step = u.step();
        if (step == SQLITE_ROW) issued = u.integer(0);
        else if (step != SQLITE_DONE) return errc::io_error;
      } else if (std::string(sqlite3_errmsg(src)).find("no such table") == std::string::npos) {
        return errc::io_error;  // (no sqlite_sequence: the source never issued an id)
      }
      if (issued < last_id) {
        sqlite::Transaction tx(im.db.get());
        Head h = im.head;
        if (!tx.ok() || !im.insert(h, events::audit_source_rewound(source, last_id, issued))) return errc::io_error;
        {
          Use u(im.set_source);
          if (!u.bind(1, source) || !u.bind(2, issued) || !u.done()) return errc::io_error;
        }
        if (tx.commit() != SQLITE_OK) return errc::io_error;
        im.head = h;
        last_id = issued;
      }
    }

    std::size_t moved = 0;
    constexpr int kChunk = 512;  // bounds memory and how long audit.db's write lock is held
    for (;;) {
      std::vector<std::pair<std::int64_t, Event>> chunk;
      {
        sqlite3_stmt* raw = nullptr;
        const int rc = sqlite3_prepare_v2(src,
                                          "SELECT id, time, actor, action, object, details, payload_sha256"
                                          " FROM audit_pending WHERE id > ?1 ORDER BY id LIMIT ?2",
                                          -1, &raw, nullptr);
        Stmt s(raw);
        if (rc != SQLITE_OK) {
          // A database from before the table existed has nothing pending.
          const std::string msg = sqlite3_errmsg(src);
          if (msg.find("no such table") != std::string::npos) return moved;
          return errc::io_error;
        }
        Use u(s);
        if (!u.bind(1, last_id) || !u.bind(2, std::int64_t{kChunk})) return errc::io_error;
        int step;
        while ((step = u.step()) == SQLITE_ROW) {
          Event e;
          e.time = u.text(1);
          e.actor = u.text(2);
          e.action = u.text(3);
          e.object = u.text(4);
          e.details = u.text(5);
          e.payload_sha256 = u.text(6);
          chunk.emplace_back(u.integer(0), std::move(e));
        }
        if (step != SQLITE_DONE) return errc::io_error;
      }
      if (chunk.empty()) break;

      sqlite::Transaction tx(im.db.get());
      Head h = im.head;
      if (!tx.ok()) return errc::io_error;
      for (const auto& [id, e] : chunk)
        if (!im.insert(h, e)) return errc::io_error;
      {
        Use u(im.set_source);
        if (!u.bind(1, source) || !u.bind(2, chunk.back().first) || !u.done()) return errc::io_error;
      }
      if (tx.commit() != SQLITE_OK) return errc::io_error;
      im.head = h;
      last_id = chunk.back().first;
      moved += chunk.size();
    }

    if (moved > 0) {
      // Best effort: rows left behind (the source's writer held the lock) are below last_id and
      // are skipped, then deleted by a later drain.
      sqlite3_busy_timeout(src, 0);
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(src, "DELETE FROM audit_pending WHERE id <= ?1", -1, &raw, nullptr) == SQLITE_OK) {
        Stmt s(raw);
        Use u(s);
        if (u.bind(1, last_id)) (void)u.step();
      } else {
        sqlite3_finalize(raw);
      }
      sqlite3_busy_timeout(src, 2000);
    }
    return moved;
  });
}

result<Head> AuditLog::head() { return impl_->head; }

result<std::uint64_t> AuditLog::events_since_checkpoint() {
  return guarded([&]() -> result<std::uint64_t> {
    auto last = impl_->last_stored_checkpoint();
    if (!last) return errc::io_error;
    const std::uint64_t covered = *last ? (*last)->checkpoint.seq : 0;
    return impl_->head.seq > covered ? impl_->head.seq - covered : 0;
  });
}

result<std::optional<StoredCheckpoint>> AuditLog::make_checkpoint(const crypto::SigningKey& key) {
  return guarded([&]() -> result<std::optional<StoredCheckpoint>> {
    Impl& im = *impl_;
    auto last = im.last_stored_checkpoint();
    if (!last) return errc::io_error;
    std::uint64_t covered = *last ? (*last)->checkpoint.seq : 0;
    if (im.head.seq <= covered) return std::optional<StoredCheckpoint>{};
    if (!prepare_once(im.db.get(), im.insert_checkpoint,
                      "INSERT INTO checkpoints(seq, partner, chain_hash, time, signature, key_fingerprint)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))
      return errc::io_error;

    // Consecutive checkpoints are at most kMaxCheckpointLeaves apart, so that every checkpoint
    // message (which carries the leaves since the one before) stays bounded: after a burst of
    // events, intermediate checkpoints are made too.
    const std::string fp = crypto::fingerprint(key.public_key());
    const std::string time = now_utc();
    sqlite::Transaction tx(im.db.get());
    if (!tx.ok()) return errc::io_error;
    StoredCheckpoint made;
    while (covered < im.head.seq) {
      const std::uint64_t seq = std::min<std::uint64_t>(im.head.seq, covered + protocol::kMaxCheckpointLeaves);
      auto chain = im.chain_hash_at(seq);
      if (!chain) return errc::io_error;
      made = StoredCheckpoint{};
      made.checkpoint = protocol::Checkpoint{im.partner, seq, *chain, time};
      const crypto::Signature sig = key.sign(protocol::checkpoint_note(made.checkpoint));
      made.signature = to_hex(sig);
      made.key_fingerprint = fp;
      Use u(im.insert_checkpoint);
      if (!u.bind(1, static_cast<std::int64_t>(seq)) || !u.bind(2, made.checkpoint.partner) ||
          !u.bind(3, made.checkpoint.chain_hash) || !u.bind(4, made.checkpoint.time) || !u.bind(5, made.signature) ||
          !u.bind(6, made.key_fingerprint) || !u.done())
        return errc::io_error;
      covered = seq;
    }
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    return std::optional<StoredCheckpoint>{std::move(made)};
  });
}

result<std::optional<protocol::CheckpointMessage>> AuditLog::next_unwitnessed(std::uint64_t after) {
  return guarded([&]() -> result<std::optional<protocol::CheckpointMessage>> {
    Impl& im = *impl_;
    if (!prepare_once(im.db.get(), im.oldest_unwitnessed,
                      std::string("SELECT ") + kCheckpointColumns +
                          " FROM checkpoints WHERE status NOT IN ('accepted', 'duplicate') AND seq > ?1 ORDER BY seq LIMIT 1") ||
        !prepare_once(im.db.get(), im.checkpoint_before,
                      "SELECT seq, chain_hash FROM checkpoints WHERE seq < ?1 ORDER BY seq DESC LIMIT 1") ||
        !prepare_once(im.db.get(), im.leaves, "SELECT leaf_hash FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"))
      return errc::io_error;
    StoredCheckpoint c;
    {
      Use u(im.oldest_unwitnessed);
      if (!u.bind(1, static_cast<std::int64_t>(after))) return errc::io_error;
      const int rc = u.step();
      if (rc == SQLITE_DONE) return std::optional<protocol::CheckpointMessage>{};
      if (rc != SQLITE_ROW) return errc::io_error;
      c = read_checkpoint(u);
    }
    protocol::CheckpointMessage m;
    m.checkpoint = c.checkpoint;
    m.signature = c.signature;
    m.key_fingerprint = c.key_fingerprint;
    std::uint64_t from = 0;
    {
      Use u(im.checkpoint_before);
      if (!u.bind(1, static_cast<std::int64_t>(c.checkpoint.seq))) return errc::io_error;
      const int rc = u.step();
      if (rc == SQLITE_ROW) {
        m.prev = protocol::ChainPoint{static_cast<std::uint64_t>(u.integer(0)), u.text(1)};
        from = m.prev->seq;
      } else if (rc != SQLITE_DONE) {
        return errc::io_error;
      }
    }
    {
      Use u(im.leaves);
      if (!u.bind(1, static_cast<std::int64_t>(from)) || !u.bind(2, static_cast<std::int64_t>(c.checkpoint.seq)))
        return errc::io_error;
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) m.leaves.push_back(u.text(0));
      if (rc != SQLITE_DONE) return errc::io_error;
    }
    // Rows missing below the checkpoint: the log lost events it had signed for. Publishing a
    // proof that cannot hold would only be refused; verify() says what happened.
    if (m.leaves.size() != c.checkpoint.seq - from) return errc::audit_corrupt;
    return std::optional<protocol::CheckpointMessage>{std::move(m)};
  });
}

result<bool> AuditLog::record_receipt(const protocol::CheckpointReceipt& r) {
  return guarded([&]() -> result<bool> {
    Impl& im = *impl_;
    if (!prepare_once(im.db.get(), im.set_receipt,
                      "UPDATE checkpoints SET status = ?1, reason = ?2, witnessed_at = ?3, cosignature = ?4,"
                      " witness_fingerprint = ?5"
                      " WHERE seq = ?6 AND chain_hash = ?7 AND partner = ?8 AND status NOT IN ('accepted', 'duplicate')"))
      return errc::io_error;
    Use u(im.set_receipt);
    if (!u.bind(1, protocol::to_string(r.status)) || !u.bind(2, r.reason) || !u.bind(3, r.witnessed_at) ||
        !u.bind(4, r.cosignature) || !u.bind(5, r.witness_fingerprint) ||
        !u.bind(6, static_cast<std::int64_t>(r.checkpoint.seq)) || !u.bind(7, r.checkpoint.chain_hash) ||
        !u.bind(8, r.checkpoint.partner) || !u.done())
      return errc::io_error;
    return sqlite3_changes(im.db.get()) > 0;
  });
}

// ---- AuditReader -------------------------------------------------------------------------------

struct AuditReader::Impl {
  Db db;
};

AuditReader::AuditReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditReader::~AuditReader() = default;

result<std::unique_ptr<AuditReader>> AuditReader::open(const std::filesystem::path& file) {
  return guarded([&]() -> result<std::unique_ptr<AuditReader>> {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return errc::io_error;
    auto impl = std::make_unique<Impl>();
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    impl->db.reset(raw);
    if (rc != SQLITE_OK || !configure(raw, true)) return errc::io_error;
    const auto version = sqlite::query_int(raw, "PRAGMA user_version");
    const auto tables = sqlite::query_int(
        raw, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('events', 'checkpoints')");
    if (!version || *version != kSchemaVersion || !tables || *tables != 2) return errc::io_error;
    return std::unique_ptr<AuditReader>(new AuditReader(std::move(impl)));
  });
}

result<void> AuditReader::for_each(const std::function<bool(const Entry&)>& visit, std::optional<std::string> from,
                                   std::optional<std::string> to) {
  return guarded([&]() -> result<void> {
    Stmt s;
    if (!sqlite::prepare(impl_->db.get(),
                         (std::string("SELECT ") + kEntryColumns +
                          " FROM events WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2) ORDER BY seq")
                             .c_str(),
                         s))
      return errc::io_error;
    Use u(s);
    if (from && !u.bind(1, *from)) return errc::io_error;
    if (to && !u.bind(2, *to)) return errc::io_error;
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      if (!visit(read_entry(u))) return {};
    if (rc != SQLITE_DONE) return errc::io_error;
    return {};
  });
}

result<std::vector<StoredCheckpoint>> AuditReader::checkpoints() {
  return guarded([&]() -> result<std::vector<StoredCheckpoint>> {
    Stmt s;
    if (!sqlite::prepare(impl_->db.get(),
                         (std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints ORDER BY seq").c_str(), s))
      return errc::io_error;
    Use u(s);
    std::vector<StoredCheckpoint> out;
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) out.push_back(read_checkpoint(u));
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

}  // namespace svd::audit
