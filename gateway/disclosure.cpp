#include "gateway/disclosure.h"

#include <algorithm>

#include <boost/json.hpp>

#include "crypto/sha256.h"
#include "render/html.h"

namespace svd::gateway {
namespace {

namespace json = boost::json;
using config::Field;
using config::FieldType;
using config::TransformKind;

std::string quoted_list(const std::vector<std::string>& values) {
  std::string s;
  for (std::size_t i = 0; i < values.size(); ++i) s += (i ? ", \"" : "\"") + values[i] + "\"";
  return s;
}

std::string recode_text(const Field& f) {
  std::vector<std::string> categories;
  for (const auto& [code, category] : f.recode)
    if (std::find(categories.begin(), categories.end(), category) == categories.end()) categories.push_back(category);
  std::string s = "recoded: " + std::to_string(f.recode.size()) + " source code(s) to the categories " +
                  quoted_list(categories);
  s += f.recode_other ? "; every other code as \"" + *f.recode_other + "\""
                      : "; a code not listed rejects the row (unmapped_code)";
  return s;
}

// What happens to one column, for people.
std::string what(const config::Schema& schema, const Field& f) {
  switch (f.transform) {
    case TransformKind::drop: return "dropped: never leaves the site";
    case TransformKind::keep:
      if (!f.recode.empty() || f.recode_other) return recode_text(f);
      return "kept as it is (normalised)";
    case TransformKind::token:
      return "replaced by a keyed token (HMAC-SHA-256 under the linkage key, kind " + f.token_kind +
             "): links across agencies, names no one without the key";
    case TransformKind::year: return "generalised to the year";
    case TransformKind::month: return "generalised to the month";
    case TransformKind::week: return "generalised to the ISO week";
    case TransformKind::hour: return "generalised to the hour";
    case TransformKind::age_band:
      if (f.type == FieldType::integer) return "the age cut to a five-year band (0-4 … 85-89, 90+)";
      return "the age at " + schema.fields[f.age_at].name + ", cut to a five-year band (0-4 … 85-89, 90+)";
    case TransformKind::postcode_district: return "cut to the postcode district (the outward code, e.g. LS6)";
    case TransformKind::postcode_sector: return "cut to the postcode sector (e.g. LS6 1)";
  }
  return "";
}

std::string treatment(const Field& f) {
  if (f.transform == TransformKind::keep && (!f.recode.empty() || f.recode_other)) return "recode";
  return std::string(config::to_string(f.transform));
}

// As the config names it, relative to the config's folder, so the statement reads the same on
// every machine the config is copied to.
std::string shown_path(const std::filesystem::path& file, const std::filesystem::path& config_dir) {
  std::error_code ec;
  const auto absolute = [&](const std::filesystem::path& p) { return std::filesystem::absolute(p, ec).lexically_normal(); };
  const std::filesystem::path rel = absolute(file).lexically_relative(absolute(config_dir));
  return rel.empty() || *rel.begin() == ".." ? file.string() : rel.string();
}

DisclosedFeed disclose_feed(const config::FeedConfig& feed, const std::filesystem::path& config_dir) {
  const config::Schema& s = feed.schema;
  DisclosedFeed d;
  d.id = feed.id;
  d.schema = s.name;
  d.schema_file = shown_path(feed.schema_file, config_dir);
  d.schema_sha256 = crypto::sha256_hex(s.source);
  d.format = feed.format == config::Format::csv ? "csv" : "jsonl";
  d.encoding = feed.encoding == config::TextEncoding::utf8 ? "utf-8" : "windows-1252";
  d.schedule = feed.schedule.to_string();
  d.allowed_clients = feed.allowed_clients;
  for (const config::RowFilter& f : s.filters)
    d.filters.push_back("only rows whose " + s.fields[f.field].name + " is " + (f.exclude ? "not " : "") + "one of " +
                        quoted_list(f.values) + " are shared; the others stay on the site, counted as filtered");
  std::vector<bool> in_person(s.fields.size(), false);
  if (s.person) {
    for (std::size_t i : {s.person->surname, s.person->forename, s.person->date_of_birth}) {
      in_person[i] = true;
      d.person_from.push_back(s.fields[i].name);
    }
    d.person_output = s.person->output_name;
  }
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    const Field& f = s.fields[i];
    DisclosedColumn c;
    c.source = f.name;
    c.type = std::string(config::to_string(f.type));
    c.identifier = f.nhs_number || f.postcode || in_person[i];
    c.treatment = treatment(f);
    c.what = what(s, f);
    if (in_person[i]) c.what += "; part of the person token";
    if (f.transform != TransformKind::drop) {
      c.output = f.output_name;
      d.outputs.push_back(f.output_name);
    }
    d.columns.push_back(std::move(c));
  }
  if (d.person_output) d.outputs.push_back(*d.person_output);
  for (std::size_t i : s.quasi_identifiers) d.quasi_identifiers.push_back(s.fields[i].output_name);
  d.min_group = feed.min_group;
  d.small_groups = feed.small_groups == config::SmallGroups::refuse ? "refuse" : "warn";
  return d;
}

std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

// One sentence on the quasi-identifiers and what the feed does about small groups; "" when none.
std::string small_groups_text(const DisclosedFeed& f) {
  if (f.quasi_identifiers.empty()) return "";
  std::string s = "Quasi-identifiers (together they could single a person out): " + quoted_list(f.quasi_identifiers);
  if (f.min_group > 1)
    s += "; records whose combination of them fewer than " + std::to_string(f.min_group) +
         " records of the extract share are counted, and " +
         (f.small_groups == "refuse" ? "the extract is then refused" : "warned of (the extract is still shared)");
  else
    s += "; small groups are not checked (no min_group)";
  return s;
}

std::string key_ids_text(const Disclosure& d) {
  std::string s;
  for (std::size_t i = 0; i < d.key_ids.size(); ++i) s += (i ? ", " : "") + d.key_ids[i];
  return s.empty() ? "none configured" : s;
}

}  // namespace

std::optional<Disclosure> disclose(const config::GatewayConfig& cfg, const std::string& feed) {
  Disclosure d;
  d.partner = cfg.partner;
  if (cfg.hub) d.hub = cfg.hub->broker.host + ":" + std::to_string(cfg.hub->broker.port);
  for (const auto& k : cfg.linkage_keys) d.key_ids.push_back(k.id);
  for (const auto& f : cfg.feeds)
    if (feed.empty() || f.id == feed) d.feeds.push_back(disclose_feed(f, cfg.file.parent_path()));
  if (!feed.empty() && d.feeds.empty()) return std::nullopt;
  return d;
}

std::string to_json(const Disclosure& d) {
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  json::array feeds;
  for (const DisclosedFeed& f : d.feeds) {
    json::array columns;
    for (const DisclosedColumn& c : f.columns) {
      json::object o{{"source", c.source}, {"type", c.type}, {"identifier", c.identifier},
                     {"treatment", c.treatment}, {"what", c.what}};
      o["output"] = c.output ? json::value(*c.output) : json::value(nullptr);
      columns.push_back(std::move(o));
    }
    json::object o{{"feed", f.id},
                   {"schema", f.schema},
                   {"schema_file", f.schema_file},
                   {"schema_sha256", f.schema_sha256},
                   {"format", f.format},
                   {"encoding", f.encoding},
                   {"schedule", f.schedule},
                   {"allowed_clients", strings(f.allowed_clients)},
                   {"filters", strings(f.filters)},
                   {"columns", std::move(columns)},
                   {"outputs", strings(f.outputs)},
                   {"quasi_identifiers", strings(f.quasi_identifiers)},
                   {"min_group", f.min_group},
                   {"small_groups", f.small_groups}};
    if (f.person_output)
      o["person_token"] = json::object{{"from", strings(f.person_from)}, {"output", *f.person_output}};
    else
      o["person_token"] = nullptr;
    feeds.push_back(std::move(o));
  }
  json::object root{{"partner", d.partner},
                    {"linkage_keys", strings(d.key_ids)},
                    {"feeds", std::move(feeds)}};
  root["hub"] = d.hub.empty() ? json::value(nullptr) : json::value(d.hub);
  return json::serialize(root) + "\n";
}

std::string to_markdown(const Disclosure& d) {
  std::string m = "## What leaves the site: partner " + d.partner + "\n\n";
  m += "Generated by `svdgw disclose` from the gateway's configuration. Records go to the force hub at " +
       (d.hub.empty() ? std::string("(no [hub] configured)") : "`" + d.hub + "`") +
       " over mutually authenticated TLS; tokens are made under the linkage key(s) " + key_ids_text(d) +
       ", which stay on the gateway. Everything a row holds that is not listed as leaving stays on the "
       "site and is deleted with the extract.\n";
  for (const DisclosedFeed& f : d.feeds) {
    m += "\n### Feed `" + f.id + "`\n\n";
    m += "- Schema `" + f.schema + "` (`" + f.schema_file + "`, SHA-256 `" + f.schema_sha256 + "`)\n";
    m += "- Extract: " + f.format + ", " + f.encoding + "; sent by " +
         (f.allowed_clients.empty() ? std::string("the spool directory only") : quoted_list(f.allowed_clients)) +
         "; " + f.schedule + "\n";
    for (const auto& filter : f.filters) m += "- Rows: " + filter + "\n";
    if (f.person_output)
      m += "- Person token `" + *f.person_output + "`: a keyed token of " + quoted_list(f.person_from) +
           " (names normalised), linking the same person across agencies\n";
    if (const std::string sg = small_groups_text(f); !sg.empty()) m += "- " + sg + "\n";
    m += "\n| source column | type | identifier | what leaves the site | as |\n| --- | --- | --- | --- | --- |\n";
    for (const DisclosedColumn& c : f.columns)
      m += "| " + md_cell(c.source) + " | " + c.type + " | " + (c.identifier ? "yes" : "") + " | " + md_cell(c.what) +
           " | " + (c.output ? "`" + *c.output + "`" : std::string("—")) + " |\n";
    m += "\nA record of this feed holds exactly: ";
    for (std::size_t i = 0; i < f.outputs.size(); ++i) m += (i ? ", `" : "`") + f.outputs[i] + "`";
    m += ".\n";
  }
  return m;
}

std::string to_html(const Disclosure& d) {
  using render::html;
  std::string h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>What leaves the site: " +
                  html(d.partner) + "</title><style>" + std::string(render::kPageCss) + "</style></head><body>\n";
  h += "<h1>What leaves the site: partner " + html(d.partner) + "</h1>";
  h += "<p class=\"sentence\">Generated by <code>svdgw disclose</code> from the gateway's configuration. Records go "
       "to the force hub at " +
       (d.hub.empty() ? std::string("(no [hub] configured)") : "<code>" + html(d.hub) + "</code>") +
       " over mutually authenticated TLS; tokens are made under the linkage key(s) " + html(key_ids_text(d)) +
       ", which stay on the gateway. Everything a row holds that is not listed as leaving stays on the site and is "
       "deleted with the extract.</p>\n";
  for (const DisclosedFeed& f : d.feeds) {
    h += "<section class=\"feed\"><h2>Feed " + html(f.id) + "</h2><ul>";
    h += "<li>Schema " + html(f.schema) + " (" + html(f.schema_file) + ", SHA-256 <code>" + html(f.schema_sha256) +
         "</code>)</li>";
    h += "<li>Extract: " + html(f.format) + ", " + html(f.encoding) + "; sent by " +
         html(f.allowed_clients.empty() ? std::string("the spool directory only") : quoted_list(f.allowed_clients)) +
         "; " + html(f.schedule) + "</li>";
    for (const auto& filter : f.filters) h += "<li>Rows: " + html(filter) + "</li>";
    if (f.person_output)
      h += "<li>Person token <code>" + html(*f.person_output) + "</code>: a keyed token of " +
           html(quoted_list(f.person_from)) + " (names normalised), linking the same person across agencies</li>";
    if (const std::string sg = small_groups_text(f); !sg.empty()) h += "<li>" + html(sg) + "</li>";
    h += "</ul><table><tr><th class=\"l\">Source column</th><th class=\"l\">Type</th><th class=\"l\">Identifier</th>"
         "<th class=\"l\">What leaves the site</th><th class=\"l\">As</th></tr>";
    for (const DisclosedColumn& c : f.columns)
      h += "<tr><td class=\"l\">" + html(c.source) +
           "</td><td class=\"l\">" + html(c.type) + "</td><td class=\"l\">" + (c.identifier ? "yes" : "") +
           "</td><td class=\"l\">" + html(c.what) + "</td><td class=\"l\">" +
           (c.output ? "<code>" + html(*c.output) + "</code>" : std::string("—")) + "</td></tr>";
    h += "</table></section>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace svd::gateway
