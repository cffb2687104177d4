#include "process/row_processor.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <ctime>
#include <functional>

#include <boost/regex.hpp>

#include "crypto/normalise.h"
#include "process/postcode.h"

namespace svd::process {
namespace {

using config::FieldType;
using config::TransformKind;

// Clock skew allowance for not_future on date-times: a ward PC a few minutes fast must not
// reject a whole night's attendances.
constexpr std::int64_t kFutureSkewSeconds = 300;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Non-negative v, zero-padded to `width` digits (wider values are written in full). Calendar
// fields are always in range, so this is the hot path of every date written.
void append_padded(std::string& out, int v, int width) {
  char buf[16];
  char* end = buf + sizeof buf;
  char* p = end;
  unsigned u = static_cast<unsigned>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (end - p < width) *--p = '0';
  out.append(p, end);
}

// Parsing succeeded, so a value already spelt the canonical way can be used as it is, which
// spares re-formatting the dates of almost every row.
bool canonical_date(std::string_view raw, std::string_view format) { return format == "default" && raw.size() == 10; }
bool canonical_datetime(std::string_view raw, std::string_view format) {
  return format == "default" && raw.size() == 19 && raw[10] == 'T';
}

void append_date(std::string& out, config::Date d) {
  append_padded(out, d.year, 4);
  out += '-';
  append_padded(out, d.month, 2);
  out += '-';
  append_padded(out, d.day, 2);
}

void append_offset(std::string& out, const config::DateTime& dt) {
  if (!dt.offset_minutes) return;
  int off = *dt.offset_minutes;
  if (off == 0) {
    out += 'Z';
    return;
  }
  out += off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  append_padded(out, off / 60, 2);
  out += ':';
  append_padded(out, off % 60, 2);
}

void append_datetime(std::string& out, const config::DateTime& dt) {
  append_date(out, dt.date);
  out += 'T';
  append_padded(out, dt.time.hour, 2);
  out += ':';
  append_padded(out, dt.time.minute, 2);
  out += ':';
  append_padded(out, dt.time.second, 2);
  append_offset(out, dt);
}

bool parse_integer(std::string_view s, std::string& text, std::int64_t& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  text.clear();
  append_int(text, value);
  return true;
}

bool parse_number(std::string_view s, std::string& text, double& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::general);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(value)) return false;
  char buf[32];
  auto w = std::to_chars(buf, buf + sizeof buf, value);
  text.assign(buf, w.ptr);
  return true;
}

int age_in_years(config::Date dob, config::Date at) {
  int age = at.year - dob.year;
  if (at.month < dob.month || (at.month == dob.month && at.day < dob.day)) --age;
  return age;
}

}  // namespace

Now Now::system() {
  std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  return {static_cast<std::int64_t>(t), static_cast<std::int64_t>(t) + local.tm_gmtoff};
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Bytes that need escaping: control characters, '"' and '\\'. Everything else, UTF-8
  // included, is copied in runs.
  static constexpr auto kEscape = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  out += '"';
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kEscape[c]) continue;
    out.append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0f];
    }
  }
  out.append(s.data() + start, s.size() - start);
  out += '"';
}

std::string_view age_band(int age) {
  static constexpr std::string_view kBands[] = {"0-4",   "5-9",   "10-14", "15-19", "20-24", "25-29",
                                                "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
                                                "60-64", "65-69", "70-74", "75-79", "80-84", "85-89"};
  if (age >= 90) return "90+";
  return kBands[static_cast<std::size_t>(std::max(age, 0) / 5)];
}

std::string iso_week(config::Date d) {
  std::int64_t days = config::days_from_civil(d);
  std::int64_t weekday = ((days + 3) % 7 + 7) % 7 + 1;  // 1970-01-01 was a Thursday; Monday = 1
  std::int64_t thursday = days - (weekday - 4);           // the week belongs to its Thursday's year
  int year = config::civil_from_days(thursday).year;
  std::int64_t week = (thursday - config::days_from_civil({year, 1, 1})) / 7 + 1;
  std::string out;
  append_padded(out, year, 4);
  out += "-W";
  append_padded(out, static_cast<int>(week), 2);
  return out;
}

RowProcessor::RowProcessor(const config::Schema& schema, crypto::Tokeniser& tokeniser, Now now,
                           std::size_t max_unique_values)
    : schema_(schema),
      tokeniser_(tokeniser),
      now_(now),
      max_unique_values_(max_unique_values),
      values_(schema.fields.size()),
      pseudo_postcodes_(schema.fields.size(), 0),
      pseudo_this_row_(schema.fields.size(), false),
      unique_(schema.fields.size()) {
  only_empty_is_missing_ = schema_.missing_values == std::vector<std::string>{""};
  for (const auto& f : schema_.fields) has_unique_ |= f.constraints.unique;
  // Each output key, with its separator, is spelt once here rather than escaped per row.
  bool first = true;
  auto prefix = [&](const std::string& name) {
    std::string p = first ? "{" : ",";
    first = false;
    append_json_string(p, name);
    return p + ':';
  };
  for (const auto& f : schema_.fields)
    key_prefixes_.push_back(f.transform == TransformKind::drop ? std::string() : prefix(f.output_name));
  if (schema_.person) person_prefix_ = prefix(schema_.person->output_name);
  quasi_identifier_.assign(schema_.fields.size(), false);
  for (std::size_t i : schema_.quasi_identifiers) quasi_identifier_[i] = true;
  assert(!first && "the schema loader refuses a schema that shares nothing");
}

bool RowProcessor::selected(const adapters::Record& rec) const {
  for (const config::RowFilter& filter : schema_.filters) {
    const std::string_view raw = rec.present(filter.field) ? trim(rec.cell(filter.field)) : std::string_view();
    const bool missing = !rec.present(filter.field) ||
                         std::find(schema_.missing_values.begin(), schema_.missing_values.end(), raw) !=
                             schema_.missing_values.end();
    const bool listed = !missing && std::find(filter.values.begin(), filter.values.end(), raw) != filter.values.end();
    if (listed == filter.exclude) return false;
  }
  return true;
}

std::span<const FieldError> RowProcessor::process(const adapters::Record& rec, std::string& out) {
  errors_.clear();
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    pseudo_this_row_[i] = false;
    errc e = validate(i, rec);
    if (e != errc::ok) errors_.push_back({i, e});
  }
  // An age measured at a date before the birth means one of the two dates is wrong.
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    const config::Field& f = schema_.fields[i];
    if (f.transform != TransformKind::age_band || values_[i].missing) continue;
    if (f.type == FieldType::integer) {  // an age in years
      const bool already = std::any_of(errors_.begin(), errors_.end(), [&](const FieldError& fe) { return fe.field == i; });
      if (!already && values_[i].integer < 0) errors_.push_back({i, errc::invalid_age});
      continue;
    }
    const Value& at = values_[f.age_at];
    if (at.missing) continue;
    config::Date ref = schema_.fields[f.age_at].type == FieldType::date ? at.date : at.datetime.date;
    bool already = std::any_of(errors_.begin(), errors_.end(),
                               [&](const FieldError& fe) { return fe.field == i || fe.field == f.age_at; });
    if (!already && age_in_years(values_[i].date, ref) < 0) errors_.push_back({i, errc::invalid_age});
  }
  if (errors_.empty() && has_unique_ && !check_unique()) return errors_;
  if (!errors_.empty()) return errors_;
  for (std::size_t i = 0; i < schema_.fields.size(); ++i)
    if (pseudo_this_row_[i]) ++pseudo_postcodes_[i];
  write(out);
  return {};
}

errc RowProcessor::validate(std::size_t i, const adapters::Record& rec) {
  const config::Field& f = schema_.fields[i];
  Value& v = values_[i];
  std::string_view raw = rec.present(i) ? rec.cell(i) : std::string_view();
  if (f.type != FieldType::string) raw = trim(raw);
  v.missing = !rec.present(i) ||
              (only_empty_is_missing_ ? raw.empty()
                                      : std::find(schema_.missing_values.begin(), schema_.missing_values.end(),
                                                  raw) != schema_.missing_values.end());
  if (v.missing) return f.constraints.required ? errc::missing_required : errc::ok;

  double number = 0;
  switch (f.type) {
    case FieldType::string:
      if (f.nhs_number) {
        auto nhs = crypto::normalise_nhs_number(raw);
        if (!nhs) return errc::invalid_nhs_number;
        v.buf = std::move(*nhs);
        v.text = v.buf;
      } else if (f.postcode) {
        auto pc = parse_postcode(raw);
        if (!pc) return errc::invalid_postcode;
        v.buf = std::move(pc->text);
        v.text = v.buf;
        v.outward = pc->outward;
        pseudo_this_row_[i] = pc->pseudo;
      } else {
        v.text = raw;
      }
      break;
    case FieldType::integer:
      if (!parse_integer(raw, v.buf, v.integer)) return errc::invalid_integer;
      number = static_cast<double>(v.integer);
      v.text = v.buf;
      break;
    case FieldType::number:
      if (!parse_number(raw, v.buf, number)) return errc::invalid_number;
      v.text = v.buf;
      break;
    case FieldType::boolean:
      if (std::find(f.true_values.begin(), f.true_values.end(), raw) != f.true_values.end()) v.text = "true";
      else if (std::find(f.false_values.begin(), f.false_values.end(), raw) != f.false_values.end()) v.text = "false";
      else return errc::invalid_boolean;
      break;
    case FieldType::date: {
      auto d = config::parse_date(raw, f.format);
      if (!d) return errc::invalid_date;
      v.date = *d;
      if (canonical_date(raw, f.format)) {
        v.text = raw;
      } else {
        v.buf.clear();
        append_date(v.buf, *d);
        v.text = v.buf;
      }
      if (f.not_future && config::days_from_civil(*d) > now_.local_seconds / 86400) return errc::in_future;
      break;
    }
    case FieldType::datetime: {
      auto dt = config::parse_datetime(raw, f.format);
      if (!dt) return errc::invalid_datetime;
      v.datetime = *dt;
      if (canonical_datetime(raw, f.format)) {
        v.text = raw;
      } else {
        v.buf.clear();
        append_datetime(v.buf, *dt);
        v.text = v.buf;
      }
      if (f.not_future) {
        std::int64_t reference = dt->offset_minutes ? now_.utc_seconds : now_.local_seconds;
        if (config::to_unix_seconds(*dt) > reference + kFutureSkewSeconds) return errc::in_future;
      }
      break;
    }
    case FieldType::time: {
      auto t = config::parse_time(raw, f.format);
      if (!t) return errc::invalid_time;
      v.buf = config::to_iso(*t);
      v.text = v.buf;
      break;
    }
  }
  errc c = check_constraints(f, raw, v);
  if (c != errc::ok) return c;
  if (!f.recode.empty() || f.recode_other) {  // constraints apply to the source code, the output is its category
    if (auto it = f.recode.find(trim(raw)); it != f.recode.end()) v.text = it->second;
    else if (f.recode_other) v.text = *f.recode_other;
    else return errc::unmapped_code;
  }
  if ((f.type == FieldType::integer || f.type == FieldType::number) &&
      ((f.constraints.minimum_number && number < *f.constraints.minimum_number)))
    return errc::below_minimum;
  if ((f.type == FieldType::integer || f.type == FieldType::number) &&
      ((f.constraints.maximum_number && number > *f.constraints.maximum_number)))
    return errc::above_maximum;
  return errc::ok;
}

errc RowProcessor::check_constraints(const config::Field& f, std::string_view raw, const Value& v) const {
  const config::Constraints& c = f.constraints;
  if (c.min_length || c.max_length) {
    std::size_t n = code_points(v.text);
    if (c.min_length && n < *c.min_length) return errc::too_short;
    if (c.max_length && n > *c.max_length) return errc::too_long;
  }
  // Frictionless applies pattern to the value as written.
  if (f.regex && !boost::regex_match(raw.begin(), raw.end(), *f.regex)) return errc::pattern_mismatch;
  if (!c.enum_values.empty() && std::find(c.enum_values.begin(), c.enum_values.end(), v.text) == c.enum_values.end())
    return errc::not_in_enum;
  // Normalised ISO text sorts like the value for dates, datetimes (same offset) and times.
  if (c.minimum_text && v.text < *c.minimum_text) return errc::below_minimum;
  if (c.maximum_text && v.text > *c.maximum_text) return errc::above_maximum;
  return errc::ok;
}

bool RowProcessor::check_unique() {
  // Only rows that are otherwise valid claim their value, so a rejected row never makes a
  // later good one look like a duplicate.
  std::hash<std::string_view> hasher;
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    if (!schema_.fields[i].constraints.unique || values_[i].missing) continue;
    if (unique_[i].size() >= max_unique_values_) {
      unique_limit_hit_ = true;
      continue;
    }
    std::uint64_t h = hasher(values_[i].text);
    if (unique_[i].count(h)) errors_.push_back({i, errc::not_unique});
  }
  if (!errors_.empty()) return false;
  for (std::size_t i = 0; i < schema_.fields.size(); ++i)
    if (schema_.fields[i].constraints.unique && !values_[i].missing && !unique_limit_hit_)
      unique_[i].insert(hasher(values_[i].text));
  return true;
}

void RowProcessor::write(std::string& out) {
  // FNV-1a over each quasi-identifier's output with a separator that JSON text never holds raw.
  constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
  group_ = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    if (schema_.fields[i].transform == TransformKind::drop) continue;
    out += key_prefixes_[i];
    const std::size_t at = out.size();
    write_value(i, out);
    if (!quasi_identifier_[i]) continue;
    for (std::size_t k = at; k < out.size(); ++k) group_ = (group_ ^ static_cast<unsigned char>(out[k])) * kFnvPrime;
    group_ = (group_ ^ 0x1fu) * kFnvPrime;
  }
  if (schema_.person) {
    const config::PersonToken& p = *schema_.person;
    out += person_prefix_;
    const Value &s = values_[p.surname], &fn = values_[p.forename], &dob = values_[p.date_of_birth];
    scratch_.clear();
    if (!s.missing && !fn.missing && !dob.missing) {
      scratch_ = crypto::normalise_name(s.text);
      scratch_ += '|';
      std::size_t forename_at = scratch_.size();
      scratch_ += crypto::normalise_name(fn.text);
      // A name with no A-Z letters at all normalises to nothing and could not link safely.
      if (forename_at == 1 || scratch_.size() == forename_at) scratch_.clear();
      else {
        scratch_ += '|';
        append_date(scratch_, dob.date);
      }
    }
    if (scratch_.empty()) {
      out += "null";
    } else {
      out += '"';
      tokeniser_.append_token("person", scratch_, out);
      out += '"';
    }
  }
  out += '}';
}

void RowProcessor::write_value(std::size_t i, std::string& out) {
  const config::Field& f = schema_.fields[i];
  const Value& v = values_[i];
  if (v.missing) {
    out += "null";
    return;
  }
  bool dated = f.type == FieldType::datetime;
  config::Date d = dated ? v.datetime.date : v.date;
  switch (f.transform) {
    case TransformKind::drop:
      return;
    case TransformKind::keep:
      if (f.type == FieldType::integer || f.type == FieldType::number || f.type == FieldType::boolean) out += v.text;
      else append_json_string(out, v.text);
      return;
    case TransformKind::token:
      out += '"';
      tokeniser_.append_token(f.token_kind, v.text, out);
      out += '"';
      return;
    case TransformKind::year:
      out += '"';
      append_padded(out, d.year, 4);
      out += '"';
      return;
    case TransformKind::month:
      out += '"';
      append_padded(out, d.year, 4);
      out += '-';
      append_padded(out, d.month, 2);
      out += '"';
      return;
    case TransformKind::week:
      out += '"';
      out += iso_week(d);
      out += '"';
      return;
    case TransformKind::hour:
      out += '"';
      append_date(out, d);
      out += 'T';
      append_padded(out, v.datetime.time.hour, 2);
      out += ":00";
      append_offset(out, v.datetime);
      out += '"';
      return;
    case TransformKind::age_band: {
      if (f.type == FieldType::integer) {
        out += '"';
        out += age_band(static_cast<int>(std::min<std::int64_t>(v.integer, 90)));
        out += '"';
        return;
      }
      const Value& at = values_[f.age_at];
      if (at.missing) {
        out += "null";
        return;
      }
      config::Date ref = schema_.fields[f.age_at].type == FieldType::date ? at.date : at.datetime.date;
      out += '"';
      out += age_band(age_in_years(v.date, ref));
      out += '"';
      return;
    }
    case TransformKind::postcode_district:
      append_json_string(out, std::string_view(v.text).substr(0, v.outward));
      return;
    case TransformKind::postcode_sector:
      append_json_string(out, std::string_view(v.text).substr(0, v.outward + 2));
      return;
  }
}

}  // namespace svd::process
