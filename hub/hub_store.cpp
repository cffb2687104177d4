#include "hub/hub_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "base/sqlite.h"

namespace svd::hub {
namespace json = boost::json;
using sqlite::exec;
using sqlite::prepare;
using sqlite::Stmt;
using sqlite::Use;

namespace {

// Output names are plain identifiers (the schema loader checks) and feed ids are [a-z0-9-],
// so quoting them is enough to use them as SQL names.
std::string sql_name(std::string_view name) { return "\"" + std::string(name) + "\""; }

std::string table_of(std::string_view feed) {
  std::string t = "records_" + std::string(feed);
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

}  // namespace

std::vector<std::string> output_columns(const config::Schema& schema) {
  std::vector<std::string> cols;
  for (const auto& f : schema.fields)
    if (f.transform != config::TransformKind::drop) cols.push_back(f.output_name);
  if (schema.person) cols.push_back(schema.person->output_name);
  return cols;
}

struct HubStore::Impl {
  sqlite::Db db;  // first, so it closes after the statements
  struct Feed {
    std::string table;
    std::map<std::string, int, std::less<>> column_index;  // output key -> bind position
    Stmt insert;
  };
  std::map<std::string, Feed, std::less<>> feeds;
  Stmt seen, add_batch;

  BatchOutcome store_one(const PendingBatch& pending);
};

HubStore::HubStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HubStore::~HubStore() = default;

result<std::unique_ptr<HubStore>> HubStore::open(const std::filesystem::path& file, std::vector<FeedTable> feeds) {
  auto impl = std::make_unique<Impl>();
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);  // a handle is returned even on failure and must be closed
  if (rc != SQLITE_OK) return errc::io_error;
  sqlite3* db = raw;
  sqlite3_busy_timeout(db, 5000);
  // 64 KiB pages (only while the file is new, before the WAL switch creates it) and a 32 MiB
  // page cache: a group of batches appends hundreds of thousands of rows, and small pages cost a
  // read and a write system call each.
  if (!exec(db, "PRAGMA page_size=65536") || !exec(db, "PRAGMA cache_size=-32768") ||
      !exec(db, "PRAGMA journal_mode=WAL") || !exec(db, "PRAGMA synchronous=FULL") ||
      !exec(db, "CREATE TABLE IF NOT EXISTS batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
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
    if (!exec(db, create.c_str())) return errc::io_error;
    // A schema that gained outputs since the table was made: add the new columns.
    std::set<std::string> existing;
    {
      Stmt info;
      if (!prepare(db, ("PRAGMA table_info(" + sql_name(feed.table) + ")").c_str(), info)) return errc::io_error;
      Use u(info);
      while (u.step() == SQLITE_ROW) existing.insert(u.text(1));
    }
    for (const auto& c : f.columns)
      if (!existing.count(c) &&
          !exec(db, ("ALTER TABLE " + sql_name(feed.table) + " ADD COLUMN " + sql_name(c)).c_str()))
        return errc::io_error;
    std::string insert = "INSERT INTO " + sql_name(feed.table) + " (_partner, _extract_id, _batch_id, _received_at";
    std::string values = "?1, ?2, ?3, ?4";
    int pos = 5;
    for (const auto& c : f.columns) {
      insert += ", " + sql_name(c);
      values += ", ?" + std::to_string(pos);
      feed.column_index[c] = pos++;
    }
    if (!prepare(db, (insert + ") VALUES (" + values + ")").c_str(), feed.insert)) return errc::io_error;
  }
  if (!prepare(db, "SELECT 1 FROM batches WHERE partner = ?1 AND batch_id = ?2", impl->seen) ||
      !prepare(db,
               "INSERT INTO batches (partner, batch_id, feed, extract_id, seq, last, records, received_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
               impl->add_batch))
    return errc::io_error;
  return std::unique_ptr<HubStore>(new HubStore(std::move(impl)));
}

namespace {

// Binds one JSON scalar; false for a value the store has no column type for (an object or array).
// Use binds with SQLITE_STATIC, as everywhere here: every bound value (the batch's strings, the
// parsed record) outlives the step that reads it, so SQLite need not copy each one.
bool bind_value(Use& u, int i, const json::value& x, bool& bound) {
  if (x.is_string()) bound = u.bind(i, std::string_view(x.as_string().data(), x.as_string().size()));
  else if (x.is_int64()) bound = u.bind(i, x.as_int64());
  else if (x.is_uint64()) bound = u.bind(i, static_cast<std::int64_t>(x.as_uint64()));
  else if (x.is_double()) bound = u.bind_double(i, x.as_double());
  else if (x.is_bool()) bound = u.bind(i, std::int64_t{x.as_bool() ? 1 : 0});
  else if (x.is_null()) bound = true;  // every use starts with its parameters cleared, i.e. NULL
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
    Use u(feed.insert);
    if (!u.bind(1, partner) || !u.bind(2, h.extract.id) || !u.bind(3, h.batch_id) || !u.bind(4, now))
      return errc::io_error;
    for (const auto& kv : v.as_object()) {
      auto col = feed.column_index.find(std::string_view(kv.key()));
      if (col == feed.column_index.end()) return refuse(errc::bad_record);
      bool bound = true;
      if (!bind_value(u, col->second, kv.value(), bound)) return refuse(errc::bad_record);
      if (!bound) return errc::io_error;
    }
    if (!u.done()) return errc::io_error;
  }

  bool added;
  {
    Use u(add_batch);
    added = u.bind(1, partner) && u.bind(2, h.batch_id) && u.bind(3, h.feed) && u.bind(4, h.extract.id) &&
            u.bind(5, static_cast<std::int64_t>(h.seq)) && u.bind(6, std::int64_t{h.last ? 1 : 0}) &&
            u.bind(7, static_cast<std::int64_t>(h.count)) && u.bind(8, now) && u.done();
  }
  if (!added || !exec(conn, "RELEASE batch")) return errc::io_error;
  return protocol::ReceiptStatus::accepted;
}

result<std::vector<BatchOutcome>> HubStore::store_group(std::span<const PendingBatch> batches) {
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
}

result<protocol::ReceiptStatus> HubStore::store(const std::string& partner, const protocol::Batch& batch) {
  const PendingBatch one{partner, batch};
  auto outcomes = store_group(std::span<const PendingBatch>(&one, 1));
  if (!outcomes) return outcomes.error();
  return outcomes->front();
}

sqlite3* HubStore::connection_for_test() { return impl_->db.get(); }

namespace {
result<std::uint64_t> count(sqlite3* db, const std::string& sql) {
  const auto n = sqlite::query_int(db, sql.c_str());
  if (!n) return errc::io_error;
  return static_cast<std::uint64_t>(*n);
}
}  // namespace

result<std::uint64_t> HubStore::record_count(const std::string& feed) {
  auto it = impl_->feeds.find(feed);
  if (it == impl_->feeds.end()) return errc::unknown_feed;
  return count(impl_->db.get(), "SELECT COUNT(*) FROM " + sql_name(it->second.table));
}

result<std::uint64_t> HubStore::batch_count() { return count(impl_->db.get(), "SELECT COUNT(*) FROM batches"); }

}  // namespace svd::hub
