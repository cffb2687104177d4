#include "deliver/batcher.h"

#include <optional>

namespace svd::deliver {
namespace {

class OutboxSink final : public process::RecordSink {
 public:
  OutboxSink(BatchWriter& outbox, BatchContext context, BatchLimits limits)
      : outbox_(outbox), context_(std::move(context)), limits_(limits) {}
  ~OutboxSink() override {
    if (open_) outbox_.abandon_extract();
  }

  result<void> add_lines(std::string_view lines) override {
    while (!lines.empty()) {
      const std::size_t nl = lines.find('\n');
      const std::size_t n = nl == std::string_view::npos ? lines.size() : nl + 1;
      const std::string_view record = lines.substr(0, n);
      lines.remove_prefix(n);
      if (current_records_ > 0 &&
          (current_records_ == limits_.max_records || current_.size() + record.size() > limits_.max_bytes)) {
        if (auto r = cut(); !r) return r;
      }
      current_.append(record);
      if (record.back() != '\n') current_ += '\n';
      ++current_records_;
    }
    return {};
  }

  result<void> commit() override {
    // The held-back batch and the one being filled: the later of them is the last.
    if (current_records_ > 0 || !held_) {
      if (auto r = cut(); !r) return r;
    }
    if (auto r = write(*held_, true); !r) return r;
    held_.reset();
    open_ = false;
    return outbox_.commit_extract();
  }

  void discard() override {
    if (open_) outbox_.abandon_extract();
    open_ = false;
  }

 private:
  struct Held {
    std::string records;
    std::uint64_t count = 0;
  };

  // Closes the batch being filled; the one held before it is now known not to be the last.
  result<void> cut() {
    if (held_) {
      if (auto r = write(*held_, false); !r) return r;
    }
    held_ = Held{std::move(current_), current_records_};
    current_.clear();
    current_records_ = 0;
    return {};
  }

  result<void> write(const Held& h, bool last) {
    protocol::BatchHeader header;
    header.batch_id = protocol::batch_id_for(context_.partner, context_.feed, context_.extract.sha256, seq_);
    header.partner = context_.partner;
    header.feed = context_.feed;
    header.schema = context_.schema;
    header.key_ids = context_.key_ids;
    header.extract = context_.extract;
    header.seq = seq_;
    header.last = last;
    header.nil_return = context_.nil_return;
    OutboxBatch b;
    b.batch_id = header.batch_id;
    b.feed = context_.feed;
    b.extract_id = context_.extract.id;
    b.seq = seq_;
    b.last = last;
    b.records = h.count;
    b.topic = protocol::batch_topic(context_.partner, context_.feed);
    b.payload = protocol::make_batch_payload(std::move(header), h.records);
    ++seq_;
    return outbox_.add(b);
  }

  BatchWriter& outbox_;
  BatchContext context_;
  BatchLimits limits_;
  bool open_ = true;
  std::string current_;
  std::uint64_t current_records_ = 0;
  std::optional<Held> held_;
  std::uint64_t seq_ = 0;
};

}  // namespace

result<std::unique_ptr<process::RecordSink>> open_outbox_sink(BatchWriter& outbox, BatchContext context, BatchLimits limits) {
  if (auto r = outbox.begin_extract(context.extract.id); !r) return r.error();
  return std::unique_ptr<process::RecordSink>(std::make_unique<OutboxSink>(outbox, std::move(context), limits));
}

}  // namespace svd::deliver
