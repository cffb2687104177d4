#include "hub/batch_handler.h"

#include <cassert>
#include <chrono>

#include "base/log_safe.h"

namespace svd::hub {
namespace {

void reject(Reply& reply, errc why) {
  reply.receipt.status = protocol::ReceiptStatus::rejected;
  reply.receipt.reason = std::string(errc_name(why));
}

}  // namespace

BatchRules BatchRules::from(const config::HubReceiverConfig& config) {
  BatchRules rules;
  for (const auto& p : config.partners) rules.feeds_of[p.id].insert(p.feeds.begin(), p.feeds.end());
  rules.max_batch_bytes = config.max_batch_bytes;
  return rules;
}

// Everything that can be checked without the store. False when `reply` is already final
// (rejected, or no partner to answer); otherwise `out` is the batch to store.
bool BatchHandler::check(const Message& message, Reply& reply, PendingBatch& out) {
  const std::string_view topic = message.topic, payload = message.payload;
  std::string partner, feed;
  if (!protocol::parse_batch_topic(topic, partner, feed)) return false;  // nobody to answer
  reply.topic = protocol::receipt_topic(partner);
  reply.partner = partner;
  reply.feed = feed;
  if (message.oversize || payload.size() > rules_.max_batch_bytes) {
    // Only the start is looked at: a header line is short, and the rest is not to be read.
    reply.receipt.batch_id = protocol::peek_batch_id(payload.substr(0, 64 << 10));
    reject(reply, errc::batch_too_large);
    return false;
  }
  auto batch = protocol::parse_batch(payload);
  if (!batch) {
    reply.receipt.batch_id = protocol::peek_batch_id(payload);
    reject(reply, static_cast<errc>(batch.error().value()));
    return false;
  }
  reply.receipt.batch_id = batch->header.batch_id;
  reply.records = batch->header.count;
  if (batch->header.partner != partner || batch->header.feed != feed) {
    reject(reply, errc::topic_mismatch);
    return false;
  }
  // The id is derived, not chosen: recomputed with the topic's partner, it cannot name another
  // partner's batch, it is always 32 hex digits in the store, and two batches with one id are
  // the same part of the same extract, so a duplicate is really one.
  const protocol::BatchHeader& h = batch->header;
  if (h.batch_id != protocol::batch_id_for(partner, feed, h.extract.sha256, h.seq)) {
    reject(reply, errc::batch_id_mismatch);
    return false;
  }
  auto allowed = rules_.feeds_of.find(partner);
  if (allowed == rules_.feeds_of.end() || !allowed->second.count(feed)) {
    reject(reply, errc::feed_not_permitted);
    reply.log = not_permitted_[{partner, feed}]++ == 0;
    return false;
  }
  out = PendingBatch{std::move(partner), std::move(*batch)};
  return true;
}

std::vector<Reply> BatchHandler::handle_group(std::span<const Message> messages) {
  std::vector<Reply> replies(messages.size());
  std::vector<PendingBatch> pending;
  std::vector<std::size_t> reply_of;  // pending[i] answers replies[reply_of[i]]
  for (std::size_t i = 0; i < messages.size(); ++i) {
    PendingBatch p;
    if (check(messages[i], replies[i], p)) {
      pending.push_back(std::move(p));
      reply_of.push_back(i);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto outcomes = store_.store_group(pending);
  last_store_ = {pending.empty() ? 0.0 : std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                 outcomes.has_value(), !pending.empty()};
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

std::string log_line(const Reply& reply, std::string_view topic) {
  std::string line = "batch " + log_safe(reply.receipt.batch_id) + " on " + log_safe(topic, kLogSafeTopicBytes) + ": " +
                     std::string(protocol::to_string(reply.receipt.status));
  if (!reply.receipt.reason.empty()) line += " (" + reply.receipt.reason + ")";
  if (reply.receipt.reason == errc_name(errc::feed_not_permitted))
    line += "; further batches of this feed from this partner are refused without a log line";
  return line;
}

Reply BatchHandler::handle(std::string_view topic, std::string_view payload) {
  const Message one{topic, payload};
  return std::move(handle_group(std::span<const Message>(&one, 1)).front());
}

}  // namespace svd::hub
