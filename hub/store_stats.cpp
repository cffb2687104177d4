#include "hub/store_stats.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <sstream>

#include "base/sqlite.h"
#include "base/time.h"

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
  // READONLY without CREATE: a missing file is an error, never a new empty store.
  const sqlite::Db db = sqlite::open_read_only(file, 5000);
  if (!db) return errc::io_error;
  sqlite::Stmt s;
  if (!sqlite::prepare(db.get(),
                       "SELECT feed, partner, COUNT(*), SUM(records), MAX(received_at) FROM batches "
                       "GROUP BY feed, partner ORDER BY feed, partner",
                       s))
    return errc::io_error;  // not a hub store (no batches table), or not a database at all
  std::vector<FeedStats> feeds;
  sqlite::Use u(s);
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    const std::string feed = u.text(0);
    if (feeds.empty() || feeds.back().feed != feed) feeds.push_back({feed, 0, 0, {}});
    PartnerStats p;
    p.partner = u.text(1);
    p.batches = static_cast<std::uint64_t>(u.integer(2));
    p.records = static_cast<std::uint64_t>(u.integer(3));
    p.last_received = u.integer(4);
    feeds.back().batches += p.batches;
    feeds.back().records += p.records;
    feeds.back().partners.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return errc::io_error;
  return feeds;
}

std::string format_store_stats(const std::string& store, const std::vector<std::string>& configured_feeds,
                               const std::vector<FeedStats>& stats) {
  std::ostringstream out;
  out << "svdhub store " << store << '\n';
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
