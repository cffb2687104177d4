#pragma once
// The hub's store: pseudonymised records from every gateway, one SQLite table per feed
// (`records_<feed>`, columns from the feed schema's outputs, plus partner, extract id, batch id
// and received time), and the batches seen, so that a batch delivered twice (at-least-once on the
// wire) is stored once. A batch's records and its id are written in one transaction.
//
// Thread-safety: none; one thread owns it.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/errc.h"
#include "config/schema.h"
#include "protocol/envelope.h"

namespace svd::hub {

struct FeedTable {
  std::string feed;
  std::vector<std::string> columns;  // output keys, in schema order
};

// The keys a record of this schema carries: every field not dropped, then the person token.
std::vector<std::string> output_columns(const config::Schema& schema);

class HubStore {
 public:
  // Opens or creates the database and a table per feed (new columns are added when a schema
  // gains outputs). Errors: io_error.
  static result<std::unique_ptr<HubStore>> open(const std::filesystem::path& file, std::vector<FeedTable> feeds);
  ~HubStore();
  HubStore(const HubStore&) = delete;
  HubStore& operator=(const HubStore&) = delete;

  // Stores a verified batch (protocol::parse_batch) from `partner`: accepted, or duplicate when
  // this partner's batch id was stored before (nothing is written again). Errors: unknown_feed,
  // bad_record (a record that is not an object, or has a key the feed does not know, or a
  // nested value), io_error. On error nothing of the batch is stored.
  result<protocol::ReceiptStatus> store(const std::string& partner, const protocol::Batch& batch);

  result<std::uint64_t> record_count(const std::string& feed);
  result<std::uint64_t> batch_count();

 private:
  struct Impl;
  explicit HubStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::hub
