#pragma once
// Turns one record into what leaves the site: validates every field against the feed schema
// (types, constraints, domains), then applies the transforms and serialises the result as one
// JSON object (the record line of records.jsonl and of batch payloads).
//
// Rejections carry (field, code) and never a value. Owned by one thread; reuses its buffers,
// so steady-state processing does not allocate per row.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "adapters/table_reader.h"
#include "base/errc.h"
#include "config/schema.h"
#include "config/temporal.h"
#include "crypto/tokeniser.h"

namespace svd::process {

// The moment not_future compares against. Feeds mostly carry local wall-clock times without an
// offset, so both readings of "now" are kept: such values compare with local_seconds.
struct Now {
  std::int64_t utc_seconds = 0;
  std::int64_t local_seconds = 0;  // local wall clock, counted as if it were UTC
  static Now system();
};

struct FieldError {
  std::size_t field = 0;  // schema field index
  errc code = errc::ok;
};

class RowProcessor {
 public:
  // `schema` and `tokeniser` must outlive the processor.
  RowProcessor(const config::Schema& schema, crypto::Tokeniser& tokeniser, Now now,
               std::size_t max_unique_values);

  // Whether the schema's svd:filter lets `rec` (which must have no reader error) through at all.
  // A row it stops is filtered: neither validated nor processed, and never leaves the site.
  bool selected(const adapters::Record& rec) const;

  // Validates `rec` (which must have no reader error). When valid, appends its JSON object
  // (no newline) to `out` and returns an empty span; otherwise returns every field error and
  // leaves `out` as it was. The span is valid until the next call.
  std::span<const FieldError> process(const adapters::Record& rec, std::string& out);

  // For the last row process() accepted: a hash of its quasi-identifiers' output values (the
  // schema's), equal for two records exactly when those values are (to 2^-64).
  std::uint64_t group() const { return group_; }

  // Count of valid rows whose field i held an NHS pseudo-postcode.
  const std::vector<std::uint64_t>& pseudo_postcodes() const { return pseudo_postcodes_; }
  // True once a unique constraint has seen more values than max_unique_values; the extract
  // must then be refused (unique_limit_exceeded) because uniqueness can no longer be checked.
  bool unique_limit_hit() const { return unique_limit_hit_; }

 private:
  struct Value {
    bool missing = true;
    // The normalised spelling: the cell itself when it needs no normalising (valid until the
    // record changes), else `buf`.
    std::string_view text;
    std::string buf;
    config::Date date;
    config::DateTime datetime;
    std::int64_t integer = 0;  // integer fields
    std::size_t outward = 0;   // postcode: length of the outward code in text
  };

  errc validate(std::size_t i, const adapters::Record& rec);
  errc check_constraints(const config::Field& f, std::string_view raw, const Value& v) const;
  bool check_unique();
  void write(std::string& out);
  void write_value(std::size_t i, std::string& out);

  const config::Schema& schema_;
  crypto::Tokeniser& tokeniser_;
  Now now_;
  std::size_t max_unique_values_;
  std::vector<Value> values_;
  std::vector<FieldError> errors_;
  std::vector<std::uint64_t> pseudo_postcodes_;
  std::vector<bool> pseudo_this_row_;
  std::vector<std::unordered_set<std::uint64_t>> unique_;  // per field; hashes of normalised text
  bool unique_limit_hit_ = false;
  bool has_unique_ = false;
  bool only_empty_is_missing_ = false;  // the common missingValues [""]: a cheap emptiness test
  std::vector<std::string> key_prefixes_;  // per field: '{' or ',' then "name": ("" when dropped)
  std::string person_prefix_;
  std::string scratch_;
  std::vector<bool> quasi_identifier_;  // per field
  std::uint64_t group_ = 0;
};

// Appends s as a JSON string literal (quotes included). s must be valid UTF-8.
void append_json_string(std::string& out, std::string_view s);

// "0-4", "5-9", …, "85-89", "90+".
std::string_view age_band(int age);

// ISO 8601 week, "2024-W09".
std::string iso_week(config::Date d);

}  // namespace svd::process
