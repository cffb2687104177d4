#pragma once
// Recording an audit event in the same transaction as the state change it describes.
//
// The gateway's state lives in two SQLite databases (the extract store's and the outbox's), each
// owned by its own thread, and the chained log in a third (audit.db). SQLite makes a transaction
// over attached WAL databases atomic per file, not across them, so the event is written to an
// `audit_pending` table of the state change's own database, inside its transaction: the change
// and its event commit together or not at all. AuditLog::drain then moves pending events into the
// chain (audit/audit_log.h), remembering per source the last one taken, so a crash between the
// two steps never loses or doubles an event.
//
// Thread-safety: the caller's; these only run statements on the handle given.

#include "audit/event.h"
#include "base/errc.h"

struct sqlite3;

namespace svd::audit {

// Creates audit_pending in `db` if absent. Its ids come from AUTOINCREMENT, so they are never
// reused after drained rows are deleted.
result<void> ensure_pending_table(sqlite3* db);

// Inserts `e` (checked with valid_event: a bad event is io_error, never stored half-formed).
// Must run inside the caller's transaction to be atomic with it.
result<void> record_pending(sqlite3* db, const Event& e);

}  // namespace svd::audit
