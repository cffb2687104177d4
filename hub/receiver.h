#pragma once
// svdhub's receive loop: connects to the broker (mTLS, persistent session), subscribes to every
// gateway's batches, hands each message to the BatchHandler and publishes its receipt (QoS 1).
// Reconnects with exponential backoff and jitter when the broker goes away. Runs on the calling
// thread until `stop` becomes true; messages are taken from Paho's consumer queue, so nothing
// runs inside a Paho callback.

#include <atomic>
#include <iosfwd>

#include "config/hub_config.h"
#include "hub/batch_handler.h"

namespace svd::hub {

// Returns 0 after a requested stop. `log` gets one line per event (pseudonymous data only: ids,
// counts, codes).
int run_receiver(const config::HubReceiverConfig& config, BatchHandler& handler, const std::atomic<bool>& stop,
                 std::ostream& log);

}  // namespace svd::hub
