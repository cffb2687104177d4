#pragma once
// The hub's store: pseudonymised records from every gateway in a typed table per feed
// (hub/records.h), the batches seen, so that a batch delivered twice (at-least-once on the wire)
// is stored once, and the token links of linkage-key rotations. Two backends: SQLite, embedded
// (one svdhub), and PostgreSQL, shared by several svdhub instances (docs/clustering.md). Both
// pass the same tests (tests/hub/store_contract.h).
//
// Batches are stored in groups: one transaction, hence one commit, for all the batches that
// arrived together, which is what makes the hub keep up with many gateways. Each batch of a group
// stands alone: one that is refused leaves no trace and does not affect the others. Nothing of a
// group is durable, and so nothing may be acknowledged, until store_group has returned.
//
// Thread-safety: none; one thread owns a store.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "base/errc.h"
#include "config/hub_config.h"
#include "hub/records.h"
#include "protocol/envelope.h"
#include "protocol/status.h"

namespace svd::hub {

// A verified batch (protocol::parse_batch, topic and permission checked) waiting to be stored.
struct PendingBatch {
  std::string partner;
  protocol::Batch batch;  // its records view into the caller's payload, which must outlive the call
  // When the batch first reached a hub (Unix seconds), for a batch moved from another store
  // (`svdhub store copy`, hub/store_copy.h); unset for one from the broker: the time of storing.
  std::optional<std::int64_t> received_at = std::nullopt;
};

// What became of one batch of a group: accepted or duplicate, or unknown_feed / bad_record.
using BatchOutcome = result<protocol::ReceiptStatus>;

// Of an io_error at open, what the backend could tell about its cause: svdhub waits for a
// database that is unavailable at start, and stops at once for anything else.
enum class StoreCause {
  other,           // a problem that waiting will not fix: configuration, the database's own state
  unavailable,     // the server cannot be reached, is starting up or shutting down, or has no
                   // connection or memory to spare: try again later
  authentication,  // the server refused the login (password, pg_hba.conf, role)
  privilege,       // the role lacks a right the store needs
};

// Why a store could not be opened, for an operator: the code (io_error: the database cannot be
// reached or refused something; schema_incompatible: a table does not fit its schema any more)
// and what happened, naming the feed and column where there is one. Never a value or a password.
struct StoreError {
  errc code = errc::io_error;
  std::string message;
  StoreCause cause = StoreCause::other;  // of an io_error; `other` where the backend cannot tell (SQLite)
};
[[noreturn]] void throw_exception_from_error(const StoreError& e, const boost::source_location& loc);
template <class T>
using store_result = boost::system::result<T, StoreError>;

// What a gateway last said about itself (protocol/status.h), as the hub keeps it: one row per
// partner in `gateway_status`.
struct GatewayState {
  std::string partner;
  bool online = false;
  std::string version;
  std::optional<std::uint64_t> queued_batches, unacknowledged_records, rejected_batches;
  std::int64_t updated_at = 0;                 // when its latest status reached the hub (Unix seconds)
  std::optional<std::int64_t> last_online_at;  // the latest moment it is known to have been online
};

// The moment a status message received at `now` shows its gateway online: its own time (never
// later than `now`: a gateway clock ahead must not hide an outage) for an "online" message or a
// clean stop, `now` for an "online" message without one; nothing for a last will, which the
// broker sends when the link died at some moment it does not say.
std::optional<std::int64_t> online_at(const protocol::GatewayStatus& status, std::int64_t now);

// One extract as the hub holds it, from its batches: enough to tell whether a period's delivery
// arrived (hub/sharing.h).
struct ExtractArrival {
  std::string partner, feed, extract_id;
  // When it reached the gateway (extract.received_at), which places it in a period as the
  // gateway does; for batches stored before the hub kept that, when the hub stored the first.
  std::int64_t received_at = 0;
  bool nil_return = false;
  std::uint64_t batches = 0, records = 0;  // stored so far
  std::optional<std::uint64_t> last_seq;   // the seq of its last batch, once that is stored
  std::int64_t stored_at = 0;              // when its latest batch was stored
  // Every batch is stored: the last one, and as many as it says there are.
  bool complete() const { return last_seq && batches == *last_seq + 1; }
};

// One row of a feed's linked view: `_partner`, then the asked columns, as text; nullopt for NULL.
// The views point into the backend's buffers and are valid only during the call.
using LinkedRow = std::span<const std::optional<std::string_view>>;

class Store {
 public:
  virtual ~Store() = default;

  // Stores `batches` in one transaction and returns one outcome per batch, in order: accepted,
  // or duplicate when this partner's batch id was stored before (by this instance or another
  // sharing the database, earlier in this group included; nothing is written again);
  // unknown_feed or bad_record (RecordReader's rules), in which case nothing of that batch is
  // stored and the others are unaffected. When the call returns the outcomes, every accepted
  // batch is committed (durable). Errors: io_error (anything the database refuses, the commit
  // included, or a lost connection): then nothing of the group is stored, and no batch of it may
  // be acknowledged.
  virtual result<std::vector<BatchOutcome>> store_group(std::span<const PendingBatch> batches) = 0;

  // store_group with one batch: its outcome, or io_error.
  result<protocol::ReceiptStatus> store(const std::string& partner, const protocol::Batch& batch);

  virtual result<std::uint64_t> record_count(const std::string& feed) = 0;
  virtual result<std::uint64_t> batch_count() = 0;
  // Links between tokens of one person under an older and the newest key.
  virtual result<std::uint64_t> token_link_count() = 0;

  // Records a status message of `partner`'s gateway received at `now` (Unix seconds), replacing
  // the one before; last_online_at only ever moves forward (online_at()). Errors: io_error.
  virtual result<void> record_status(const std::string& partner, const protocol::GatewayStatus& status,
                                     std::int64_t now) = 0;
  // Every partner's latest, by partner id.
  virtual result<std::vector<GatewayState>> gateway_states() = 0;
  // The extracts that reached their gateways in [from, to) (Unix seconds), by partner, feed and
  // time. Errors: io_error.
  virtual result<std::vector<ExtractArrival>> extract_arrivals(std::int64_t from, std::int64_t to) = 0;

  // Adds links read from another store (`svdhub store copy`) in one transaction, by store_group's
  // rule: each is resolved to the newest token this store knows, and links to its old token move
  // on, so any order of copying leaves every link pointing at the newest token. Errors: io_error
  // (nothing added).
  virtual result<void> add_token_links(std::span<const TokenLink> links) = 0;

  // Retention ([store] retain_days): deletes the records received before `unix_seconds`, in one
  // transaction; the rows deleted per feed (every feed, 0 included), by feed id. The
  // batches table keeps its rows, so a late re-send is still answered `duplicate`, not stored
  // again. Errors: io_error (nothing deleted).
  virtual result<std::vector<std::pair<std::string, std::uint64_t>>> delete_received_before(std::int64_t unix_seconds) = 0;

  // Streams every row of `feed`'s linked view (FeedTable::linked: each token resolved to the
  // newest token of the same person), in no particular order, calling `row` once per row, with
  // memory bounded whatever the table's size (never the whole result at once). Columns: `_partner`,
  // then `columns` (names of the feed's table; reserved ones allowed). Values as text: TEXT as
  // stored; DATE as YYYY-MM-DD; TIMESTAMPTZ as ISO 8601 whose first 10 characters are the date:
  // PostgreSQL gives it in UTC as YYYY-MM-DDTHH:MM:SSZ, SQLite the text as stored (which carries
  // its own offset, or none); `_received_at` in UTC as YYYY-MM-DDTHH:MM:SSZ in both (SQLite
  // holds Unix seconds); BIGINT / DOUBLE / BOOLEAN in any plain text form.
  // `row` must not use the store (the scan holds its connection); what it throws passes through,
  // and the store stays usable.
  // Errors: unknown_feed for a feed the store does not have, missing_column for a column its
  // table does not have (for both, nothing is called; there is no invalid_argument code);
  // io_error, possibly after `row` was called for some of the rows.
  virtual result<void> scan_linked(const std::string& feed, std::span<const std::string> columns,
                                   const std::function<void(LinkedRow)>& row) = 0;
};

// The store the config names: SQLite at [store] database, or PostgreSQL at [store] conninfo.
store_result<std::unique_ptr<Store>> open_store(const config::HubReceiverConfig& config);

// "SQLite /var/lib/svdhub/hub.db" or "PostgreSQL host=... dbname=..." (never a password), for logs.
std::string describe_store(const config::HubReceiverConfig& config);

}  // namespace svd::hub
