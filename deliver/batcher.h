#pragma once
// A RecordSink that cuts an extract's records into batches (bounded by records and bytes),
// wraps each in the wire envelope (protocol/envelope.h) and writes them all to the outbox in
// one transaction: an extract is in the outbox completely or not at all.
//
// The last batch carries last=true, so the batcher holds one full batch back until it knows
// whether another follows. An extract with no valid rows still yields one empty last batch,
// so the hub learns that the extract arrived and was processed.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "deliver/outbox.h"
#include "process/record_sink.h"
#include "protocol/envelope.h"

namespace svd::deliver {

struct BatchLimits {
  std::size_t max_records = 500;
  std::size_t max_bytes = 256 << 10;  // of records; one record larger than this is a batch alone
};

struct BatchContext {
  std::string partner, feed, schema;
  std::vector<std::string> key_ids;
  protocol::ExtractRef extract;
  bool nil_return = false;  // an explicit "nothing to share" return: its one empty batch says so
};

// Opens the extract in `outbox` (begin_extract); the sink commits or abandons it. `outbox` must
// outlive the sink and is used from the caller's thread only.
result<std::unique_ptr<process::RecordSink>> open_outbox_sink(BatchWriter& outbox, BatchContext context, BatchLimits limits);

}  // namespace svd::deliver
