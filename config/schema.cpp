#include "config/schema.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <boost/regex.hpp>

#include "config/diagnostic.h"
#include "config/temporal.h"

namespace svd::config {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxSchemaBytes = 4 << 20;
constexpr std::size_t kMaxFields = 1000;

struct NamedType {
  std::string_view name;
  FieldType type;
};
constexpr NamedType kTypes[] = {
    {"string", FieldType::string}, {"integer", FieldType::integer}, {"number", FieldType::number},
    {"boolean", FieldType::boolean}, {"date", FieldType::date}, {"datetime", FieldType::datetime},
    {"time", FieldType::time},
};

struct NamedTransform {
  std::string_view name;
  TransformKind kind;
  std::string_view suffix;  // appended to the field name for the default output name
};
constexpr NamedTransform kTransforms[] = {
    {"drop", TransformKind::drop, ""},
    {"keep", TransformKind::keep, ""},
    {"token", TransformKind::token, "_token"},
    {"year", TransformKind::year, "_year"},
    {"month", TransformKind::month, "_month"},
    {"week", TransformKind::week, "_week"},
    {"hour", TransformKind::hour, "_hour"},
    {"age_band", TransformKind::age_band, "_age_band"},
    {"postcode_district", TransformKind::postcode_district, "_district"},
    {"postcode_sector", TransformKind::postcode_sector, "_sector"},
};

// Output names and token kinds end up as JSON keys and hub column names: keep them plain.
bool plain_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A name from the file as a diagnostic may show it: control characters replaced, at most 80 bytes.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 80));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::size_t line_of(std::string_view text, std::size_t offset) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text.size())), '\n')) + 1;
}

class Checker {
 public:
  Checker(std::string_view text, const std::filesystem::path& file) : text_(text), file_(file.string()) {}

  Schema run() {
    schema_.file = file_;
    schema_.source = std::string(text_);
    schema_.name = std::filesystem::path(file_).stem().string();
    json::value root;
    if (!parse(root)) throw ConfigError(diagnostics_);
    if (!root.is_object()) {
      error("", "a schema must be a JSON object with a \"fields\" array");
      throw ConfigError(diagnostics_);
    }
    const json::object& obj = root.as_object();
    if (auto* name = obj.if_contains("name")) {
      if (name->is_string()) schema_.name = std::string(name->as_string());
      else error("name", "must be a string");
    }
    if (auto* mv = obj.if_contains("missingValues")) schema_.missing_values = strings(*mv, "missingValues");
    for (const auto& kv : obj)
      if (kv.key().starts_with("svd:") && kv.key() != "svd:person" && kv.key() != "svd:filter" &&
          kv.key() != "svd:quasi_identifiers")
        error(std::string(kv.key()),
              "unknown svd: key (known at schema level: svd:person, svd:filter, svd:quasi_identifiers)");
    const json::value* fields = obj.if_contains("fields");
    if (!fields || !fields->is_array() || fields->as_array().empty()) {
      error("fields", "a schema needs a non-empty \"fields\" array");
      throw ConfigError(diagnostics_);
    }
    if (fields->as_array().size() > kMaxFields) {
      error("fields", "more than " + std::to_string(kMaxFields) + " fields");
      throw ConfigError(diagnostics_);
    }
    std::size_t i = 0;
    for (const auto& f : fields->as_array()) read_field(f, i++);
    // Second pass: cross-field references need every field's name and type.
    for (std::size_t k = 0; k < pending_age_at_.size(); ++k) resolve_age_at(pending_age_at_[k]);
    if (auto* person = obj.if_contains("svd:person")) read_person(*person);
    if (auto* filter = obj.if_contains("svd:filter")) read_filters(*filter);
    read_quasi_identifiers(obj.if_contains("svd:quasi_identifiers"));
    check_output_names();
    if (!diagnostics_.empty()) throw ConfigError(diagnostics_);
    return std::move(schema_);
  }

 private:
  struct PendingAgeAt {
    std::size_t field;
    std::string target;
  };

  bool parse(json::value& out) {
    if (text_.size() > kMaxSchemaBytes) {
      error("", "schema file larger than 4 MiB");
      return false;
    }
    json::stream_parser p({}, json::parse_options{.max_depth = 32});
    boost::system::error_code ec;
    std::size_t n = p.write_some(text_.data(), text_.size(), ec);
    if (!ec) p.finish(ec);
    if (ec) {
      Diagnostic d{file_, line_of(text_, n), 0, "not valid JSON: " + ec.message(),
                   "check for a missing comma, quote or bracket near this line"};
      diagnostics_.push_back(std::move(d));
      return false;
    }
    out = p.release();
    return true;
  }

  void error(const std::string& where, std::string message, std::string hint = {}) {
    std::string prefix = where.empty() ? "" : where + ": ";
    diagnostics_.push_back({file_, 0, 0, prefix + std::move(message), std::move(hint)});
  }

  std::vector<std::string> strings(const json::value& v, const std::string& where) {
    std::vector<std::string> out;
    if (!v.is_array()) {
      error(where, "must be an array of strings");
      return out;
    }
    for (const auto& s : v.as_array()) {
      if (s.is_string()) out.emplace_back(s.as_string());
      else if (s.is_int64() || s.is_uint64() || s.is_double()) out.push_back(json::serialize(s));
      else error(where, "must contain only strings");
    }
    return out;
  }

  std::string label(std::size_t i) const {
    std::string l = "fields[" + std::to_string(i) + "]";
    if (i < schema_.fields.size() && !schema_.fields[i].name.empty())
      l += " (\"" + schema_.fields[i].name + "\")";
    return l;
  }

  void read_field(const json::value& v, std::size_t i) {
    schema_.fields.emplace_back();
    Field& f = schema_.fields.back();
    if (!v.is_object()) {
      error(label(i), "each field must be a JSON object");
      return;
    }
    const json::object& o = v.as_object();
    const json::value* name = o.if_contains("name");
    if (!name || !name->is_string() || name->as_string().empty()) {
      error(label(i), "a field needs a non-empty string \"name\"");
      return;
    }
    f.name = std::string(name->as_string());
    for (std::size_t k = 0; k + 1 < schema_.fields.size(); ++k)
      if (lower(schema_.fields[k].name) == lower(f.name))
        error(label(i), "duplicate field name (names are matched ignoring case)");
    const std::string where = label(i);

    if (auto* t = o.if_contains("type")) {
      bool known = false;
      if (t->is_string())
        for (const auto& nt : kTypes)
          if (nt.name == t->as_string()) {
            f.type = nt.type;
            known = true;
          }
      if (!known)
        error(where, "unknown type " + json::serialize(*t),
              "use one of string, integer, number, boolean, date, datetime, time");
    }
    if (auto* fmt = o.if_contains("format")) {
      if (!fmt->is_string()) error(where, "format must be a string");
      else f.format = std::string(fmt->as_string());
    }
    if (f.format == "any") f.format = "default";
    check_format(f, where);
    if (auto* tv = o.if_contains("trueValues")) f.true_values = strings(*tv, where + " trueValues");
    if (auto* fv = o.if_contains("falseValues")) f.false_values = strings(*fv, where + " falseValues");
    if (auto* c = o.if_contains("constraints")) read_constraints(f, *c, where);
    for (const auto& kv : o) {
      std::string_view key = kv.key();
      if (key.starts_with("svd:") && key != "svd:domain" && key != "svd:transform" &&
          key != "svd:as" && key != "svd:age_at" && key != "svd:recode")
        error(where, "unknown key \"" + std::string(key) + "\"",
              "svd: keys on a field are svd:domain, svd:transform, svd:as, svd:age_at, svd:recode");
    }
    if (auto* d = o.if_contains("svd:domain")) read_domains(f, *d, where);
    std::string transform = "drop";
    if (auto* t = o.if_contains("svd:transform")) {
      if (!t->is_string()) error(where, "svd:transform must be a string");
      else transform = std::string(t->as_string());
    }
    read_transform(f, transform, where);
    if (auto* as = o.if_contains("svd:as")) {
      if (!as->is_string() || !plain_identifier(as->as_string()))
        error(where, "svd:as must be a name of lowercase letters, digits and '_'");
      else f.output_name = std::string(as->as_string());
    }
    if (auto* age_at = o.if_contains("svd:age_at")) {
      if (!age_at->is_string()) error(where, "svd:age_at must name a field");
      else if (f.transform != TransformKind::age_band)
        error(where, "svd:age_at only applies to the age_band transform");
      else if (f.type == FieldType::integer)
        error(where, "an integer field is an age in years already: svd:age_at applies to a date of birth",
              "remove svd:age_at");
      else pending_age_at_.push_back({i, std::string(age_at->as_string())});
    } else if (f.transform == TransformKind::age_band && f.type == FieldType::date) {
      error(where, "age_band of a date of birth needs \"svd:age_at\" naming the date field the age is measured at");
    }
    if (auto* recode = o.if_contains("svd:recode")) read_recode(f, *recode, where);
  }

  // Only a kept string can be recoded: a category is text, and anything else either does not
  // leave the site or is already generalised by its transform.
  void read_recode(Field& f, const json::value& v, const std::string& where) {
    if (f.transform != TransformKind::keep || f.type != FieldType::string) {
      error(where, "svd:recode applies to a string field with svd:transform keep");
      return;
    }
    if (!v.is_object() || v.as_object().empty()) {
      error(where, "svd:recode must be an object mapping source codes to shared categories",
            R"(e.g. {"17": "assault", "18": "assault", "*": "other"})");
      return;
    }
    for (const auto& kv : v.as_object()) {
      if (!kv.value().is_string()) {
        error(where, "svd:recode: the category for \"" + std::string(kv.key()) + "\" must be a string");
        continue;
      }
      std::string category(kv.value().as_string());
      if (kv.key() == "*") f.recode_other = std::move(category);
      else f.recode.emplace(std::string(kv.key()), std::move(category));
    }
  }

  // Declared, or every generalised field: what the generalising is for is that such values,
  // alone, describe many people; together they may describe one.
  void read_quasi_identifiers(const json::value* v) {
    if (!v) {
      for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
        const TransformKind t = schema_.fields[i].transform;
        if (t != TransformKind::drop && t != TransformKind::keep && t != TransformKind::token)
          schema_.quasi_identifiers.push_back(i);
      }
      return;
    }
    const std::string where = "svd:quasi_identifiers";
    for (const std::string& name : strings(*v, where)) {
      auto idx = schema_.index_of(name);
      if (!idx) {
        error(where, "\"" + name + "\" is not a field of this schema");
        continue;
      }
      const TransformKind t = schema_.fields[*idx].transform;
      if (t == TransformKind::drop)
        error(where, "\"" + name + "\" never leaves the site, so it cannot single anyone out at the hub");
      else if (t == TransformKind::token)
        error(where, "\"" + name + "\" is a token: it identifies by design and is not a quasi-identifier");
      else if (std::find(schema_.quasi_identifiers.begin(), schema_.quasi_identifiers.end(), *idx) !=
               schema_.quasi_identifiers.end())
        error(where, "\"" + name + "\" is listed twice");
      else
        schema_.quasi_identifiers.push_back(*idx);
    }
    if (v->is_array() && v->as_array().empty()) error(where, "must list at least one field (or be left out)");
  }

  void read_filters(const json::value& v) {
    const std::string where = "svd:filter";
    std::vector<const json::value*> conditions;
    if (v.is_object()) conditions.push_back(&v);
    else if (v.is_array() && !v.as_array().empty())
      for (const auto& c : v.as_array()) conditions.push_back(&c);
    else error(where, "must be an object, or an array of objects, each naming a field and its values");
    for (const json::value* c : conditions) {
      if (!c->is_object()) {
        error(where, "each condition must be an object such as {\"field\": \"call_type\", \"in\": [\"ASSAULT\"]}");
        continue;
      }
      const json::object& o = c->as_object();
      RowFilter filter;
      const json::value* field = o.if_contains("field");
      std::optional<std::size_t> idx;
      if (field && field->is_string()) idx = schema_.index_of(field->as_string());
      if (!idx) {
        error(where, "\"field\" must name a field of this schema");
        continue;
      }
      filter.field = *idx;
      const json::value* in = o.if_contains("in");
      const json::value* not_in = o.if_contains("not_in");
      if ((in == nullptr) == (not_in == nullptr)) {
        error(where, "each condition needs exactly one of \"in\" and \"not_in\"");
        continue;
      }
      for (const auto& kv : o)
        if (kv.key() != "field" && kv.key() != "in" && kv.key() != "not_in")
          error(where, "unknown key \"" + std::string(kv.key()) + "\"", "a condition has field, and in or not_in");
      filter.exclude = not_in != nullptr;
      filter.values = strings(in ? *in : *not_in, where + (in ? " in" : " not_in"));
      if (filter.values.empty()) {
        error(where, "the list of values must not be empty");
        continue;
      }
      schema_.filters.push_back(std::move(filter));
    }
  }

  void check_format(const Field& f, const std::string& where) {
    std::string problem;
    switch (f.type) {
      case FieldType::date: problem = check_date_format(f.format); break;
      case FieldType::datetime: problem = check_datetime_format(f.format); break;
      case FieldType::time: problem = check_time_format(f.format); break;
      default:
        if (f.format != "default")
          problem = "format only applies to date, datetime and time fields";
    }
    if (!problem.empty()) error(where, "format \"" + f.format + "\": " + problem);
  }

  // A bound in the field's own type, checked now so a typo cannot silently disable it.
  void read_bound(Field& f, const json::value& v, const std::string& where, bool is_min) {
    auto& number = is_min ? f.constraints.minimum_number : f.constraints.maximum_number;
    auto& text = is_min ? f.constraints.minimum_text : f.constraints.maximum_text;
    const char* key = is_min ? "minimum" : "maximum";
    if (f.type == FieldType::integer || f.type == FieldType::number) {
      if (v.is_number()) number = v.to_number<double>();
      else error(where, std::string(key) + " must be a number for a " + std::string(to_string(f.type)) + " field");
      return;
    }
    std::string s = v.is_string() ? std::string(v.as_string()) : std::string();
    bool ok = false;
    if (f.type == FieldType::date) {
      if (auto d = parse_date(s, "default")) { text = to_iso(*d); ok = true; }
    } else if (f.type == FieldType::datetime) {
      if (auto d = parse_datetime(s, "default")) { text = to_iso(*d); ok = true; }
    } else if (f.type == FieldType::time) {
      if (auto t = parse_time(s, "default")) { text = to_iso(*t); ok = true; }
    } else {
      error(where, std::string(key) + " only applies to numbers, dates and times");
      return;
    }
    if (!ok) error(where, std::string(key) + " must be an ISO 8601 " + std::string(to_string(f.type)));
  }

  void read_constraints(Field& f, const json::value& v, const std::string& where) {
    if (!v.is_object()) {
      error(where, "constraints must be an object");
      return;
    }
    auto length = [&](const json::value& x, const char* key) -> std::optional<std::size_t> {
      if (x.is_int64() && x.as_int64() >= 0) return static_cast<std::size_t>(x.as_int64());
      if (x.is_uint64()) return static_cast<std::size_t>(x.as_uint64());
      error(where, std::string(key) + " must be a non-negative integer");
      return std::nullopt;
    };
    for (const auto& kv : v.as_object()) {
      std::string_view key = kv.key();
      const json::value& x = kv.value();
      if (key == "required" || key == "unique") {
        if (!x.is_bool()) error(where, std::string(key) + " must be true or false");
        else (key == "required" ? f.constraints.required : f.constraints.unique) = x.as_bool();
      } else if (key == "minLength") {
        f.constraints.min_length = length(x, "minLength");
      } else if (key == "maxLength") {
        f.constraints.max_length = length(x, "maxLength");
      } else if (key == "minimum" || key == "maximum") {
        read_bound(f, x, where, key == "minimum");
      } else if (key == "pattern") {
        if (!x.is_string()) {
          error(where, "pattern must be a string");
          continue;
        }
        f.constraints.pattern = std::string(x.as_string());
        try {
          f.regex = std::make_shared<const boost::regex>(*f.constraints.pattern,
                                                         boost::regex::perl | boost::regex::no_except);
          if (f.regex->status() != 0)
            error(where, "pattern is not a valid regular expression",
                  "patterns use Perl syntax and match the whole value");
        } catch (const std::exception&) {
          error(where, "pattern is not a valid regular expression");
        }
      } else if (key == "enum") {
        f.constraints.enum_values = strings(x, where + " enum");
        if (f.constraints.enum_values.empty()) error(where, "enum must list at least one value");
      } else {
        error(where, "unknown constraint \"" + std::string(key) + "\"",
              "known: required, unique, minLength, maxLength, minimum, maximum, pattern, enum");
      }
    }
  }

  void read_domains(Field& f, const json::value& v, const std::string& where) {
    std::vector<std::string> names;
    if (v.is_string()) names.emplace_back(v.as_string());
    else names = strings(v, where + " svd:domain");
    for (const auto& d : names) {
      if (d == "nhs_number") {
        f.nhs_number = true;
        if (f.type != FieldType::string) error(where, "svd:domain nhs_number needs a string field");
      } else if (d == "postcode") {
        f.postcode = true;
        if (f.type != FieldType::string) error(where, "svd:domain postcode needs a string field");
      } else if (d == "not_future") {
        f.not_future = true;
        if (f.type != FieldType::date && f.type != FieldType::datetime)
          error(where, "svd:domain not_future needs a date or datetime field");
      } else {
        error(where, "unknown svd:domain \"" + d + "\"", "known: nhs_number, postcode, not_future");
      }
    }
  }

  void read_transform(Field& f, const std::string& t, const std::string& where) {
    std::string_view base = t;
    if (t.starts_with("token:")) {
      base = "token";
      f.token_kind = t.substr(6);
    }
    const NamedTransform* found = nullptr;
    for (const auto& nt : kTransforms)
      if (nt.name == base) found = &nt;
    if (!found) {
      error(where, "unknown svd:transform \"" + t + "\"",
            "use keep, drop, token:<kind>, year, month, week, hour, age_band, postcode_district or postcode_sector");
      return;
    }
    f.transform = found->kind;
    if (found->kind != TransformKind::drop)
      f.output_name = found->kind == TransformKind::keep ? f.name : lower(f.name) + std::string(found->suffix);
    bool is_date = f.type == FieldType::date || f.type == FieldType::datetime;
    switch (f.transform) {
      case TransformKind::drop: break;
      case TransformKind::keep:
        // A kept identifier would leave the site in clear: the one mistake a schema must not make.
        if (f.nhs_number || f.postcode)
          error(where, "keep would send a raw identifier",
                f.nhs_number ? "use token:nhs_number" : "use postcode_district or postcode_sector");
        break;
      case TransformKind::token:
        if (!plain_identifier(f.token_kind) || f.token_kind == "person")
          error(where, "token kind \"" + f.token_kind + "\" must be a lowercase name other than person",
                "person tokens are declared once with svd:person at schema level");
        else if (!f.nhs_number && !f.postcode)
          error(where, "token:" + f.token_kind + " needs an svd:domain that normalises the value",
                "add \"svd:domain\": \"nhs_number\" (or postcode)");
        else if (f.token_kind != (f.nhs_number ? "nhs_number" : "postcode"))
          error(where, "token kind must match the field's svd:domain (" +
                           std::string(f.nhs_number ? "token:nhs_number" : "token:postcode") +
                           "), or tokens will not link with other partners'");
        break;
      case TransformKind::year:
      case TransformKind::month:
      case TransformKind::week:
        if (!is_date) error(where, "transform \"" + t + "\" needs a date or datetime field, not " + std::string(to_string(f.type)));
        break;
      case TransformKind::hour:
        if (f.type != FieldType::datetime) error(where, "transform \"hour\" needs a datetime field, not " + std::string(to_string(f.type)));
        break;
      case TransformKind::age_band:
        if (f.type != FieldType::date && f.type != FieldType::integer)
          error(where, "transform \"age_band\" needs a date field (the date of birth) or an integer field (the age), not " +
                           std::string(to_string(f.type)));
        break;
      case TransformKind::postcode_district:
      case TransformKind::postcode_sector:
        if (!f.postcode) error(where, "transform \"" + t + "\" needs \"svd:domain\": \"postcode\"");
        break;
    }
  }

  void resolve_age_at(const PendingAgeAt& p) {
    auto idx = schema_.index_of(p.target);
    const std::string where = label(p.field);
    if (!idx) {
      error(where, "svd:age_at names \"" + p.target + "\", which is not a field of this schema");
      return;
    }
    FieldType t = schema_.fields[*idx].type;
    if (*idx == p.field || (t != FieldType::date && t != FieldType::datetime))
      error(where, "svd:age_at must name another date or datetime field");
    schema_.fields[p.field].age_at = *idx;
  }

  void read_person(const json::value& v) {
    if (!v.is_object()) {
      error("svd:person", "must be an object naming surname, forename and date_of_birth fields");
      return;
    }
    const json::object& o = v.as_object();
    PersonToken person;
    bool ok = true;
    auto component = [&](const char* key, FieldType want, std::size_t& out) {
      const json::value* name = o.if_contains(key);
      if (!name || !name->is_string()) {
        error("svd:person", std::string("missing the \"") + key + "\" component",
              "a person token needs surname, forename and date_of_birth");
        ok = false;
        return;
      }
      auto idx = schema_.index_of(name->as_string());
      if (!idx) {
        error("svd:person", std::string(key) + " names \"" + std::string(name->as_string()) +
                                "\", which is not a field of this schema");
        ok = false;
        return;
      }
      if (schema_.fields[*idx].type != want) {
        error("svd:person", std::string(key) + " must be a " + std::string(to_string(want)) + " field");
        ok = false;
      }
      if (schema_.fields[*idx].transform == TransformKind::keep) {
        error("svd:person", std::string(key) + " field is kept in clear; a person component must not leave the site",
              "give it svd:transform drop (or age_band for the date of birth)");
        ok = false;
      }
      out = *idx;
    };
    component("surname", FieldType::string, person.surname);
    component("forename", FieldType::string, person.forename);
    component("date_of_birth", FieldType::date, person.date_of_birth);
    for (const auto& kv : o) {
      if (kv.key() == "surname" || kv.key() == "forename" || kv.key() == "date_of_birth") continue;
      if (kv.key() == "as") {
        if (!kv.value().is_string() || !plain_identifier(kv.value().as_string())) {
          error("svd:person", "\"as\" must be a name of lowercase letters, digits and '_'");
          ok = false;
        } else {
          person.output_name = std::string(kv.value().as_string());
        }
      } else {
        error("svd:person", "unknown key \"" + std::string(kv.key()) + "\"");
        ok = false;
      }
    }
    if (ok) schema_.person = person;
  }

  // Output names become JSON keys and the hub's column names. Every one, the default names made
  // from a field's own name included, must be a plain lowercase identifier: then none is a
  // reserved hub column (`_partner`, ...), two can never differ only in case, and quoting one in
  // SQL cannot go wrong.
  void check_output_names() {
    std::vector<std::string> seen;
    auto add = [&](const std::string& name, const std::string& where) {
      if (name.empty()) return;
      if (!plain_identifier(name)) {
        error(where, "output name \"" + printable(name) + "\" is not a plain name",
              "the name that leaves the site must be 1-64 characters of a-z, 0-9 and '_', starting with a "
              "letter: set svd:as");
        return;
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end())
        error(where, "output name \"" + name + "\" is used twice", "set a distinct svd:as");
      seen.push_back(name);
    };
    for (std::size_t i = 0; i < schema_.fields.size(); ++i)
      if (schema_.fields[i].transform != TransformKind::drop) add(schema_.fields[i].output_name, label(i));
    if (schema_.person) add(schema_.person->output_name, "svd:person");
    if (seen.empty())
      error("", "nothing would leave the site: every field is dropped",
            "give the fields to share an svd:transform (keep, token:…, year, …)");
  }

  std::string_view text_;
  std::string file_;
  Schema schema_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<PendingAgeAt> pending_age_at_;
};

}  // namespace

std::optional<std::size_t> Schema::index_of(std::string_view field_name) const {
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == field_name) return i;
  return std::nullopt;
}

Schema parse_schema(std::string_view json_text, const std::filesystem::path& file) {
  return Checker(json_text, file).run();
}

Schema load_schema(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw ConfigError({{file.string(), 0, 0, "cannot read the schema file", "check the path and permissions"}});
  std::string text;
  text.resize(kMaxSchemaBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_schema(text, file);
}

std::string_view to_string(FieldType t) {
  for (const auto& nt : kTypes)
    if (nt.type == t) return nt.name;
  return "?";
}

std::string_view to_string(TransformKind t) {
  for (const auto& nt : kTransforms)
    if (nt.kind == t) return nt.name;
  return "?";
}

}  // namespace svd::config
