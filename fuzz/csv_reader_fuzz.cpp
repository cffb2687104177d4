// The CSV reader (adapters/table_reader.h) on whatever bytes an export job might send, both ways
// and with the checks of table_reader_fuzz.h.

#include "fuzz/table_reader_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace svd::adapters;
  svd::fuzz::read_both_ways(data, size, [](std::unique_ptr<ByteSource> src, Encoding encoding) {
    return make_csv_reader(std::move(src), svd::fuzz::reader_columns(), svd::fuzz::tight_options<CsvOptions>(encoding));
  });
  return 0;
}
