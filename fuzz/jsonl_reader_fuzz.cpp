// The JSON Lines reader (adapters/table_reader.h) on whatever bytes an export job might send.
// Each input is read twice: as UTF-8 from one memory read, and as Windows-1252 handed out a few
// bytes at a time, so lines, escapes and multi-byte characters fall across the reader's refills.
// The limits are tiny (a 256-byte line, depth 4) so that an input of a few KiB reaches the
// too-long, too-deep and too-many-keys paths and the resynchronisation after them. Besides the
// sanitizers, it checks what the reader promises: every cell of an accepted row is valid UTF-8
// within the field limit, and row numbers only go up.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "adapters/byte_source.h"
#include "adapters/encoding.h"
#include "adapters/table_reader.h"

namespace {

using namespace svd::adapters;

// Sizes with no common factor with each other or the reader's buffer, so that boundaries land
// everywhere in a line over a few inputs.
class ChunkedSource final : public ByteSource {
 public:
  explicit ChunkedSource(std::string_view data) : data_(data) {}
  svd::result<std::size_t> read(std::span<char> buf) override {
    static constexpr std::size_t kSizes[] = {1, 7, 2, 13, 3, 5};
    const std::size_t n = std::min({kSizes[calls_++ % std::size(kSizes)], buf.size(), data_.size() - pos_});
    std::copy_n(data_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0, calls_ = 0;
};

std::vector<Column> columns() {
  // The death-reports feed's identifiers and the tests' names, so seeds from either match.
  return {{"nhs_number", true}, {"surname", false},  {"forename", false}, {"family_name", false},
          {"given_name", false}, {"date_of_birth", false}, {"postcode", false}, {"notes", false}};
}

void read_all(std::unique_ptr<ByteSource> src, Encoding encoding) {
  JsonlOptions opt;
  opt.encoding = encoding;
  opt.limits.max_row_bytes = 256;
  opt.limits.max_field_bytes = 48;
  opt.limits.max_fields = 12;
  opt.limits.max_json_depth = 4;
  const auto reader = make_jsonl_reader(std::move(src), columns(), opt);
  // The limit applies before transcoding, and a Windows-1252 byte becomes up to three in UTF-8.
  const std::size_t max_cell = (encoding == Encoding::utf8 ? 1 : 3) * opt.limits.max_field_bytes;
  Record rec;
  std::uint64_t last_row = 0;
  for (;;) {
    const auto got = reader->next(rec);
    if (!got || !*got) break;
    if (rec.size() != columns().size() || rec.row <= last_row) std::abort();
    last_row = rec.row;
    if (rec.error != svd::errc::ok) continue;
    for (std::size_t i = 0; i < rec.size(); ++i)
      if (!valid_utf8(rec.cell(i)) || rec.cell(i).size() > max_cell) std::abort();
  }
  (void)reader->ignored_columns();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  read_all(memory_source(input), Encoding::utf8);
  read_all(std::make_unique<ChunkedSource>(input), Encoding::windows_1252);
  return 0;
}
