#pragma once
// Where pseudonymised records go. `svdgw process` writes a JSON Lines file; the outbox's sink
// (deliver/batcher.h) cuts them into batches. A seam for tests too.
// Thread-safety: none; the pipeline's calling thread writes to it, in file order.

#include <filesystem>
#include <memory>
#include <string_view>

#include "base/errc.h"

namespace svd::process {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // One or more records, each a JSON object followed by '\n' (the NDJSON the pipeline
  // produces in chunks; taking a block spares a copy per record).
  virtual result<void> add_lines(std::string_view lines) = 0;
  // Everything added is durable and visible (called once, after the last add).
  virtual result<void> commit() = 0;
  // Nothing added may leave the site (the extract was refused or failed).
  virtual void discard() = 0;
};

// Writes `<path>.part` (mode 0600), then fsyncs and renames it to `path` on commit, so a
// reader never sees a half-written file under the final name.
result<std::unique_ptr<RecordSink>> open_jsonl_file_sink(const std::filesystem::path& path);

}  // namespace svd::process
