#pragma once
// One audit event and the hash chain over them (docs/audit.md; RFC 9162 leaf form).
//
// The canonical row of event `seq` is its fields joined with '\n', in this order:
//   seq (decimal), time, actor, action, object, details, payload_sha256
// and   leaf_hash_n  = SHA-256(0x00 || canonical row)
//       chain_hash_0 = 32 zero bytes
//       chain_hash_n = SHA-256(chain_hash_{n-1} || leaf_hash_n)
// `details` is stored and hashed as the exact JSON text written, never re-serialised, so an
// auditor re-checks the chain with a dozen lines of any language (docs/audit.md shows one).
// No field may hold a control character (a newline would make two rows hash alike), which
// valid_event checks and every writer enforces.
//
// Events never carry an identifier or a value from an extract: actors are certificate CNs,
// "gateway", "hub" or "spool"; objects are extract ids, batch ids, feed ids, key ids.
// Pure functions; any thread.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace svd::audit {

using Hash = std::array<unsigned char, 32>;

inline constexpr std::size_t kMaxFieldBytes = 256;      // actor, action, object
inline constexpr std::size_t kMaxDetailsBytes = 16384;  // the details JSON

struct Event {
  std::string time;            // UTC, ISO 8601 with milliseconds ("2026-11-23T09:15:20.123Z")
  std::string actor;
  std::string action;          // "extract.received", … (audit/events.h)
  std::string object;
  std::string details = "{}";  // a JSON object
  std::string payload_sha256;  // hex digest of the payload the event is about, or ""
  friend bool operator==(const Event&, const Event&) = default;
};

struct Entry {
  std::uint64_t seq = 0;  // 1, 2, …
  Event event;
  Hash leaf_hash{};
  Hash chain_hash{};
};

// Fields bounded, no control characters, details a JSON object, payload_sha256 empty or 64 hex.
bool valid_event(const Event& e);

std::string canonical_row(std::uint64_t seq, const Event& e);
Hash leaf_hash(std::uint64_t seq, const Event& e);
Hash chain_next(const Hash& previous, const Hash& leaf);


// Now, as an event time.
std::string now_utc();

}  // namespace svd::audit
