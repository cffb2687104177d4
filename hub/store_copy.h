#pragma once
// Moving an SQLite store into another store: `svdhub store copy`, for a force whose region
// outgrows one svdhub and moves to PostgreSQL (docs/operations.md).
//
// Every batch the source holds is stored again in the target through Store::store_group, with
// its received time, its records rebuilt from the source's rows: a batch the target holds already
// (copied before, or received from its gateway since) is a duplicate and left alone, so a copy may
// be interrupted and run again. A batch whose records retention deleted is copied without them,
// so a late re-send is still answered `duplicate`. The token links follow. The witness's tables
// are not copied: with PostgreSQL they stay in the SQLite file where svdhub runs.
//
// The source is opened read-only and read in one transaction: a consistent picture even while
// `svdhub run` still writes to it (a second copy after it stops picks up the rest). Memory stays
// bounded: batches go to the target in groups of at most kCopyGroupBytes of records.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hub/records.h"
#include "hub/store.h"

namespace svd::hub {

inline constexpr std::size_t kCopyGroupBytes = std::size_t{16} << 20;

struct CopyTotals {
  std::uint64_t batches_copied = 0;   // stored by this copy
  std::uint64_t batches_present = 0;  // the target held them already
  std::uint64_t records_copied = 0;   // of the batches stored by this copy
  std::uint64_t token_links = 0;      // read from the source and added (each resolved) to the target
  // "<partner> batch <id>: <errc>" for each batch the target refused (a value its types refuse,
  // from a store made before tables were typed): they stay in the source only. Never a value.
  std::vector<std::string> refused;
};

// Copies the store in the SQLite file `source` into `target`, both with the tables of `feeds`.
// `progress` is told, in words, after each feed. Errors: io_error (the source cannot be read or
// is not a hub store; the target failed: the groups stored before stay, and a second run goes on
// from there), schema_incompatible (the source holds a feed `feeds` lacks, or a table that does
// not fit its schema: nothing is copied), with a message naming the feed and column, never a value.
store_result<CopyTotals> copy_sqlite_store(const std::filesystem::path& source, const std::vector<FeedTable>& feeds,
                                           Store& target,
                                           const std::function<void(const std::string&)>& progress = {});

}  // namespace svd::hub
