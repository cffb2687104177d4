#pragma once
// The store in one SQLite file (hub/store.h): the embedded default for the demo and a force with
// one svdhub. WAL and synchronous=FULL: a group's commit is one fsync.
//
// Besides the feed tables (hub/records.h): `batches` (partner, batch id, feed, extract, seq,
// last, record count, received time, when the extract reached its gateway, whether it was a nil
// return), `token_links` (kind, old token, new token), `gateway_status` (each partner's last
// status message and when it was last online) and a view per feed, `records_<feed>_linked`, whose
// token columns hold the newest token of each person.

#include <filesystem>
#include <memory>

#include "hub/store.h"

struct sqlite3;

namespace svd::hub {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database and a table per feed, and adds the columns a schema gained.
  // A table that holds a column the schema no longer has, or has with another type, stops it
  // (schema_incompatible, naming the feed and column) before anything is altered. Errors:
  // io_error, schema_incompatible.
  static store_result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& file,
                                                         std::vector<FeedTable> feeds);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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
  result<void> scan_linked(const std::string& feed, std::span<const std::string> columns,
                           const std::function<void(LinkedRow)>& row) override;

  // The connection itself, for tests that make SQLite fail (a commit hook, a page limit).
  sqlite3* connection_for_test();

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::hub
