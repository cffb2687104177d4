#pragma once
// Audit checkpoints on the wire (docs/audit.md): what a gateway publishes on svd/v1/{partner}/audit
// and what the hub answers on svd/v1/{partner}/receipt. Shared by svdgw and svdhub.
//
// The audit log is a hash chain: chain_0 = 32 zero bytes, chain_n = SHA-256(chain_{n-1} ||
// leaf_n). A checkpoint {partner, seq, chain_hash, time} is signed by the gateway's device key
// (Ed25519) over its note (checkpoint_note). The message carries, besides, the proof that it
// extends the previous checkpoint: `prev` (that checkpoint's seq and chain hash; absent for the
// first, which starts from seq 0 and the zero hash) and the leaf hashes prev.seq+1 … seq, from
// which the hub recomputes the chain. The hub accepts a checkpoint only if `prev` is the last one
// it accepted for the partner and the recomputed chain ends at `chain_hash`; it then cosigns the
// witness note (witness_note) with its own key and sends that back in the receipt.
//
// Hashes and signatures are lowercase hex. Sizes are bounded: at most kMaxLeaves leaves.
// Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/errc.h"

namespace svd::protocol {

inline constexpr std::size_t kMaxCheckpointLeaves = 4096;

struct Checkpoint {
  std::string partner;
  std::uint64_t seq = 0;    // the number of audit events it covers (the last event's seq)
  std::string chain_hash;   // hex, 64 digits: chain_seq
  std::string time;         // UTC, ISO 8601 with milliseconds: when it was made
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// The exact bytes the device key signs:
//   "svd-gateway audit checkpoint v1\n" partner "\n" seq "\n" chain_hash "\n" time "\n"
std::string checkpoint_note(const Checkpoint& c);

// The exact bytes the hub's witness key signs: checkpoint_note(c) followed by
//   "witnessed " witnessed_at "\n"
std::string witness_note(const Checkpoint& c, std::string_view witnessed_at);

struct ChainPoint {
  std::uint64_t seq = 0;
  std::string chain_hash;  // hex
  friend bool operator==(const ChainPoint&, const ChainPoint&) = default;
};

struct CheckpointMessage {
  int v = 1;
  Checkpoint checkpoint;
  std::string signature;        // hex, 128 digits: Ed25519 over checkpoint_note
  std::string key_fingerprint;  // crypto::fingerprint of the device key, for people reading logs
  std::optional<ChainPoint> prev;
  std::vector<std::string> leaves;  // hex, prev.seq+1 … checkpoint.seq (or 1 … seq without prev)
};

std::string to_json(const CheckpointMessage& m);
// Checks fields, types, hex lengths, that leaves.size() == seq - prev.seq (or seq) and is at most
// kMaxCheckpointLeaves. Errors: bad_checkpoint, unsupported_version.
result<CheckpointMessage> parse_checkpoint_message(std::string_view json);

enum class CheckpointStatus { accepted, duplicate, rejected };
std::string_view to_string(CheckpointStatus s);

// The hub's answer, on the partner's receipt topic (it has "checkpoint", a batch receipt has
// "batch_id"). For accepted and duplicate: the witness time and cosignature; for rejected: the
// reason (an errc name: bad_checkpoint, bad_signature, checkpoint_does_not_extend,
// unknown_device_key).
// A rejected receipt's checkpoint is what the hub could read of the message: for one it could not
// parse, the partner from the topic, seq 0 and an empty chain hash and time. parse_checkpoint_receipt
// accepts those empty fields only in a rejection (where present they must still be well formed);
// witness_fingerprint may be absent or empty, and otherwise must have crypto::fingerprint's form.
struct CheckpointReceipt {
  Checkpoint checkpoint;
  CheckpointStatus status = CheckpointStatus::accepted;
  std::string reason;
  std::string witnessed_at;        // UTC, ISO 8601
  std::string cosignature;         // hex: the hub's Ed25519 signature over witness_note
  std::string witness_fingerprint; // crypto::fingerprint of the hub's witness key
};

std::string to_json(const CheckpointReceipt& r);
result<CheckpointReceipt> parse_checkpoint_receipt(std::string_view json);  // bad_receipt

// True if the payload on a receipt topic is a checkpoint receipt (a JSON object with a
// "checkpoint" member) rather than a batch receipt.
bool is_checkpoint_receipt(std::string_view json);

}  // namespace svd::protocol
