#include "hub/pg_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <limits>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "base/time.h"
#include "hub/detail/pg.h"

namespace svd::hub {
namespace {

using pg::Chunk;
using pg::CopyBuffer;
using pg::ErrorKind;

// pg_advisory_xact_lock(int, int) keys: 'svdh', then what the lock serialises across instances.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(1937138792, 1)";
constexpr const char* kLinksLock = "SELECT pg_advisory_xact_lock(1937138792, 2)";

// Rows per COPY chunk, in bytes: large enough to keep the connection busy, small enough to keep
// memory flat whatever the group's size.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

std::string q(std::string_view name) { return pg::quote_identifier(name); }

// A constant of ours (a token kind from the schema, a comment) as an SQL string literal. The E''
// form reads the same whatever standard_conforming_strings says.
std::string literal(std::string_view s) {
  std::string out = "E'";
  for (const char c : s) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

// A text[] parameter in the array input syntax. Every element is double-quoted with `"` and `\`
// escaped, so any text (a comma, a brace, the word NULL) stays one element.
class TextArray {
 public:
  void add(std::string_view s) {
    out_ += out_.empty() ? "{\"" : ",\"";
    for (const char c : s) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void add_null() { out_ += out_.empty() ? "{NULL" : ",NULL"; }
  std::string str() const { return out_.empty() ? "{}" : out_ + "}"; }

 private:
  std::string out_;
};

template <class Int>
std::string decimal(Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// format_type()'s names for the types sql_type() declares. Any other type is shown upper case as
// the server names it, so it never matches and compare_columns reports it.
std::string declared_type(std::string_view pg_type) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"bigint", "BIGINT"},
      {"text", "TEXT"},
      {"double precision", "DOUBLE PRECISION"},
      {"boolean", "BOOLEAN"},
      {"date", "DATE"},
      {"timestamp with time zone", "TIMESTAMPTZ"},
      {"time without time zone", "TIME"}};
  for (const auto& [name, ours] : kNames)
    if (name == pg_type) return std::string(ours);
  std::string upper(pg_type);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

StoreCause cause_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::unavailable:
    // The server is up but cannot take us now (too many connections, out of memory): as likely
    // to pass as a restart.
    case ErrorKind::out_of_resources: return StoreCause::unavailable;
    case ErrorKind::authentication: return StoreCause::authentication;
    case ErrorKind::insufficient_privilege: return StoreCause::privilege;
    default: return StoreCause::other;
  }
}

// pg::describe leaves out the message of a data error, which may quote a value; the others name
// only objects, roles, hosts and SQLSTATEs.
StoreError store_error(std::string_view doing, const pg::Error& e) {
  return StoreError{errc::io_error, std::string(doing) + ": " + pg::describe(e), cause_of(e.kind)};
}

// The comment that marks a view as made by this definition: a view already so marked is left
// alone, since replacing it takes a lock that waits for every query reading it (an analyst's
// report may run for hours) and drops what was granted on it.
std::string view_comment(const std::string& definition) {
  std::uint64_t h = 14695981039346656037u;  // FNV-1a, 64 bits: stable across builds and machines
  for (const char c : definition) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211u;
  char hex[17];
  const auto r = std::to_chars(hex, hex + sizeof hex, h, 16);
  return "svdhub: " + std::string(hex, r.ptr) +
         " (each token column shows the newest token of its person, from token_links)";
}

struct Reserved {
  const char* name;
  const char* type;  // as declared_type() names it
};
constexpr Reserved kReservedTypes[] = {
    {"_partner", "TEXT"}, {"_extract_id", "TEXT"}, {"_batch_id", "TEXT"}, {"_received_at", "TIMESTAMPTZ"}};

// Calls `f` with each record line, as sqlite_store.cpp splits them; false as soon as `f` is.
template <class F>
bool each_line(std::string_view records, F&& f) {
  while (!records.empty()) {
    const std::size_t nl = records.find('\n');
    const std::string_view line = records.substr(0, nl);
    records.remove_prefix(nl == std::string_view::npos ? records.size() : nl + 1);
    if (!f(line)) return false;
  }
  return true;
}

using BatchKey = std::pair<std::string_view, std::string_view>;  // partner, batch id

// Unix seconds as TIMESTAMPTZ input, in UTC: "2026-12-07 06:24:46+00".
std::string utc_text(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
  return std::string(buf, n);
}

// Whether the server refused something a batch carries, rather than the group's work: a value
// its type refuses (class 22: U+0000 in a text, a number out of range) or one too large for an
// index (54000: a batch id or a token of kilobytes). Such a batch fails at every re-send.
bool refused(const pg::Error& e) { return e.kind == ErrorKind::data || e.sqlstate == "54000"; }

}  // namespace

struct PgStore::Impl {
  explicit Impl(pg::Connection c) : conn(std::move(c)) {}

  pg::Connection conn;
  struct Feed {
    FeedTable table;
    std::string copy_sql;
  };
  std::map<std::string, Feed, std::less<>> feeds;
  RecordReader reader;

  // One batch of the group being stored, as the client's checks left it.
  struct Item {
    const PendingBatch* pending = nullptr;
    Feed* feed = nullptr;  // null: unknown_feed
    bool valid = false;    // every record passed RecordReader
    std::size_t links_begin = 0, links_end = 0;  // its token links, in `links`
    std::string received_at;  // PendingBatch::received_at as TIMESTAMPTZ input; "": the transaction's now()
    BatchOutcome outcome = errc::io_error;
    BatchKey key() const { return {pending->partner, pending->batch.header.batch_id}; }
  };
  std::vector<Item> items;
  std::vector<TokenLink> links;
  std::vector<TokenLink> scratch_links;  // what re-reading a record for COPY yields, unused
  std::string now;                       // the group transaction's now(), as COPY reads it
  const std::string& received_at(const Item& item) const {
    return item.received_at.empty() ? now : item.received_at;
  }

  std::optional<StoreError> make_tables(const std::vector<FeedTable>& tables, const config::StoreConfig& config);
  bool ready();
  pg::Outcome<void> begin();
  void rollback() { (void)pg::exec(conn, "ROLLBACK"); }

  void check(std::span<const PendingBatch> batches);
  pg::Outcome<void> store_together();
  pg::Outcome<void> store_one_by_one();
  pg::Outcome<std::set<BatchKey>> insert_batches(std::vector<std::size_t> which);
  pg::Outcome<std::set<BatchKey>> stored_before(const std::vector<std::size_t>& which);
  pg::Outcome<void> copy_records(const Feed& feed, const std::vector<std::size_t>& which);
  pg::Outcome<void> add_links(const std::vector<std::size_t>& which);
};

PgStore::PgStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStore::~PgStore() = default;

int PgStore::backend_pid() const { return impl_->conn.backend_pid(); }

// --- Opening ------------------------------------------------------------------------------

// Everything in one transaction, under a lock that makes instances starting together take turns,
// and only after every table was compared with its schema: an incompatible table stops the open
// before anything is created or altered. What already exists is left alone (no DDL, no lock on
// a table or view that has what it needs), so an unchanged store opens without waiting for
// readers, and a role that does not own the tables may run the store once they are made.
std::optional<StoreError> PgStore::Impl::make_tables(const std::vector<FeedTable>& tables,
                                                     const config::StoreConfig& config) {
  auto fail = [&](std::string_view doing, const pg::Error& e) {
    rollback();
    return store_error(doing, e);
  };
  auto begun = pg::exec(conn, std::string("BEGIN ISOLATION LEVEL READ COMMITTED; ") + kSchemaLock +
                                  "; SELECT current_schema(), current_user");
  if (!begun) return fail("cannot start setting up the store", begun.error());
  if (begun->is_null(0, 0)) {
    rollback();
    return StoreError{errc::io_error,
                      "no schema to create the store's tables in: none of the schemas in the search_path of role " +
                          begun->text(0, 1) + " exists (create one, or set its search_path)",
                      StoreCause::other};
  }
  const std::string schema = begun->text(0, 0);
  const std::string user = begun->text(0, 1);

  // What exists already, of every relation the store names.
  TextArray names;
  for (const char* n : {"batches", "token_links", "token_links_new", "gateway_status"}) names.add(n);
  for (const FeedTable& t : tables) {
    names.add(t.table);
    names.add(t.linked);
    names.add(bounded_name(t.table + "__partner_received"));
    for (const auto& c : t.columns)
      if (!c.token_kind.empty()) names.add(bounded_name(t.table + "_" + c.name));
  }
  auto catalog = pg::exec_params(
      conn,
      "SELECT c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod), "
      "obj_description(c.oid, 'pg_class') FROM pg_class c "
      "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
      "AND c.relname = ANY($1::text[]) ORDER BY c.relname, a.attnum",
      {names.str()});
  if (!catalog) return fail("cannot read the store's tables from the catalog", catalog.error());
  struct Relation {
    std::string kind;  // pg_class.relkind: r table, p partitioned table, v view, i index, ...
    std::vector<std::pair<std::string, std::string>> columns;  // name, declared_type()
    std::string comment;
  };
  std::map<std::string, Relation, std::less<>> existing;
  for (int row = 0; row < catalog->rows(); ++row) {
    Relation& r = existing[catalog->text(row, 0)];
    r.kind = catalog->text(row, 1);
    r.comment = catalog->text(row, 4);
    if (!catalog->is_null(row, 2)) r.columns.emplace_back(catalog->text(row, 2), declared_type(catalog->text(row, 3)));
  }

  std::vector<std::string> problems;
  std::vector<std::string> statements;
  if (!existing.count("batches")) {
    statements.emplace_back(
        "CREATE TABLE batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
        "extract_id TEXT NOT NULL, seq BIGINT NOT NULL, last BOOLEAN NOT NULL, records BIGINT NOT NULL, "
        "received_at TIMESTAMPTZ NOT NULL, extract_received_at TIMESTAMPTZ, nil_return BOOLEAN NOT NULL DEFAULT false, "
        "PRIMARY KEY (partner, batch_id))");
  } else {
    // Columns that came later: a store from before gets them, its older rows NULL and false.
    const auto& have = existing["batches"].columns;
    auto has = [&](std::string_view c) {
      return std::any_of(have.begin(), have.end(), [&](const auto& e) { return e.first == c; });
    };
    if (!has("extract_received_at"))
      statements.emplace_back("ALTER TABLE batches ADD COLUMN extract_received_at TIMESTAMPTZ");
    if (!has("nil_return"))
      statements.emplace_back("ALTER TABLE batches ADD COLUMN nil_return BOOLEAN NOT NULL DEFAULT false");
  }
  if (!existing.count("gateway_status"))
    statements.emplace_back(
        "CREATE TABLE gateway_status (partner TEXT PRIMARY KEY, online BOOLEAN NOT NULL, version TEXT NOT NULL, "
        "queued_batches BIGINT, unacknowledged_records BIGINT, rejected_batches BIGINT, "
        "updated_at TIMESTAMPTZ NOT NULL, last_online_at TIMESTAMPTZ)");
  if (!existing.count("token_links"))
    statements.emplace_back(
        "CREATE TABLE token_links (kind TEXT NOT NULL, old_token TEXT NOT NULL, new_token TEXT NOT NULL, "
        "PRIMARY KEY (kind, old_token))");
  if (!existing.count("token_links_new"))
    statements.emplace_back("CREATE INDEX token_links_new ON token_links (kind, new_token)");
  for (const FeedTable& t : tables) {
    auto it = existing.find(t.table);
    if (it == existing.end()) {
      std::string create = "CREATE TABLE " + q(t.table) +
                           " (_partner TEXT NOT NULL, _extract_id TEXT NOT NULL, _batch_id TEXT NOT NULL, "
                           "_received_at TIMESTAMPTZ NOT NULL";
      for (const auto& c : t.columns) create += ", " + q(c.name) + " " + std::string(sql_type(c.type));
      statements.push_back(create + ")");
    } else if (it->second.kind != "r" && it->second.kind != "p") {
      problems.push_back("feed " + t.feed + ": " + t.table + " is in the store but not as a table");
      continue;
    } else {
      const auto& have = it->second.columns;
      for (auto& p : compare_columns(t, have)) problems.push_back(p.to_string());
      for (const auto& r : kReservedTypes) {
        auto c = std::find_if(have.begin(), have.end(), [&](const auto& e) { return e.first == r.name; });
        if (c == have.end())
          problems.push_back("feed " + t.feed + ": column " + r.name + " is missing from the store's table");
        else if (c->second != r.type)
          problems.push_back("feed " + t.feed + ": column " + r.name + " is " + c->second +
                             " in the store but svdhub needs " + r.type);
      }
      for (const auto& c : t.columns)
        if (std::none_of(have.begin(), have.end(), [&](const auto& e) { return e.first == c.name; }))
          statements.push_back("ALTER TABLE " + q(t.table) + " ADD COLUMN " + q(c.name) + " " +
                               std::string(sql_type(c.type)));
    }
    const std::string by_partner = bounded_name(t.table + "__partner_received");
    if (!existing.count(by_partner))
      statements.push_back("CREATE INDEX " + q(by_partner) + " ON " + q(t.table) + " (_partner, _received_at)");
    for (const auto& c : t.columns) {
      const std::string index = bounded_name(t.table + "_" + c.name);
      if (!c.token_kind.empty() && !existing.count(index))
        statements.push_back("CREATE INDEX " + q(index) + " ON " + q(t.table) + " (" + q(c.name) + ")");
    }
    // CREATE OR REPLACE VIEW cannot drop or reorder columns, and a schema may gain an output
    // anywhere in its list: a view that is not this definition is made again.
    const std::string view = linked_view_sql(t);
    const std::string comment = view_comment(view);
    auto v = existing.find(t.linked);
    if (v == existing.end() || v->second.kind != "v" || v->second.comment != comment) {
      if (v != existing.end()) statements.push_back("DROP VIEW " + q(t.linked));
      statements.push_back(view);
      statements.push_back("COMMENT ON VIEW " + q(t.linked) + " IS " + literal(comment));
    }
  }
  if (!problems.empty()) {
    rollback();
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
    return StoreError{errc::schema_incompatible,
                      message + " (nothing was altered; restore the schema, or move the table aside and let svdhub "
                                "make a new one)",
                      StoreCause::other};
  }
  if (!statements.empty()) {
    std::string all;
    for (const auto& s : statements) all += s + ";\n";
    if (auto made = pg::exec(conn, all); !made)
      return fail("cannot create or extend the store's tables in schema " + schema + " as role " + user,
                  made.error());
  }

  // What analysts read: the records, the views and the links they resolve through; never the
  // batches, which say who sent what when. Only what is missing is granted.
  if (!config.analyst_role.empty()) {
    const std::string& role = config.analyst_role;
    auto found = pg::exec_params(conn, "SELECT 1 FROM pg_roles WHERE rolname = $1", {role});
    if (!found) return fail("cannot look up [store] analyst_role", found.error());
    if (found->rows() == 0) {
      rollback();
      return StoreError{errc::io_error,
                        "[store] analyst_role: there is no role " + role +
                            " on the server (create it first, e.g. CREATE ROLE " + role + " NOLOGIN)",
                        StoreCause::other};
    }
    TextArray readable;
    readable.add("token_links");
    for (const FeedTable& t : tables) {
      readable.add(t.table);
      readable.add(t.linked);
    }
    auto missing = pg::exec_params(
        conn,
        "SELECT NULL WHERE NOT has_schema_privilege($1::name, current_schema(), 'USAGE') UNION ALL "
        "SELECT n FROM unnest($2::text[]) AS n "
        "WHERE NOT has_table_privilege($1::name, format('%I.%I', current_schema(), n), 'SELECT')",
        {role, readable.str()});
    if (!missing) return fail("cannot check what [store] analyst_role may read", missing.error());
    std::string grants, objects;
    for (int row = 0; row < missing->rows(); ++row) {
      if (missing->is_null(row, 0)) grants += "GRANT USAGE ON SCHEMA " + q(schema) + " TO " + q(role) + ";\n";
      else objects += (objects.empty() ? "" : ", ") + q(missing->text(row, 0));
    }
    if (!objects.empty()) grants += "GRANT SELECT ON " + objects + " TO " + q(role) + ";\n";
    if (!grants.empty()) {
      if (auto granted = pg::exec(conn, grants); !granted)
        return fail("cannot grant [store] analyst_role " + role + " read access as role " + user, granted.error());
    }
  }

  // Every right the store uses, checked now so that a role short of one stops the start with a
  // message rather than failing every group later.
  TextArray on, privilege;
  auto need = [&](const std::string& table, std::initializer_list<const char*> privileges) {
    for (const char* p : privileges) {
      on.add(table);
      privilege.add(p);
    }
  };
  need("batches", {"SELECT", "INSERT"});
  need("gateway_status", {"SELECT", "INSERT", "UPDATE"});
  need("token_links", {"SELECT", "INSERT", "UPDATE"});
  for (const FeedTable& t : tables) {
    need(t.table, {"SELECT", "INSERT"});
    if (config.retain_days) need(t.table, {"DELETE"});
  }
  auto lacking = pg::exec_params(conn,
                                 "SELECT t, p FROM unnest($1::text[], $2::text[]) AS u(t, p) "
                                 "WHERE NOT has_table_privilege(format('%I.%I', current_schema(), t), p)",
                                 {on.str(), privilege.str()});
  if (!lacking) return fail("cannot check the role's privileges", lacking.error());
  if (lacking->rows() > 0) {
    std::string list;
    for (int row = 0; row < lacking->rows(); ++row)
      list += (list.empty() ? "" : ", ") + lacking->text(row, 1) + " on " + lacking->text(row, 0);
    rollback();
    return StoreError{errc::io_error,
                      "role " + user + " lacks privileges the store needs in schema " + schema + ": " + list +
                          " (grant them, or connect as the tables' owner)",
                      StoreCause::privilege};
  }
  if (auto committed = pg::exec(conn, "COMMIT"); !committed)
    return fail("cannot commit the store's tables", committed.error());
  return std::nullopt;
}

store_result<std::unique_ptr<PgStore>> PgStore::open(const config::StoreConfig& config, std::vector<FeedTable> feeds,
                                                     PgStoreOptions options) {
  auto conn = pg::Connection::open({.conninfo = config.conninfo,
                                    .password_file = config.password_file.value_or(std::filesystem::path{}),
                                    .application_name = options.application_name});
  if (!conn) return store_error("cannot connect to PostgreSQL", conn.error());
  auto impl = std::make_unique<Impl>(std::move(*conn));
  if (auto e = impl->make_tables(feeds, config)) return *e;
  for (auto& t : feeds) {
    Impl::Feed& feed = impl->feeds[t.feed];
    feed.copy_sql = "COPY " + q(t.table) + " (_partner, _extract_id, _batch_id, _received_at";
    for (const auto& c : t.columns) feed.copy_sql += ", " + q(c.name);
    feed.copy_sql += ") FROM STDIN";
    feed.table = std::move(t);
  }
  return std::unique_ptr<PgStore>(new PgStore(std::move(impl)));
}

result<std::vector<FeedStats>> read_pg_store_stats(const config::StoreConfig& config) {
  auto conn = pg::Connection::open({.conninfo = config.conninfo,
                                    .password_file = config.password_file.value_or(std::filesystem::path{}),
                                    .application_name = "svdhub stats"});
  if (!conn) return errc::io_error;
  auto r = pg::exec(*conn,
                    "SELECT feed, partner, COUNT(*), SUM(records), MAX(EXTRACT(EPOCH FROM received_at))::bigint "
                    "FROM batches GROUP BY feed, partner ORDER BY feed, partner");
  if (!r) return errc::io_error;  // no batches table: not a hub store
  std::vector<FeedStats> feeds;
  for (int row = 0; row < r->rows(); ++row) {
    const std::string feed = r->text(row, 0);
    if (feeds.empty() || feeds.back().feed != feed) feeds.push_back({feed, 0, 0, {}});
    PartnerStats p;
    p.partner = r->text(row, 1);
    p.batches = static_cast<std::uint64_t>(r->int64(row, 2).value_or(0));
    p.records = static_cast<std::uint64_t>(r->int64(row, 3).value_or(0));
    p.last_received = r->int64(row, 4).value_or(0);
    feeds.back().batches += p.batches;
    feeds.back().records += p.records;
    feeds.back().partners.push_back(std::move(p));
  }
  return feeds;
}

// --- Storing ------------------------------------------------------------------------------

// Whether the connection can start a transaction: a lost one is opened again first (once per
// call, bounded by connect_timeout), and one a failure left inside a transaction is rolled back.
bool PgStore::Impl::ready() {
  if (!conn.is_connected() && !conn.reconnect()) return false;
  if (PQtransactionStatus(conn.get()) != PQTRANS_IDLE) rollback();
  return conn.is_connected() && PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
}

// The client's checks, before anything is sent: the feed, and every record against its table
// (RecordReader), which also yields the batch's token links.
void PgStore::Impl::check(std::span<const PendingBatch> batches) {
  items.clear();
  links.clear();
  for (const PendingBatch& p : batches) {
    Item item;
    item.pending = &p;
    if (p.received_at) item.received_at = utc_text(*p.received_at);
    auto f = feeds.find(p.batch.header.feed);
    if (f != feeds.end()) {
      item.feed = &f->second;
      item.links_begin = links.size();
      item.valid = each_line(p.batch.records, [&](std::string_view line) {
        return reader.read(line, f->second.table, p.batch.header.key_ids, links);
      });
      if (!item.valid) links.erase(links.begin() + static_cast<std::ptrdiff_t>(item.links_begin), links.end());
      item.links_end = links.size();
    }
    items.push_back(item);
  }
}

// READ COMMITTED whatever the database's default: under SERIALIZABLE, a batch another instance is
// storing would fail the group (a serialization failure) instead of waiting to be a duplicate.
// `now` is the transaction's now(), the received time of everything it stores.
pg::Outcome<void> PgStore::Impl::begin() {
  auto begun = pg::exec(conn, "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT now()::text");
  if (!begun) return begun.error();
  now = begun->text(0, 0);
  return {};
}

// Inserts the batches' rows, in key order (so two instances inserting overlapping groups lock
// the keys in the same order and never deadlock), each unless it is there already. Returns the
// keys inserted; a key that was there, or that another transaction inserted meanwhile and
// committed, is not among them. A key another transaction holds uncommitted waits for it.
pg::Outcome<std::set<BatchKey>> PgStore::Impl::insert_batches(std::vector<std::size_t> which) {
  std::sort(which.begin(), which.end(), [&](std::size_t a, std::size_t b) { return items[a].key() < items[b].key(); });
  TextArray partners, ids, feed_ids, extracts, seqs, lasts, counts, received, arrived, nils;
  for (const std::size_t i : which) {
    const protocol::BatchHeader& h = items[i].pending->batch.header;
    received.add(received_at(items[i]));
    // Only a time that reads as one: a peer's text never reaches the server as a timestamp.
    if (const auto t = parse_utc_iso(h.extract.received_at))
      arrived.add(utc_text(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count()));
    else
      arrived.add_null();
    nils.add(h.nil_return ? "t" : "f");
    partners.add(items[i].pending->partner);
    ids.add(h.batch_id);
    feed_ids.add(h.feed);
    extracts.add(h.extract.id);
    seqs.add(decimal(h.seq));
    lasts.add(h.last ? "t" : "f");
    counts.add(decimal(h.count));
  }
  auto r = pg::exec_params(
      conn,
      "INSERT INTO batches (partner, batch_id, feed, extract_id, seq, last, records, received_at, "
      "extract_received_at, nil_return) "
      "SELECT p, b, f, e, s, l, n, r, a, z FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], "
      "$6::boolean[], $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::boolean[]) "
      "WITH ORDINALITY AS u(p, b, f, e, s, l, n, r, a, z, o) ORDER BY o "
      "ON CONFLICT (partner, batch_id) DO NOTHING RETURNING partner, batch_id",
      {partners.str(), ids.str(), feed_ids.str(), extracts.str(), seqs.str(), lasts.str(), counts.str(),
       received.str(), arrived.str(), nils.str()});
  if (!r) return r.error();
  std::set<BatchKey> inserted;
  for (int row = 0; row < r->rows(); ++row) {
    const std::string partner = r->text(row, 0), id = r->text(row, 1);
    for (const std::size_t i : which)
      if (items[i].key() == BatchKey{partner, id}) inserted.insert(items[i].key());
  }
  return inserted;
}

// The keys of these batches that are in `batches` already.
pg::Outcome<std::set<BatchKey>> PgStore::Impl::stored_before(const std::vector<std::size_t>& which) {
  TextArray partners, ids;
  for (const std::size_t i : which) {
    partners.add(items[i].pending->partner);
    ids.add(items[i].pending->batch.header.batch_id);
  }
  auto r = pg::exec_params(conn,
                           "SELECT partner, batch_id FROM batches WHERE (partner, batch_id) IN "
                           "(SELECT * FROM unnest($1::text[], $2::text[]))",
                           {partners.str(), ids.str()});
  if (!r) return r.error();
  std::set<BatchKey> found;
  for (int row = 0; row < r->rows(); ++row) {
    const std::string partner = r->text(row, 0), id = r->text(row, 1);
    for (const std::size_t i : which)
      if (items[i].key() == BatchKey{partner, id}) found.insert(items[i].key());
  }
  return found;
}

// One COPY for these batches of one feed. The records are read again (they were checked before
// anything was sent, and RecordReader's cells live only until the next read) and written in
// chunks, so memory stays flat however large the group.
pg::Outcome<void> PgStore::Impl::copy_records(const Feed& feed, const std::vector<std::size_t>& which) {
  std::size_t next = 0;
  std::string_view rest;
  const Item* item = nullptr;
  char number[32];
  auto r = pg::copy_in(conn, feed.copy_sql, [&](CopyBuffer& out) -> Chunk {
    while (out.size() < kChunkBytes) {
      if (rest.empty()) {
        if (next == which.size()) return Chunk::last;
        item = &items[which[next++]];
        rest = item->pending->batch.records;
        continue;
      }
      const std::size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      const protocol::BatchHeader& h = item->pending->batch.header;
      scratch_links.clear();
      if (!reader.read(line, feed.table, h.key_ids, scratch_links)) return Chunk::abandon;  // it passed before
      out.field(item->pending->partner);
      out.field(h.extract.id);
      out.field(h.batch_id);
      out.field(received_at(*item));
      for (const Cell& c : reader.cells()) {
        switch (c.kind) {
          case Cell::Kind::null: out.null(); break;
          case Cell::Kind::text: out.field(c.text); break;
          case Cell::Kind::boolean: out.field(c.boolean ? "t" : "f"); break;
          case Cell::Kind::integer: {
            const auto end = std::to_chars(number, number + sizeof number, c.integer).ptr;
            out.field(std::string_view(number, static_cast<std::size_t>(end - number)));
            break;
          }
          case Cell::Kind::number: {
            // The shortest text that reads back as the same double: full precision.
            const auto end = std::to_chars(number, number + sizeof number, c.number).ptr;
            out.field(std::string_view(number, static_cast<std::size_t>(end - number)));
            break;
          }
        }
      }
      out.end_row();
    }
    return Chunk::more;
  });
  if (!r) return r.error();
  return {};
}

// Adds these batches' token links, keeping every link pointing at the newest token, with exactly
// SqliteStore's rule applied link by link in order: a link's new side is resolved first (it may
// itself have been superseded), it is added unless its old token has a link already, and links
// that pointed at its old token are moved on. The rule runs here, on the links of the group and
// every stored link that names one of their tokens, so the server sees three statements however
// many links the group has. Instances take turns (an advisory lock held to the commit), so the
// links read are the newest.
pg::Outcome<void> PgStore::Impl::add_links(const std::vector<std::size_t>& which) {
  // A link repeated (one person in many records) changes nothing the second time.
  std::vector<const TokenLink*> todo;
  std::set<std::tuple<std::string_view, std::string_view, std::string_view>> seen;
  for (const std::size_t i : which)
    for (std::size_t k = items[i].links_begin; k < items[i].links_end; ++k)
      if (seen.emplace(links[k].kind, links[k].old_token, links[k].new_token).second) todo.push_back(&links[k]);
  if (todo.empty()) return {};

  if (auto locked = pg::exec(conn, kLinksLock); !locked) return locked.error();
  using Key = std::pair<std::string, std::string>;  // kind, token
  std::set<Key> tokens;
  for (const TokenLink* l : todo) {
    tokens.emplace(l->kind, l->old_token);
    tokens.emplace(l->kind, l->new_token);
  }
  TextArray kinds, values;
  for (const auto& [kind, token] : tokens) {
    kinds.add(kind);
    values.add(token);
  }
  auto stored = pg::exec_params(conn,
                                "SELECT kind, old_token, new_token FROM token_links WHERE (kind, old_token) IN "
                                "(SELECT * FROM unnest($1::text[], $2::text[])) UNION "
                                "SELECT kind, old_token, new_token FROM token_links WHERE (kind, new_token) IN "
                                "(SELECT * FROM unnest($1::text[], $2::text[]))",
                                {kinds.str(), values.str()});
  if (!stored) return stored.error();

  std::map<Key, std::string> newest_of;           // (kind, old) -> new: the table as the rule leaves it
  std::map<Key, std::set<std::string>> pointing;  // (kind, new) -> the old tokens linked to it
  std::set<Key> changed;
  for (int row = 0; row < stored->rows(); ++row) {
    std::string kind = stored->text(row, 0), old_token = stored->text(row, 1), new_token = stored->text(row, 2);
    pointing[{kind, new_token}].insert(old_token);
    newest_of[{kind, old_token}] = std::move(new_token);
  }
  for (const TokenLink* l : todo) {
    auto resolved = newest_of.find({l->kind, l->new_token});
    const std::string newest = resolved == newest_of.end() ? l->new_token : resolved->second;
    if (newest_of.emplace(Key{l->kind, l->old_token}, newest).second) {
      pointing[{l->kind, newest}].insert(l->old_token);
      changed.insert({l->kind, l->old_token});
    }
    if (newest == l->old_token) continue;
    auto moved = pointing.find({l->kind, l->old_token});
    if (moved == pointing.end()) continue;
    const std::set<std::string> olds = std::move(moved->second);
    pointing.erase(moved);
    for (const std::string& o : olds) {
      newest_of[{l->kind, o}] = newest;
      pointing[{l->kind, newest}].insert(o);
      changed.insert({l->kind, o});
    }
  }
  if (changed.empty()) return {};
  TextArray kind_column, old_column, new_column;
  for (const Key& k : changed) {
    kind_column.add(k.first);
    old_column.add(k.second);
    new_column.add(newest_of[k]);
  }
  auto written = pg::exec_params(conn,
                                 "INSERT INTO token_links (kind, old_token, new_token) "
                                 "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) "
                                 "ON CONFLICT (kind, old_token) DO UPDATE SET new_token = EXCLUDED.new_token",
                                 {kind_column.str(), old_column.str(), new_column.str()});
  if (!written) return written.error();
  return {};
}

// The whole group at once, in the transaction begin() started: the batches' rows in one
// statement, one COPY per feed, the links in three statements, one commit. Outcomes are those of
// SqliteStore's batch-by-batch order: a batch is a duplicate when its key was stored before or is
// stored by an earlier batch of the group (which then is the one inserted); a batch that failed
// the checks is a duplicate in the same cases, else bad_record.
pg::Outcome<void> PgStore::Impl::store_together() {
  std::set<BatchKey> first_valid;
  std::vector<std::size_t> candidates, unsure;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    if (!item.feed) item.outcome = errc::unknown_feed;
    else if (first_valid.count(item.key())) item.outcome = protocol::ReceiptStatus::duplicate;
    else if (!item.valid) unsure.push_back(i);
    else {
      first_valid.insert(item.key());
      candidates.push_back(i);
    }
  }
  // Before the insert below, which would make them all look stored before.
  if (!unsure.empty()) {
    auto found = stored_before(unsure);
    if (!found) return found.error();
    for (const std::size_t i : unsure)
      items[i].outcome = found->count(items[i].key()) ? BatchOutcome(protocol::ReceiptStatus::duplicate)
                                                      : BatchOutcome(errc::bad_record);
  }
  if (!candidates.empty()) {
    auto inserted = insert_batches(candidates);
    if (!inserted) return inserted.error();
    std::map<const Feed*, std::vector<std::size_t>> by_feed;
    std::vector<std::size_t> accepted;
    for (const std::size_t i : candidates) {
      if (inserted->count(items[i].key())) {
        items[i].outcome = protocol::ReceiptStatus::accepted;
        accepted.push_back(i);
        by_feed[items[i].feed].push_back(i);
      } else {
        items[i].outcome = protocol::ReceiptStatus::duplicate;
      }
    }
    for (const auto& [feed, which] : by_feed)
      if (auto copied = copy_records(*feed, which); !copied) return copied.error();
    if (auto linked = add_links(accepted); !linked) return linked.error();
  }
  if (auto committed = pg::exec(conn, "COMMIT"); !committed) return committed.error();
  return {};
}

// The fallback when the server refused something of the group that the client's checks let
// through (refused() below): batch by batch, each in a savepoint, so that only the batch it
// belongs to is refused (bad_record) and a poison batch cannot fail the others at every re-send.
// The same outcomes as SqliteStore's order, batch after batch.
pg::Outcome<void> PgStore::Impl::store_one_by_one() {
  if (auto begun = begin(); !begun) return begun.error();
  std::set<BatchKey> stored;  // by this transaction, or before it
  for (std::size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    if (!item.feed) {
      item.outcome = errc::unknown_feed;
      continue;
    }
    if (stored.count(item.key())) {
      item.outcome = protocol::ReceiptStatus::duplicate;
      continue;
    }
    if (auto s = pg::exec(conn, "SAVEPOINT batch"); !s) return s.error();
    auto one = [&]() -> pg::Outcome<BatchOutcome> {
      if (!item.valid) {
        auto found = stored_before({i});
        if (!found) return found.error();
        return found->empty() ? BatchOutcome(errc::bad_record) : BatchOutcome(protocol::ReceiptStatus::duplicate);
      }
      auto inserted = insert_batches({i});
      if (!inserted) return inserted.error();
      if (inserted->empty()) return BatchOutcome(protocol::ReceiptStatus::duplicate);
      if (auto copied = copy_records(*item.feed, {i}); !copied) return copied.error();
      if (auto linked = add_links({i}); !linked) return linked.error();
      return BatchOutcome(protocol::ReceiptStatus::accepted);
    }();
    if (!one && refused(one.error())) {
      if (auto back = pg::exec(conn, "ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch"); !back)
        return back.error();
      item.outcome = errc::bad_record;
      continue;
    }
    if (!one) return one.error();
    if (auto released = pg::exec(conn, "RELEASE SAVEPOINT batch"); !released) return released.error();
    item.outcome = *one;
    if (*one) stored.insert(item.key());
  }
  if (auto committed = pg::exec(conn, "COMMIT"); !committed) return committed.error();
  return {};
}

result<std::vector<BatchOutcome>> PgStore::store_group(std::span<const PendingBatch> batches) {
  Impl& m = *impl_;
  std::vector<BatchOutcome> outcomes;
  if (batches.empty()) return outcomes;
  try {
    if (!m.ready()) return errc::io_error;
    m.check(batches);
    // A connection that died while idle (a server restart, a firewall's idle timeout) shows it
    // only now, before anything of the group was sent: connect again and go on.
    auto begun = m.begin();
    if (!begun && begun.error().kind == ErrorKind::unavailable && m.conn.reconnect()) begun = m.begin();
    if (!begun) {
      m.rollback();
      return errc::io_error;
    }
    auto stored = m.store_together();
    if (!stored) {
      m.rollback();
      if (!refused(stored.error())) return errc::io_error;
      stored = m.store_one_by_one();
      if (!stored) {
        m.rollback();
        return errc::io_error;
      }
    }
    outcomes.reserve(m.items.size());
    for (const auto& item : m.items) outcomes.push_back(item.outcome);
    return outcomes;
  } catch (const std::bad_alloc&) {
    m.rollback();
    return errc::io_error;
  }
}

result<void> PgStore::add_token_links(std::span<const TokenLink> links) {
  Impl& m = *impl_;
  try {
    if (!m.ready()) return errc::io_error;
    // add_links takes its links from the group's items: one item that carries them all.
    m.items.assign(1, Impl::Item{});
    m.links.assign(links.begin(), links.end());
    m.items[0].links_end = m.links.size();
    const auto done = [&]() -> pg::Outcome<void> {
      if (auto begun = m.begin(); !begun) return begun.error();
      if (auto linked = m.add_links({0}); !linked) return linked.error();
      if (auto committed = pg::exec(m.conn, "COMMIT"); !committed) return committed.error();
      return {};
    }();
    if (!done) {
      m.rollback();
      return errc::io_error;
    }
    return {};
  } catch (const std::bad_alloc&) {
    m.rollback();
    return errc::io_error;
  }
}

// --- Gateways and extracts, for the force's oversight -------------------------------------

result<void> PgStore::record_status(const std::string& partner, const protocol::GatewayStatus& status,
                                    std::int64_t now) {
  Impl& m = *impl_;
  if (!m.ready()) return errc::io_error;
  // Param views its text: every one is held here until the call returns.
  auto text = [](const std::optional<std::uint64_t>& n) {
    return n ? std::optional<std::string>(decimal(std::min<std::uint64_t>(*n, std::numeric_limits<std::int64_t>::max())))
             : std::nullopt;
  };
  auto param = [](const std::optional<std::string>& t) { return t ? pg::Param(*t) : pg::Param(std::nullopt); };
  const std::optional<std::string> queued = text(status.queued_batches),
                                   unacknowledged = text(status.unacknowledged_records),
                                   rejected = text(status.rejected_batches), at = decimal(now);
  const std::optional<std::int64_t> online = online_at(status, now);
  const std::optional<std::string> online_text = online ? std::optional<std::string>(decimal(*online)) : std::nullopt;
  auto r = pg::exec_params(
      m.conn,
      "INSERT INTO gateway_status (partner, online, version, queued_batches, unacknowledged_records, "
      "rejected_batches, updated_at, last_online_at) VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint), "
      "to_timestamp($8::bigint)) ON CONFLICT (partner) DO UPDATE SET online = EXCLUDED.online, "
      "version = EXCLUDED.version, queued_batches = EXCLUDED.queued_batches, "
      "unacknowledged_records = EXCLUDED.unacknowledged_records, rejected_batches = EXCLUDED.rejected_batches, "
      "updated_at = EXCLUDED.updated_at, "
      "last_online_at = GREATEST(gateway_status.last_online_at, EXCLUDED.last_online_at)",
      {partner, status.online ? "t" : "f", status.version, param(queued), param(unacknowledged), param(rejected),
       param(at), param(online_text)});
  if (!r) return errc::io_error;
  return {};
}

result<std::vector<GatewayState>> PgStore::gateway_states() {
  Impl& m = *impl_;
  if (!m.ready()) return errc::io_error;
  auto r = pg::exec(m.conn,
                    "SELECT partner, online, version, queued_batches, unacknowledged_records, rejected_batches, "
                    "EXTRACT(EPOCH FROM updated_at)::bigint, EXTRACT(EPOCH FROM last_online_at)::bigint "
                    "FROM gateway_status ORDER BY partner");
  if (!r) return errc::io_error;
  auto count = [&](int row, int col) -> std::optional<std::uint64_t> {
    if (r->is_null(row, col)) return std::nullopt;
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, r->int64(row, col).value_or(0)));
  };
  std::vector<GatewayState> states;
  for (int row = 0; row < r->rows(); ++row) {
    GatewayState g;
    g.partner = r->text(row, 0);
    g.online = r->text(row, 1) == "t";
    g.version = r->text(row, 2);
    g.queued_batches = count(row, 3);
    g.unacknowledged_records = count(row, 4);
    g.rejected_batches = count(row, 5);
    g.updated_at = r->int64(row, 6).value_or(0);
    if (!r->is_null(row, 7)) g.last_online_at = r->int64(row, 7);
    states.push_back(std::move(g));
  }
  return states;
}

result<std::vector<ExtractArrival>> PgStore::extract_arrivals(std::int64_t from, std::int64_t to) {
  Impl& m = *impl_;
  if (!m.ready()) return errc::io_error;
  auto r = pg::exec_params(
      m.conn,
      "SELECT partner, feed, extract_id, EXTRACT(EPOCH FROM arrived)::bigint, nil, n, records, last_seq, "
      "EXTRACT(EPOCH FROM stored)::bigint FROM ("
      "SELECT partner, feed, extract_id, min(coalesce(extract_received_at, received_at)) AS arrived, "
      "bool_or(nil_return) AS nil, count(*) AS n, sum(records) AS records, "
      "max(CASE WHEN last THEN seq END) AS last_seq, max(received_at) AS stored "
      "FROM batches GROUP BY partner, feed, extract_id) AS e "
      // Compared as epoch numbers: to_timestamp() refuses the ends of the int64 range.
      "WHERE EXTRACT(EPOCH FROM arrived) >= $1::numeric AND EXTRACT(EPOCH FROM arrived) < $2::numeric "
      "ORDER BY partner, feed, arrived",
      {decimal(from), decimal(to)});
  if (!r) return errc::io_error;
  std::vector<ExtractArrival> out;
  for (int row = 0; row < r->rows(); ++row) {
    ExtractArrival e;
    e.partner = r->text(row, 0);
    e.feed = r->text(row, 1);
    e.extract_id = r->text(row, 2);
    e.received_at = r->int64(row, 3).value_or(0);
    e.nil_return = r->text(row, 4) == "t";
    e.batches = static_cast<std::uint64_t>(r->int64(row, 5).value_or(0));
    e.records = static_cast<std::uint64_t>(r->int64(row, 6).value_or(0));
    if (!r->is_null(row, 7)) e.last_seq = static_cast<std::uint64_t>(r->int64(row, 7).value_or(0));
    e.stored_at = r->int64(row, 8).value_or(0);
    out.push_back(std::move(e));
  }
  return out;
}

// --- Reading the linked views ------------------------------------------------------------

// Single-row mode rather than COPY ... TO STDOUT: libpq hands over each value with its length and
// its NULL flag, so there is no decoder of COPY's text format of our own to get wrong, and each
// row is freed before the next is read. COPY would save an allocation per row, which a scan does
// not need.
result<void> PgStore::scan_linked(const std::string& feed, std::span<const std::string> columns,
                                  const std::function<void(LinkedRow)>& row) {
  Impl& m = *impl_;
  auto it = m.feeds.find(feed);
  if (it == m.feeds.end()) return errc::unknown_feed;
  const FeedTable& t = it->second.table;
  std::string select = "SELECT _partner";
  std::vector<std::optional<std::string_view>> values;
  try {
    for (const std::string& name : columns) {
      std::optional<ColumnType> type;
      if (name == "_received_at") type = ColumnType::timestamp;
      else if (std::find(std::begin(kReservedColumns), std::end(kReservedColumns), name) != std::end(kReservedColumns))
        type = ColumnType::text;
      for (const Column& c : t.columns)
        if (c.name == name) type = c.type;
      if (!type) return errc::missing_column;
      // to_char: the same text whatever the session's DateStyle and TimeZone.
      if (*type == ColumnType::date) select += ", to_char(" + q(name) + ", 'YYYY-MM-DD')";
      else if (*type == ColumnType::timestamp)
        select += ", to_char(" + q(name) + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
      else select += ", " + q(name);
    }
    select += " FROM " + q(t.linked);
    values.resize(columns.size() + 1);
  } catch (const std::bad_alloc&) {
    return errc::io_error;
  }
  if (!m.ready()) return errc::io_error;
  PGconn* conn = m.conn.get();
  if (!PQsendQueryParams(conn, select.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) return errc::io_error;
  // libpq refuses it only at another moment than right after the send; were it refused, reading
  // on would gather the whole result in memory.
  if (!PQsetSingleRowMode(conn)) {
    m.conn.close();
    return errc::io_error;
  }
  bool ok = true;
  try {
    // To the end (a null result) even after an error, so the connection is ready for the next
    // call; in this mode that is one row at a time too.
    while (PGresult* raw = PQgetResult(conn)) {
      const pg::Result r(raw);
      const ExecStatusType status = PQresultStatus(raw);
      if (status == PGRES_SINGLE_TUPLE && ok && PQnfields(raw) == static_cast<int>(values.size())) {
        for (std::size_t i = 0; i < values.size(); ++i) {
          const int col = static_cast<int>(i);
          if (PQgetisnull(raw, 0, col)) values[i] = std::nullopt;
          else values[i].emplace(PQgetvalue(raw, 0, col), static_cast<std::size_t>(PQgetlength(raw, 0, col)));
        }
        row(values);
      } else if (status != PGRES_TUPLES_OK) {
        ok = false;
      }
    }
  } catch (...) {
    m.conn.close();
    throw;
  }
  if (!ok) return errc::io_error;
  return {};
}

// --- Counting and retention ---------------------------------------------------------------

namespace {
result<std::uint64_t> count_rows(pg::Connection& conn, const std::string& table) {
  auto r = pg::exec(conn, "SELECT count(*) FROM " + q(table));
  if (!r) return errc::io_error;
  const auto n = r->int64(0, 0);
  if (!n || *n < 0) return errc::io_error;
  return static_cast<std::uint64_t>(*n);
}
}  // namespace

result<std::uint64_t> PgStore::record_count(const std::string& feed) {
  auto it = impl_->feeds.find(feed);
  if (it == impl_->feeds.end()) return errc::unknown_feed;
  if (!impl_->ready()) return errc::io_error;
  return count_rows(impl_->conn, it->second.table.table);
}

result<std::uint64_t> PgStore::batch_count() {
  if (!impl_->ready()) return errc::io_error;
  return count_rows(impl_->conn, "batches");
}

result<std::uint64_t> PgStore::token_link_count() {
  if (!impl_->ready()) return errc::io_error;
  return count_rows(impl_->conn, "token_links");
}

result<std::vector<std::pair<std::string, std::uint64_t>>> PgStore::delete_received_before(
    std::int64_t unix_seconds) {
  Impl& m = *impl_;
  if (!m.ready()) return errc::io_error;
  std::vector<std::pair<std::string, std::uint64_t>> deleted;
  if (!pg::exec(m.conn, "BEGIN")) return errc::io_error;
  const std::string before = decimal(unix_seconds);
  for (const auto& [id, feed] : m.feeds) {
    auto r = pg::exec_params(
        m.conn, "DELETE FROM " + q(feed.table.table) + " WHERE _received_at < to_timestamp($1::double precision)",
        {before});
    if (!r) {
      m.rollback();
      return errc::io_error;
    }
    deleted.emplace_back(id, r->affected_rows());
  }
  if (!pg::exec(m.conn, "COMMIT")) {
    m.rollback();
    return errc::io_error;
  }
  return deleted;
}

}  // namespace svd::hub
