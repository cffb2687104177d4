#pragma once
// Shared helpers for the adapter tests: sources that split input awkwardly or fail on
// demand, and a drain() that turns a reader's whole output into comparable values.
// All data in these tests is synthetic (NHS numbers from the 999 test range).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "adapters/byte_source.h"
#include "adapters/table_reader.h"
#include "base/errc.h"

namespace svd {
inline void PrintTo(errc e, std::ostream* os) { *os << errc_name(e); }
}  // namespace svd

namespace svd::adapters::test {

// Hands out the input in chunks whose sizes come from `next_size` (clamped to [1, remaining]),
// and can fail with io_error on the read with index `fail_at` (0-based).
class ScriptedSource final : public ByteSource {
 public:
  ScriptedSource(std::string data, std::function<std::size_t()> next_size,
                 std::optional<std::size_t> fail_at = std::nullopt)
      : data_(std::move(data)), next_size_(std::move(next_size)), fail_at_(fail_at) {}

  result<std::size_t> read(std::span<char> buf) override {
    const std::size_t call = calls_++;
    if (fail_at_ && call >= *fail_at_) return errc::io_error;
    std::size_t n = std::min({std::max<std::size_t>(next_size_(), 1), buf.size(),
                              data_.size() - pos_});
    std::copy_n(data_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }

  std::size_t calls() const { return calls_; }

 private:
  std::string data_;
  std::function<std::size_t()> next_size_;
  std::optional<std::size_t> fail_at_;
  std::size_t pos_ = 0;
  std::size_t calls_ = 0;
};

inline std::unique_ptr<ByteSource> bytewise(std::string data) {
  return std::make_unique<ScriptedSource>(std::move(data), [] { return std::size_t{1}; });
}

inline std::unique_ptr<ByteSource> random_chunks(std::string data, std::uint32_t seed,
                                                 std::size_t max_chunk = 97) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return std::make_unique<ScriptedSource>(std::move(data), [rng, max_chunk] {
    return std::uniform_int_distribution<std::size_t>(1, max_chunk)(*rng);
  });
}

inline std::unique_ptr<ByteSource> whole(std::string data) {
  return std::make_unique<ScriptedSource>(std::move(data), [] { return std::size_t(-1); });
}

struct Row {
  std::uint64_t row = 0;
  errc error = errc::ok;
  std::size_t error_column = Record::npos;
  std::vector<std::optional<std::string>> cells;  // only filled for rows without error

  bool operator==(const Row&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Row& r) {
    os << "{row " << r.row << ", " << errc_name(r.error);
    if (r.error_column != Record::npos) os << " @" << r.error_column;
    for (const auto& c : r.cells) os << ", " << (c ? "\"" + *c + "\"" : std::string("<absent>"));
    return os << "}";
  }
};

inline Row ok_row(std::uint64_t row, std::vector<std::optional<std::string>> cells) {
  return Row{row, errc::ok, Record::npos, std::move(cells)};
}
inline Row bad_row(std::uint64_t row, errc e, std::size_t column = Record::npos) {
  return Row{row, e, column, {}};
}

struct Outcome {
  std::vector<Row> rows;
  errc end = errc::ok;  // the extract-level error next() returned, or ok after a clean end
  Failure failure;
  std::vector<std::string> ignored;
  std::uint64_t bytes_read = 0;
};

inline errc to_errc(const boost::system::error_code& ec) {
  if (ec.category() != svd_category()) return errc::crypto_failure;  // never expected
  return static_cast<errc>(ec.value());
}

// Reads everything; checks on the way that the reader's contract holds (errors are sticky,
// a finished reader stays finished, every row-level code is a row-level one).
inline Outcome drain(TableReader& reader) {
  Outcome out;
  Record rec;
  for (;;) {
    auto got = reader.next(rec);
    if (!got) {
      out.end = to_errc(got.error());
      out.failure = reader.failure();
      auto again = reader.next(rec);
      if (again || to_errc(again.error()) != out.end) out.end = errc::crypto_failure;
      break;
    }
    if (!*got) {
      auto again = reader.next(rec);
      if (!again || *again) out.end = errc::crypto_failure;
      break;
    }
    Row r{rec.row, rec.error, rec.error_column, {}};
    if (rec.error == errc::ok) {
      if (rec.error_column != Record::npos) r.error_column = 0;  // flags a broken contract
      for (std::size_t i = 0; i < rec.size(); ++i) {
        r.cells.push_back(rec.present(i) ? std::optional<std::string>(std::string(rec.cell(i)))
                                         : std::nullopt);
      }
    } else if (!is_row_error(rec.error)) {
      r.error = errc::crypto_failure;
    }
    out.rows.push_back(std::move(r));
  }
  out.ignored = reader.ignored_columns();
  out.bytes_read = reader.bytes_read();
  return out;
}

inline std::vector<Column> cols(std::initializer_list<const char*> names, bool required = false) {
  std::vector<Column> v;
  for (const char* n : names) v.push_back(Column{n, required});
  return v;
}

// Reads `data` three ways — one read, one byte per read, random chunk sizes — through
// `read(source)`, expects the outcomes to agree exactly (chunk boundaries are where streaming
// parsers break), and returns the one-read outcome.
template <class Read>
Outcome agree_across_chunkings(const std::string& data, Read read, std::uint32_t seed) {
  Outcome a = read(whole(data));
  Outcome b = read(bytewise(data));
  Outcome r = read(random_chunks(data, seed));
  for (const Outcome* other : {&b, &r}) {
    EXPECT_EQ(other->rows, a.rows);
    EXPECT_EQ(other->end, a.end);
    EXPECT_EQ(other->failure.code, a.failure.code);
    EXPECT_EQ(other->failure.row, a.failure.row);
    EXPECT_EQ(other->failure.detail, a.failure.detail);
    EXPECT_EQ(other->ignored, a.ignored);
    // After an early stop, how far the reader got depends on the chunking.
    if (a.end == errc::ok) {
      EXPECT_EQ(other->bytes_read, data.size());
    }
  }
  return a;
}

}  // namespace svd::adapters::test
