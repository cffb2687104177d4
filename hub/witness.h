#pragma once
// svdhub as the witness of the gateways' audit logs: it checks each signed checkpoint a gateway
// publishes on svd/v1/{partner}/audit against the last one it accepted from that partner, keeps
// the ones that extend it, and cosigns them with its own key. A gateway that later edits,
// truncates or rewrites its log before a witnessed checkpoint cannot make the hub's copy agree
// (`svdgw audit verify --hub-checkpoints` reads `svdhub checkpoints export`). The partner comes
// from the topic (the broker's ACL), never from the payload. A bad signature or a checkpoint that
// does not extend the last accepted one raises an alarm: stored, counted and logged as
// `audit.alarm: ...`. The decisions in order, and the tables: docs/audit.md, "Checkpoints and
// the hub as witness".
//
// Storage: witness_* tables in the hub database, on a connection of its own; every decision is
// one transaction (synchronous=FULL), committed before its receipt is published.
//
// Thread-safety: none; one thread owns a Witness. The read_* functions open the file read-only
// (never creating it) and may run while `svdhub run` writes it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/errc.h"
#include "crypto/signing_key.h"
#include "protocol/checkpoint.h"

namespace svd::hub {

// Alarm rows kept per partner: a gateway that floods forgeries must not fill the hub's disk. The
// counter keeps counting past it; the oldest rows go first.
inline constexpr std::size_t kMaxStoredAlarmsPerPartner = 1000;

// The partner of an audit topic "svd/v1/{partner}/audit" (a valid id); false otherwise.
bool parse_audit_topic(std::string_view topic, std::string& partner);

struct WitnessOutcome {
  protocol::CheckpointReceipt receipt;  // to publish on the partner's receipt topic
  bool alarm = false;                   // stored and logged as an alarm
};

class Witness {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Opens the hub database file (creating it and the witness tables if need be). `device_keys`:
  // partner id -> its gateway's Ed25519 public key. `log` gets the alarm lines. Errors: io_error.
  static result<std::unique_ptr<Witness>> open(const std::filesystem::path& database, crypto::SigningKey key,
                                               std::map<std::string, crypto::PublicKey, std::less<>> device_keys,
                                               std::ostream& log, Clock clock = std::chrono::system_clock::now);
  ~Witness();
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;

  // Decides on one message from `partner`'s audit topic (see the top of this file). When this
  // returns, what the receipt says is committed. Errors: io_error (the store failed): nothing
  // was decided, nothing is to be answered; the gateway sends the checkpoint again.
  result<WitnessOutcome> handle(std::string_view partner, std::string_view payload);

  const crypto::PublicKey& public_key() const;

 private:
  struct Impl;
  explicit Witness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The receipts of `partner`'s accepted checkpoints, in seq order (status accepted): what
// `svdhub checkpoints export` writes, one JSON line each. A store where the witness never ran
// has none. Errors: io_error (no such file, not a database, unreadable).
result<std::vector<protocol::CheckpointReceipt>> read_witnessed_checkpoints(const std::filesystem::path& database,
                                                                           std::string_view partner);

struct StoredAlarm {
  std::string partner;
  std::string at;  // hub time, UTC ISO 8601 ms
  std::string reason;  // errc name
  std::string detail;  // what did not match, for people (seqs and hashes only)
  std::uint64_t seq = 0;  // the offending checkpoint's
  std::string chain_hash;
  std::string checkpoint_time;
  std::string payload_sha256;
};

// The stored alarms (the most recent kMaxStoredAlarmsPerPartner per partner), oldest first.
// Errors: io_error.
result<std::vector<StoredAlarm>> read_alarms(const std::filesystem::path& database);

struct WitnessStats {
  std::string partner;
  std::uint64_t checkpoints = 0;  // accepted
  std::uint64_t last_seq = 0;
  std::string last_witnessed_at;  // "" when none accepted
  std::uint64_t alarms = 0;       // every alarm ever raised, stored or not
  std::string last_alarm_at;
};

// Per partner that has checkpoints or alarms, by partner id. Errors: io_error.
result<std::vector<WitnessStats>> read_witness_stats(const std::filesystem::path& database);

// The lines `svdhub stats` adds after the store's:
//
//   audit checkpoints witnessed:
//     northgate-ed: 12 checkpoints, last seq 340 witnessed 2026-11-23T09:15:20.123Z; audit alarms: 0
//
// One line per configured partner (in config order, "0 checkpoints" when none), then any other
// partner the store holds. Empty when there is nothing to show.
std::string format_witness_stats(const std::vector<std::string>& configured_partners,
                                 const std::vector<WitnessStats>& stats);

}  // namespace svd::hub
