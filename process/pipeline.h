#pragma once
// The extract pipeline: read → validate → pseudonymise → records into a sink, with the
// validation report. `svdgw process` runs it into a file; `svdgw forward` and the daemon run it
// into the outbox (deliver/batcher.h). Streaming: memory is bounded by the configured limits and the chunk pool, not by the
// extract's size.
//
// Threads: the calling thread reads and parses the extract into chunks of records; a pool of
// `workers - 1` threads (each with its own RowProcessor and Tokeniser) validates and
// pseudonymises them, and the calling thread does the same while it waits for the oldest chunk;
// the calling thread hands the results to the sink in file order. Output is therefore
// byte-identical whatever the number of workers. A schema with a `unique` constraint is
// processed on the calling thread alone, because uniqueness needs every earlier row.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include "base/errc.h"
#include "config/gateway_config.h"
#include "crypto/key_ring.h"
#include "process/extract_report.h"
#include "process/record_sink.h"
#include "process/row_processor.h"

namespace svd::process {

struct ExtractJob {
  const config::GatewayConfig* config = nullptr;
  const config::FeedConfig* feed = nullptr;
  std::filesystem::path input;
  Now now;
  // Called from the calling thread every few thousand rows, and once at the end.
  std::function<void(std::uint64_t bytes_read, std::uint64_t rows)> progress;
  // Threads working on the extract, the calling thread included (at most 64); 0 means one per
  // core, up to 4.
  unsigned workers = 0;
  // The instant (Unix seconds, UTC) whose linkage keys tokenise the extract: the daemon passes
  // the extract's received time, so processing it again gives the same records. Absent: now.
  std::optional<std::int64_t> keys_at;
};

// Runs the job with the keys of `keys` in force at job.keys_at (both tokens in every token field
// during an overlap; the report lists the key ids). Returns the report — with refused = true
// when the extract as a whole is refused (the sink is then discarded) — or an error (io_error)
// when the input cannot be read or the sink cannot be written, in which case nothing was
// committed either.
result<ExtractReport> run_pipeline(const ExtractJob& job, const crypto::KeyRing& keys, RecordSink& sink);

// The instant run_pipeline picks the job's keys at.
std::int64_t keys_instant(const ExtractJob& job);

}  // namespace svd::process
