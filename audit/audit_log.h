#pragma once
// The audit log: <state_dir>/audit.db, SQLite (WAL, synchronous=FULL), two tables: `events`
// (append-only, hash-chained: audit/event.h) and `checkpoints` (signed heads, and the hub's
// receipt for each, set once). BEFORE UPDATE / BEFORE DELETE triggers abort changes to events
// (a guard against bugs, not attackers: the checkpoints are what catch an attacker). The columns:
// docs/audit.md, "What is recorded".
//
// Events reach the chain two ways: append() for those that change no other state (startup, a
// configuration reload, an upload refused), and drain() for those recorded in a state database's
// own transaction (audit/pending.h).
//
// Thread-safety: none; one thread owns an AuditLog (the daemon's audit thread). AuditReader opens
// the file read-only and may be used while a daemon writes it (WAL).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "base/errc.h"
#include "protocol/checkpoint.h"

namespace svd::crypto {
class SigningKey;
}

namespace svd::audit {

struct Head {
  std::uint64_t seq = 0;  // 0 for an empty log
  Hash chain_hash{};      // zero for an empty log
};

struct StoredCheckpoint {
  protocol::Checkpoint checkpoint;
  std::string signature;        // hex
  std::string key_fingerprint;
  // The hub's receipt, once there is one (status empty before).
  std::string status;           // "accepted", "duplicate", "rejected"
  std::string reason;
  std::string witnessed_at;
  std::string cosignature;      // hex
  std::string witness_fingerprint;
};

class AuditLog {
 public:
  // Opens or creates the database (mode 0600; the parent must exist). Errors: io_error (cannot
  // open, not a database, a schema from a newer version).
  static result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& file, std::string partner);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one event; returns its seq. Errors: io_error (also for an event valid_event refuses).
  result<std::uint64_t> append(const Event& e);

  // Moves the pending events of the state database `source_db` (audit/pending.h) into the chain,
  // in their order, under the name `source` ("extracts", "outbox"): one transaction here that
  // also records the last pending id taken, then (best effort, never waiting for a writer) the
  // taken rows are deleted there. Returns how many events were appended. A source database that
  // does not exist yet has nothing pending. Errors: io_error.
  result<std::size_t> drain(const std::string& source, const std::filesystem::path& source_db);

  result<Head> head();
  // Events appended since the last checkpoint (all of them before the first).
  result<std::uint64_t> events_since_checkpoint();

  // Signs and stores a checkpoint of the head, unless the last checkpoint already covers it
  // (then nullopt). Errors: io_error.
  result<std::optional<StoredCheckpoint>> make_checkpoint(const crypto::SigningKey& key);

  // The oldest checkpoint after seq `after` with no hub receipt yet, as the message to publish
  // (with the proof from the checkpoint before it); nullopt when every checkpoint has one.
  result<std::optional<protocol::CheckpointMessage>> next_unwitnessed(std::uint64_t after = 0);
  // Stores the hub's receipt with its checkpoint (matched by seq and chain hash; a receipt for an
  // unknown checkpoint, or a second one, is ignored and returns false). The caller checks the
  // cosignature first. Errors: io_error.
  result<bool> record_receipt(const protocol::CheckpointReceipt& receipt);

  const std::filesystem::path& file() const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Read-only access for `svdgw audit verify|export|report`.
class AuditReader {
 public:
  // Errors: io_error (missing, unreadable, not an audit log).
  static result<std::unique_ptr<AuditReader>> open(const std::filesystem::path& file);
  ~AuditReader();
  AuditReader(const AuditReader&) = delete;
  AuditReader& operator=(const AuditReader&) = delete;

  // Every stored row in seq order, as stored (hashes included, not checked); `visit` returns false
  // to stop. Events whose time is in [from, to) only, when given (ISO 8601 strings compare in
  // time order). Errors: io_error.
  result<void> for_each(const std::function<bool(const Entry&)>& visit, std::optional<std::string> from = {},
                        std::optional<std::string> to = {});
  result<std::vector<StoredCheckpoint>> checkpoints();

 private:
  struct Impl;
  explicit AuditReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::audit
