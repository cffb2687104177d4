#include "hub/store_copy.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/json/serialize.hpp>

#include "base/log_safe.h"
#include "base/sqlite.h"
#include "base/time.h"

namespace svd::hub {
namespace {

using sqlite::Stmt;
using sqlite::Use;

std::string q(std::string_view name) { return "\"" + std::string(name) + "\""; }

// Token links go to the target in slices: each is one transaction of a few statements.
constexpr std::size_t kLinksPerCall = 20000;

using BatchKey = std::pair<std::string, std::string>;  // partner, batch id

struct BatchRow {
  std::string feed, extract_id;
  std::int64_t seq = 0, records = 0, received_at = 0;
  std::optional<std::int64_t> extract_received_at;  // absent from stores made before it was kept
  bool last = false, nil_return = false;
  bool sent = false;  // handed to the target by this copy
};

// A value of a column declared without a type (a store made before tables were typed), which
// may hold a number or a truth value as text: as the record carried it, when it reads as one.
bool append_untyped(std::string_view text, ColumnType type, std::string& out) {
  const char* end = text.data() + text.size();
  if (type == ColumnType::integer) {
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), end, v);
    if (r.ec != std::errc{} || r.ptr != end) return false;
    out += text;
    return true;
  }
  if (type == ColumnType::number) {
    double v = 0;
    const auto r = std::from_chars(text.data(), end, v);
    if (r.ec != std::errc{} || r.ptr != end) return false;
    out += text;
    return true;
  }
  if (type == ColumnType::boolean && (text == "true" || text == "1" || text == "false" || text == "0")) {
    out += text == "true" || text == "1" ? "true" : "false";
    return true;
  }
  return false;
}

class Copier {
 public:
  Copier(sqlite3* db, Store& target, const std::function<void(const std::string&)>& progress)
      : db_(db), target_(target), progress_(progress) {}

  std::optional<StoreError> run(const std::vector<FeedTable>& feeds);
  const CopyTotals& totals() const { return totals_; }

 private:
  std::optional<StoreError> read_batches(const std::vector<FeedTable>& feeds);
  std::optional<StoreError> copy_feed(const FeedTable& feed);
  std::optional<StoreError> copy_empty_batches();
  std::optional<StoreError> copy_links();
  void add_to_group(const BatchKey& key, BatchRow& row, std::string records, std::uint64_t count,
                    std::string key_id);
  std::optional<StoreError> flush();
  void report(const std::string& what);

  sqlite3* db_;
  Store& target_;
  const std::function<void(const std::string&)>& progress_;
  std::map<BatchKey, BatchRow> batches_;
  CopyTotals totals_;
  CopyTotals reported_;  // totals_ when progress was last told

  // The group being collected: PendingBatch's records view into `bodies_`, which never moves
  // them (a deque).
  std::deque<std::string> bodies_;
  std::vector<PendingBatch> group_;
  std::vector<std::uint64_t> group_records_;
  std::size_t group_bytes_ = 0;
};

std::optional<StoreError> Copier::read_batches(const std::vector<FeedTable>& feeds) {
  // Stores from before these columns have NULL and 0 for them.
  bool later_columns = false;
  {
    Stmt info;
    if (sqlite::prepare(db_, "SELECT count(*) FROM pragma_table_info('batches') WHERE name = 'nil_return'", info)) {
      Use u(info);
      later_columns = u.step() == SQLITE_ROW && u.integer(0) > 0;
    }
  }
  Stmt s;
  if (!sqlite::prepare(db_,
                       later_columns ? "SELECT partner, batch_id, feed, extract_id, seq, last, records, received_at, "
                                       "extract_received_at, nil_return FROM batches"
                                     : "SELECT partner, batch_id, feed, extract_id, seq, last, records, received_at, "
                                       "NULL, 0 FROM batches",
                       s))
    return StoreError{errc::io_error, "not a hub store (it has no batches table)"};
  std::set<std::string> missing;
  Use u(s);
  int step;
  while ((step = u.step()) == SQLITE_ROW) {
    BatchRow row;
    row.feed = u.text(2);
    row.extract_id = u.text(3);
    row.seq = u.integer(4);
    row.last = u.integer(5) != 0;
    row.records = u.integer(6);
    row.received_at = u.integer(7);
    if (sqlite3_column_type(s.get(), 8) != SQLITE_NULL) row.extract_received_at = u.integer(8);
    row.nil_return = u.integer(9) != 0;
    const bool known =
        std::any_of(feeds.begin(), feeds.end(), [&](const FeedTable& t) { return t.feed == row.feed; });
    if (!known) missing.insert(row.feed);
    batches_.emplace(BatchKey{u.text(0), u.text(1)}, std::move(row));
  }
  if (step != SQLITE_DONE) return StoreError{errc::io_error, "cannot read its batches table"};
  if (!missing.empty()) {
    std::string list;
    for (const auto& f : missing) list += (list.empty() ? "" : ", ") + f;
    return StoreError{errc::schema_incompatible,
                      "the store holds batches of feed(s) the config does not list: " + list +
                          " (add them with their schemas first; nothing was copied)"};
  }
  return std::nullopt;
}

void Copier::report(const std::string& what) {
  if (!progress_) return;
  progress_(what + ": " + std::to_string(totals_.batches_copied - reported_.batches_copied) + " batch(es) copied (" +
            std::to_string(totals_.records_copied - reported_.records_copied) + " records), " +
            std::to_string(totals_.batches_present - reported_.batches_present) + " already in the target");
  reported_ = totals_;
}

void Copier::add_to_group(const BatchKey& key, BatchRow& row, std::string records, std::uint64_t count,
                          std::string key_id) {
  row.sent = true;
  PendingBatch p;
  p.partner = key.first;
  protocol::BatchHeader& h = p.batch.header;
  h.batch_id = key.second;
  h.partner = key.first;
  h.feed = row.feed;
  h.schema = row.feed;
  if (!key_id.empty()) h.key_ids.push_back(std::move(key_id));
  h.extract.id = row.extract_id;
  if (row.extract_received_at) h.extract.received_at = utc_iso(*row.extract_received_at);
  h.nil_return = row.nil_return;
  h.seq = static_cast<std::uint64_t>(row.seq);
  h.last = row.last;
  h.count = static_cast<std::uint64_t>(row.records);
  p.received_at = row.received_at;
  group_bytes_ += records.size();
  bodies_.push_back(std::move(records));
  p.batch.records = bodies_.back();
  group_.push_back(std::move(p));
  group_records_.push_back(count);
}

std::optional<StoreError> Copier::flush() {
  if (group_.empty()) return std::nullopt;
  auto outcomes = target_.store_group(group_);
  if (!outcomes)
    return StoreError{errc::io_error,
                      "the target store failed (" + errc_problem(outcomes.error()) +
                          "); the batches copied before stay there, and running the copy again goes on from there"};
  for (std::size_t i = 0; i < group_.size(); ++i) {
    const BatchOutcome& o = (*outcomes)[i];
    if (!o) {
      // The source may hold ids from before the hub checked them: any text, of any length.
      totals_.refused.push_back(log_safe(group_[i].partner) + " batch " + log_safe(group_[i].batch.header.batch_id) +
                                ": " + errc_problem(o.error()));
    } else if (*o == protocol::ReceiptStatus::accepted) {
      ++totals_.batches_copied;
      totals_.records_copied += group_records_[i];
    } else {
      ++totals_.batches_present;
    }
  }
  group_.clear();
  bodies_.clear();
  group_records_.clear();
  group_bytes_ = 0;
  return std::nullopt;
}

// The table's rows in the order they were inserted, which keeps each batch's rows together (a
// batch is written whole, by one writer); each batch's rows become its records again.
std::optional<StoreError> Copier::copy_feed(const FeedTable& feed) {
  std::vector<std::pair<std::string, std::string>> existing;
  {
    Stmt info;
    if (!sqlite::prepare(db_, ("PRAGMA table_info(" + q(feed.table) + ")").c_str(), info))
      return StoreError{errc::io_error, "cannot read the columns of " + feed.table};
    Use u(info);
    while (u.step() == SQLITE_ROW) existing.emplace_back(u.text(1), u.text(2));
  }
  if (existing.empty()) return std::nullopt;  // the feed was added after this store was used

  // The schema's columns the source has (a schema may have gained outputs since).
  std::vector<const Column*> columns;
  std::string select = "SELECT _partner, _batch_id";
  for (const Column& c : feed.columns)
    if (std::any_of(existing.begin(), existing.end(), [&](const auto& e) { return e.first == c.name; })) {
      columns.push_back(&c);
      select += ", " + q(c.name);
    }
  Stmt s;
  if (!sqlite::prepare(db_, (select + " FROM " + q(feed.table) + " ORDER BY rowid").c_str(), s))
    return StoreError{errc::io_error, "cannot read " + feed.table};
  Use u(s);
  sqlite3_stmt* raw = s.get();

  BatchKey current;
  BatchRow* row = nullptr;
  std::string records, key_id;
  std::uint64_t count = 0;
  auto finish = [&]() -> std::optional<StoreError> {
    if (row == nullptr) return std::nullopt;
    add_to_group(current, *row, std::move(records), count, std::move(key_id));
    records.clear();
    key_id.clear();
    count = 0;
    row = nullptr;
    if (group_bytes_ >= kCopyGroupBytes) return flush();
    return std::nullopt;
  };

  int step;
  while ((step = u.step()) == SQLITE_ROW) {
    BatchKey key{u.text(0), u.text(1)};
    if (row == nullptr || key != current) {
      if (auto e = finish()) return e;
      auto it = batches_.find(key);
      if (it == batches_.end() || it->second.feed != feed.feed)
        return StoreError{errc::io_error, feed.table + " holds records of a batch of partner " + key.first +
                                              " that its batches table does not list for feed " + feed.feed +
                                              " (not a store svdhub wrote)"};
      if (it->second.sent)
        return StoreError{errc::io_error, feed.table + ": the records of a batch of partner " + key.first +
                                              " are not together (not a store svdhub wrote)"};
      current = std::move(key);
      row = &it->second;
    }
    records += '{';
    bool first = true;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Column& c = *columns[i];
      const int col = static_cast<int>(i) + 2;
      const int type = sqlite3_column_type(raw, col);
      if (type == SQLITE_NULL) continue;
      records += first ? "\"" : ",\"";
      first = false;
      records += c.name;
      records += "\":";
      if (type == SQLITE_INTEGER) {
        const std::int64_t v = sqlite3_column_int64(raw, col);
        if (c.type == ColumnType::boolean) records += v != 0 ? "true" : "false";
        else records += std::to_string(v);
      } else if (type == SQLITE_FLOAT) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, sqlite3_column_double(raw, col));
        records.append(buf, r.ptr);
      } else {
        // Text (or a blob, which RecordReader then refuses as the store's types would).
        const std::string text = u.text(col);
        if (!c.token_kind.empty() && key_id.empty()) key_id = text.substr(0, text.find(':'));
        if (!append_untyped(text, c.type, records)) records += boost::json::serialize(boost::json::string_view(text));
      }
    }
    records += "}\n";
    ++count;
  }
  if (step != SQLITE_DONE) return StoreError{errc::io_error, "cannot read " + feed.table};
  if (auto e = finish()) return e;
  if (auto e = flush()) return e;
  report("feed " + feed.feed);
  return std::nullopt;
}

// Batches whose records retention deleted (or that had none): their rows, so the target answers
// a late re-send `duplicate` as the source would have.
std::optional<StoreError> Copier::copy_empty_batches() {
  for (auto& [key, row] : batches_) {
    if (row.sent) continue;
    add_to_group(key, row, {}, 0, {});
    if (group_.size() >= 1000)
      if (auto e = flush()) return e;
  }
  if (auto e = flush()) return e;
  report("batches without records (deleted by retention)");
  return std::nullopt;
}

std::optional<StoreError> Copier::copy_links() {
  Stmt s;
  if (!sqlite::prepare(db_, "SELECT kind, old_token, new_token FROM token_links ORDER BY rowid", s))
    return StoreError{errc::io_error, "cannot read its token_links table"};
  Use u(s);
  std::vector<TokenLink> links;
  auto add = [&]() -> std::optional<StoreError> {
    if (links.empty()) return std::nullopt;
    if (!target_.add_token_links(links))
      return StoreError{errc::io_error,
                        "the target store failed while adding token links; running the copy again goes on from there"};
    totals_.token_links += links.size();
    links.clear();
    return std::nullopt;
  };
  int step;
  while ((step = u.step()) == SQLITE_ROW) {
    links.push_back({u.text(0), u.text(1), u.text(2)});
    if (links.size() == kLinksPerCall)
      if (auto e = add()) return e;
  }
  if (step != SQLITE_DONE) return StoreError{errc::io_error, "cannot read its token_links table"};
  if (auto e = add()) return e;
  if (progress_) progress_("token links: " + std::to_string(totals_.token_links) + " added");
  return std::nullopt;
}

std::optional<StoreError> Copier::run(const std::vector<FeedTable>& feeds) {
  // Every table checked before anything is copied.
  std::vector<Incompatibility> problems;
  for (const FeedTable& t : feeds) {
    std::vector<std::pair<std::string, std::string>> existing;
    Stmt info;
    if (!sqlite::prepare(db_, ("PRAGMA table_info(" + q(t.table) + ")").c_str(), info))
      return StoreError{errc::io_error, "cannot read the columns of " + t.table};
    Use u(info);
    while (u.step() == SQLITE_ROW) existing.emplace_back(u.text(1), u.text(2));
    for (auto& p : compare_columns(t, existing)) problems.push_back(std::move(p));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p.to_string();
    return StoreError{errc::schema_incompatible, message + " (nothing was copied)"};
  }
  if (auto e = read_batches(feeds)) return e;
  for (const FeedTable& t : feeds)
    if (auto e = copy_feed(t)) return e;
  if (auto e = copy_empty_batches()) return e;
  return copy_links();
}

}  // namespace

store_result<CopyTotals> copy_sqlite_store(const std::filesystem::path& source, const std::vector<FeedTable>& feeds,
                                           Store& target, const std::function<void(const std::string&)>& progress) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(source, ec))
    return StoreError{errc::io_error, source.string() + ": no such file"};
  sqlite::Db db = sqlite::open_read_only(source, 5000);
  // One read transaction for the whole copy: the picture of one moment, whatever `svdhub run`
  // commits meanwhile.
  if (!db || !sqlite::exec(db.get(), "BEGIN") ||
      !sqlite::query_int(db.get(), "SELECT count(*) FROM sqlite_schema").has_value())
    return StoreError{errc::io_error, source.string() + ": cannot read it (not an SQLite database, or unreadable)"};
  Copier copier(db.get(), target, progress);
  std::optional<StoreError> e;
  try {
    e = copier.run(feeds);
  } catch (const std::bad_alloc&) {
    e = StoreError{errc::io_error, "out of memory"};
  }
  (void)sqlite::exec(db.get(), "COMMIT");
  if (e) return *e;
  return copier.totals();
}

}  // namespace svd::hub
