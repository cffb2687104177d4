#pragma once
// `svdgw audit verify`: is the audit log what was written, and what the hub witnessed?
//
//   1. every row: seq is the next number, the fields are valid, leaf_hash is the hash of the
//      row, chain_hash follows from the row before (an edited, deleted, swapped or inserted row
//      breaks it at its seq);
//   2. every stored checkpoint: the device key's signature over its note, and its chain hash
//      equals the recomputed chain at its seq (a log cut short below a checkpoint, or rewritten
//      from before one, fails here); a hub receipt's cosignature, with the hub's witness key;
//   3. given the hub's export of the checkpoints it accepted (`svdhub checkpoints export`, JSON
//      Lines of protocol::CheckpointReceipt): each one carries the hub's cosignature, and the
//      local log reaches its seq with the same chain hash (a log truncated or rewritten along
//      with its local checkpoints fails here: the hub still holds what it witnessed).
//
// The outcome names the first bad sequence number and what is wrong with it.
// Reads the log read-only on the calling thread; fails with io_error when it cannot be read.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "base/errc.h"
#include "crypto/signing_key.h"

namespace svd::audit {

struct VerifyInputs {
  std::filesystem::path log;                           // audit.db
  std::optional<crypto::PublicKey> device_key;         // without it, signatures are not checked
  std::optional<crypto::PublicKey> witness_key;        // the hub's; without it, cosignatures are not
  std::optional<std::filesystem::path> hub_checkpoints;  // the hub's export, JSON Lines
  std::string partner;                                 // expected in checkpoints; "" = any
};

struct VerifyReport {
  bool ok = true;
  std::uint64_t events = 0;                 // rows read
  Hash head{};                              // the recomputed chain hash at the last row
  std::uint64_t checkpoints = 0, checkpoints_witnessed = 0;
  std::uint64_t hub_checkpoints = 0;        // lines of the hub's export checked
  std::uint64_t last_witnessed_seq = 0;     // the largest seq the hub (by receipt or export) vouches for
  // The first problem, when !ok.
  std::optional<std::uint64_t> first_bad_seq;
  std::string problem;                      // "chain_hash does not follow from the row before", …
  std::vector<std::string> notes;           // what was not checked, and why (no key given, …)
};

// Errors: io_error (the log or the export cannot be read at all); anything found wrong inside
// them is a report with ok = false.
result<VerifyReport> verify(const VerifyInputs& in);

}  // namespace svd::audit
