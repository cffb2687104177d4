#pragma once
// The shape of a feed's table and a batch's records read into it, shared by both store backends
// (docs/analysts.md describes the tables as analysts see them).
//
// A feed's table is `records_<feed>` (`-` becomes `_`): the reserved columns `_partner`,
// `_extract_id`, `_batch_id` and `_received_at`, then one typed column per output of the feed's
// schema. Output names are plain lowercase identifiers (the schema loader checks), so they never
// clash with a reserved name or with each other, and quoting them is enough.
//
// Every value is checked against its column's type here, before a backend sees it, so both
// backends refuse the same records (bad_record) and a database never meets a value it would
// refuse mid-batch. A token column holds one token: during a linkage-key overlap a record carries
// a token under each key in force ("k1:… k2:…", the newest last); the newest is stored and each
// older one becomes a link (old → new) for the `token_links` table.
//
// Thread-safety: none; one RecordReader per store.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

#include "config/hub_config.h"

namespace svd::hub {

enum class ColumnType { text, integer, number, boolean, date, timestamp, time };

// The SQL type both backends declare: TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN, DATE, TIMESTAMPTZ
// or TIME (SQLite keeps the declared name; its affinity stores the checked values unchanged).
std::string_view sql_type(ColumnType t);

struct Column {
  std::string name;
  ColumnType type = ColumnType::text;
  std::string token_kind;  // "person", "nhs_number", ...: a token column; "" for any other
};

struct FeedTable {
  std::string feed;
  std::string table;   // records_<feed>, bounded_name
  std::string linked;  // <table>_linked, bounded_name: the view with every token resolved to the newest
  std::vector<Column> columns;  // the schema's outputs, in order
};

inline constexpr const char* kReservedColumns[] = {"_partner", "_extract_id", "_batch_id", "_received_at"};

// A name for a table, view or index that fits PostgreSQL's 63 bytes, the same in both backends:
// `name` itself when short enough, else its first 54 bytes, '_' and 8 hex digits of a hash of the
// whole (so two long names never meet as one).
std::string bounded_name(std::string_view name);

FeedTable feed_table(const config::HubFeed& feed);
std::vector<FeedTable> feed_tables(const config::HubReceiverConfig& config);

// "CREATE VIEW <linked> AS SELECT ...": the feed's rows with every token column resolved through
// token_links to the newest token of the same person. The same SQL in both backends: every name
// in it is a plain identifier or a bounded_name, and token kinds are plain identifiers.
std::string linked_view_sql(const FeedTable& t);

// A column type change or a column gone: what stops svdhub before it alters anything.
// "feed F: column C is T1 in the store but the schema now makes it T2" and the like.
struct Incompatibility {
  std::string feed, column, problem;
  std::string to_string() const { return "feed " + feed + ": column " + column + " " + problem; }
};

// `existing`: the table's columns as the store holds them (name, declared SQL type, the reserved
// ones included); `wanted`: the schema's. Columns the schema gained are not a problem (they are
// added). A column with no declared type comes from a store made before tables were typed and
// fits any type.
std::vector<Incompatibility> compare_columns(const FeedTable& wanted,
                                             const std::vector<std::pair<std::string, std::string>>& existing);

struct TokenLink {
  std::string kind;        // the column's token kind
  std::string old_token;   // under an older key
  std::string new_token;   // under the newest key the record carries
};

// One value of a record, checked against its column. Views point into the record's JSON, valid
// until the next read().
struct Cell {
  enum class Kind { null, text, integer, number, boolean };
  Kind kind = Kind::null;
  std::string_view text;  // text, date, timestamp, time, token (the newest)
  std::int64_t integer = 0;
  double number = 0;
  bool boolean = false;
};

class RecordReader {
 public:
  RecordReader();

  // Reads one record (a JSON object on one line) of `table` in a batch whose tokens were made
  // with `key_ids` (in the order they came into force). False for a bad record: not an object,
  // a key the table does not have, a nested value, a value that is not of its column's type, a
  // text with U+0000 in it (PostgreSQL's text cannot hold one), or a
  // token that is not one per key in `key_ids` ("<key id>:<32 hex>", in that order). Token links
  // of an overlap record are appended to `links`.
  bool read(std::string_view line, const FeedTable& table, const std::vector<std::string>& key_ids,
            std::vector<TokenLink>& links);

  // One per column of the table, in order; null where the record has no value.
  const std::vector<Cell>& cells() const { return cells_; }

 private:
  bool read_cell(const Column& column, const boost::json::value& v, const std::vector<std::string>& key_ids,
                 Cell& cell, std::vector<TokenLink>& links);

  // The parser and the arena for a record's values are reused from record to record, so records
  // of ordinary size cost no heap allocation.
  unsigned char parser_temp_[4096];
  unsigned char values_[8192];
  boost::json::monotonic_resource arena_;
  boost::json::parser parser_;
  boost::json::value value_;
  std::vector<Cell> cells_;
};

}  // namespace svd::hub
