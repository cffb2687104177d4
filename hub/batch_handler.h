#pragma once
// What svdhub does with one message on svd/v1/+/+/batch, independent of MQTT: check the topic
// and the envelope, store the batch, and say which receipt to publish where. The MQTT loop
// (next stage) only moves bytes between the broker and this.
//
// The broker's ACL already stops a gateway publishing under another partner's topic; the check
// that the header's partner matches the topic's is the hub's own defence against a misconfigured
// broker.

#include <string>
#include <string_view>

#include "hub/hub_store.h"
#include "protocol/envelope.h"

namespace svd::hub {

struct Reply {
  std::string topic;    // svd/v1/{partner}/receipt, or "" when there is no partner to answer
  protocol::Receipt receipt;
};

class BatchHandler {
 public:
  explicit BatchHandler(HubStore& store) : store_(store) {}

  // accepted / duplicate when stored (or stored before); rejected with the errc name as reason
  // for a topic that is not a batch topic, a bad envelope, a digest or count mismatch, a
  // partner or feed that differs from the topic's, an unknown feed or a bad record. A store
  // failure (io_error) returns no receipt (topic ""): the gateway will send the batch again.
  Reply handle(std::string_view topic, std::string_view payload);

 private:
  HubStore& store_;
};

}  // namespace svd::hub
