#include "hub/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "base/sqlite.h"
#include "base/time.h"

namespace svd::hub {
using sqlite::exec;
using sqlite::prepare;
using sqlite::Stmt;
using sqlite::Use;

namespace {

// Output names are plain identifiers and table names [a-z0-9_] (hub/records.h): quoting is enough.
std::string q(std::string_view name) { return "\"" + std::string(name) + "\""; }

// batches.extract_received_at and nil_return came later: a store from before gets them added
// (kBatchesAdded), its older rows NULL and 0.
constexpr const char* kBaseSchema =
    "CREATE TABLE IF NOT EXISTS batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
    "extract_id TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, records INTEGER NOT NULL, "
    "received_at INTEGER NOT NULL, extract_received_at INTEGER, nil_return INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY (partner, batch_id));"
    "CREATE TABLE IF NOT EXISTS gateway_status (partner TEXT PRIMARY KEY, online INTEGER NOT NULL, "
    "version TEXT NOT NULL, queued_batches INTEGER, unacknowledged_records INTEGER, rejected_batches INTEGER, "
    "updated_at INTEGER NOT NULL, last_online_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS token_links (kind TEXT NOT NULL, old_token TEXT NOT NULL, new_token TEXT NOT NULL, "
    "PRIMARY KEY (kind, old_token));"
    "CREATE INDEX IF NOT EXISTS token_links_new ON token_links (kind, new_token);";

constexpr std::pair<const char*, const char*> kBatchesAdded[] = {
    {"extract_received_at", "ALTER TABLE batches ADD COLUMN extract_received_at INTEGER"},
    {"nil_return", "ALTER TABLE batches ADD COLUMN nil_return INTEGER NOT NULL DEFAULT 0"}};

// extract.received_at as Unix seconds, or nothing when it does not read as a time.
std::optional<std::int64_t> unix_seconds(const std::string& iso) {
  const auto t = parse_utc_iso(iso);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

}  // namespace

struct SqliteStore::Impl {
  sqlite::Db db;  // first, so it closes after the statements
  struct Feed {
    FeedTable table;
    Stmt insert;
  };
  std::map<std::string, Feed, std::less<>> feeds;
  Stmt seen, add_batch, newest_of, add_link, relink, set_status;
  RecordReader reader;
  std::vector<TokenLink> links;

  StoreError make_tables(std::vector<FeedTable>& tables);
  BatchOutcome store_one(const PendingBatch& pending);
  bool bind_cell(Use& u, int i, const Cell& c);
  bool add_links();
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

// Everything in one transaction, after every table was compared with its schema: an
// incompatible table stops the open before anything is created or altered.
StoreError SqliteStore::Impl::make_tables(std::vector<FeedTable>& tables) {
  sqlite3* conn = db.get();
  std::vector<Incompatibility> problems;
  std::vector<std::string> statements;
  for (const FeedTable& t : tables) {
    std::vector<std::pair<std::string, std::string>> existing;
    Stmt info;
    if (!prepare(conn, ("PRAGMA table_info(" + q(t.table) + ")").c_str(), info)) return {};
    Use u(info);
    while (u.step() == SQLITE_ROW) existing.emplace_back(u.text(1), u.text(2));
    for (auto& p : compare_columns(t, existing)) problems.push_back(std::move(p));
    if (existing.empty()) {
      std::string create = "CREATE TABLE " + q(t.table) +
                           " (_partner TEXT NOT NULL, _extract_id TEXT NOT NULL, _batch_id TEXT NOT NULL, "
                           "_received_at INTEGER NOT NULL";
      for (const auto& c : t.columns) create += ", " + q(c.name) + " " + std::string(sql_type(c.type));
      statements.push_back(create + ")");
    } else {
      for (const auto& c : t.columns) {
        bool have = false;
        for (const auto& e : existing) have = have || e.first == c.name;
        if (!have)
          statements.push_back("ALTER TABLE " + q(t.table) + " ADD COLUMN " + q(c.name) + " " +
                               std::string(sql_type(c.type)));
      }
    }
    statements.push_back("CREATE INDEX IF NOT EXISTS " + q(bounded_name(t.table + "__partner_received")) + " ON " +
                         q(t.table) + " (_partner, _received_at)");
    for (const auto& c : t.columns)
      if (!c.token_kind.empty())
        statements.push_back("CREATE INDEX IF NOT EXISTS " + q(bounded_name(t.table + "_" + c.name)) + " ON " +
                             q(t.table) + " (" + q(c.name) + ")");
    // Made again each time: a view names every column, and columns may have been added.
    statements.push_back("DROP VIEW IF EXISTS " + q(t.linked));
    statements.push_back(linked_view_sql(t));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p.to_string();
    return {errc::schema_incompatible, message + " (nothing was altered; restore the schema, or move the table "
                                                 "aside and let svdhub make a new one)"};
  }
  sqlite::Transaction tx(conn);
  if (!tx.ok() || !exec(conn, kBaseSchema)) return {errc::io_error, "cannot create the store's tables"};
  {
    std::vector<std::string> have;
    Stmt info;
    if (!prepare(conn, "PRAGMA table_info(batches)", info)) return {errc::io_error, "cannot read the batches table"};
    Use u(info);
    while (u.step() == SQLITE_ROW) have.push_back(u.text(1));
    for (const auto& [column, alter] : kBatchesAdded)
      if (std::find(have.begin(), have.end(), column) == have.end() && !exec(conn, alter))
        return {errc::io_error, "cannot extend the batches table"};
  }
  for (const auto& s : statements)
    if (!exec(conn, s.c_str())) return {errc::io_error, "cannot create or extend the feed tables"};
  if (tx.commit() != SQLITE_OK) return {errc::io_error, "cannot commit the feed tables"};
  return {errc::ok, {}};
}

store_result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& file,
                                                             std::vector<FeedTable> feeds) {
  auto impl = std::make_unique<Impl>();
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);  // a handle is returned even on failure and must be closed
  if (rc != SQLITE_OK) return StoreError{errc::io_error, "cannot open or create the file"};
  sqlite3* db = raw;
  sqlite3_busy_timeout(db, 5000);
  // 4 KiB pages (only while the file is new, before the WAL switch creates it) and an 8 MiB page
  // cache. Every token column is indexed, and a token is random: each record lands on a random
  // leaf of each index, which beyond the cache is read and later written back whole. With 64 KiB
  // pages that copying took svdhub 70 CPU-seconds per million records; with 4 KiB, 49
  // (bench/run_store_bench.py). A larger cache is faster still (16 MiB: 39 s) but counts against
  // svdhub's memory bound (docs/performance.md).
  if (!exec(db, "PRAGMA page_size=4096") || !exec(db, "PRAGMA cache_size=-8192") ||
      !exec(db, "PRAGMA journal_mode=WAL") || !exec(db, "PRAGMA synchronous=FULL"))
    return StoreError{errc::io_error, "cannot set up the file (not an SQLite database, or unwritable)"};
  if (StoreError e = impl->make_tables(feeds); e.code != errc::ok) return e;
  for (auto& t : feeds) {
    Impl::Feed& feed = impl->feeds[t.feed];
    std::string insert = "INSERT INTO " + q(t.table) + " (_partner, _extract_id, _batch_id, _received_at";
    std::string values = "?1, ?2, ?3, ?4";
    int pos = 5;
    for (const auto& c : t.columns) {
      insert += ", " + q(c.name);
      values += ", ?" + std::to_string(pos++);
    }
    if (!prepare(db, (insert + ") VALUES (" + values + ")").c_str(), feed.insert))
      return StoreError{errc::io_error, "cannot prepare the insert for feed " + t.feed};
    feed.table = std::move(t);
  }
  if (!prepare(db, "SELECT 1 FROM batches WHERE partner = ?1 AND batch_id = ?2", impl->seen) ||
      !prepare(db,
               "INSERT INTO batches (partner, batch_id, feed, extract_id, seq, last, records, received_at, "
               "extract_received_at, nil_return) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
               impl->add_batch) ||
      !prepare(db,
               "INSERT INTO gateway_status (partner, online, version, queued_batches, unacknowledged_records, "
               "rejected_batches, updated_at, last_online_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
               "ON CONFLICT (partner) DO UPDATE SET online = excluded.online, version = excluded.version, "
               "queued_batches = excluded.queued_batches, unacknowledged_records = excluded.unacknowledged_records, "
               "rejected_batches = excluded.rejected_batches, updated_at = excluded.updated_at, "
               "last_online_at = max(coalesce(last_online_at, excluded.last_online_at), "
               "coalesce(excluded.last_online_at, last_online_at))",
               impl->set_status) ||
      !prepare(db, "SELECT new_token FROM token_links WHERE kind = ?1 AND old_token = ?2", impl->newest_of) ||
      !prepare(db, "INSERT OR IGNORE INTO token_links (kind, old_token, new_token) VALUES (?1, ?2, ?3)",
               impl->add_link) ||
      !prepare(db, "UPDATE token_links SET new_token = ?3 WHERE kind = ?1 AND new_token = ?2", impl->relink))
    return StoreError{errc::io_error, "cannot prepare the store's statements"};
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

// Use binds with SQLITE_STATIC, as everywhere here: every bound value (the batch's strings, the
// record the reader holds) outlives the step that reads it.
bool SqliteStore::Impl::bind_cell(Use& u, int i, const Cell& c) {
  switch (c.kind) {
    case Cell::Kind::null: return true;  // every use starts with its parameters cleared, i.e. NULL
    case Cell::Kind::text: return u.bind(i, c.text);
    case Cell::Kind::integer: return u.bind(i, c.integer);
    case Cell::Kind::number: return u.bind_double(i, c.number);
    case Cell::Kind::boolean: return u.bind(i, std::int64_t{c.boolean ? 1 : 0});
  }
  return false;
}

// Keeps every link pointing at the newest token: a link's new side is resolved first (it may
// itself have been superseded), and links that pointed at the old side are moved on. So one
// lookup resolves any token, across any number of rotations.
bool SqliteStore::Impl::add_links() {
  for (const TokenLink& l : links) {
    std::string newest = l.new_token;
    {
      Use u(newest_of);
      if (!u.bind(1, l.kind) || !u.bind(2, l.new_token)) return false;
      const int step = u.step();
      if (step == SQLITE_ROW) newest = u.text(0);
      else if (step != SQLITE_DONE) return false;
    }
    {
      Use u(add_link);
      if (!u.bind(1, l.kind) || !u.bind(2, l.old_token) || !u.bind(3, newest) || !u.done()) return false;
    }
    Use u(relink);
    if (!u.bind(1, l.kind) || !u.bind(2, l.old_token) || !u.bind(3, newest) || !u.done()) return false;
  }
  return true;
}

// Inside the group's transaction. The records, links and the batch row are written in a
// savepoint: a bad record rolls back to it, so a refused batch leaves nothing behind while the
// batches stored before it in the group stay. An io_error is returned as is and ends the group:
// SQLite may already have rolled the whole transaction back (SQLITE_FULL, SQLITE_IOERR,
// SQLITE_BUSY), so no savepoint is trusted after one.
BatchOutcome SqliteStore::Impl::store_one(const PendingBatch& pending) {
  const std::string& partner = pending.partner;
  const protocol::BatchHeader& h = pending.batch.header;
  auto feed_it = feeds.find(h.feed);
  if (feed_it == feeds.end()) return errc::unknown_feed;
  Feed& feed = feed_it->second;

  // A batch stored before, in an earlier group or earlier in this one (same transaction).
  {
    Use u(seen);
    if (!u.bind(1, partner) || !u.bind(2, h.batch_id)) return errc::io_error;
    const int step = u.step();
    if (step == SQLITE_ROW) return protocol::ReceiptStatus::duplicate;
    if (step != SQLITE_DONE) return errc::io_error;
  }

  sqlite3* conn = db.get();
  if (!exec(conn, "SAVEPOINT batch")) return errc::io_error;
  auto refuse = [&](errc why) -> BatchOutcome {
    if (!exec(conn, "ROLLBACK TO batch") || !exec(conn, "RELEASE batch")) return errc::io_error;
    return why;
  };
  const std::int64_t now = pending.received_at.value_or(static_cast<std::int64_t>(std::time(nullptr)));
  links.clear();
  std::string_view rest = pending.batch.records;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!reader.read(line, feed.table, h.key_ids, links)) return refuse(errc::bad_record);
    Use u(feed.insert);
    if (!u.bind(1, partner) || !u.bind(2, h.extract.id) || !u.bind(3, h.batch_id) || !u.bind(4, now))
      return errc::io_error;
    const auto& cells = reader.cells();
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (!bind_cell(u, static_cast<int>(i) + 5, cells[i])) return errc::io_error;
    if (!u.done()) return errc::io_error;
  }
  if (!add_links()) return errc::io_error;

  bool added;
  {
    const std::optional<std::int64_t> received = unix_seconds(h.extract.received_at);
    Use u(add_batch);
    added = u.bind(1, partner) && u.bind(2, h.batch_id) && u.bind(3, h.feed) && u.bind(4, h.extract.id) &&
            u.bind(5, static_cast<std::int64_t>(h.seq)) && u.bind(6, std::int64_t{h.last ? 1 : 0}) &&
            u.bind(7, static_cast<std::int64_t>(h.count)) && u.bind(8, now) &&
            (!received || u.bind(9, *received)) && u.bind(10, std::int64_t{h.nil_return ? 1 : 0}) && u.done();
  }
  if (!added || !exec(conn, "RELEASE batch")) return errc::io_error;
  return protocol::ReceiptStatus::accepted;
}

result<std::vector<BatchOutcome>> SqliteStore::store_group(std::span<const PendingBatch> batches) {
  return sqlite::guarded([&]() -> result<std::vector<BatchOutcome>> {
    Impl& m = *impl_;
    std::vector<BatchOutcome> outcomes;
    if (batches.empty()) return outcomes;
    outcomes.reserve(batches.size());
    // Anything but a successful commit rolls the whole group back. The ROLLBACK may find no
    // transaction (SQLite ended it itself after an I/O error, or a commit hook refused it); its
    // result does not matter, only that nothing of the group was committed.
    sqlite::Transaction tx(m.db.get());
    if (!tx.ok()) return errc::io_error;
    for (const PendingBatch& pending : batches) {
      BatchOutcome outcome = m.store_one(pending);
      if (!outcome && outcome.error() == errc::io_error) return errc::io_error;
      outcomes.push_back(std::move(outcome));
    }
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    return outcomes;
  });
}

result<void> SqliteStore::record_status(const std::string& partner, const protocol::GatewayStatus& status,
                                        std::int64_t now) {
  return sqlite::guarded([&]() -> result<void> {
    const std::optional<std::int64_t> online = online_at(status, now);
    auto count = [](const std::optional<std::uint64_t>& n) {
      return static_cast<std::int64_t>(std::min<std::uint64_t>(*n, std::numeric_limits<std::int64_t>::max()));
    };
    Use u(impl_->set_status);
    const bool ok = u.bind(1, partner) && u.bind(2, std::int64_t{status.online ? 1 : 0}) && u.bind(3, status.version) &&
                    (!status.queued_batches || u.bind(4, count(status.queued_batches))) &&
                    (!status.unacknowledged_records || u.bind(5, count(status.unacknowledged_records))) &&
                    (!status.rejected_batches || u.bind(6, count(status.rejected_batches))) && u.bind(7, now) &&
                    (!online || u.bind(8, *online)) && u.done();
    if (!ok) return errc::io_error;
    return {};
  });
}

result<std::vector<GatewayState>> SqliteStore::gateway_states() {
  return sqlite::guarded([&]() -> result<std::vector<GatewayState>> {
    Stmt s;
    if (!prepare(impl_->db.get(),
                 "SELECT partner, online, version, queued_batches, unacknowledged_records, rejected_batches, "
                 "updated_at, last_online_at FROM gateway_status ORDER BY partner",
                 s))
      return errc::io_error;
    sqlite3_stmt* raw = s.get();
    auto optional = [&](int col) -> std::optional<std::uint64_t> {
      if (sqlite3_column_type(raw, col) == SQLITE_NULL) return std::nullopt;
      return static_cast<std::uint64_t>(std::max<std::int64_t>(0, sqlite3_column_int64(raw, col)));
    };
    std::vector<GatewayState> states;
    Use u(s);
    int step;
    while ((step = u.step()) == SQLITE_ROW) {
      GatewayState g;
      g.partner = u.text(0);
      g.online = u.integer(1) != 0;
      g.version = u.text(2);
      g.queued_batches = optional(3);
      g.unacknowledged_records = optional(4);
      g.rejected_batches = optional(5);
      g.updated_at = u.integer(6);
      if (sqlite3_column_type(raw, 7) != SQLITE_NULL) g.last_online_at = u.integer(7);
      states.push_back(std::move(g));
    }
    if (step != SQLITE_DONE) return errc::io_error;
    return states;
  });
}

result<std::vector<ExtractArrival>> SqliteStore::extract_arrivals(std::int64_t from, std::int64_t to) {
  return sqlite::guarded([&]() -> result<std::vector<ExtractArrival>> {
    Stmt s;
    // One pass over the extracts' batches: a few per extract, a few extracts per partner and period.
    if (!prepare(impl_->db.get(),
                 "SELECT partner, feed, extract_id, arrived, nil, n, records, last_seq, stored FROM ("
                 "SELECT partner, feed, extract_id, min(coalesce(extract_received_at, received_at)) AS arrived, "
                 "max(nil_return) AS nil, count(*) AS n, sum(records) AS records, "
                 "max(CASE WHEN last THEN seq END) AS last_seq, max(received_at) AS stored "
                 "FROM batches GROUP BY partner, feed, extract_id) WHERE arrived >= ?1 AND arrived < ?2 "
                 "ORDER BY partner, feed, arrived",
                 s))
      return errc::io_error;
    Use u(s);
    if (!u.bind(1, from) || !u.bind(2, to)) return errc::io_error;
    std::vector<ExtractArrival> out;
    int step;
    while ((step = u.step()) == SQLITE_ROW) {
      ExtractArrival e;
      e.partner = u.text(0);
      e.feed = u.text(1);
      e.extract_id = u.text(2);
      e.received_at = u.integer(3);
      e.nil_return = u.integer(4) != 0;
      e.batches = static_cast<std::uint64_t>(u.integer(5));
      e.records = static_cast<std::uint64_t>(u.integer(6));
      if (sqlite3_column_type(s.get(), 7) != SQLITE_NULL) e.last_seq = static_cast<std::uint64_t>(u.integer(7));
      e.stored_at = u.integer(8);
      out.push_back(std::move(e));
    }
    if (step != SQLITE_DONE) return errc::io_error;
    return out;
  });
}

result<void> SqliteStore::add_token_links(std::span<const TokenLink> links) {
  return sqlite::guarded([&]() -> result<void> {
    Impl& m = *impl_;
    m.links.assign(links.begin(), links.end());
    sqlite::Transaction tx(m.db.get());
    if (!tx.ok() || !m.add_links() || tx.commit() != SQLITE_OK) return errc::io_error;
    return {};
  });
}

result<void> SqliteStore::scan_linked(const std::string& feed, std::span<const std::string> columns,
                                      const std::function<void(LinkedRow)>& row) {
  auto it = impl_->feeds.find(feed);
  if (it == impl_->feeds.end()) return errc::unknown_feed;
  const FeedTable& t = it->second.table;
  Stmt s;
  std::vector<std::optional<std::string_view>> values;
  // Our own work, which may throw (bad_alloc), apart from `row`'s, which passes through.
  auto prepared = sqlite::guarded([&]() -> result<void> {
    std::string select = "SELECT _partner";
    for (const std::string& name : columns) {
      const bool own = std::any_of(t.columns.begin(), t.columns.end(), [&](const Column& c) { return c.name == name; });
      if (!own && std::find(std::begin(kReservedColumns), std::end(kReservedColumns), name) == std::end(kReservedColumns))
        return errc::missing_column;
      // Unix seconds here, TIMESTAMPTZ in PostgreSQL: the same text from both.
      select += ", " + (name == "_received_at" ? "strftime('%Y-%m-%dT%H:%M:%SZ', _received_at, 'unixepoch')" : q(name));
    }
    if (!prepare(impl_->db.get(), (select + " FROM " + q(t.linked)).c_str(), s)) return errc::io_error;
    values.resize(columns.size() + 1);
    return {};
  });
  if (!prepared) return prepared;
  sqlite3_stmt* raw = s.get();
  Use u(s);
  int step;
  while ((step = u.step()) == SQLITE_ROW) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      const int col = static_cast<int>(i);
      // The type first: it is undefined once sqlite3_column_text has converted the value.
      if (sqlite3_column_type(raw, col) == SQLITE_NULL) {
        values[i] = std::nullopt;
        continue;
      }
      const unsigned char* text = sqlite3_column_text(raw, col);  // before _bytes, as SQLite requires
      if (text == nullptr) return errc::io_error;                  // out of memory converting it
      values[i] = std::string_view(reinterpret_cast<const char*>(text),
                                   static_cast<std::size_t>(sqlite3_column_bytes(raw, col)));
    }
    row(values);
  }
  if (step != SQLITE_DONE) return errc::io_error;
  return {};
}

sqlite3* SqliteStore::connection_for_test() { return impl_->db.get(); }

namespace {
result<std::uint64_t> count(sqlite3* db, const std::string& sql) {
  const auto n = sqlite::query_int(db, sql.c_str());
  if (!n) return errc::io_error;
  return static_cast<std::uint64_t>(*n);
}
}  // namespace

result<std::uint64_t> SqliteStore::record_count(const std::string& feed) {
  auto it = impl_->feeds.find(feed);
  if (it == impl_->feeds.end()) return errc::unknown_feed;
  return count(impl_->db.get(), "SELECT COUNT(*) FROM " + q(it->second.table.table));
}

result<std::uint64_t> SqliteStore::batch_count() { return count(impl_->db.get(), "SELECT COUNT(*) FROM batches"); }

result<std::uint64_t> SqliteStore::token_link_count() {
  return count(impl_->db.get(), "SELECT COUNT(*) FROM token_links");
}

result<std::vector<std::pair<std::string, std::uint64_t>>> SqliteStore::delete_received_before(
    std::int64_t unix_seconds) {
  return sqlite::guarded([&]() -> result<std::vector<std::pair<std::string, std::uint64_t>>> {
    sqlite3* db = impl_->db.get();
    std::vector<std::pair<std::string, std::uint64_t>> deleted;
    sqlite::Transaction tx(db);
    if (!tx.ok()) return errc::io_error;
    for (auto& [id, feed] : impl_->feeds) {
      Stmt del;
      if (!prepare(db, ("DELETE FROM " + q(feed.table.table) + " WHERE _received_at < ?1").c_str(), del))
        return errc::io_error;
      Use u(del);
      if (!u.bind(1, unix_seconds) || !u.done()) return errc::io_error;
      deleted.emplace_back(id, static_cast<std::uint64_t>(sqlite3_changes64(db)));
    }
    if (tx.commit() != SQLITE_OK) return errc::io_error;
    return deleted;
  });
}

}  // namespace svd::hub
