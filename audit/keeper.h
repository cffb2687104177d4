#pragma once
// The daemon's side of the audit log (docs/audit.md): a thread of its own that owns
// <state_dir>/audit.db and
//   - appends the events that change no stored state (startup, reloads, overdue feeds, uploads
//     refused) as they are recorded;
//   - drains the events the extract store and the outbox record in their own transactions
//     (audit/pending.h) every second, and at once when nudged;
//   - makes a signed checkpoint every `checkpoint_events` events or `checkpoint_every` (if
//     anything happened), at start and at stop, and publishes them to the hub in order, one at a
//     time, until each has a receipt (again after every reconnect, and after a receipt timeout);
//   - checks each receipt's cosignature with the hub's witness key (when configured) and stores
//     it with its checkpoint.
// Without a device key it keeps the chained log but makes no checkpoints.
//
// Thread-safety: every public member may be called from any thread.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "base/clock.h"
#include "base/errc.h"
#include "crypto/signing_key.h"

namespace svd::audit {

struct AuditKeeperOptions {
  std::filesystem::path state_dir;
  std::string partner;
  std::optional<crypto::SigningKey> device_key;  // none: no checkpoints
  std::optional<crypto::PublicKey> witness_key;  // none: cosignatures are stored unchecked
  std::uint64_t checkpoint_events = 1000;
  std::chrono::seconds checkpoint_every{std::chrono::minutes(60)};
  std::chrono::seconds receipt_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds drain_every{std::chrono::seconds(1)};
  // What checkpoint_every and receipt_timeout are measured with (its steady time); every
  // drain_every tick looks at it, so a test moves a FakeClock and waits for the next tick.
  const Clock* clock = &Clock::system();
};

class AuditKeeper {
 public:
  // Sends a checkpoint message to the hub (the forwarder's publish_aside).
  using Publish = std::function<void(std::string topic, std::string payload)>;

  // Opens audit.db and takes in what the state databases still hold from before. Errors: io_error.
  static result<std::unique_ptr<AuditKeeper>> open(AuditKeeperOptions options, Publish publish);
  ~AuditKeeper();  // stops the thread (without a final checkpoint: see stop())
  AuditKeeper(const AuditKeeper&) = delete;
  AuditKeeper& operator=(const AuditKeeper&) = delete;

  void start();
  void record(audit::Event e);
  void nudge();
  void link_changed(bool up);
  void checkpoint_receipt(std::string payload);
  // Drains, appends `last`, makes the final checkpoint and hands it to Publish, then stops the
  // thread. Waits for all of it. The hub's receipt for that checkpoint comes after the link is
  // gone: it is sent again at the next start and answered `duplicate`.
  void stop(std::vector<audit::Event> last);

 private:
  struct Impl;
  explicit AuditKeeper(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace svd::audit
