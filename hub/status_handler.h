#pragma once
// What svdhub does with the gateways' status messages (svd/v1/{partner}/status, protocol/status.h),
// independent of MQTT: each one from a partner the hub knows is recorded in the store (when the
// gateway was last online, its queue), so that `svdhub sharing` and /metrics can say which
// gateway has gone quiet. The log gets a line when a gateway's state changes (online, offline),
// not every minute it repeats itself; a payload that does not parse or a partner the hub does not
// know gets one line per partner, and its messages are otherwise dropped: a status is advice,
// never answered, and the gateway sends another within a minute.
// Thread-safety: none; it uses its Store from the receive loop's thread.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "config/hub_config.h"
#include "hub/store.h"

namespace svd::hub {

class StatusHandler {
 public:
  StatusHandler(Store& store, const config::HubReceiverConfig& config);

  // One status message received at `now` (Unix seconds). Returns the log line it deserves, "" for
  // none. Values in the line are the partner id, state, counts and codes: a status holds no record.
  std::string handle(std::string_view topic, std::string_view payload, std::int64_t now);

  // The latest status of each partner handled since start, for /metrics.
  const std::map<std::string, GatewayState, std::less<>>& latest() const { return latest_; }

 private:
  Store& store_;
  std::set<std::string, std::less<>> known_;
  std::map<std::string, GatewayState, std::less<>> latest_;
  std::set<std::string, std::less<>> told_;  // partners whose bad or unknown status was logged
  bool store_failing_ = false;
};

}  // namespace svd::hub
