#pragma once
// The store in a PostgreSQL database (hub/store.h), shared by several svdhub instances
// (docs/clustering.md). The same tables as the SQLite store (hub/sqlite_store.h), in the
// connection's default schema (the first of its search_path): a typed table per feed, `batches`,
// `token_links`, `gateway_status` and a `_linked` view per feed; `_received_at` and
// `batches.received_at` are TIMESTAMPTZ, the transaction's now().
//
// Exactly once across instances: a batch is stored by the transaction whose row in `batches`
// (primary key partner, batch_id) commits; an instance inserting the same batch meanwhile waits
// for that transaction on the unique index and then finds it a duplicate (or stores it, if the
// other rolled back). Token links are written under a transaction-level advisory lock, so every
// link points at the newest token whichever instance wrote it.
//
// A group is one transaction of a few statements whatever its size: the batches' rows in one
// INSERT, the records by one COPY per feed, the links in three statements, then the commit. A
// batch the server refuses although RecordReader let it through (a batch id too long for an
// index) is bad_record: the group is then stored again batch by batch, each in a savepoint, so
// that only that batch is refused. (SqliteStore stores such a batch.)
//
// A lost connection fails the call (io_error); the next call connects again first.
// Thread-safety: none; one thread owns a store (and its one connection).

#include <memory>
#include <string>
#include <vector>

#include "hub/store.h"
#include "hub/store_stats.h"

namespace svd::hub {

struct PgStoreOptions {
  std::string application_name = "svdhub";  // pg_stat_activity, the server's log lines
};

// What the database holds, for `svdhub stats` (hub/store_stats.h): read from `batches` in a
// session of its own that creates nothing. Errors: io_error (cannot connect, no `batches` table,
// a right missing).
result<std::vector<FeedStats>> read_pg_store_stats(const config::StoreConfig& config);

class PgStore final : public Store {
 public:
  // Connects to [store] conninfo with the password in [store] password_file, then, in one
  // transaction under an advisory lock (instances may start together), compares every existing
  // feed table with its schema, creates what is missing (tables, the columns a schema gained,
  // indexes, views), grants [store] analyst_role read access, and checks that the role it
  // connects as may do what the store does. Nothing is altered when a table is incompatible.
  // Errors: schema_incompatible (naming the feed and column); io_error, with its cause
  // (unavailable, authentication, privilege, other) and a message that never holds a password.
  static store_result<std::unique_ptr<PgStore>> open(const config::StoreConfig& config, std::vector<FeedTable> feeds,
                                                     PgStoreOptions options = {});
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  result<std::vector<BatchOutcome>> store_group(std::span<const PendingBatch> batches) override;
  result<std::uint64_t> record_count(const std::string& feed) override;
  result<std::uint64_t> batch_count() override;
  result<std::uint64_t> token_link_count() override;
  result<void> add_token_links(std::span<const TokenLink> links) override;
  result<void> record_status(const std::string& partner, const protocol::GatewayStatus& status,
                             std::int64_t now) override;
  result<std::vector<GatewayState>> gateway_states() override;
  result<std::vector<ExtractArrival>> extract_arrivals(std::int64_t from, std::int64_t to) override;
  result<std::vector<std::pair<std::string, std::uint64_t>>> delete_received_before(std::int64_t unix_seconds) override;
  // In libpq's single-row mode: one row in memory at a time. A `row` that throws leaves the
  // connection closed (the rest of the result is still on its way); the next call connects again.
  result<void> scan_linked(const std::string& feed, std::span<const std::string> columns,
                           const std::function<void(LinkedRow)>& row) override;

  // The server process of this store's session (pg_stat_activity.pid), 0 when not connected:
  // for tests that look for it on the server.
  int backend_pid() const;

 private:
  struct Impl;
  explicit PgStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::hub
