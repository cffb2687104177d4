#include "ingest/extract_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "audit/events.h"
#include "audit/pending.h"
#include "base/sqlite.h"
#include "base/time.h"
#include "base/unique_fd.h"
#include "crypto/sha256.h"

namespace svd::ingest {
namespace {

namespace fs = std::filesystem;
using sqlite::Db;
using sqlite::exec;
using sqlite::guarded;
using sqlite::prepare;
using sqlite::Stmt;
using sqlite::Use;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE extracts(
  ord INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  feed TEXT NOT NULL,
  name TEXT NOT NULL,
  client TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  received_at TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),
  report TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL DEFAULT 0 CHECK (kind IN (0, 1)),
  finished_at TEXT NOT NULL DEFAULT '',
  file_removed INTEGER NOT NULL DEFAULT 0 CHECK (file_removed IN (0, 1)),
  UNIQUE (feed, name)
);
CREATE INDEX extracts_unfinished ON extracts(ord) WHERE state < 2;
CREATE INDEX extracts_files ON extracts(finished_at) WHERE file_removed = 0 AND state >= 2;
CREATE TABLE feeds(
  feed TEXT PRIMARY KEY,
  watched_since INTEGER NOT NULL
);
)sql";

constexpr const char* kColumns =
    "id, feed, name, client, sha256, bytes, received_at, state, report, kind, finished_at, file_removed";

// Files of finished extracts old enough to go, unless an unfinished extract has the same bytes.
constexpr const char* kExpiredFiles = R"sql(
SELECT e.ord, e.sha256 FROM extracts AS e
WHERE e.file_removed = 0 AND e.state >= 2 AND e.finished_at <= ?1
  AND NOT EXISTS (SELECT 1 FROM extracts AS o WHERE o.sha256 = e.sha256 AND o.state < 2)
ORDER BY e.ord LIMIT 1000
)sql";

ExtractState state_of(std::int64_t v) {
  switch (v) {
    case 0: return ExtractState::received;
    case 1: return ExtractState::processing;
    case 2: return ExtractState::processed;
    default: return ExtractState::refused;
  }
}

// What a failed write or fsync means for the uploader: 507 (no space) or 500.
errc write_error() { return errno == ENOSPC || errno == EDQUOT ? errc::storage_full : errc::io_error; }

// fsync of a file or directory by path; false on any failure.
bool sync_path(const fs::path& p, bool directory) {
  const UniqueFd fd(::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW));
  return fd && ::fsync(fd.get()) == 0;
}

bool make_private_dir(const fs::path& d) {
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec || !fs::is_directory(d)) return false;
  return ::chmod(d.c_str(), 0700) == 0;
}

}  // namespace

std::string_view to_string(ExtractKind k) {
  return k == ExtractKind::nothing_to_share ? "nothing_to_share" : "extract";
}

std::string_view to_string(ExtractState s) {
  switch (s) {
    case ExtractState::received: return "received";
    case ExtractState::processing: return "processing";
    case ExtractState::processed: return "processed";
    case ExtractState::refused: return "refused";
  }
  return "unknown";
}

struct ExtractStore::Impl {
  Db db;  // first, so it closes after the statements
  Stmt by_name, by_id, insert, unfinished, set_state, last_received, watched_insert, watched_select, expired_files,
      mark_removed;
  fs::path dir, incoming;
  std::mt19937_64 rng{std::random_device{}()};

  StoredExtract row(Use& u) const {
    StoredExtract e;
    e.id = u.text(0);
    e.feed = u.text(1);
    e.name = u.text(2);
    e.client = u.text(3);
    e.sha256 = u.text(4);
    e.bytes = static_cast<std::uint64_t>(u.integer(5));
    e.received_at = u.text(6);
    e.state = state_of(u.integer(7));
    e.report_json = u.text(8);
    e.kind = u.integer(9) == 1 ? ExtractKind::nothing_to_share : ExtractKind::extract;
    e.finished_at = u.text(10);
    if (u.integer(11) == 0) e.file = dir / e.sha256;
    return e;
  }

  // The one row `stmt` finds with its parameters bound to `a` (and `b` for two-parameter
  // statements); nullopt inside the result when there is none.
  result<std::optional<StoredExtract>> find(const Stmt& stmt, std::string_view a, std::string_view b = {}) {
    Use u(stmt);
    if (!u.bind(1, a) || (sqlite3_bind_parameter_count(stmt.get()) > 1 && !u.bind(2, b))) return errc::io_error;
    const int rc = u.step();
    if (rc == SQLITE_DONE) return std::optional<StoredExtract>();
    if (rc != SQLITE_ROW) return errc::io_error;
    return std::optional<StoredExtract>(row(u));
  }
};

ExtractStore::ExtractStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExtractStore::~ExtractStore() = default;

result<std::unique_ptr<ExtractStore>> ExtractStore::open(const fs::path& state_dir) {
  return guarded([&]() -> result<std::unique_ptr<ExtractStore>> {
    auto impl = std::make_unique<Impl>();
    impl->dir = state_dir / "extracts";
    impl->incoming = impl->dir / "incoming";
    if (!make_private_dir(state_dir) || !make_private_dir(impl->dir) || !make_private_dir(impl->incoming))
      return errc::io_error;
    // Bytes nobody was told are safe: a crash mid-upload or mid-move.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(impl->incoming, ec)) fs::remove(entry.path(), ec);

    const fs::path file = state_dir / "extracts.db";
    if (!sqlite::create_private_file(file)) return errc::io_error;
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    impl->db.reset(raw);
    if (rc != SQLITE_OK) return errc::io_error;
    sqlite3* db = raw;
    const auto mode = sqlite::query_text(db, "PRAGMA journal_mode=WAL");
    if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK || !mode || *mode != "wal" ||
        !exec(db, "PRAGMA synchronous=FULL"))
      return errc::io_error;
    if (!sqlite::ensure_schema(db, kSchemaVersion, kSchemaV1) || !audit::ensure_pending_table(db))
      return errc::io_error;
    const std::string cols = kColumns;
    if (!prepare(db, ("SELECT " + cols + " FROM extracts WHERE feed = ?1 AND name = ?2").c_str(), impl->by_name) ||
        !prepare(db, ("SELECT " + cols + " FROM extracts WHERE id = ?1").c_str(), impl->by_id) ||
        !prepare(db,
                 "INSERT INTO extracts(id, feed, name, client, sha256, bytes, received_at, kind) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 impl->insert) ||
        !prepare(db, ("SELECT " + cols + " FROM extracts WHERE state < 2 ORDER BY ord").c_str(), impl->unfinished) ||
        !prepare(db, "UPDATE extracts SET state = ?2, report = ?3, finished_at = ?4 WHERE id = ?1", impl->set_state) ||
        !prepare(db, "SELECT feed, max(received_at) FROM extracts GROUP BY feed", impl->last_received) ||
        !prepare(db, "INSERT OR IGNORE INTO feeds(feed, watched_since) VALUES (?1, ?2)", impl->watched_insert) ||
        !prepare(db, "SELECT watched_since FROM feeds WHERE feed = ?1", impl->watched_select) ||
        !prepare(db, kExpiredFiles, impl->expired_files) ||
        !prepare(db, "UPDATE extracts SET file_removed = 1 WHERE ord = ?1", impl->mark_removed))
      return errc::io_error;
    return std::unique_ptr<ExtractStore>(new ExtractStore(std::move(impl)));
  });
}

result<fs::path> ExtractStore::new_incoming() {
  return guarded([&]() -> result<fs::path> {
    for (int attempt = 0; attempt < 16; ++attempt) {
      char name[32];
      std::snprintf(name, sizeof name, "in-%016llx", static_cast<unsigned long long>(impl_->rng()));
      const fs::path p = impl_->incoming / name;
      if (UniqueFd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))) return p;
      if (errno != EEXIST) return write_error();
    }
    return errc::io_error;
  });
}

result<Accepted> ExtractStore::accept(const fs::path& incoming, const std::string& feed, const std::string& name,
                                      const std::string& client, std::optional<std::string> sha256,
                                      ExtractKind kind) {
  return guarded([&]() -> result<Accepted> {
    Impl& im = *impl_;
    std::error_code ec;
    auto drop = [&](errc why) -> result<Accepted> {
      fs::remove(incoming, ec);
      return why;
    };
    std::uint64_t bytes = 0;
    if (!sha256) {
      auto digest = crypto::sha256_file(incoming);
      if (!digest) return drop(errc::io_error);
      sha256 = std::move(digest->sha256);
      bytes = digest->bytes;
    } else {
      bytes = fs::file_size(incoming, ec);
      if (ec) return drop(errc::io_error);
    }
    const std::string id = feed + "-" + sha256->substr(0, 16);

    // A name seen before: the same bytes are a re-send, other bytes a conflict.
    auto named = im.find(im.by_name, feed, name);
    if (!named) return drop(errc::io_error);
    if (*named) {
      const bool same = (*named)->sha256 == *sha256;
      fs::remove(incoming, ec);
      return Accepted{same ? AcceptOutcome::same : AcceptOutcome::conflict, std::move(**named)};
    }
    // The same bytes under a new name: the same extract (its records and batch ids would be the
    // same), so the first receipt stands.
    auto known = im.find(im.by_id, id);
    if (!known) return drop(errc::io_error);
    if (*known && (*known)->sha256 == *sha256) {
      fs::remove(incoming, ec);
      return Accepted{AcceptOutcome::same, std::move(**known)};
    }

    // Durable before the row says so: the file's bytes, its new name, then the row.
    const fs::path target = im.dir / *sha256;
    if (!sync_path(incoming, false)) return drop(write_error());
    if (::rename(incoming.c_str(), target.c_str()) != 0) return drop(errc::io_error);
    // rename() between two links to the same file (a spool file accepted again after a failed
    // insert) succeeds and leaves both: drop the incoming one.
    fs::remove(incoming, ec);
    if (!sync_path(im.dir, true)) return errc::io_error;

    StoredExtract e;
    e.id = id;
    e.feed = feed;
    e.name = name;
    e.client = client;
    e.sha256 = *sha256;
    e.bytes = bytes;
    e.received_at = utc_iso(std::chrono::system_clock::now());
    e.file = target;
    e.kind = kind;
    // The row and its audit event commit together. On failure the file under extracts/ is
    // harmless without a row (content-addressed; a later accept of the same bytes renames over
    // it): nothing was accepted.
    sqlite::Transaction tx(im.db.get());
    if (!tx.ok()) return errc::io_error;
    {
      Use u(im.insert);
      const bool bound = u.bind(1, e.id) && u.bind(2, e.feed) && u.bind(3, e.name) && u.bind(4, e.client) &&
                         u.bind(5, e.sha256) && u.bind(6, static_cast<std::int64_t>(e.bytes)) &&
                         u.bind(7, e.received_at) && u.bind(8, static_cast<std::int64_t>(kind));
      if (!bound) return errc::io_error;
      const int rc = u.step();
      if (rc != SQLITE_DONE) return (rc == SQLITE_FULL) ? errc::storage_full : errc::io_error;
    }
    // A nothing-to-share return's name is the period it is for.
    const audit::Event event = kind == ExtractKind::nothing_to_share
                                   ? audit::events::nil_return(client, e.id, feed, name, e.sha256)
                                   : audit::events::extract_received(client, e.id, feed, e.bytes, e.sha256);
    if (!audit::record_pending(im.db.get(), event)) return errc::io_error;
    if (const int rc = tx.commit(); rc != SQLITE_OK) return (rc == SQLITE_FULL) ? errc::storage_full : errc::io_error;
    return Accepted{AcceptOutcome::created, std::move(e)};
  });
}

result<std::optional<StoredExtract>> ExtractStore::get(const std::string& id) {
  return guarded([&] { return impl_->find(impl_->by_id, id); });
}

result<std::vector<StoredExtract>> ExtractStore::unfinished() {
  return guarded([&]() -> result<std::vector<StoredExtract>> {
    std::vector<StoredExtract> out;
    Use u(impl_->unfinished);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) out.push_back(impl_->row(u));
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

result<void> ExtractStore::set_state(const std::string& id, ExtractState state, const std::string& report_json,
                                     const std::vector<audit::Event>& events) {
  return guarded([&]() -> result<void> {
    sqlite3* db = impl_->db.get();
    sqlite::Transaction tx(db);
    if (!tx.ok()) return errc::io_error;
    {
      Use u(impl_->set_state);
      const bool finished = state == ExtractState::processed || state == ExtractState::refused;
      if (!u.bind(1, id) || !u.bind(2, static_cast<std::int64_t>(state)) || !u.bind(3, report_json) ||
          !u.bind(4, finished ? utc_iso(std::chrono::system_clock::now()) : std::string()) || !u.done())
        return errc::io_error;
    }
    if (sqlite3_changes(db) == 0) return errc::io_error;
    for (const auto& e : events)
      if (!audit::record_pending(db, e)) return errc::io_error;
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    return {};
  });
}

std::uint64_t ExtractStore::bytes_on_disk() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& dir : {impl_->dir, impl_->incoming}) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
  }
  return total;
}

result<std::map<std::string, std::string>> ExtractStore::last_received_per_feed() {
  return guarded([&]() -> result<std::map<std::string, std::string>> {
    std::map<std::string, std::string> out;
    Use u(impl_->last_received);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) out[u.text(0)] = u.text(1);
    if (rc != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

result<std::int64_t> ExtractStore::watched_since(const std::string& feed, std::int64_t now,
                                                const std::optional<audit::Event>& first_event) {
  return guarded([&]() -> result<std::int64_t> {
    sqlite3* db = impl_->db.get();
    sqlite::Transaction tx(db);
    if (!tx.ok()) return errc::io_error;
    {
      Use u(impl_->watched_insert);
      if (!u.bind(1, feed) || !u.bind(2, now) || !u.done()) return errc::io_error;
    }
    if (sqlite3_changes(db) > 0 && first_event && !audit::record_pending(db, *first_event)) return errc::io_error;
    std::int64_t since = 0;
    {
      Use u(impl_->watched_select);
      if (!u.bind(1, feed) || u.step() != SQLITE_ROW) return errc::io_error;
      since = u.integer(0);
    }
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    return since;
  });
}

result<std::size_t> ExtractStore::remove_finished_files(const std::string& cutoff) {
  return guarded([&]() -> result<std::size_t> {
    Impl& im = *impl_;
    std::vector<std::pair<std::int64_t, std::string>> expired;
    {
      Use u(im.expired_files);
      if (!u.bind(1, cutoff)) return errc::io_error;
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) expired.emplace_back(u.integer(0), u.text(1));
      if (rc != SQLITE_DONE) return errc::io_error;
    }
    std::size_t removed = 0;
    for (const auto& [ord, sha] : expired) {
      // The row first: a crash between the two leaves a file nobody points at (harmless,
      // counted against the quota until the same bytes arrive again), never a row pointing at
      // a missing file.
      Use u(im.mark_removed);
      if (!u.bind(1, ord) || !u.done()) return errc::io_error;
      std::error_code ec;
      if (fs::remove(im.dir / sha, ec)) ++removed;
    }
    return removed;
  });
}

}  // namespace svd::ingest
