#pragma once
// What the CSV and JSON Lines targets share: each input read twice, as UTF-8 from one memory read
// and as Windows-1252 handed out a few bytes at a time (so quotes, line ends, escapes and
// multi-byte characters fall across the reader's refills), with tiny limits so that an input of
// a few KiB reaches every over-the-limit path and the resynchronisation after it. Besides the
// sanitizers, it checks what the readers promise: every cell of an accepted row is valid UTF-8
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

namespace svd::fuzz {

// Sizes with no common factor with each other or the reader's buffer, so that boundaries land
// everywhere in a record over a few inputs.
class ChunkedSource final : public adapters::ByteSource {
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

inline std::vector<adapters::Column> reader_columns() {
  // The death-reports feed's identifiers and the tests' names, so seeds from either match.
  return {{"nhs_number", true}, {"surname", false},  {"forename", false}, {"family_name", false},
          {"given_name", false}, {"date_of_birth", false}, {"postcode", false}, {"notes", false}};
}

inline constexpr std::size_t kFieldLimit = 48;

// The limits every reader gets: a 256-byte row, 48-byte fields, 12 of them.
template <class Options>
Options tight_options(adapters::Encoding encoding) {
  Options opt;
  opt.encoding = encoding;
  opt.limits.max_row_bytes = 256;
  opt.limits.max_field_bytes = kFieldLimit;
  opt.limits.max_fields = 12;
  return opt;
}

// Reads everything `make` (source, encoding) -> reader gives, checking each record.
template <class Make>
void read_all(std::unique_ptr<adapters::ByteSource> src, adapters::Encoding encoding, Make make) {
  const auto reader = make(std::move(src), encoding);
  // The limit applies before transcoding, and a Windows-1252 byte becomes up to three in UTF-8.
  const std::size_t max_cell = (encoding == adapters::Encoding::utf8 ? 1 : 3) * kFieldLimit;
  adapters::Record rec;
  std::uint64_t last_row = 0;
  for (;;) {
    const auto got = reader->next(rec);
    if (!got || !*got) break;
    if (rec.size() != reader_columns().size() || rec.row <= last_row) std::abort();
    last_row = rec.row;
    if (rec.error != svd::errc::ok) continue;
    for (std::size_t i = 0; i < rec.size(); ++i)
      if (!adapters::valid_utf8(rec.cell(i)) || rec.cell(i).size() > max_cell) std::abort();
  }
  (void)reader->ignored_columns();
}

// One input, both ways.
template <class Make>
void read_both_ways(const std::uint8_t* data, std::size_t size, Make make) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  read_all(adapters::memory_source(input), adapters::Encoding::utf8, make);
  read_all(std::make_unique<ChunkedSource>(input), adapters::Encoding::windows_1252, make);
}

}  // namespace svd::fuzz
