#include "gateway/storage.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <string>

#include "base/service.h"
#include "base/time.h"
#include "ingest/extract_store.h"

namespace svd::gateway {

namespace fs = std::filesystem;

namespace {

std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

}  // namespace

void StorageQuota::refresh() {
  std::uint64_t used = store_.bytes_on_disk();
  for (const char* f : {"extracts.db", "extracts.db-wal", "outbox.db", "outbox.db-wal", "audit.db", "audit.db-wal"})
    used += file_size_or_zero(state_dir_ / f);
  used_ = used;
  struct statvfs vfs {};
  if (::statvfs(state_dir_.c_str(), &vfs) == 0) {
    const auto block = static_cast<std::uint64_t>(vfs.f_frsize);
    disk_free_ = static_cast<std::uint64_t>(vfs.f_bavail) * block;
    // Kept free for the databases' own growth (an extract's batches, state marks): 2 % of the
    // filesystem, at least 1 MiB.
    disk_margin_ = std::max<std::uint64_t>(std::uint64_t{1} << 20, static_cast<std::uint64_t>(vfs.f_blocks) * block / 50);
  }
}

bool StorageQuota::room_beside(std::uint64_t held, std::uint64_t bytes, std::uint64_t quota) const {
  const std::uint64_t used = used_;
  if (used >= quota || held > quota - used || bytes > quota - used - held) return false;
  const std::uint64_t free = disk_free_, margin = disk_margin_;
  return free > margin && held <= free - margin && bytes <= free - margin - held;
}

bool StorageQuota::room_for(std::uint64_t bytes, std::uint64_t quota) const {
  return room_beside(held_, bytes, quota);
}

bool StorageQuota::hold(std::uint64_t bytes, std::uint64_t quota) {
  std::uint64_t held = held_;
  do {
    if (!room_beside(held, bytes, quota)) return false;
  } while (!held_.compare_exchange_weak(held, held + bytes));
  return true;
}

void StorageQuota::release(std::uint64_t bytes) { held_ -= bytes; }

std::uint64_t StorageQuota::headroom(std::uint64_t quota) const {
  const std::uint64_t taken = used_ + held_;
  return taken >= quota ? 0 : quota - taken;
}

void apply_retention(ingest::ExtractStore& store, int hours, const Clock& clock) {
  const auto cutoff = clock.now() - std::chrono::hours(hours);
  auto removed = store.remove_finished_files(utc_iso(cutoff));
  if (!removed) service::log(service::Level::warning, "retention: cannot remove processed extracts' files: " + removed.error().message());
  else if (*removed > 0) service::log(service::Level::info, "retention: removed " + std::to_string(*removed) + " processed extract file(s)");
}

}  // namespace svd::gateway
