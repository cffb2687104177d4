#include "audit/snapshot.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "audit/export.h"
#include "audit/verify.h"

namespace svd::audit {
namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close_v2(db); }
};

bool sync_path(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// The copy, whole, at `part`; "" or what went wrong.
std::string copy_log(const std::filesystem::path& log, const std::filesystem::path& part) {
  Db src, dst;
  const std::string uri = "file:" + log.string() + "?mode=ro";
  if (sqlite3_open_v2(uri.c_str(), &src.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK)
    return log.string() + ": cannot open the audit log: " + sqlite3_errmsg(src.db);
  sqlite3_busy_timeout(src.db, 10000);
  if (sqlite3_open_v2(part.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
    return part.string() + ": cannot create the copy: " + sqlite3_errmsg(dst.db);
  sqlite3_backup* backup = sqlite3_backup_init(dst.db, "main", src.db, "main");
  if (!backup) return part.string() + ": cannot copy: " + sqlite3_errmsg(dst.db);
  const int stepped = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (stepped != SQLITE_DONE || finished != SQLITE_OK)
    return log.string() + ": the copy failed: " + sqlite3_errstr(stepped != SQLITE_DONE ? stepped : finished);
  char* error = nullptr;
  if (sqlite3_exec(dst.db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string what = error ? error : "?";
    sqlite3_free(error);
    return part.string() + ": " + what;
  }
  return "";
}

}  // namespace

int audit_snapshot_main(const AuditSnapshotArgs& a) {
  if ((a.config.empty() && !a.log) || a.out.empty()) {
    std::cerr << "svdgw audit snapshot: give --out, and --config (or --log with the log to copy)\n";
    return 2;
  }
  const auto log = audit_log_file(a.config, a.log);
  if (!log) return 1;
  const std::filesystem::path& log_file = *log;
  std::error_code ec;
  if (!std::filesystem::exists(log_file, ec)) {
    std::cerr << log_file.string() << ": no audit log there\n";
    return 1;
  }
  const std::filesystem::path part = a.out.string() + ".part";
  std::filesystem::remove(part, ec);
  // Group-readable whatever the caller's umask; never writable by the group or readable by others.
  const mode_t old_mask = ::umask(0027);
  const std::string problem = copy_log(log_file, part);
  ::umask(old_mask);
  if (problem.empty() && ::chmod(part.c_str(), 0640) != 0) std::cerr << part.string() << ": cannot set mode 0640\n";
  if (!problem.empty() || !sync_path(part, O_RDONLY)) {
    std::cerr << (problem.empty() ? part.string() + ": cannot flush the copy" : problem) << '\n';
    std::filesystem::remove(part, ec);
    return 1;
  }
  std::filesystem::rename(part, a.out, ec);
  if (ec) {
    std::cerr << a.out.string() << ": cannot put the copy in place: " << ec.message() << '\n';
    std::filesystem::remove(part, ec);
    return 1;
  }
  (void)sync_path(a.out.parent_path().empty() ? "." : a.out.parent_path(), O_RDONLY | O_DIRECTORY);

  VerifyInputs in;
  in.log = a.out;
  auto verified = verify(in);
  if (!verified) {
    std::cerr << a.out.string() << ": the copy cannot be read back: " << verified.error().message() << '\n';
    return 1;
  }
  std::cout << "wrote " << a.out.string() << ": " << verified->events << " event(s), chain "
            << (verified->ok ? std::string("OK") : "BROKEN at seq " + std::to_string(verified->first_bad_seq.value_or(0)) +
                                                        ": " + verified->problem)
            << '\n';
  return verified->ok ? 0 : 3;
}

}  // namespace svd::audit
