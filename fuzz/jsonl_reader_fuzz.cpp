// The JSON Lines reader (adapters/table_reader.h) on whatever bytes an export job might send, both
// ways and with the checks of table_reader_fuzz.h; depth 4 as well, so that a few KiB reach the
// too-deep and too-many-keys paths too.

#include "fuzz/table_reader_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace svd::adapters;
  svd::fuzz::read_both_ways(data, size, [](std::unique_ptr<ByteSource> src, Encoding encoding) {
    auto opt = svd::fuzz::tight_options<JsonlOptions>(encoding);
    opt.limits.max_json_depth = 4;
    return make_jsonl_reader(std::move(src), svd::fuzz::reader_columns(), opt);
  });
  return 0;
}
