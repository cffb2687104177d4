#pragma once
// What a hub store holds, per feed and partner, for `svdhub stats`. Read from the batches table
// (one row per stored batch, with its record count), so it costs nothing like a scan of the
// record tables. The connection is read-only: it never creates a store, and it works while
// `svdhub run` writes to the same file (WAL: readers see the last commit, writers are not held up).
// Any thread; errors are io_error (missing, unreadable or not a hub store).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/errc.h"

namespace svd::hub {

struct PartnerStats {
  std::string partner;
  std::uint64_t records = 0;
  std::uint64_t batches = 0;
  std::int64_t last_received = 0;  // Unix time of the latest batch stored
};

struct FeedStats {
  std::string feed;
  std::uint64_t records = 0;
  std::uint64_t batches = 0;
  std::vector<PartnerStats> partners;  // by partner id
};

// Every feed that has batches in the store, by feed id. Errors: io_error (no such file, not a
// hub store, unreadable).
result<std::vector<FeedStats>> read_store_stats(const std::filesystem::path& file);

// The report `svdhub stats` prints:
//
//   svdhub store /var/lib/svdhub/hub.db
//     feed ed-assaults: 1234 records in 3 batches
//       northgate-ed: 1234 records in 3 batches, last received 2026-11-23T09:15:20Z
//     feed death-reports: 0 records in 0 batches
//     total: 1234 records in 3 batches
//
// One `feed` line per configured feed, in config order, then any feed the store holds that is no
// longer configured (`feed X (not configured): …`); under each, one line per partner that sent
// it. Times are UTC. The total counts everything in the store.
// `store` names the store in the first line: the SQLite file, or describe_store's PostgreSQL line.
std::string format_store_stats(const std::string& store, const std::vector<std::string>& configured_feeds,
                               const std::vector<FeedStats>& stats);

}  // namespace svd::hub
