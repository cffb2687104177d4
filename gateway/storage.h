#pragma once
// The storage quota of `svdgw run`: what the extract store's files and the three databases take,
// against [storage] quota_bytes and the disk's free space less a margin kept for the databases'
// own growth, so a full disk never stops what was already accepted. Uploads still arriving hold
// room besides what is measured (hold()), so that several at once cannot overrun the quota
// together. refresh() on the store thread; the rest from any thread (the figures are atomics).

#include <atomic>
#include <cstdint>
#include <filesystem>

#include "base/clock.h"

namespace svd::ingest {
class ExtractStore;
}

namespace svd::gateway {

class StorageQuota {
 public:
  StorageQuota(std::filesystem::path state_dir, ingest::ExtractStore& store)
      : state_dir_(std::move(state_dir)), store_(store) {}

  // Measures again: the store's files, the databases and their WALs, the disk's free space.
  void refresh();
  // Room for `bytes` more, besides what is held (0: is the quota reached at all?), within
  // `quota` and the disk.
  bool room_for(std::uint64_t bytes, std::uint64_t quota) const;
  // Holds `bytes` if there is room for them (room_for), until release(); false: nothing held.
  bool hold(std::uint64_t bytes, std::uint64_t quota);
  void release(std::uint64_t bytes);
  // What is left of `quota` after what is measured and held, for /metrics.
  std::uint64_t headroom(std::uint64_t quota) const;

 private:
  bool room_beside(std::uint64_t held, std::uint64_t bytes, std::uint64_t quota) const;

  const std::filesystem::path state_dir_;
  ingest::ExtractStore& store_;
  std::atomic<std::uint64_t> used_{0}, disk_free_{0}, disk_margin_{0}, held_{0};
};

// Retention: removes the files of extracts finished more than `hours` before now (their rows and
// reports stay), logging what it did. On the store thread.
void apply_retention(ingest::ExtractStore& store, int hours, const Clock& clock);

}  // namespace svd::gateway
