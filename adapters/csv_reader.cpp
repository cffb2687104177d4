// RFC 4180 reader. Choices the RFC leaves open, fixed here:
//  - Line ends: LF, CRLF, and a bare CR (old Mac exports) all end a record; CRLF is one end.
//    Inside quotes CR and LF are cell content, kept verbatim.
//  - Rows: every record and every blank line advances the row counter by one, so a record
//    spanning several physical lines is one row, numbered where it starts — what a
//    spreadsheet shows. The header is row 1 unless blank lines precede it (they count too).
//  - A blank line is an empty line (nothing between two line ends). It is skipped wherever
//    it is, including before the header and at the end. A line of spaces or of delimiters
//    is a record, not a blank line.
//  - A quote in the middle of an unquoted cell is literal (a"b); text after a closing quote
//    joins the cell ("a"b reads as ab). Neither is worth refusing a partner's extract over.
//  - The UTF-8 BOM is skipped under either declared encoding: as Windows-1252 it would
//    only turn into garbage in the first header name.
//  - Limits count raw bytes: max_row_bytes covers the whole record except its line end,
//    max_field_bytes a cell after unquoting and before any transcoding. They apply to
//    every cell, mapped or not, so an ignored column cannot smuggle in unbounded data.
//  - Header cells that are blank once trimmed are unnamed columns: never matched, never
//    listed as ignored, and not duplicates of one another.
//  - When a row has several faults the first found wins, except that a wrong cell count
//    replaces invalid_utf8: when the cells are misaligned, blaming one column would mislead.

#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "adapters/detail/chunk_input.h"
#include "adapters/table_reader.h"

namespace svd::adapters {
namespace {

using detail::ChunkInput;
using detail::ascii_lower;
using detail::trim_blanks;

constexpr std::size_t npos = Record::npos;

constexpr unsigned char uc(char c) { return static_cast<unsigned char>(c); }

class CsvReader final : public TableReader {
 public:
  CsvReader(std::unique_ptr<ByteSource> src, std::vector<Column> columns, CsvOptions options)
      : in_(std::move(src)), columns_(std::move(columns)), opt_(options) {
    for (char c : {opt_.delimiter, '\r', '\n', '\0'}) unquoted_stop_[uc(c)] = true;
    for (char c : {'"', '\0'}) quoted_stop_[uc(c)] = true;
  }

  result<bool> next(Record& out) override;
  const Failure& failure() const override { return failure_; }
  std::vector<std::string> ignored_columns() const override { return ignored_; }
  std::uint64_t bytes_read() const override { return in_.bytes_read(); }

 private:
  enum class Step { record, blank, eof };
  enum class End { delimiter, line, input };

  result<void> read_header();
  result<Step> parse_record();
  errc fail(errc code, std::uint64_t row, std::string detail);
  errc io_failure();
  void fault(errc code, std::size_t column);
  std::size_t current_column() const;
  void begin_cell();
  void count(std::size_t n);
  void content(const char* p, std::size_t n);
  void syntax(std::size_t n);
  void end_cell(std::string_view text);
  void deliver(std::size_t column, std::string_view text);
  void finish_record();
  const char* scan_unquoted(const char* p, const char* e) const;

  ChunkInput in_;
  std::vector<Column> columns_;
  CsvOptions opt_;
  std::array<bool, 256> unquoted_stop_{};
  std::array<bool, 256> quoted_stop_{};

  bool started_ = false;
  bool failed_ = false;
  bool finished_ = false;
  Failure failure_;
  std::vector<std::string> header_;
  std::vector<std::size_t> map_;  // source column -> schema column, or npos when ignored
  std::vector<std::string> ignored_;
  std::uint64_t data_rows_ = 0;

  std::uint64_t next_row_ = 1;
  // A CR ended the last line; an LF right after it belongs to the same line end. Kept as
  // state because the LF may only arrive with the next read.
  bool skip_lf_ = false;

  // The record being parsed. The header goes through the same parser, with header_mode_.
  bool header_mode_ = true;
  Record* out_ = nullptr;
  std::uint64_t row_ = 0;
  std::size_t rec_bytes_ = 0;
  std::size_t fields_ = 0;
  errc row_error_ = errc::ok;
  std::size_t row_error_col_ = npos;
  // Off once the row is rejected: the rest is only parsed to find the record's end.
  bool storing_ = true;

  // The cell being parsed. Cells that sit wholly inside the read buffer are handed over
  // straight from it; cell_ only gathers cells that are quoted or cross a refill.
  std::string cell_;
  std::size_t cell_len_ = 0;
  bool accum_ = false;
  bool wanted_ = false;
  std::string scratch_;
};

errc CsvReader::fail(errc code, std::uint64_t row, std::string detail) {
  failed_ = true;
  failure_ = Failure{code, row, std::move(detail)};
  return code;
}

errc CsvReader::io_failure() {
  return fail(errc::io_error, 0, "read failed after " + std::to_string(in_.bytes_read()) + " bytes");
}

void CsvReader::fault(errc code, std::size_t column) {
  if (row_error_ == errc::ok) {
    row_error_ = code;
    row_error_col_ = column;
  }
  storing_ = false;
}

std::size_t CsvReader::current_column() const {
  if (header_mode_ || fields_ >= map_.size()) return npos;
  return map_[fields_];
}

void CsvReader::begin_cell() {
  cell_.clear();
  cell_len_ = 0;
  accum_ = false;
  wanted_ = header_mode_ || current_column() != npos;
}

void CsvReader::count(std::size_t n) {
  rec_bytes_ += n;
  cell_len_ += n;
  if (rec_bytes_ > opt_.limits.max_row_bytes) fault(errc::row_too_long, npos);
  if (cell_len_ > opt_.limits.max_field_bytes) fault(errc::field_too_long, current_column());
}

void CsvReader::content(const char* p, std::size_t n) {
  accum_ = true;
  if (n == 0) return;
  count(n);
  if (storing_ && wanted_) cell_.append(p, n);
}

void CsvReader::syntax(std::size_t n) {
  rec_bytes_ += n;
  if (rec_bytes_ > opt_.limits.max_row_bytes) fault(errc::row_too_long, npos);
}

void CsvReader::end_cell(std::string_view text) {
  const std::size_t idx = fields_++;
  if (fields_ > opt_.limits.max_fields) {
    fault(errc::too_many_fields, npos);
    return;
  }
  if (!storing_ || !wanted_) return;
  if (header_mode_) {
    if (opt_.encoding == Encoding::utf8) {
      if (!valid_utf8(text)) {
        fault(errc::invalid_utf8, npos);
        return;
      }
      header_.emplace_back(text);
    } else {
      header_.emplace_back();
      windows_1252_to_utf8(text, header_.back());
    }
    return;
  }
  deliver(map_[idx], text);
}

void CsvReader::deliver(std::size_t column, std::string_view text) {
  if (opt_.encoding == Encoding::utf8) {
    if (!valid_utf8(text)) {
      fault(errc::invalid_utf8, column);
      return;
    }
    out_->set(column, text);
  } else {
    scratch_.clear();
    windows_1252_to_utf8(text, scratch_);
    out_->set(column, scratch_);
  }
}

void CsvReader::finish_record() {
  if (header_mode_) return;
  if (fields_ != map_.size() && (row_error_ == errc::ok || row_error_ == errc::invalid_utf8)) {
    row_error_ = errc::wrong_field_count;
    row_error_col_ = npos;
  }
  out_->row = row_;
  out_->error = row_error_;
  out_->error_column = row_error_ == errc::ok ? npos : row_error_col_;
}

// High bit set in each byte of v that is zero. Borrows can only flag bytes *above* a real
// zero byte, so the lowest flag is always exact.
constexpr std::uint64_t zero_bytes(std::uint64_t v) {
  return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
}

constexpr std::uint64_t broadcast(char c) { return 0x0101010101010101ULL * uc(c); }

// The hot loop: most cells are short unquoted ASCII. Eight bytes are tested per step for the
// four bytes that end an unquoted run (delimiter, CR, LF, NUL).
const char* CsvReader::scan_unquoted(const char* p, const char* e) const {
  if constexpr (std::endian::native == std::endian::little) {
    const std::uint64_t delim = broadcast(opt_.delimiter);
    constexpr std::uint64_t cr = broadcast('\r'), lf = broadcast('\n');
    while (e - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      const std::uint64_t hit =
          zero_bytes(w) | zero_bytes(w ^ delim) | zero_bytes(w ^ cr) | zero_bytes(w ^ lf);
      if (hit != 0) return p + (std::countr_zero(hit) >> 3);
      p += 8;
    }
  }
  while (p < e && !unquoted_stop_[uc(*p)]) ++p;
  return p;
}

result<CsvReader::Step> CsvReader::parse_record() {
  auto avail = in_.fill();
  if (!avail) return io_failure();
  if (skip_lf_) {
    skip_lf_ = false;
    if (*avail && *in_.pos == '\n') {
      ++in_.pos;
      avail = in_.fill();
      if (!avail) return io_failure();
    }
  }
  if (!*avail) return Step::eof;
  if (*in_.pos == '\n' || *in_.pos == '\r') {
    skip_lf_ = *in_.pos == '\r';
    ++in_.pos;
    ++next_row_;
    return Step::blank;
  }

  row_ = next_row_++;
  rec_bytes_ = 0;
  fields_ = 0;
  row_error_ = errc::ok;
  row_error_col_ = npos;
  storing_ = true;

  for (;;) {
    begin_cell();
    avail = in_.fill();
    if (!avail) return io_failure();
    if (!*avail) {  // the input ends right after a delimiter: one last empty cell
      end_cell({});
      finish_record();
      return Step::record;
    }

    End how = End::input;
    std::string_view direct;
    bool unquoted = true;
    if (*in_.pos == '"') {
      ++in_.pos;
      syntax(1);
      accum_ = true;
      unquoted = false;
      for (;;) {
        const char* p = in_.pos;
        const char* e = in_.end;
        while (p < e && !quoted_stop_[uc(*p)]) ++p;
        content(in_.pos, static_cast<std::size_t>(p - in_.pos));
        in_.pos = p;
        if (p == e) {
          avail = in_.fill();
          if (!avail) return io_failure();
          if (!*avail) return fail(errc::unterminated_quote, row_, {});
          continue;
        }
        if (*p == '\0') return fail(errc::binary_data, row_, {});
        ++in_.pos;  // a quote: closing, or the first of a doubled pair
        syntax(1);
        avail = in_.fill();
        if (!avail) return io_failure();
        if (!*avail) break;
        const char d = *in_.pos;
        if (d == '"') {
          content(in_.pos, 1);
          ++in_.pos;
          continue;
        }
        if (d == opt_.delimiter) {
          ++in_.pos;
          syntax(1);
          how = End::delimiter;
        } else if (d == '\n' || d == '\r') {
          ++in_.pos;
          skip_lf_ = d == '\r';
          how = End::line;
        } else {
          unquoted = true;  // text after the closing quote: see the file comment
        }
        break;
      }
    }
    if (unquoted) {
      for (;;) {
        const char* p = scan_unquoted(in_.pos, in_.end);
        const auto n = static_cast<std::size_t>(p - in_.pos);
        if (p != in_.end && !accum_) {
          count(n);
          direct = std::string_view(in_.pos, n);
        } else {
          content(in_.pos, n);
        }
        in_.pos = p;
        if (p == in_.end) {
          avail = in_.fill();
          if (!avail) return io_failure();
          if (!*avail) break;
          continue;
        }
        const char c = *p;
        if (c == '\0') return fail(errc::binary_data, row_, {});
        ++in_.pos;
        if (c == opt_.delimiter) {
          syntax(1);
          how = End::delimiter;
        } else {
          skip_lf_ = c == '\r';
          how = End::line;
        }
        break;
      }
    }
    end_cell(accum_ ? std::string_view(cell_) : direct);
    if (how != End::delimiter) {
      finish_record();
      return Step::record;
    }
  }
}

result<void> CsvReader::read_header() {
  const char d = opt_.delimiter;
  if (d == '"' || d == '\r' || d == '\n' || d == '\0') {
    return fail(errc::invalid_header, 0, "the delimiter cannot be a quote, CR, LF or NUL");
  }
  if (!in_.skip_bom()) return io_failure();

  header_mode_ = true;
  for (;;) {
    auto step = parse_record();
    if (!step) return step.error();
    if (*step == Step::eof) return fail(errc::empty_file, 0, {});
    if (*step == Step::record) break;
  }
  header_mode_ = false;
  const std::uint64_t header_row = row_;

  switch (row_error_) {
    case errc::ok:
      break;
    case errc::invalid_utf8:
      return fail(errc::invalid_header, header_row, "header is not valid UTF-8");
    case errc::row_too_long:
      return fail(errc::invalid_header, header_row,
                  "header longer than " + std::to_string(opt_.limits.max_row_bytes) + " bytes");
    case errc::field_too_long:
      return fail(errc::invalid_header, header_row,
                  "header name longer than " + std::to_string(opt_.limits.max_field_bytes) +
                      " bytes");
    case errc::too_many_fields:
      return fail(errc::invalid_header, header_row,
                  "header has more than " + std::to_string(opt_.limits.max_fields) + " names");
    default:
      return fail(errc::invalid_header, header_row, {});
  }

  std::vector<std::string> schema_names;
  schema_names.reserve(columns_.size());
  for (const auto& c : columns_) schema_names.push_back(ascii_lower(trim_blanks(c.name)));
  std::vector<bool> taken(columns_.size(), false);
  std::vector<std::string> folded;
  folded.reserve(header_.size());
  map_.assign(header_.size(), npos);
  // Unnamed header cells (blank once trimmed) match nothing and are not listed; several may
  // occur, since spreadsheet exports often pad the header with empty cells.
  for (std::size_t i = 0; i < header_.size(); ++i) {
    folded.push_back(ascii_lower(trim_blanks(header_[i])));
    if (folded.back().empty()) continue;
    for (std::size_t j = 0; j < schema_names.size(); ++j) {
      if (!taken[j] && schema_names[j] == folded.back()) {
        map_[i] = j;
        taken[j] = true;
        break;
      }
    }
    if (map_[i] == npos) ignored_.emplace_back(trim_blanks(header_[i]));
  }
  // Missing columns are reported before duplicates: the detail of a missing column is a
  // schema name, whereas a duplicate's is taken from the file — and when a partner sends an
  // extract without its header row, the "header" is a row of identifiers.
  for (std::size_t j = 0; j < columns_.size(); ++j) {
    if (columns_[j].required && !taken[j]) {
      return fail(errc::missing_column, header_row, columns_[j].name);
    }
  }
  // The detail names the schema column when the duplicate is one, else only positions: a
  // header cell the schema does not know may be anything, an identifier included.
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < folded.size(); ++i) {
    if (folded[i].empty()) continue;
    auto [it, fresh] = seen.emplace(folded[i], i);
    if (fresh) continue;
    std::string detail = "columns " + std::to_string(it->second + 1) + " and " + std::to_string(i + 1);
    for (std::size_t j = 0; j < schema_names.size(); ++j)
      if (schema_names[j] == folded[i]) detail = columns_[j].name + " (" + detail + ")";
    return fail(errc::duplicate_column, header_row, std::move(detail));
  }
  header_.clear();
  header_.shrink_to_fit();
  return {};
}

result<bool> CsvReader::next(Record& out) {
  if (failed_) return failure_.code;
  if (!started_) {
    started_ = true;
    if (!read_header()) return failure_.code;
  }
  out.reset(columns_.size());
  if (finished_) return false;
  out_ = &out;
  for (;;) {
    auto step = parse_record();
    if (!step) return failure_.code;
    if (*step == Step::blank) continue;
    if (*step == Step::eof) {
      if (data_rows_ == 0) return fail(errc::no_data_rows, 0, {});
      finished_ = true;
      return false;
    }
    ++data_rows_;
    return true;
  }
}

}  // namespace

std::unique_ptr<TableReader> make_csv_reader(std::unique_ptr<ByteSource> src,
                                             std::vector<Column> columns, CsvOptions options) {
  return std::make_unique<CsvReader>(std::move(src), std::move(columns), options);
}

}  // namespace svd::adapters
