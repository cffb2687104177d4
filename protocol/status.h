#pragma once
// A gateway's status message (docs/forwarding.md, "Status"): retained, QoS 1, on
// svd/v1/{partner}/status, published by the gateway on every connect, when its queue empties and
// every minute ("online", with its counts and clock), on a clean stop ("offline", with them),
// and by the broker as the gateway's last will when its link dies ("offline", version only).
// svdhub records the latest per partner: when each gateway was last online, and its queue.
// Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/errc.h"

namespace svd::protocol {

struct GatewayStatus {
  bool online = false;
  std::string version;  // the gateway's svdgw version
  // The outbox, when the gateway sent them (not in a last will): batches queued or awaiting a
  // receipt, their records, and batches the hub rejected.
  std::optional<std::uint64_t> queued_batches, unacknowledged_records, rejected_batches;
  std::string time;  // the gateway's clock, UTC ISO 8601; "" in a last will
};

std::string to_json(const GatewayStatus& s);

// The payload as the hub trusts it: at most kMaxStatusBytes, state "online" or "offline", a
// version of at most 64 printable ASCII characters, counts that are non-negative integers, a time
// that reads as UTC ISO 8601. Other fields are ignored (a newer gateway may send more).
// Errors: bad_envelope.
inline constexpr std::size_t kMaxStatusBytes = 4096;
result<GatewayStatus> parse_status(std::string_view payload);

// The partner of a status topic "svd/v1/{partner}/status"; false otherwise.
bool parse_status_topic(std::string_view topic, std::string& partner);

}  // namespace svd::protocol
