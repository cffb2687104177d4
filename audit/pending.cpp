#include "audit/pending.h"

#include <sqlite3.h>

#include "base/sqlite.h"

namespace svd::audit {

result<void> ensure_pending_table(sqlite3* db) {
  const bool ok = sqlite::exec(db,
                               "CREATE TABLE IF NOT EXISTS audit_pending ("
                               " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                               " time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
                               " object TEXT NOT NULL, details TEXT NOT NULL, payload_sha256 TEXT NOT NULL)");
  if (!ok) return errc::io_error;
  return {};
}

result<void> record_pending(sqlite3* db, const Event& e) {
  if (!valid_event(e)) return errc::io_error;
  sqlite::Stmt s;
  // Prepared per call: there is one event per state change, rare next to the statements around it.
  if (!sqlite::prepare(db,
                       "INSERT INTO audit_pending(time, actor, action, object, details, payload_sha256)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       s))
    return errc::io_error;
  sqlite::Use u(s);
  if (!u.bind(1, e.time) || !u.bind(2, e.actor) || !u.bind(3, e.action) || !u.bind(4, e.object) ||
      !u.bind(5, e.details) || !u.bind(6, e.payload_sha256) || !u.done())
    return errc::io_error;
  return {};
}

}  // namespace svd::audit
