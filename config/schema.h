#pragma once
// Feed schemas: the subset of Frictionless Table Schema that svd-gateway implements, plus the
// `svd:` keys that say how each field is checked and what leaves the site (docs/feed-schemas.md).
//
// A Schema is immutable once loaded and safe to share between threads. Every mistake in a
// schema file is found at load time (load_schema throws ConfigError listing all of them), so a
// bad schema never meets a real extract.

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/regex_fwd.hpp>

namespace svd::config {

enum class FieldType { string, integer, number, boolean, date, datetime, time };

enum class TransformKind {
  drop,  // the default: never leaves the site
  keep,
  token,
  year,
  month,
  week,
  hour,
  age_band,
  postcode_district,
  postcode_sector,
};

struct Constraints {
  bool required = false;
  bool unique = false;
  std::optional<std::size_t> min_length, max_length;  // in Unicode code points
  // Bounds for integer/number fields as numbers; for date/datetime/time as the normalised
  // ISO text (which sorts like the value).
  std::optional<double> minimum_number, maximum_number;
  std::optional<std::string> minimum_text, maximum_text;
  std::optional<std::string> pattern;  // implicitly anchored (Frictionless)
  std::vector<std::string> enum_values;
};

struct Field {
  std::string name;
  FieldType type = FieldType::string;
  // Date/datetime/time layout: "default" (ISO 8601) or a strftime-style pattern using
  // %Y %m %d %H %M %S, e.g. "%d/%m/%Y".
  std::string format = "default";
  Constraints constraints;
  std::vector<std::string> true_values{"true", "True", "TRUE", "1"};
  std::vector<std::string> false_values{"false", "False", "FALSE", "0"};

  // svd:domain
  bool nhs_number = false;
  bool postcode = false;
  bool not_future = false;

  // svd:transform and where its result goes.
  TransformKind transform = TransformKind::drop;
  std::string token_kind;   // for TransformKind::token
  std::string output_name;  // svd:as, or a default derived from the name and transform
  std::size_t age_at = 0;   // index of the svd:age_at field, for age_band of a date of birth

  // svd:recode: a source code (trimmed) -> the shared category that leaves the site instead,
  // for kept string fields; `recode_other` takes every code the map lacks ("*"), else such a
  // code rejects the row (unmapped_code). Empty: the value leaves as it is.
  std::map<std::string, std::string, std::less<>> recode;
  std::optional<std::string> recode_other;

  // Compiled `pattern`; null when there is none.
  std::shared_ptr<const boost::regex> regex;
};

// The composite token that links people across agencies without an NHS number.
struct PersonToken {
  std::size_t surname = 0, forename = 0, date_of_birth = 0;  // field indexes
  std::string output_name = "person_token";
};

// svd:filter: which rows the feed shares at all. A row whose (trimmed) `field` value is not in
// `values` (or is, with `exclude`) is filtered: counted, never validated, never leaving the site.
// A missing value is in no list.
struct RowFilter {
  std::size_t field = 0;
  bool exclude = false;  // "not_in"
  std::vector<std::string> values;
};

struct Schema {
  std::filesystem::path file;
  std::string source;  // the file's bytes as loaded, for its digest in reports
  std::string name;    // the schema's "name", or the file stem
  std::vector<Field> fields;
  std::vector<std::string> missing_values{""};
  std::optional<PersonToken> person;
  std::vector<RowFilter> filters;  // every one must pass
  // The fields whose outputs together could single a person out (svd:quasi_identifiers; by
  // default every generalised one: year, month, week, hour, age band, postcode district or
  // sector). Indexes into `fields`, each one that leaves the site. A feed's min_group counts
  // the output records that share their combination with too few others.
  std::vector<std::size_t> quasi_identifiers;

  std::optional<std::size_t> index_of(std::string_view field_name) const;
};

// Loads and checks a schema file (JSON). Throws ConfigError with every problem found.
Schema load_schema(const std::filesystem::path& file);

// As load_schema, from text already read; `file` only labels diagnostics.
Schema parse_schema(std::string_view json_text, const std::filesystem::path& file);

std::string_view to_string(FieldType t);
std::string_view to_string(TransformKind t);

}  // namespace svd::config
