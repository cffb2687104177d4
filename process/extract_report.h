#pragma once
// The validation report of one extract: what a partner's data team reads to fix their export.
// It names rows, fields and codes, never a value.
// A plain value, built by the pipeline's calling thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/errc.h"

namespace svd::process {

struct Rejection {
  std::uint64_t row = 0;
  std::string field;  // schema field name, or "" for the row as a whole
  errc code = errc::ok;
};

// min_group's count: output records whose quasi-identifier values fewer than min_group records of
// the extract share. Counts only: which records they are is never said.
struct SmallGroupsReport {
  std::uint64_t min_group = 0;
  std::vector<std::string> quasi_identifiers;  // output names
  bool counted = true;  // false when there were more groups than the limits allow counting
  std::uint64_t groups = 0, groups_below = 0, records_below = 0;
};

struct ExtractReport {
  std::string partner, feed;
  std::string schema_name, schema_sha256;
  std::vector<std::string> key_ids;  // the linkage keys of its tokens: two during an overlap
  std::string extract_sha256;
  std::uint64_t extract_bytes = 0;

  bool refused = false;
  errc refusal = errc::ok;
  std::uint64_t refusal_row = 0;
  std::string refusal_detail;  // a column name or a count, never cell content

  // total = valid + rejected + filtered (outside the schema's svd:filter: not the feed's to share)
  std::uint64_t rows_total = 0, rows_valid = 0, rows_rejected = 0, rows_filtered = 0;
  std::map<std::string, std::uint64_t> rejections_by_code;                          // rows × codes
  std::map<std::string, std::map<std::string, std::uint64_t>> rejections_by_field;  // field → code → n
  std::vector<Rejection> rejections;  // the first max_rejections_listed, in file order
  bool rejections_truncated = false;
  std::map<std::string, std::uint64_t> pseudo_postcodes;  // field → valid rows with one
  // Source columns the schema does not name. Counted, not named: when an export forgets its
  // header, the "header" is a row of identifiers.
  std::uint64_t ignored_columns = 0;
  std::optional<SmallGroupsReport> small_groups;  // when the feed sets min_group

  std::string started_at, finished_at;  // UTC, ISO 8601
  double seconds = 0;

  // The report.json document.
  std::string to_json() const;
  // A few lines for a person at a terminal.
  std::string summary() const;
};

}  // namespace svd::process
