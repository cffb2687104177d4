#include "hub/intake.h"

#include <algorithm>
#include <utility>

namespace svd::hub {
namespace {
constexpr std::size_t kHeadBytes = 64 << 10;  // enough for any batch header line
}  // namespace

bool Intake::put(mqtt::const_message_ptr message) {
  Received r;
  const std::size_t size = message->get_payload().size();
  if (size > max_batch_) {
    // Kept: the topic and the start, so the gateway gets an answer; the rest is freed when the
    // callback returns.
    r.topic = message->get_topic();
    r.head = message->get_payload().substr(0, kHeadBytes);
    r.bytes = r.head.size();
  } else {
    r.bytes = size;
    r.message = std::move(message);
  }
  std::unique_lock lock(mutex_);
  ++waiting_;
  room_.wait(lock, [&] {
    return stopped_ || paho_calls_ > 0 || pending_ == 0 || pending_ + r.bytes <= max_pending_;
  });
  if (--waiting_ == 0) idle_.notify_all();
  if (stopped_) return false;
  pending_ += r.bytes;
  peak_ = std::max(peak_, pending_);
  queue_.push_back(std::move(r));
  ready_.notify_one();
  return true;
}

void Intake::connection_lost() {
  Received r;
  r.lost = true;
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(r));
  ready_.notify_one();
}

std::vector<Received> Intake::take(std::chrono::milliseconds wait, std::size_t max_messages, std::size_t max_bytes) {
  std::vector<Received> group;
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, wait, [&] { return stopped_ || !queue_.empty(); });
  std::size_t bytes = 0;
  while (!queue_.empty() && group.size() < max_messages && bytes < max_bytes) {
    bytes += queue_.front().bytes;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
    if (group.back().lost) break;
  }
  return group;
}

void Intake::release(const std::vector<Received>& group) {
  std::size_t bytes = 0;
  for (const auto& r : group) bytes += r.bytes;
  std::lock_guard lock(mutex_);
  pending_ -= std::min(bytes, pending_);
  room_.notify_all();
}

Intake::PahoCall::PahoCall(Intake& i) : intake(i) {
  std::unique_lock lock(intake.mutex_);
  ++intake.paho_calls_;
  intake.room_.notify_all();
  intake.idle_.wait(lock, [&] { return intake.waiting_ == 0; });
}

Intake::PahoCall::~PahoCall() {
  std::lock_guard lock(intake.mutex_);
  --intake.paho_calls_;
}

void Intake::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  room_.notify_all();
  ready_.notify_all();
}

std::size_t Intake::pending_bytes() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

std::size_t Intake::waiting_puts() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

std::size_t Intake::peak_bytes() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

}  // namespace svd::hub
