#pragma once
// The hub's store: pseudonymised records from every gateway, one SQLite table per feed
// (`records_<feed>`, columns from the feed schema's outputs, plus partner, extract id, batch id
// and received time), and the batches seen (partner, batch id, feed, extract, seq, record count,
// received time), so that a batch delivered twice (at-least-once on the wire) is stored once. A
// batch's records and its id are written in one transaction.
//
// Batches are stored in groups: one transaction, hence one fsync (synchronous=FULL), for all the
// batches that arrived together, which is what makes the hub keep up with many gateways. Each
// batch of a group stands alone (a savepoint of its own): one that is refused leaves no trace and
// does not affect the others. Nothing of a group is durable, and so nothing may be acknowledged,
// until store_group has returned.
//
// Thread-safety: none; one thread owns it.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/errc.h"
#include "config/schema.h"
#include "protocol/envelope.h"

struct sqlite3;

namespace svd::hub {

struct FeedTable {
  std::string feed;
  std::vector<std::string> columns;  // output keys, in schema order
};

// The keys a record of this schema carries: every field not dropped, then the person token.
std::vector<std::string> output_columns(const config::Schema& schema);

// A verified batch (protocol::parse_batch, topic checked) waiting to be stored.
struct PendingBatch {
  std::string partner;
  protocol::Batch batch;  // its records view into the caller's payload, which must outlive the call
};

// What became of one batch of a group: accepted or duplicate, or unknown_feed / bad_record.
using BatchOutcome = result<protocol::ReceiptStatus>;

class HubStore {
 public:
  // Opens or creates the database and a table per feed (new columns are added when a schema
  // gains outputs). Errors: io_error.
  static result<std::unique_ptr<HubStore>> open(const std::filesystem::path& file, std::vector<FeedTable> feeds);
  ~HubStore();
  HubStore(const HubStore&) = delete;
  HubStore& operator=(const HubStore&) = delete;

  // Stores `batches` in one transaction and returns one outcome per batch, in order: accepted,
  // or duplicate when this partner's batch id was stored before, earlier in this group included
  // (nothing is written again); unknown_feed or bad_record (a record that is not an object, has
  // a key the feed does not know, or a nested value), in which case nothing of that batch is
  // stored and the others are unaffected. When the call returns the outcomes, every accepted
  // batch is committed (durable). Errors: io_error (anything SQLite refuses, the commit
  // included): then nothing of the group is stored, and no batch of it may be acknowledged.
  result<std::vector<BatchOutcome>> store_group(std::span<const PendingBatch> batches);

  // store_group with one batch: its outcome, or io_error.
  result<protocol::ReceiptStatus> store(const std::string& partner, const protocol::Batch& batch);

  result<std::uint64_t> record_count(const std::string& feed);
  result<std::uint64_t> batch_count();

  // The connection itself, for tests that make SQLite fail (a commit hook, a page limit).
  sqlite3* connection_for_test();

 private:
  struct Impl;
  explicit HubStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::hub
