#include "hub/records.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "config/temporal.h"

namespace svd::hub {
namespace json = boost::json;

namespace {

// A kept field's column has the field's own type; every other transform's output is a label
// (year, month, week, age band, postcode district or sector) or a token, except the hour, which
// is a datetime cut to the hour.
ColumnType column_type(const config::Field& f) {
  using config::FieldType;
  using config::TransformKind;
  switch (f.transform) {
    case TransformKind::keep:
      switch (f.type) {
        case FieldType::string: return ColumnType::text;
        case FieldType::integer: return ColumnType::integer;
        case FieldType::number: return ColumnType::number;
        case FieldType::boolean: return ColumnType::boolean;
        case FieldType::date: return ColumnType::date;
        case FieldType::datetime: return ColumnType::timestamp;
        case FieldType::time: return ColumnType::time;
      }
      return ColumnType::text;
    case TransformKind::hour: return ColumnType::timestamp;
    default: return ColumnType::text;
  }
}

std::string table_of(std::string_view feed) {
  std::string t = "records_" + std::string(feed);
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

constexpr std::size_t kMaxNameBytes = 63;  // PostgreSQL's NAMEDATALEN - 1

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Offsets beyond ±14:00 exist nowhere, and PostgreSQL refuses some of them.
bool plausible(const config::DateTime& dt) {
  return dt.date.year >= 1 && (!dt.offset_minutes || std::abs(*dt.offset_minutes) <= 14 * 60);
}

}  // namespace

std::string_view sql_type(ColumnType t) {
  switch (t) {
    case ColumnType::text: return "TEXT";
    case ColumnType::integer: return "BIGINT";
    case ColumnType::number: return "DOUBLE PRECISION";
    case ColumnType::boolean: return "BOOLEAN";
    case ColumnType::date: return "DATE";
    case ColumnType::timestamp: return "TIMESTAMPTZ";
    case ColumnType::time: return "TIME";
  }
  return "TEXT";
}

std::string bounded_name(std::string_view name) {
  if (name.size() <= kMaxNameBytes) return std::string(name);
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across builds and machines, unlike std::hash
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return std::string(name.substr(0, kMaxNameBytes - 9)) + "_" + hex;
}

FeedTable feed_table(const config::HubFeed& feed) {
  FeedTable t;
  t.feed = feed.id;
  const std::string table = table_of(feed.id);
  t.table = bounded_name(table);
  t.linked = bounded_name(table + "_linked");
  for (const auto& f : feed.schema.fields) {
    if (f.transform == config::TransformKind::drop) continue;
    Column c{f.output_name, column_type(f), {}};
    if (f.transform == config::TransformKind::token) c.token_kind = f.token_kind;
    t.columns.push_back(std::move(c));
  }
  if (feed.schema.person) t.columns.push_back({feed.schema.person->output_name, ColumnType::text, "person"});
  return t;
}

std::string linked_view_sql(const FeedTable& t) {
  auto q = [](std::string_view name) { return "\"" + std::string(name) + "\""; };
  std::string sql = "CREATE VIEW " + q(t.linked) + " AS SELECT r._partner, r._extract_id, r._batch_id, r._received_at";
  for (const auto& c : t.columns) {
    if (c.token_kind.empty()) {
      sql += ", r." + q(c.name);
    } else {
      sql += ", COALESCE((SELECT l.new_token FROM token_links l WHERE l.kind = '" + c.token_kind +
             "' AND l.old_token = r." + q(c.name) + "), r." + q(c.name) + ") AS " + q(c.name);
    }
  }
  return sql + " FROM " + q(t.table) + " r";
}

std::vector<FeedTable> feed_tables(const config::HubReceiverConfig& config) {
  std::vector<FeedTable> tables;
  for (const auto& f : config.feeds) tables.push_back(feed_table(f));
  return tables;
}

std::vector<Incompatibility> compare_columns(const FeedTable& wanted,
                                             const std::vector<std::pair<std::string, std::string>>& existing) {
  std::vector<Incompatibility> problems;
  auto upper = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  for (const auto& column : existing) {
    const std::string& name = column.first;
    const std::string& declared = column.second;
    if (std::find(std::begin(kReservedColumns), std::end(kReservedColumns), name) != std::end(kReservedColumns))
      continue;
    auto it = std::find_if(wanted.columns.begin(), wanted.columns.end(), [&](const Column& c) { return c.name == name; });
    if (it == wanted.columns.end()) {
      problems.push_back({wanted.feed, name, "is in the store but no longer an output of the schema"});
      continue;
    }
    const std::string have = upper(declared);
    if (!have.empty() && have != sql_type(it->type))
      problems.push_back({wanted.feed, name,
                          "is " + have + " in the store but the schema now makes it " + std::string(sql_type(it->type))});
  }
  return problems;
}

RecordReader::RecordReader()
    : arena_(values_, sizeof values_), parser_(json::storage_ptr(), json::parse_options(), parser_temp_,
                                               sizeof parser_temp_) {}

bool RecordReader::read(std::string_view line, const FeedTable& table, const std::vector<std::string>& key_ids,
                        std::vector<TokenLink>& links) {
  value_ = nullptr;  // before the arena it lives in is reused
  arena_.release();
  parser_.reset(json::storage_ptr(&arena_));
  boost::system::error_code ec;
  parser_.write(line.data(), line.size(), ec);
  if (ec) return false;
  value_ = parser_.release();
  if (!value_.is_object()) return false;
  cells_.assign(table.columns.size(), Cell{});
  for (const auto& kv : value_.as_object()) {
    const std::string_view key(kv.key());
    std::size_t i = 0;
    while (i < table.columns.size() && table.columns[i].name != key) ++i;
    if (i == table.columns.size()) return false;
    if (!read_cell(table.columns[i], kv.value(), key_ids, cells_[i], links)) return false;
  }
  return true;
}

bool RecordReader::read_cell(const Column& column, const json::value& v, const std::vector<std::string>& key_ids,
                             Cell& cell, std::vector<TokenLink>& links) {
  if (v.is_null()) return true;
  if (v.is_object() || v.is_array()) return false;
  switch (column.type) {
    case ColumnType::integer:
      if (v.is_int64()) cell.integer = v.as_int64();
      else if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        cell.integer = static_cast<std::int64_t>(v.as_uint64());
      else return false;
      cell.kind = Cell::Kind::integer;
      return true;
    case ColumnType::number:
      if (v.is_double()) cell.number = v.as_double();
      else if (v.is_int64()) cell.number = static_cast<double>(v.as_int64());
      else if (v.is_uint64()) cell.number = static_cast<double>(v.as_uint64());
      else return false;
      cell.kind = Cell::Kind::number;
      return std::isfinite(cell.number);
    case ColumnType::boolean:
      if (!v.is_bool()) return false;
      cell.kind = Cell::Kind::boolean;
      cell.boolean = v.as_bool();
      return true;
    default: break;
  }
  if (!v.is_string()) return false;
  const std::string_view s(v.as_string().data(), v.as_string().size());
  // JSON can spell U+0000 ("\u0000"); PostgreSQL's text cannot hold it. Refused in both backends.
  if (s.find('\0') != std::string_view::npos) return false;
  cell.kind = Cell::Kind::text;
  cell.text = s;
  switch (column.type) {
    case ColumnType::date: {
      const auto d = config::parse_date(s, "default");
      return d && d->year >= 1;
    }
    case ColumnType::timestamp: {
      const auto dt = config::parse_datetime(s, "default");
      return dt && plausible(*dt);
    }
    case ColumnType::time: return config::parse_time(s, "default").has_value();
    default: break;
  }
  if (column.token_kind.empty()) return true;

  // One token per key, "<key id>:<32 hex>" each, in the batch's key order; the newest is stored.
  if (key_ids.empty()) return false;
  std::string_view rest = s;
  std::string_view previous;
  for (std::size_t k = 0; k < key_ids.size(); ++k) {
    const bool last = k + 1 == key_ids.size();
    const std::size_t space = rest.find(' ');
    if (last != (space == std::string_view::npos)) return false;
    const std::string_view token = rest.substr(0, space);
    if (!last) rest.remove_prefix(space + 1);
    const std::string_view id = key_ids[k];
    if (token.size() != id.size() + 1 + 32 || token.substr(0, id.size()) != id || token[id.size()] != ':' ||
        !is_lower_hex(token.substr(id.size() + 1)))
      return false;
    if (!previous.empty()) links.push_back({column.token_kind, std::string(previous), {}});
    previous = token;
  }
  // Each older token links straight to the newest (k1 → k3 and k2 → k3, not k1 → k2 → k3).
  for (auto it = links.end() - static_cast<std::ptrdiff_t>(key_ids.size() - 1); it != links.end(); ++it)
    it->new_token = std::string(previous);
  cell.text = previous;
  return true;
}

}  // namespace svd::hub
