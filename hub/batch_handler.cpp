#include "hub/batch_handler.h"

namespace svd::hub {

Reply BatchHandler::handle(std::string_view topic, std::string_view payload) {
  Reply reply;
  std::string partner, feed;
  if (!protocol::parse_batch_topic(topic, partner, feed)) return reply;  // nobody to answer
  reply.topic = protocol::receipt_topic(partner);
  auto reject = [&](errc why) {
    reply.receipt.status = protocol::ReceiptStatus::rejected;
    reply.receipt.reason = std::string(errc_name(why));
    return reply;
  };
  auto batch = protocol::parse_batch(payload);
  if (!batch) {
    reply.receipt.batch_id = protocol::peek_batch_id(payload);
    return reject(static_cast<errc>(batch.error().value()));
  }
  reply.receipt.batch_id = batch->header.batch_id;
  if (batch->header.partner != partner || batch->header.feed != feed) return reject(errc::topic_mismatch);
  auto stored = store_.store(partner, *batch);
  if (!stored) {
    const errc e = static_cast<errc>(stored.error().value());
    if (e == errc::io_error) {
      reply.topic.clear();  // no answer: the gateway re-sends after its receipt timeout
      return reply;
    }
    return reject(e);
  }
  reply.receipt.status = *stored;
  return reply;
}

}  // namespace svd::hub
