#pragma once
// svdhub's receive loop: connects to the broker (mTLS, persistent session), subscribes to every
// gateway's batches, hands the messages to the BatchHandler and publishes their receipts (QoS 1).
// Messages are handled in groups: after taking one from Paho's consumer queue, the loop also
// takes whatever is already waiting (at most 64 messages; none more once 32 MiB of payload are
// taken), stores them all in one transaction, and only after its commit publishes the receipts.
// Reconnects with exponential backoff and jitter when the broker goes away. Runs on the calling
// thread until `stop` becomes true; nothing runs inside a Paho callback.

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
