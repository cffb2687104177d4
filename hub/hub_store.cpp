#include "hub/hub_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include <boost/json.hpp>

namespace svd::hub {
namespace json = boost::json;

namespace {

// Output names are plain identifiers (the schema loader checks) and feed ids are [a-z0-9-],
// so quoting them is enough to use them as SQL names.
std::string sql_name(std::string_view name) { return "\"" + std::string(name) + "\""; }

std::string table_of(std::string_view feed) {
  std::string t = "records_" + std::string(feed);
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

struct Statement {
  sqlite3_stmt* s = nullptr;
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(s); }
};

}  // namespace

std::vector<std::string> output_columns(const config::Schema& schema) {
  std::vector<std::string> cols;
  for (const auto& f : schema.fields)
    if (f.transform != config::TransformKind::drop) cols.push_back(f.output_name);
  if (schema.person) cols.push_back(schema.person->output_name);
  return cols;
}

struct HubStore::Impl {
  sqlite3* db = nullptr;
  struct Feed {
    std::string table;
    std::map<std::string, int, std::less<>> column_index;  // output key -> bind position
    Statement insert;
  };
  std::map<std::string, Feed, std::less<>> feeds;
  Statement seen, add_batch;

  // close_v2 defers the close until the statements (members, destroyed after this body) are
  // finalized.
  ~Impl() { sqlite3_close_v2(db); }

  bool exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK; }
  bool prepare(const std::string& sql, Statement& st) {
    return sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &st.s, nullptr) == SQLITE_OK;
  }

  BatchOutcome store_one(const PendingBatch& pending);
};

HubStore::HubStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HubStore::~HubStore() = default;

result<std::unique_ptr<HubStore>> HubStore::open(const std::filesystem::path& file, std::vector<FeedTable> feeds) {
  auto impl = std::make_unique<Impl>();
  if (sqlite3_open_v2(file.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    return errc::io_error;
  sqlite3_busy_timeout(impl->db, 5000);
  // 64 KiB pages (only while the file is new, before the WAL switch creates it) and a 32 MiB
  // page cache: a group of batches appends hundreds of thousands of rows, and small pages cost a
  // read and a write system call each.
  if (!impl->exec("PRAGMA page_size=65536") || !impl->exec("PRAGMA cache_size=-32768") ||
      !impl->exec("PRAGMA journal_mode=WAL") || !impl->exec("PRAGMA synchronous=FULL") ||
      !impl->exec("CREATE TABLE IF NOT EXISTS batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
                  "extract_id TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, records INTEGER NOT NULL, "
                  "received_at INTEGER NOT NULL, PRIMARY KEY (partner, batch_id))"))
    return errc::io_error;
  for (auto& f : feeds) {
    Impl::Feed& feed = impl->feeds[f.feed];
    feed.table = table_of(f.feed);
    std::string create = "CREATE TABLE IF NOT EXISTS " + sql_name(feed.table) +
                         " (_partner TEXT NOT NULL, _extract_id TEXT NOT NULL, _batch_id TEXT NOT NULL, "
                         "_received_at INTEGER NOT NULL";
    for (const auto& c : f.columns) create += ", " + sql_name(c);
    create += ")";
    if (!impl->exec(create)) return errc::io_error;
    // A schema that gained outputs since the table was made: add the new columns.
    std::set<std::string> existing;
    {
      Statement info;
      if (!impl->prepare("PRAGMA table_info(" + sql_name(feed.table) + ")", info)) return errc::io_error;
      while (sqlite3_step(info.s) == SQLITE_ROW)
        existing.insert(reinterpret_cast<const char*>(sqlite3_column_text(info.s, 1)));
    }
    for (const auto& c : f.columns)
      if (!existing.count(c) && !impl->exec("ALTER TABLE " + sql_name(feed.table) + " ADD COLUMN " + sql_name(c)))
        return errc::io_error;
    std::string insert = "INSERT INTO " + sql_name(feed.table) + " (_partner, _extract_id, _batch_id, _received_at";
    std::string values = "?1, ?2, ?3, ?4";
    int pos = 5;
    for (const auto& c : f.columns) {
      insert += ", " + sql_name(c);
      values += ", ?" + std::to_string(pos);
      feed.column_index[c] = pos++;
    }
    if (!impl->prepare(insert + ") VALUES (" + values + ")", feed.insert)) return errc::io_error;
  }
  if (!impl->prepare("SELECT 1 FROM batches WHERE partner = ?1 AND batch_id = ?2", impl->seen) ||
      !impl->prepare("INSERT INTO batches (partner, batch_id, feed, extract_id, seq, last, records, received_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     impl->add_batch))
    return errc::io_error;
  return std::unique_ptr<HubStore>(new HubStore(std::move(impl)));
}

namespace {

// SQLITE_STATIC everywhere: every bound value (the batch's strings, the parsed record) outlives
// the sqlite3_step that reads it, so SQLite need not copy each one.
bool bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC) == SQLITE_OK;
}

// Binds one JSON scalar; false for a value the store has no column type for (an object or array).
bool bind_value(sqlite3_stmt* s, int i, const json::value& x, int& rc) {
  if (x.is_string()) rc = sqlite3_bind_text(s, i, x.as_string().data(), static_cast<int>(x.as_string().size()), SQLITE_STATIC);
  else if (x.is_int64()) rc = sqlite3_bind_int64(s, i, x.as_int64());
  else if (x.is_uint64()) rc = sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(x.as_uint64()));
  else if (x.is_double()) rc = sqlite3_bind_double(s, i, x.as_double());
  else if (x.is_bool()) rc = sqlite3_bind_int(s, i, x.as_bool() ? 1 : 0);
  else if (x.is_null()) rc = sqlite3_bind_null(s, i);
  else return false;
  return true;
}

}  // namespace

// Inside the group's transaction. The records and the batch row are written in a savepoint:
// a bad record rolls back to it, so a refused batch leaves nothing behind while the batches
// stored before it in the group stay. An io_error is returned as is and ends the group: SQLite
// may already have rolled the whole transaction back (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY),
// so no savepoint is trusted after one.
BatchOutcome HubStore::Impl::store_one(const PendingBatch& pending) {
  const std::string& partner = pending.partner;
  const protocol::BatchHeader& h = pending.batch.header;
  auto feed_it = feeds.find(h.feed);
  if (feed_it == feeds.end()) return errc::unknown_feed;
  Feed& feed = feed_it->second;

  // A batch stored before, in an earlier group or earlier in this one (same transaction).
  sqlite3_reset(seen.s);
  if (!bind_text(seen.s, 1, partner) || !bind_text(seen.s, 2, h.batch_id)) return errc::io_error;
  const int step = sqlite3_step(seen.s);
  sqlite3_reset(seen.s);
  if (step == SQLITE_ROW) return protocol::ReceiptStatus::duplicate;
  if (step != SQLITE_DONE) return errc::io_error;

  if (!exec("SAVEPOINT batch")) return errc::io_error;
  auto refuse = [&](errc why) -> BatchOutcome {
    sqlite3_reset(feed.insert.s);
    if (!exec("ROLLBACK TO batch") || !exec("RELEASE batch")) return errc::io_error;
    return why;
  };
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::string_view rest = pending.batch.records;
  // One parser for the batch, and each record's values in a buffer on the stack: no heap
  // allocation per record for records of ordinary size.
  unsigned char parser_temp[4096];
  json::parser parser(json::storage_ptr(), json::parse_options(), parser_temp, sizeof parser_temp);
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    unsigned char values[8192];
    json::monotonic_resource arena(values, sizeof values);
    parser.reset(&arena);
    boost::system::error_code ec;
    parser.write(line.data(), line.size(), ec);
    if (ec) return refuse(errc::bad_record);
    json::value v = parser.release();
    if (!v.is_object()) return refuse(errc::bad_record);
    sqlite3_stmt* s = feed.insert.s;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (!bind_text(s, 1, partner) || !bind_text(s, 2, h.extract.id) || !bind_text(s, 3, h.batch_id) ||
        sqlite3_bind_int64(s, 4, now) != SQLITE_OK)
      return errc::io_error;
    for (const auto& kv : v.as_object()) {
      auto col = feed.column_index.find(std::string_view(kv.key()));
      if (col == feed.column_index.end()) return refuse(errc::bad_record);
      int rc = SQLITE_OK;
      if (!bind_value(s, col->second, kv.value(), rc)) return refuse(errc::bad_record);
      if (rc != SQLITE_OK) return errc::io_error;
    }
    const int done = sqlite3_step(s);
    sqlite3_reset(s);
    if (done != SQLITE_DONE) return errc::io_error;
  }

  sqlite3_stmt* b = add_batch.s;
  sqlite3_reset(b);
  const bool added = bind_text(b, 1, partner) && bind_text(b, 2, h.batch_id) && bind_text(b, 3, h.feed) &&
                     bind_text(b, 4, h.extract.id) && sqlite3_bind_int64(b, 5, static_cast<sqlite3_int64>(h.seq)) == SQLITE_OK &&
                     sqlite3_bind_int(b, 6, h.last ? 1 : 0) == SQLITE_OK &&
                     sqlite3_bind_int64(b, 7, static_cast<sqlite3_int64>(h.count)) == SQLITE_OK &&
                     sqlite3_bind_int64(b, 8, now) == SQLITE_OK && sqlite3_step(b) == SQLITE_DONE;
  sqlite3_reset(b);
  if (!added || !exec("RELEASE batch")) return errc::io_error;
  return protocol::ReceiptStatus::accepted;
}

result<std::vector<BatchOutcome>> HubStore::store_group(std::span<const PendingBatch> batches) {
  Impl& m = *impl_;
  std::vector<BatchOutcome> outcomes;
  if (batches.empty()) return outcomes;
  outcomes.reserve(batches.size());
  if (!m.exec("BEGIN IMMEDIATE")) return errc::io_error;
  // Anything but a successful commit rolls the whole group back. The ROLLBACK may find no
  // transaction (SQLite ended it itself after an I/O error, or a commit hook refused it); its
  // result does not matter, only that nothing of the group was committed.
  struct Rollback {
    Impl& m;
    bool armed = true;
    ~Rollback() {
      if (armed && !sqlite3_get_autocommit(m.db)) m.exec("ROLLBACK");
    }
  } guard{m};
  for (const PendingBatch& pending : batches) {
    BatchOutcome outcome = m.store_one(pending);
    if (!outcome && outcome.error() == errc::io_error) return errc::io_error;
    outcomes.push_back(std::move(outcome));
  }
  if (!m.exec("COMMIT")) return errc::io_error;
  guard.armed = false;
  return outcomes;
}

result<protocol::ReceiptStatus> HubStore::store(const std::string& partner, const protocol::Batch& batch) {
  const PendingBatch one{partner, batch};
  auto outcomes = store_group(std::span<const PendingBatch>(&one, 1));
  if (!outcomes) return outcomes.error();
  return outcomes->front();
}

sqlite3* HubStore::connection_for_test() { return impl_->db; }

namespace {
result<std::uint64_t> count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return errc::io_error;
  std::uint64_t n = 0;
  bool ok = sqlite3_step(s) == SQLITE_ROW;
  if (ok) n = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  sqlite3_finalize(s);
  if (!ok) return errc::io_error;
  return n;
}
}  // namespace

result<std::uint64_t> HubStore::record_count(const std::string& feed) {
  auto it = impl_->feeds.find(feed);
  if (it == impl_->feeds.end()) return errc::unknown_feed;
  return count(impl_->db, "SELECT COUNT(*) FROM " + sql_name(it->second.table));
}

result<std::uint64_t> HubStore::batch_count() { return count(impl_->db, "SELECT COUNT(*) FROM batches"); }

}  // namespace svd::hub
