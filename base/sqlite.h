#pragma once
// Small RAII helpers over the SQLite C API shared by the SQLite stores (outbox, extract store,
// audit log, and the hub's store and witness). Not a wrapper library: just the handles,
// statement use with guaranteed reset, one-row queries, and the creation of a private (0600)
// database file.
// Thread-safety: none of their own; a handle and its statements belong to the store's one thread.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/errc.h"

namespace svd::sqlite {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// Every use of a cached statement ends here, on every path: a SELECT left un-reset keeps its
// read transaction (a WAL snapshot) open, which stalls checkpoints and hides later commits. It
// also drops the SQLITE_STATIC bindings while the caller's strings are still alive.
class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  bool bind(int i, std::int64_t v) { return sqlite3_bind_int64(s_, i, v) == SQLITE_OK; }
  // SQLITE_STATIC: no copy of a multi-MiB payload; valid because ~Use unbinds first.
  bool bind(int i, std::string_view v) {
    return sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8) == SQLITE_OK;
  }
  bool bind_blob(int i, std::string_view v) {
    // data() of an empty std::string is non-null, so this binds a zero-length blob, not NULL.
    return sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC) == SQLITE_OK;
  }
  // Not an overload of bind: an int argument would be ambiguous between int64 and double.
  bool bind_double(int i, double v) { return sqlite3_bind_double(s_, i, v) == SQLITE_OK; }

  int step() { return sqlite3_step(s_); }
  bool done() { return step() == SQLITE_DONE; }

  std::int64_t integer(int col) { return sqlite3_column_int64(s_, col); }
  // NULL reads as "", as does a zero-length text.
  std::string text(int col) {
    const unsigned char* p = sqlite3_column_text(s_, col);
    const int n = sqlite3_column_bytes(s_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::string blob(int col) {
    const void* p = sqlite3_column_blob(s_, col);  // before _bytes, as the sqlite docs require
    const int n = sqlite3_column_bytes(s_, col);
    if (p == nullptr) return {};  // also a zero-length blob
    return std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }

 private:
  sqlite3_stmt* s_;
};

inline bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

// Runs a one-row query (a PRAGMA read) and reads column 0 with `get`; nullopt on any error,
// including SQLITE_NOTADB.
template <class Get>
auto query_one(sqlite3* db, const char* sql, Get get) -> std::optional<decltype(get(std::declval<Use&>()))> {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return std::nullopt;
  }
  Stmt s(raw);
  Use u(s);
  if (u.step() != SQLITE_ROW) return std::nullopt;
  return get(u);
}

inline std::optional<std::string> query_text(sqlite3* db, const char* sql) {
  return query_one(db, sql, [](Use& u) { return u.text(0); });
}

inline std::optional<std::int64_t> query_int(sqlite3* db, const char* sql) {
  return query_one(db, sql, [](Use& u) { return u.integer(0); });
}

inline bool prepare(sqlite3* db, const char* sql, Stmt& out) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  out.reset(raw);
  return rc == SQLITE_OK && raw != nullptr;
}

// For readers of a store another process writes (statistics, exports): READONLY without CREATE,
// so a missing file is an error, never a new empty store. Empty when it cannot be opened.
inline Db open_read_only(const std::filesystem::path& file, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);  // a handle is returned even on failure and must be closed
  if (rc != SQLITE_OK) return nullptr;
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

// The outbox holds pseudonymised records: create it 0600 ourselves rather than let SQLite use
// 0644 & ~umask, and tighten an existing file. SQLite gives the -wal and -shm files the main
// file's mode, so they follow.
inline bool create_private_file(const std::filesystem::path& file) {
  int fd;
  do {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;  // EISDIR for a directory, ENOENT for a missing parent, EACCES
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && (st.st_mode & 07777) != 0600) ok = ::fchmod(fd, 0600) == 0;
  ::close(fd);
  return ok;
}

// Creates the schema in an empty database (user_version 0, no objects) and sets user_version;
// accepts a database already at `version`; refuses a newer version or somebody else's database.
inline bool ensure_schema(sqlite3* db, int version, const char* schema_sql) {
  auto found = query_int(db, "PRAGMA user_version");
  if (!found || *found < 0 || *found > version) return false;
  if (*found == version) return true;
  // Re-read under the write lock: another process may have created the schema meanwhile.
  if (!exec(db, "BEGIN IMMEDIATE")) return false;
  bool ok = false;
  found = query_int(db, "PRAGMA user_version");
  if (found && *found == version) {
    ok = true;
  } else if (found && *found == 0) {
    // user_version 0 with tables in it is somebody else's database: refuse, don't add to it.
    const auto objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
    ok = objects && *objects == 0 && exec(db, schema_sql) &&
         exec(db, ("PRAGMA user_version=" + std::to_string(version)).c_str());
  }
  if (ok && exec(db, "COMMIT")) return true;
  if (!sqlite3_get_autocommit(db)) exec(db, "ROLLBACK");
  return false;
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed (on every early return).
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db), open_(exec(db, "BEGIN IMMEDIATE")) {}
  ~Transaction() {
    if (open_) exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const { return open_; }
  // The SQLite result code of COMMIT (SQLITE_FULL on a full disk); rolled back if it failed.
  int commit() {
    if (!open_) return SQLITE_MISUSE;
    open_ = false;
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(db_)) exec(db_, "ROLLBACK");
    return rc;
  }

 private:
  sqlite3* db_;
  bool open_;
};

// Catches what the standard library may throw (bad_alloc while copying payloads), so that no
// exception leaves a store; the statement guards have already reset the statements.
template <class F>
auto guarded(F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception&) {
    return errc::io_error;
  }
}

}  // namespace svd::sqlite
