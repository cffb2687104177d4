// JSON Lines reader. Choices fixed here:
//  - Parsing uses Boost.JSON's SAX basic_parser rather than building a DOM: numbers reach us
//    with their source spelling (1.50 stays 1.50, a 30-digit identifier is not rounded
//    through a double), and nothing is allocated per line beyond the reused buffers below.
//  - Row = physical line number; blank lines (empty or only spaces/tabs, with or without CR)
//    are skipped but counted. A file with no non-blank line is empty_file, so no_data_rows
//    never arises for JSON Lines.
//  - A UTF-8 BOM at the start is skipped; a NUL byte anywhere refuses the extract
//    (binary_data), as for CSV.
//  - Only keys the schema names are checked as values: an object, array or oversized string
//    under an ignored key is ignored with it. Invalid UTF-8 anywhere, key or value, rejects
//    the row, since the line is then not JSON text at all.
//  - Key matching: an exact match beats an ASCII case-insensitive one. The same column given
//    twice at the same strength ({"a":1,"a":2}) rejects the row as invalid_json with that
//    column: picking one value silently could attach data to the wrong person.
//  - Parse errors (invalid_json, json_too_deep) outrank faults found in values, since the
//    line's structure can't be trusted. Lone \u surrogate escapes count as invalid_utf8,
//    except a high surrogate followed by no escape at all, which Boost.JSON 1.81 reports as
//    a plain syntax error (invalid_json).
//  - ignored_columns() keeps the first 100 distinct unknown keys, each cut to 256 bytes, so
//    a hostile file cannot make it grow without bound.

#include <boost/json/basic_parser_impl.hpp>

#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "adapters/detail/chunk_input.h"
#include "adapters/table_reader.h"

namespace svd::adapters {
namespace {

using detail::ChunkInput;
using detail::ascii_lower;
namespace json = boost::json;

constexpr std::size_t npos = Record::npos;
constexpr std::size_t kMaxIgnored = 100;
constexpr std::size_t kMaxIgnoredNameBytes = 256;

// The longest prefix of valid UTF-8 `s` within `n` bytes that does not split a character.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// What one line's parse produced, filled by the SAX handler and committed to the Record only
// once the whole line is known to be well-formed.
class LineState {
 public:
  LineState(const std::vector<Column>& columns, const JsonlOptions& opt) : opt_(opt) {
    for (const auto& c : columns) {
      names_.push_back(c.name);
      folded_.push_back(ascii_lower(c.name));
    }
    slots_.resize(columns.size());
  }

  void begin() {
    depth_ = 0;
    keys_ = 0;
    column_ = npos;
    column_exact_ = false;
    not_object_ = false;
    error_ = errc::ok;
    error_column_ = npos;
    values_.clear();
    reset_text();  // a failed parse can stop in the middle of a string
    for (auto& s : slots_) s = Slot{};
  }

  // --- SAX events (see boost::json::basic_parser) ----------------------------------------
  void object_begin() {
    if (depth_ == 1 && column_ != npos) fault(errc::invalid_json_value, column_);
    ++depth_;
  }
  void array_begin() {
    if (depth_ == 0) {
      not_object_ = true;
    } else if (depth_ == 1 && column_ != npos) {
      fault(errc::invalid_json_value, column_);
    }
    ++depth_;
  }
  void container_end() { --depth_; }

  void string_part(json::string_view s, std::size_t total, bool is_key) {
    if (!is_key && value_too_long(total)) return;
    if (!dropping_) text_.append(s.data(), s.size());
  }
  void key(json::string_view s) {
    const std::string_view k = finish_text(s);
    if (depth_ != 1) {
      valid_text(k, npos);
      return;
    }
    column_ = npos;
    if (++keys_ > opt_.limits.max_fields) fault(errc::too_many_fields, npos);
    if (valid_text(k, npos)) resolve(k);
  }
  void string(json::string_view s, std::size_t total) {
    if (value_too_long(total)) {
      reset_text();
      return;
    }
    const std::string_view v = finish_text(s);
    if (depth_ == 0) {
      not_object_ = true;
    } else if (valid_text(v, depth_ == 1 ? column_ : npos) && depth_ == 1) {
      scalar(v);
    }
  }
  void number_part(json::string_view s) { text_.append(s.data(), s.size()); }
  void number(json::string_view s) {
    const std::string_view v = finish_text(s);
    if (depth_ == 0) {
      not_object_ = true;
    } else if (depth_ == 1) {
      if (v.size() > opt_.limits.max_field_bytes && column_ != npos) {
        fault(errc::field_too_long, column_);
      } else {
        scalar(v);
      }
    }
  }
  void boolean(bool b) {
    if (depth_ == 0) not_object_ = true;
    else if (depth_ == 1) scalar(b ? "true" : "false");
  }
  void null() {
    if (depth_ == 0) not_object_ = true;
    else if (depth_ == 1) claim(false);
  }

  // --- after the parse -------------------------------------------------------------------
  errc error() const { return not_object_ ? errc::not_an_object : error_; }
  std::size_t error_column() const { return not_object_ ? npos : error_column_; }

  void commit(Record& out) const {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if (s.present) out.set(i, std::string_view(values_).substr(s.begin, s.end - s.begin));
    }
  }

  void fault(errc code, std::size_t column) {
    if (error_ == errc::ok) {
      error_ = code;
      error_column_ = column;
    }
  }

  const std::vector<std::string>& ignored() const { return ignored_; }

 private:
  struct Slot {
    int strength = 0;  // 0 unseen, 1 matched ignoring case, 2 matched exactly
    bool present = false;
    std::size_t begin = 0, end = 0;
  };

  // Strings and numbers may arrive in parts (escapes are decoded through a small buffer);
  // parts are gathered in text_, and the common single-part case is used in place.
  std::string_view finish_text(json::string_view last) {
    if (dropping_) {
      reset_text();
      return {};
    }
    if (text_.empty()) return std::string_view(last.data(), last.size());
    text_.append(last.data(), last.size());
    last_.swap(text_);
    reset_text();
    return last_;
  }
  void reset_text() {
    text_.clear();
    dropping_ = false;
  }

  bool value_too_long(std::size_t total) {
    if (total <= opt_.limits.max_field_bytes || depth_ != 1 || column_ == npos) return false;
    fault(errc::field_too_long, column_);
    text_.clear();
    dropping_ = true;
    return true;
  }

  bool valid_text(std::string_view s, std::size_t column) {
    // Windows-1252 lines were transcoded before parsing, so only declared UTF-8 needs this.
    if (opt_.encoding != Encoding::utf8 || valid_utf8(s)) return true;
    fault(errc::invalid_utf8, column);
    return false;
  }

  void resolve(std::string_view k) {
    column_ = npos;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == k) {
        column_ = i;
        column_exact_ = true;
        return;
      }
    }
    for (std::size_t i = 0; i < folded_.size(); ++i) {
      if (detail::iequals_ascii(folded_[i], k)) {
        column_ = i;
        column_exact_ = false;
        return;
      }
    }
    if (ignored_.size() >= kMaxIgnored) return;
    const std::string_view name = utf8_prefix(k, kMaxIgnoredNameBytes);
    if (!ignored_set_.contains(name)) {
      ignored_set_.emplace(name);
      ignored_.emplace_back(name);
    }
  }

  // Records that the current key's column was given; returns whether its value should be
  // stored (an exact key beats a case-insensitive one, whichever comes first).
  bool claim(bool present) {
    if (column_ == npos) return false;
    Slot& s = slots_[column_];
    const int strength = column_exact_ ? 2 : 1;
    if (s.strength == strength) {
      fault(errc::invalid_json, column_);
      return false;
    }
    if (s.strength > strength) return false;
    s.strength = strength;
    s.present = present;
    return present;
  }

  void scalar(std::string_view v) {
    if (!claim(true)) return;
    Slot& s = slots_[column_];
    s.begin = values_.size();
    values_.append(v);
    s.end = values_.size();
  }

  const JsonlOptions& opt_;
  std::vector<std::string> names_, folded_;
  std::vector<std::string> ignored_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> ignored_set_;
  std::vector<Slot> slots_;
  std::string values_;
  std::string text_, last_;
  bool dropping_ = false;

  std::size_t depth_ = 0;
  std::size_t keys_ = 0;
  std::size_t column_ = npos;  // schema column of the current top-level key
  bool column_exact_ = false;
  bool not_object_ = false;
  errc error_ = errc::ok;
  std::size_t error_column_ = npos;
};

struct Handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit Handler(LineState* s) : st_(s) {}
  LineState* st_;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { st_->array_begin(); return true; }
  bool on_array_end(std::size_t, json::error_code&) { st_->container_end(); return true; }
  bool on_object_begin(json::error_code&) { st_->object_begin(); return true; }
  bool on_object_end(std::size_t, json::error_code&) { st_->container_end(); return true; }
  bool on_string_part(json::string_view s, std::size_t n, json::error_code&) {
    st_->string_part(s, n, false);
    return true;
  }
  bool on_string(json::string_view s, std::size_t n, json::error_code&) {
    st_->string(s, n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code&) {
    st_->string_part(s, n, true);
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, json::error_code&) {
    (void)n;
    st_->key(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    st_->number_part(s);
    return true;
  }
  bool on_int64(std::int64_t, json::string_view s, json::error_code&) {
    st_->number(s);
    return true;
  }
  bool on_uint64(std::uint64_t, json::string_view s, json::error_code&) {
    st_->number(s);
    return true;
  }
  bool on_double(double, json::string_view s, json::error_code&) {
    st_->number(s);
    return true;
  }
  bool on_bool(bool b, json::error_code&) { st_->boolean(b); return true; }
  bool on_null(json::error_code&) { st_->null(); return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

json::parse_options parser_options(const Limits& limits) {
  json::parse_options o;
  o.max_depth = limits.max_json_depth;
  // We check UTF-8 ourselves so a bad value can be blamed on its column.
  o.allow_invalid_utf8 = true;
  return o;
}

class JsonlReader final : public TableReader {
 public:
  JsonlReader(std::unique_ptr<ByteSource> src, std::vector<Column> columns, JsonlOptions options)
      : in_(std::move(src)),
        ncolumns_(columns.size()),
        opt_(options),
        state_(columns, opt_),
        parser_(parser_options(opt_.limits), &state_) {}

  result<bool> next(Record& out) override;
  const Failure& failure() const override { return failure_; }
  std::vector<std::string> ignored_columns() const override { return state_.ignored(); }
  std::uint64_t bytes_read() const override { return in_.bytes_read(); }

 private:
  enum class Line { text, too_long, eof };

  result<Line> read_line();
  void parse_line(std::string_view line, Record& out);
  errc fail(errc code, std::uint64_t row, std::string detail);
  errc io_failure();

  ChunkInput in_;
  std::size_t ncolumns_;
  JsonlOptions opt_;
  LineState state_;
  json::basic_parser<Handler> parser_;

  bool started_ = false;
  bool failed_ = false;
  bool finished_ = false;
  Failure failure_;
  std::uint64_t next_row_ = 1;
  std::uint64_t row_ = 0;
  std::uint64_t nonblank_lines_ = 0;

  // A line wholly inside the read buffer is parsed in place; line_ only gathers lines that
  // cross a refill. utf8_ holds a Windows-1252 line after transcoding.
  std::string line_;
  std::string_view view_;
  std::string utf8_;
};

errc JsonlReader::fail(errc code, std::uint64_t row, std::string detail) {
  failed_ = true;
  failure_ = Failure{code, row, std::move(detail)};
  return code;
}

errc JsonlReader::io_failure() {
  return fail(errc::io_error, 0, "read failed after " + std::to_string(in_.bytes_read()) + " bytes");
}

// Finds the next line, never holding more than max_row_bytes of it: a longer line is skipped
// to its newline and reported as too_long.
result<JsonlReader::Line> JsonlReader::read_line() {
  auto avail = in_.fill();
  if (!avail) return io_failure();
  if (!*avail) return Line::eof;
  row_ = next_row_++;
  line_.clear();
  view_ = {};
  bool gathered = false;
  bool too_long = false;
  std::size_t len = 0;
  for (;;) {
    const auto room = static_cast<std::size_t>(in_.end - in_.pos);
    const auto* nl = static_cast<const char*>(std::memchr(in_.pos, '\n', room));
    const auto n = nl ? static_cast<std::size_t>(nl - in_.pos) : room;
    if (std::memchr(in_.pos, '\0', n) != nullptr) return fail(errc::binary_data, row_, {});
    len += n;
    // One byte of slack for the CR of a CRLF, which is not part of the row.
    if (len > opt_.limits.max_row_bytes + 1) {
      too_long = true;
      line_.clear();
    } else if (nl && !gathered) {
      view_ = std::string_view(in_.pos, n);
    } else {
      line_.append(in_.pos, n);
      gathered = true;
    }
    in_.pos += n;
    if (nl) {
      ++in_.pos;
      break;
    }
    avail = in_.fill();
    if (!avail) return io_failure();
    if (!*avail) break;
  }
  if (too_long) return Line::too_long;
  if (gathered) view_ = line_;
  if (!view_.empty() && view_.back() == '\r') view_.remove_suffix(1);
  if (view_.size() > opt_.limits.max_row_bytes) return Line::too_long;
  return Line::text;
}

void JsonlReader::parse_line(std::string_view line, Record& out) {
  if (opt_.encoding == Encoding::windows_1252) {
    utf8_.clear();
    windows_1252_to_utf8(line, utf8_);
    line = utf8_;
  }
  state_.begin();
  parser_.reset();
  json::error_code ec;
  const std::size_t used = parser_.write_some(false, line.data(), line.size(), ec);
  out.row = row_;
  if (!ec && used != line.size()) ec = json::error::extra_data;
  if (ec) {
    if (ec == json::error::too_deep) {
      out.error = errc::json_too_deep;
    } else if (ec == json::error::illegal_leading_surrogate ||
               ec == json::error::illegal_trailing_surrogate) {
      out.error = errc::invalid_utf8;
    } else {
      out.error = errc::invalid_json;
    }
    out.error_column = npos;
    return;
  }
  out.error = state_.error();
  out.error_column = state_.error_column();
  if (out.error == errc::ok) state_.commit(out);
}

result<bool> JsonlReader::next(Record& out) {
  if (failed_) return failure_.code;
  if (!started_) {
    started_ = true;
    if (!in_.skip_bom()) return io_failure();
  }
  out.reset(ncolumns_);
  if (finished_) return false;
  for (;;) {
    auto line = read_line();
    if (!line) return failure_.code;
    switch (*line) {
      case Line::eof:
        if (nonblank_lines_ == 0) return fail(errc::empty_file, 0, {});
        finished_ = true;
        return false;
      case Line::too_long:
        ++nonblank_lines_;
        out.row = row_;
        out.error = errc::row_too_long;
        return true;
      case Line::text:
        if (is_blank(view_)) continue;
        ++nonblank_lines_;
        parse_line(view_, out);
        return true;
    }
  }
}

}  // namespace

std::unique_ptr<TableReader> make_jsonl_reader(std::unique_ptr<ByteSource> src,
                                               std::vector<Column> columns,
                                               JsonlOptions options) {
  return std::make_unique<JsonlReader>(std::move(src), std::move(columns), options);
}

}  // namespace svd::adapters
