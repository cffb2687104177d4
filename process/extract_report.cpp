#include "process/extract_report.h"

#include <cmath>
#include <cstdio>

#include <boost/json.hpp>

namespace svd::process {
namespace json = boost::json;

namespace {

// Boost.JSON 1.81 has no pretty printer; report.json is read by people as often as by tools.
void pretty(const json::value& v, std::string& out, int indent) {
  auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  if (v.is_object() && !v.as_object().empty()) {
    out += '{';
    bool first = true;
    for (const auto& kv : v.as_object()) {
      if (!first) out += ',';
      first = false;
      newline(indent + 1);
      out += json::serialize(json::string(kv.key()));
      out += ": ";
      pretty(kv.value(), out, indent + 1);
    }
    newline(indent);
    out += '}';
  } else if (v.is_array() && !v.as_array().empty() && !v.as_array().front().is_primitive()) {
    out += '[';
    bool first = true;
    for (const auto& e : v.as_array()) {
      if (!first) out += ',';
      first = false;
      newline(indent + 1);
      pretty(e, out, indent + 1);
    }
    newline(indent);
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

std::string ExtractReport::to_json() const {
  json::object doc;
  doc["report_version"] = 1;
  doc["partner"] = partner;
  doc["feed"] = feed;
  doc["status"] = refused ? "refused" : "processed";
  if (refused) {
    json::object r;
    r["code"] = errc_name(refusal);
    r["message"] = errc_message(refusal);
    if (refusal_row) r["row"] = refusal_row;
    if (!refusal_detail.empty()) r["detail"] = refusal_detail;
    doc["refusal"] = std::move(r);
  }
  doc["extract"] = {{"sha256", extract_sha256}, {"bytes", extract_bytes}};
  doc["schema"] = {{"name", schema_name}, {"sha256", schema_sha256}};
  json::array keys;
  for (const auto& k : key_ids) keys.emplace_back(k);
  doc["key_ids"] = std::move(keys);
  doc["rows"] = {{"total", rows_total}, {"valid", rows_valid}, {"rejected", rows_rejected}, {"filtered", rows_filtered}};
  json::object by_code;
  for (const auto& [code, n] : rejections_by_code) by_code[code] = n;
  doc["rejections_by_code"] = std::move(by_code);
  json::object by_field;
  for (const auto& [field, codes] : rejections_by_field) {
    json::object c;
    for (const auto& [code, n] : codes) c[code] = n;
    by_field[field.empty() ? "(row)" : field] = std::move(c);
  }
  doc["rejections_by_field"] = std::move(by_field);
  json::array list;
  for (const auto& r : rejections) {
    json::object o;
    o["row"] = r.row;
    o["field"] = r.field.empty() ? json::value(nullptr) : json::value(r.field);
    o["code"] = errc_name(r.code);
    list.push_back(std::move(o));
  }
  doc["rejections"] = std::move(list);
  doc["rejections_truncated"] = rejections_truncated;
  json::object pseudo;
  for (const auto& [field, n] : pseudo_postcodes) pseudo[field] = n;
  doc["pseudo_postcodes"] = std::move(pseudo);
  doc["ignored_columns"] = ignored_columns;
  if (small_groups) {
    json::array qi;
    for (const auto& name : small_groups->quasi_identifiers) qi.emplace_back(name);
    doc["small_groups"] = {{"min_group", small_groups->min_group},
                           {"quasi_identifiers", std::move(qi)},
                           {"counted", small_groups->counted},
                           {"groups", small_groups->groups},
                           {"groups_below_min_group", small_groups->groups_below},
                           {"records_in_groups_below_min_group", small_groups->records_below}};
  }
  doc["started_at"] = started_at;
  doc["finished_at"] = finished_at;
  doc["seconds"] = std::round(seconds * 1000.0) / 1000.0;
  std::string out;
  pretty(doc, out, 0);
  out += '\n';
  return out;
}

std::string ExtractReport::summary() const {
  std::string s;
  char line[256];
  std::snprintf(line, sizeof line, "%s: feed %s, extract sha256 %.16s…, %llu bytes\n",
                refused ? "REFUSED" : "processed", feed.c_str(), extract_sha256.c_str(),
                static_cast<unsigned long long>(extract_bytes));
  s += line;
  if (refused) {
    s += "  reason: " + std::string(errc_name(refusal)) + " — " + std::string(errc_message(refusal));
    if (refusal_row) s += " (row " + std::to_string(refusal_row) + ")";
    if (!refusal_detail.empty()) s += ": " + refusal_detail;
    s += '\n';
  }
  std::snprintf(line, sizeof line, "  rows: %llu total, %llu valid, %llu rejected (%.2f %%) in %.2f s\n",
                static_cast<unsigned long long>(rows_total), static_cast<unsigned long long>(rows_valid),
                static_cast<unsigned long long>(rows_rejected),
                rows_total ? 100.0 * static_cast<double>(rows_rejected) / static_cast<double>(rows_total) : 0.0, seconds);
  s += line;
  if (rows_filtered)
    s += "  " + std::to_string(rows_filtered) + " row(s) outside the schema's filter were not shared (not rejections)\n";
  for (const auto& [field, codes] : rejections_by_field)
    for (const auto& [code, n] : codes)
      s += "    " + (field.empty() ? std::string("(row)") : field) + ": " + code + " × " + std::to_string(n) + '\n';
  for (const auto& [field, n] : pseudo_postcodes)
    if (n) s += "  note: " + std::to_string(n) + " NHS pseudo-postcode(s) in " + field + '\n';
  if (small_groups && small_groups->counted && small_groups->records_below)
    s += "  warning: " + std::to_string(small_groups->records_below) + " record(s) in " +
         std::to_string(small_groups->groups_below) + " group(s) of fewer than " + std::to_string(small_groups->min_group) +
         " sharing the same quasi-identifiers: they could single a person out at the hub\n";
  else if (small_groups && !small_groups->counted)
    s += "  warning: too many quasi-identifier groups to count for min_group\n";
  if (ignored_columns)
    s += "  note: " + std::to_string(ignored_columns) + " column(s) not in the schema were ignored\n";
  if (key_ids.size() > 1) {
    s += "  note: linkage-key overlap: every token field holds tokens under";
    for (const auto& k : key_ids) s += ' ' + k;
    s += '\n';
  }
  return s;
}

}  // namespace svd::process
