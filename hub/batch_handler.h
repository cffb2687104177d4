#pragma once
// What svdhub does with the messages on svd/v1/+/+/batch, independent of MQTT: check each
// message's topic and envelope, store the batches, and say which receipt to publish where. The
// MQTT loop (hub/receiver.h) only moves bytes between the broker and this.
//
// The broker's ACL already stops a gateway publishing under another partner's topic; the check
// that the header's partner matches the topic's is the hub's own defence against a misconfigured
// broker. Which feeds a partner may send is the hub's alone to say ([[partner]] feeds).
// Thread-safety: none; it uses its Store from the receive loop's thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/hub_config.h"
#include "hub/store.h"
#include "protocol/envelope.h"

namespace svd::hub {

struct Message {
  std::string_view topic;
  std::string_view payload;  // all of it, or only the start of one over max_batch_bytes
  bool oversize = false;     // over max_batch_bytes: `payload` is its start (hub/intake.h)
};

struct Reply {
  std::string topic;    // svd/v1/{partner}/receipt, or "" when nothing is to be answered
  protocol::Receipt receipt;
  // False for a refusal already logged: a partner that keeps sending a feed it may not send is
  // logged once per feed, not once per batch.
  bool log = true;
  // From the topic and the header, as far as they were read: for /metrics.
  std::string partner, feed;
  std::uint64_t records = 0;
};

// The store's part of the latest handle_group: how long store_group took, and whether it worked.
struct StoreTiming {
  double seconds = 0;
  bool ok = true;
  bool stored = false;  // false: the group had nothing to store, and the store was not called
};

// Who may send what, and how large a batch may be.
struct BatchRules {
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> feeds_of;  // partner -> feeds
  std::size_t max_batch_bytes = config::kDefaultMaxBatchBytes;

  static BatchRules from(const config::HubReceiverConfig& config);
};

// A topic of two 64-character ids is 142 bytes: shown whole.
inline constexpr std::size_t kLogSafeTopicBytes = 160;

// svdhub's log line (without the newline) for `reply` to a batch on `topic`. The batch id and
// the topic are the peer's: escaped and bounded (base/log_safe.h), so a batch cannot add lines.
std::string log_line(const Reply& reply, std::string_view topic);

class BatchHandler {
 public:
  BatchHandler(Store& store, BatchRules rules) : store_(store), rules_(std::move(rules)) {}

  // One reply per message, in order. accepted / duplicate when stored (or stored before, earlier
  // in the same group included); rejected with the errc name as reason for a payload over
  // max_batch_bytes (batch_too_large, not parsed), a topic that is not a batch topic, a bad
  // envelope, a digest or count mismatch, a partner or feed that differs from the topic's, a
  // feed the partner may not send (feed_not_permitted), a batch_id other than the one
  // protocol::batch_id_for gives for the topic's partner and feed and the header's extract digest
  // and seq (batch_id_mismatch), an unknown feed or a bad record. A rejected batch stores nothing
  // and does not affect the others.
  //
  // All the batches are stored in one transaction (HubStore::store_group), so the replies may be
  // published as soon as this returns: what they acknowledge is committed. When the store fails
  // (io_error) no message is answered (every topic ""): the gateways send their batches again
  // after their receipt timeout and get accepted, or duplicate if the commit did reach the disk.
  std::vector<Reply> handle_group(std::span<const Message> messages);

  // handle_group with one message.
  Reply handle(std::string_view topic, std::string_view payload);

  Store& store() { return store_; }
  const StoreTiming& last_store() const { return last_store_; }

  // Batches refused as feed_not_permitted, per (partner, feed), since start.
  const std::map<std::pair<std::string, std::string>, std::uint64_t>& not_permitted() const { return not_permitted_; }

 private:
  bool check(const Message& message, Reply& reply, PendingBatch& out);

  Store& store_;
  BatchRules rules_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> not_permitted_;
  StoreTiming last_store_;
};

}  // namespace svd::hub
