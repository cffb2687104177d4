#pragma once
// The forwarder: delivers the outbox's batches to the hub broker with Eclipse Paho MQTT C++
// (DESIGN 3.6, 4, 8) and records what became of each one in the outbox.
//
//   - mutual TLS as transport/mqtt.h sets it up (hub CA pinned, host name verified, client
//     certificate), client id = partner id, persistent session, QoS 1;
//   - at most `inflight` batches published and not yet PUBACKed, and at most `window` sent and
//     not yet answered by the hub, so the broker never holds more than `window` of our batches;
//   - PUBACK -> mark_published; the hub's receipt -> mark_acknowledged (accepted, duplicate) or
//     mark_rejected (rejected: sending the same bytes again cannot help);
//   - after every (re)connect, and when a batch has had no receipt for `receipt_timeout`, every
//     unacknowledged batch is sent again from the start, in outbox order;
//   - reconnects with exponential backoff and jitter (Paho's own auto-reconnect and persistence
//     are off: the outbox is the only record of what must be delivered);
//   - a retained status message on svd/v1/{partner}/status: online with the queue depth while
//     connected, offline on a clean stop, and offline as the last will when the link dies.
//
// Threads: all state, and the Outbox, belong to one Asio strand. Paho's callbacks run on Paho's
// thread with its lock held; they only post to the strand. The Outbox must not be used by
// anybody else while the forwarder runs (the daemon gives both the same strand).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/mqtt_endpoint.h"
#include "deliver/outbox.h"

namespace boost::asio {
class io_context;
}

namespace svd::deliver {

struct ForwarderOptions {
  config::MqttEndpoint broker;
  std::string partner;  // client id and topic level; the certificate's CN
  std::string version;  // in the status message
  std::size_t inflight = 16;
  std::size_t window = 256;
  std::chrono::milliseconds receipt_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds backoff_min{250}, backoff_max{std::chrono::seconds(30)};
  std::chrono::milliseconds status_every{std::chrono::seconds(60)};
};

// Counts since start(); for logs, exit codes and tests.
struct ForwarderCounters {
  std::uint64_t connects = 0, connect_failures = 0, connection_losses = 0;
  std::uint64_t publishes = 0, pubacks = 0, publish_failures = 0;
  std::uint64_t accepted = 0, duplicates = 0, rejected = 0;
  std::uint64_t receipt_timeouts = 0;   // times the window was sent again for want of a receipt
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
