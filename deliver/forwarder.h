#pragma once
// The forwarder: delivers the outbox's batches to the hub broker over mutual-TLS MQTT (QoS 1) and
// records what became of each one in the outbox: PUBACK -> published, the hub's receipt ->
// acknowledged or rejected. At most `inflight` batches await a PUBACK and at most `window` a
// receipt; after every (re)connect every unacknowledged batch is sent again in outbox order, and
// a batch whose own receipt is `receipt_timeout` late is sent again on its own (within the
// in-flight limit), and waits twice as long for the next while the hub answers nothing.
// docs/forwarding.md ("Delivery") has the
// whole contract, including the retained status message and the reconnect backoff.
//
// Threads: all state, and the Outbox, belong to one Asio strand. Paho's callbacks run on Paho's
// thread with its lock held; they only post to the strand. Nobody else may use the Outbox while
// the forwarder runs (the daemon gives both the same strand).
//
// Tests (tests/deliver/forwarder_test.cpp) replace the two things that are not ours to drive: the
// MQTT client (any mqtt::iasync_client) and time (a Clock to read, ForwarderTimers to wait with).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "config/mqtt_endpoint.h"
#include "deliver/outbox.h"

namespace boost::asio {
class io_context;
}

namespace mqtt {
class iasync_client;
}

namespace svd::deliver {

// How the forwarder waits: the reconnect backoff and its one-second tick (which checks the
// receipt timeout and the status interval) are each one of these. Production uses an Asio
// steady_timer on the forwarder's strand (the real clock); a test, timers that fire when it
// advances its FakeClock. An interface rather than Asio's basic_waitable_timer over a clock of
// our own, because that clock's now() must be static (a per-forwarder Clock would have to be a
// global); and rather than a poll entry point, which production would have to drive from a timer
// of its own anyway, leaving that timer untested.
class ForwarderTimer {
 public:
  virtual ~ForwarderTimer() = default;
  // Calls `fire` once `delay` has passed. Replaces any wait already set. `fire` may be called on
  // any thread; a fire for a wait that was cancelled or replaced in the meantime is ignored by
  // the forwarder, so an implementation need not prevent a late one.
  virtual void wait(std::chrono::milliseconds delay, std::function<void()> fire) = 0;
  virtual void cancel() = 0;
};

struct ForwarderOptions {
  config::MqttEndpoint broker;
  std::string partner;  // client id and topic level; the certificate's CN
  std::string version;  // in the status message
  std::size_t inflight = 16;
  std::size_t window = 256;
  std::chrono::milliseconds receipt_timeout{std::chrono::seconds(120)};
  // A batch re-sent for want of a receipt waits twice as long for the next, up to this, until
  // any receipt arrives (the hub is answering again: every batch waits receipt_timeout again).
  std::chrono::milliseconds receipt_timeout_max{std::chrono::hours(1)};
  std::chrono::milliseconds backoff_min{250}, backoff_max{std::chrono::seconds(30)};
  std::chrono::milliseconds status_every{std::chrono::seconds(60)};

  // The seams; the defaults are what svdgw runs. Simulated time needs both of the first two: the
  // clock the forwarder reads (receipt ages, status times) and timers that fire by that clock.
  const Clock* clock = &Clock::system();
  // Empty: Asio steady timers on the forwarder's strand.
  std::function<std::unique_ptr<ForwarderTimer>()> make_timer;
  // Called once, with `broker` and `partner` (the client id). Empty: transport::make_iasync_client,
  // Paho's async_client with mutual TLS.
  std::function<std::unique_ptr<mqtt::iasync_client>(const config::MqttEndpoint&, const std::string& client_id)>
      make_client;
};

// Counts since start(); for logs, exit codes and tests.
struct ForwarderCounters {
  std::uint64_t connects = 0, connect_failures = 0, connection_losses = 0;
  std::uint64_t publishes = 0, pubacks = 0, publish_failures = 0;
  std::uint64_t accepted = 0, duplicates = 0, rejected = 0;
  std::uint64_t receipt_timeouts = 0;   // ticks that sent batches again for want of their receipt
  std::uint64_t renewals = 0;           // reconnects for renewed certificate files
  std::uint64_t outbox_errors = 0;      // failed reads or marks (retried; logged)
  bool connected = false;               // subscribed to receipts and sending, now
};

class Forwarder {
 public:
  // One line per event, pseudonymous only (batch ids, counts, error codes). Called on the strand.
  using Log = std::function<void(const std::string&)>;

  Forwarder(boost::asio::io_context& io, Outbox& outbox, ForwarderOptions options, Log log);
  // Stop first (and let the io_context run until `done`), or destroy only after the io_context
  // has stopped running: handlers still queued hold only a weak reference and do nothing then.
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Connects and keeps connecting. Thread-safe.
  void start();
  // New batches were committed to the outbox: send them when the window allows. Thread-safe.
  void notify_queued();
  // Called on the strand whenever nothing is left to send or waiting for a receipt (the outbox
  // holds no unacknowledged batch). Set before start().
  void on_drained(std::function<void()> handler);
  // Called on the strand with true when the forwarder can send (connected and subscribed to
  // receipts) and with false when it no longer can. Set before start().
  void on_link_change(std::function<void(bool)> handler);
  // The audit log's checkpoints share the connection (the broker allows one per client id) but
  // not the outbox: the audit log keeps them and sends them again until the hub answers. Publishes
  // at QoS 1 if the link is up, else drops the message (the audit log re-sends after the next
  // link change). Thread-safe.
  void publish_aside(std::string topic, std::string payload);
  // Called on the strand with each checkpoint receipt (protocol::is_checkpoint_receipt) that
  // arrives on the receipt topic. Set before start().
  void on_checkpoint_receipt(std::function<void(std::string)> handler);
  // The client's certificate files were renewed (same paths, new contents: Paho reads them at
  // every connect): a clean disconnect (waiting briefly for PUBACKs in flight) and a connect at
  // once, or at once if the link is down; a connect already under way is dropped and made again
  // once it completes. As after any reconnect, every unacknowledged batch is sent again from the
  // oldest: nothing is lost, and the hub answers `duplicate` for what it already holds.
  // Thread-safe.
  void reconnect();
  // Publishes the offline status, disconnects (waiting briefly for PUBACKs in flight), then calls
  // `done` on the strand. Thread-safe; later calls of anything else do nothing.
  void stop(std::function<void()> done);

  // A copy of the counters; call on the strand, or after the io_context has stopped.
  ForwarderCounters counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace svd::deliver
