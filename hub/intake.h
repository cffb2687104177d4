#pragma once
// What svdhub has received and not yet stored, bounded in bytes ([broker] max_pending_bytes).
//
// Paho acknowledges a QoS 1 message before the application sees it, and its own consumer queue
// has no limit, so a hub that falls behind (a slow store, a burst of re-sends after an outage, a
// partner publishing huge payloads) would buffer without end. Instead Paho's callback thread puts
// each message here and, while the budget is full, waits: Paho then reads nothing more from the
// socket, TCP's window closes, and the broker keeps the rest (it queues for an offline or slow
// session anyway). A payload over [broker] max_batch_bytes is never queued: only its topic and its
// first 64 KiB (for the batch id in its header line) are kept, to answer it `batch_too_large`.
//
// Paho C holds its own mutex while our callback runs, so while put() waits no other thread can
// call Paho at all (not even is_connected()): the loop must make every Paho call through
// call_paho(), which lets a waiting put() go first and keeps put() from waiting until the call
// returns. What arrives meanwhile (a group's receipts take milliseconds to publish) may go over
// the budget; that is the bound's only slack.
//
// Thread-safety: put() and connection_lost() from Paho's thread, everything else from the
// receive loop's; stop() from any thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <mqtt/message.h>

namespace svd::hub {

struct Received {
  mqtt::const_message_ptr message;  // null for an oversize payload, and for a lost connection
  std::string topic;                // an oversize payload's topic
  std::string head;                 // an oversize payload's first 64 KiB
  bool lost = false;                // the connection was lost here (Paho's connection_lost)
  std::size_t bytes = 0;            // what it counts against the budget
};

class Intake {
 public:
  Intake(std::size_t max_pending_bytes, std::size_t max_batch_bytes)
      : max_pending_(max_pending_bytes), max_batch_(max_batch_bytes) {}

  // Paho's thread. Waits while the message does not fit in the budget (one always fits when
  // nothing is pending, so a batch of max_batch_bytes is never stuck). False when stopped: the
  // message is dropped (its gateway sends it again after its receipt timeout).
  bool put(mqtt::const_message_ptr message);
  void connection_lost();

  // The receive loop: waits up to `wait` for something, then takes whatever else is already
  // here, up to `max_messages` and, once `max_bytes` are taken, no more. Stops at a lost
  // connection (taking it). The bytes stay counted until release().
  std::vector<Received> take(std::chrono::milliseconds wait, std::size_t max_messages, std::size_t max_bytes);
  // The group is stored (or given up): its bytes no longer count.
  void release(const std::vector<Received>& group);

  // Runs `work`, which calls Paho, once no put() waits (and none will until it returns).
  template <class Work>
  auto call_paho(Work&& work) -> decltype(work()) {
    PahoCall guard(*this);
    return work();
  }

  // Wakes and refuses every put() from now on.
  void stop();

  std::size_t pending_bytes() const;
  // Most bytes ever pending at once.
  std::size_t peak_bytes() const;
  // put() calls waiting for room now.
  std::size_t waiting_puts() const;

 private:
  struct PahoCall {
    explicit PahoCall(Intake& intake);
    ~PahoCall();
    Intake& intake;
  };

  const std::size_t max_pending_, max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable room_, ready_, idle_;
  std::deque<Received> queue_;
  std::size_t pending_ = 0, peak_ = 0, waiting_ = 0;
  int paho_calls_ = 0;  // the loop is calling Paho: put() does not wait
  bool stopped_ = false;
};

}  // namespace svd::hub
