#pragma once
// What svdhub does with the messages on svd/v1/+/+/batch, independent of MQTT: check each
// message's topic and envelope, store the batches, and say which receipt to publish where. The
// MQTT loop (hub/receiver.h) only moves bytes between the broker and this.
//
// The broker's ACL already stops a gateway publishing under another partner's topic; the check
// that the header's partner matches the topic's is the hub's own defence against a misconfigured
// broker.
// Thread-safety: none; it uses its HubStore from the receive loop's thread.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_store.h"
#include "protocol/envelope.h"

namespace svd::hub {

struct Message {
  std::string_view topic;
  std::string_view payload;
};

struct Reply {
  std::string topic;    // svd/v1/{partner}/receipt, or "" when nothing is to be answered
  protocol::Receipt receipt;
};

class BatchHandler {
 public:
  explicit BatchHandler(HubStore& store) : store_(store) {}

  // One reply per message, in order. accepted / duplicate when stored (or stored before, earlier
  // in the same group included); rejected with the errc name as reason for a topic that is not a
  // batch topic, a bad envelope, a digest or count mismatch, a partner or feed that differs from
  // the topic's, an unknown feed or a bad record. A rejected batch stores nothing and does not
  // affect the others.
  //
  // All the batches are stored in one transaction (HubStore::store_group), so the replies may be
  // published as soon as this returns: what they acknowledge is committed. When the store fails
  // (io_error) no message is answered (every topic ""): the gateways send their batches again
  // after their receipt timeout and get accepted, or duplicate if the commit did reach the disk.
  std::vector<Reply> handle_group(std::span<const Message> messages);

  // handle_group with one message.
  Reply handle(std::string_view topic, std::string_view payload);

 private:
  HubStore& store_;
};

}  // namespace svd::hub
