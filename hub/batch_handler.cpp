#include "hub/batch_handler.h"

#include <cassert>
#include <optional>

namespace svd::hub {
namespace {

void reject(Reply& reply, errc why) {
  reply.receipt.status = protocol::ReceiptStatus::rejected;
  reply.receipt.reason = std::string(errc_name(why));
}

// Everything that can be checked without the store. Returns the batch to store, or nullopt when
// `reply` is already final (rejected, or no partner to answer).
std::optional<PendingBatch> check(const Message& message, Reply& reply) {
  std::string partner, feed;
  if (!protocol::parse_batch_topic(message.topic, partner, feed)) return std::nullopt;  // nobody to answer
  reply.topic = protocol::receipt_topic(partner);
  auto batch = protocol::parse_batch(message.payload);
  if (!batch) {
    reply.receipt.batch_id = protocol::peek_batch_id(message.payload);
    reject(reply, static_cast<errc>(batch.error().value()));
    return std::nullopt;
  }
  reply.receipt.batch_id = batch->header.batch_id;
  if (batch->header.partner != partner || batch->header.feed != feed) {
    reject(reply, errc::topic_mismatch);
    return std::nullopt;
  }
  return PendingBatch{std::move(partner), std::move(*batch)};
}

}  // namespace

std::vector<Reply> BatchHandler::handle_group(std::span<const Message> messages) {
  std::vector<Reply> replies(messages.size());
  std::vector<PendingBatch> pending;
  std::vector<std::size_t> reply_of;  // pending[i] answers replies[reply_of[i]]
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (auto p = check(messages[i], replies[i])) {
      pending.push_back(std::move(*p));
      reply_of.push_back(i);
    }
  }
  auto outcomes = store_.store_group(pending);
  if (!outcomes) {
    for (Reply& r : replies) r.topic.clear();
    return replies;
  }
  assert(outcomes->size() == pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Reply& r = replies[reply_of[i]];
    const BatchOutcome& outcome = (*outcomes)[i];
    if (outcome) r.receipt.status = *outcome;
    else reject(r, static_cast<errc>(outcome.error().value()));
  }
  return replies;
}

Reply BatchHandler::handle(std::string_view topic, std::string_view payload) {
  const Message one{topic, payload};
  return std::move(handle_group(std::span<const Message>(&one, 1)).front());
}

}  // namespace svd::hub
