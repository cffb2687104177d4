#include "hub/store_stats.h"
#include "base/time.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <sstream>

namespace svd::hub {
namespace {

void print(std::ostream& out, const FeedStats& f, std::string_view note) {
  out << "  feed " << f.feed << note << ": " << f.records << " records in " << f.batches << " batches\n";
  for (const auto& p : f.partners)
    out << "    " << p.partner << ": " << p.records << " records in " << p.batches << " batches, last received "
        << utc_iso(p.last_received) << '\n';
}

}  // namespace

result<std::vector<FeedStats>> read_store_stats(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  // READONLY without CREATE: a missing file is an error, never a new empty store.
  const int opened = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  struct Close {
    sqlite3* db;
    ~Close() { sqlite3_close_v2(db); }
  } close{db};
  if (opened != SQLITE_OK) return errc::io_error;
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT feed, partner, COUNT(*), SUM(records), MAX(received_at) FROM batches "
                         "GROUP BY feed, partner ORDER BY feed, partner",
                         -1, &s, nullptr) != SQLITE_OK)
    return errc::io_error;  // not a hub store (no batches table), or not a database at all
  std::vector<FeedStats> feeds;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const std::string feed = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (feeds.empty() || feeds.back().feed != feed) feeds.push_back({feed, 0, 0, {}});
    PartnerStats p;
    p.partner = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    p.batches = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
    p.records = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    p.last_received = sqlite3_column_int64(s, 4);
    feeds.back().batches += p.batches;
    feeds.back().records += p.records;
    feeds.back().partners.push_back(std::move(p));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return errc::io_error;
  return feeds;
}

std::string format_store_stats(const std::filesystem::path& file, const std::vector<std::string>& configured_feeds,
                               const std::vector<FeedStats>& stats) {
  std::ostringstream out;
  out << "svdhub store " << file.string() << '\n';
  std::uint64_t records = 0, batches = 0;
  for (const auto& f : stats) {
    records += f.records;
    batches += f.batches;
  }
  auto find = [&](std::string_view feed) {
    return std::find_if(stats.begin(), stats.end(), [&](const FeedStats& f) { return f.feed == feed; });
  };
  for (const auto& id : configured_feeds) {
    auto it = find(id);
    print(out, it == stats.end() ? FeedStats{id, 0, 0, {}} : *it, "");
  }
  for (const auto& f : stats)
    if (std::find(configured_feeds.begin(), configured_feeds.end(), f.feed) == configured_feeds.end())
      print(out, f, " (not configured)");
  out << "  total: " << records << " records in " << batches << " batches\n";
  return out.str();
}

}  // namespace svd::hub
