#pragma once
// Streaming readers that turn an extract into records whose cells are in *schema order*: CSV by
// header name (case-insensitive, surrounding spaces ignored), JSON Lines by object key (exact
// match first, then case-insensitive). Source columns the schema does not name are skipped and
// listed by ignored_columns(). Memory is bounded by Limits whatever the file size: one record
// and one read buffer; a cell or row over a limit rejects that row and the reader resynchronises
// at the next record without buffering the excess.
//
// Errors: row-level, Record::error is set (an is_row_error() code), the caller rejects the row and
// goes on (cells are then unspecified); extract-level, next() returns the error (empty_file,
// no_data_rows, missing_column, duplicate_column, unterminated_quote, binary_data, invalid_header,
// io_error), failure() says where, and the reader must not be used again.
//
// Thread-safety: none; one reader belongs to one thread. Never put a cell's content in an error
// message: cells can hold identifiers.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/byte_source.h"
#include "adapters/encoding.h"
#include "base/errc.h"

namespace svd::adapters {

struct Limits {
  std::size_t max_row_bytes = 1 << 20;    // one CSV record (may span lines) or one JSON line
  std::size_t max_field_bytes = 64 << 10; // one cell, after unquoting
  std::size_t max_fields = 1024;          // cells in one CSV record / keys in one JSON object
  std::size_t max_json_depth = 32;
};

struct Column {
  std::string name;
  bool required = false;  // CSV: the header must contain it, else missing_column
};

// One record. Reused across next() calls so that steady-state reading allocates nothing.
class Record {
 public:
  // 1-based row number as a person counts it in the file: for CSV the header is row 1 and
  // the first data record row 2 (a record spanning lines counts once, numbered where it
  // starts — the same number a spreadsheet shows); for JSON Lines it is the line number.
  std::uint64_t row = 0;
  // ok, or a row-level code; error_column names the schema column at fault, or npos for
  // the row as a whole.
  errc error = errc::ok;
  std::size_t error_column = npos;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  std::size_t size() const { return present_.size(); }
  // False when the source had no such column/key, or a JSON null.
  bool present(std::size_t i) const { return present_[i]; }
  // The cell's UTF-8 text (empty when absent). Valid until the next call to next().
  std::string_view cell(std::size_t i) const {
    return std::string_view(text_).substr(begin_[i], end_[i] - begin_[i]);
  }

  // For readers: start a record of n schema columns, all absent.
  void reset(std::size_t n);
  // For readers: set column i to `value` (copied into the record's own buffer).
  void set(std::size_t i, std::string_view value);

 private:
  std::string text_;
  std::vector<std::size_t> begin_, end_;
  std::vector<bool> present_;
};

struct Failure {
  errc code = errc::ok;
  std::uint64_t row = 0;     // where it was found (0 when not tied to a row)
  std::string detail;        // safe to log: a column name or a byte count, never cell content
};

class TableReader {
 public:
  virtual ~TableReader() = default;
  // Reads the next data record into `out`: true when one was read, false at the end.
  virtual result<bool> next(Record& out) = 0;
  // Details of the extract-level error next() returned.
  virtual const Failure& failure() const = 0;
  // Source columns the schema does not name (CSV header cells; JSON keys seen so far).
  virtual std::vector<std::string> ignored_columns() const = 0;
  // Bytes consumed from the source so far (for progress reporting).
  virtual std::uint64_t bytes_read() const = 0;
};

struct CsvOptions {
  char delimiter = ',';
  Encoding encoding = Encoding::utf8;
  Limits limits;
};

// RFC 4180 CSV: quoted cells may hold delimiters, doubled quotes and newlines; CRLF or LF line
// ends; a UTF-8 BOM is skipped; trailing blank lines are ignored. The first record is the header.
std::unique_ptr<TableReader> make_csv_reader(std::unique_ptr<ByteSource> src,
                                             std::vector<Column> columns, CsvOptions options);

struct JsonlOptions {
  Encoding encoding = Encoding::utf8;
  Limits limits;
};

// JSON Lines: one JSON object per line; blank lines are skipped (they still count in row
// numbers). Scalars become cell text: strings as they are, numbers in their source spelling,
// booleans "true"/"false"; null is absent.
std::unique_ptr<TableReader> make_jsonl_reader(std::unique_ptr<ByteSource> src,
                                               std::vector<Column> columns, JsonlOptions options);

}  // namespace svd::adapters
