#pragma once
// svdhub's receive loop: connects to the broker (mTLS, persistent session), subscribes to every
// gateway's batches, hands the messages to the BatchHandler and publishes their receipts (QoS 1).
// With a Witness it also subscribes to every gateway's audit checkpoints (svd/v1/+/audit, QoS 1)
// and publishes the witness's receipts on the same receipt topics, each after its commit.
// It also subscribes to every gateway's retained status (svd/v1/+/status) and records each in the
// store (hub/status_handler.h): when each gateway was last online, and its queue.
// With [broker] partners set, "every gateway" is only those partners (svd/v1/<p>/+/batch,
// svd/v1/<p>/audit, svd/v1/<p>/status): several instances can then share the partners out
// (docs/clustering.md).
// Messages arrive through an Intake (hub/intake.h) that holds at most [broker] max_pending_bytes
// of payload: when it is full, Paho's thread waits and TCP pushes back on the broker. They are
// handled in groups: after taking one, the loop also takes whatever is already waiting (at most
// 64 messages; none more once 4 MiB of payload are taken), stores them all in one transaction,
// and only after its commit publishes the receipts (their PUBACKs are checked between groups,
// never waited for: Paho reads them on the thread that may be waiting for room).
// With [store] retain_days, records received longer ago than that are deleted at start and then
// hourly, between groups (one log line with the counts per feed, never a value).
// With [ops] port, /healthz and /metrics (hub/hub_metrics.h) are served on a thread of their own;
// what they show of the store is refreshed every minute between groups.
// Reconnects with exponential backoff and jitter when the broker goes away. Runs on the calling
// thread until `stop` becomes true; Paho's callbacks only hand messages to the Intake. Under systemd
// (Type=notify) it sends READY=1 when the loop starts (whether or not the broker is up),
// WATCHDOG=1 from the loop while it runs (if WatchdogSec= is set) and STOPPING=1 when it stops.

#include <atomic>
#include <iosfwd>
#include <string_view>

#include "config/hub_config.h"
#include "hub/batch_handler.h"
#include "hub/witness.h"

namespace svd::hub {

// Returns 0 after a requested stop. `log` gets one line per event (pseudonymous data only: ids,
// counts, codes, hashes). `witness` may be null: then audit checkpoints are neither subscribed to
// nor answered (one that still arrives, from a subscription an earlier run left in the persistent
// session, is dropped with one log line).
// `version` is svdhub's, for /metrics and /healthz. Returns 1 at once when [ops] is configured
// and its port cannot be opened.
// `reloading`, when set by the time `stop` is: the stop is for a reload, so the service manager is
// not told STOPPING=1 (it was told RELOADING=1).
int run_receiver(const config::HubReceiverConfig& config, std::string_view version, BatchHandler& handler,
                 Witness* witness, const std::atomic<bool>& stop, std::ostream& log,
                 const std::atomic<bool>* reloading = nullptr);

}  // namespace svd::hub
