#include "config/gateway_config.h"

#include "base/time.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <toml++/toml.h>

#include "base/identity.h"
#include "config/detail/toml_reader.h"
#include "config/diagnostic.h"
#include "config/temporal.h"

namespace svd::config {
namespace {

class Loader : detail::TomlReader {
 public:
  using TomlReader::TomlReader;

  GatewayConfig run() {
    toml::table root = parse();
    cfg_.file = file();
    known_keys(root, {"gateway", "linkage_key", "limits", "hub", "batches", "http", "ops", "storage", "audit", "feed"},
               "top level");
    read_gateway(root);
    read_keys(root);
    read_limits(root);
    read_hub(root);
    read_batches(root);
    read_http(root);
    read_ops(root, cfg_.ops);
    read_storage(root);
    read_audit(root);
    read_feeds(root);
    finish();
    return std::move(cfg_);
  }

 private:
  void read_gateway(const toml::table& root) {
    const toml::table* g = table(root, "gateway", true);
    if (!g) return;
    known_keys(*g, {"partner", "state_dir", "credentials_check_seconds"}, "[gateway]");
    if (auto p = string(*g, "partner", "[gateway]", true)) {
      if (!valid_identity(*p))
        error(g->get("partner"), "partner id must be 1-64 characters of a-z, 0-9 and '-'",
              "it is also the CN of the gateway's certificate and part of MQTT topics");
      cfg_.partner = *p;
    }
    if (auto s = string(*g, "state_dir", "[gateway]", true)) cfg_.state_dir = resolve(*s);
    read_int(*g, "credentials_check_seconds", cfg_.credentials_check_seconds, 0, 86400);
  }

  // [linkage_key] (one key, always in force) or [[linkage_key]] tables (a rotation).
  void read_keys(const toml::table& root) {
    const toml::node* n = root.get("linkage_key");
    if (!n) {
      error(&root, "missing [linkage_key] table", "or [[linkage_key]] tables while a key rotation is configured");
      return;
    }
    if (const toml::table* k = n->as_table()) {
      known_keys(*k, {"file", "id"}, "[linkage_key]");
      LinkageKeyConfig key;
      read_key_entry(*k, "[linkage_key]", key);
      cfg_.linkage_keys.push_back(std::move(key));
      return;
    }
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables() || arr->empty()) {
      error(n, "linkage_key must be one [linkage_key] table or [[linkage_key]] tables");
      return;
    }
    std::vector<const toml::table*> tables;
    bool complete = true;
    for (const auto& e : *arr) {
      const toml::table& t = *e.as_table();
      tables.push_back(&t);
      known_keys(t, {"id", "file", "from", "until"}, "[[linkage_key]]");
      LinkageKeyConfig key;
      complete &= read_key_entry(t, "[[linkage_key]]", key);
      complete &= read_instant(t, "from", key.window.from);
      complete &= read_instant(t, "until", key.window.until);
      cfg_.linkage_keys.push_back(std::move(key));
    }
    // The set's own checks make sense only once every entry has its id and window.
    if (!complete) return;
    for (const auto& p : check_linkage_keys(cfg_.linkage_keys)) {
      const toml::table& t = *tables[std::min(p.key, tables.size() - 1)];
      const toml::node* at = p.at == LinkageKeyProblem::At::from    ? t.get("from")
                             : p.at == LinkageKeyProblem::At::until ? t.get("until")
                                                                    : nullptr;
      error(at ? at : (t.get("id") ? t.get("id") : &t), p.message, p.hint);
    }
  }

  // id and file; false when either is missing or wrong.
  bool read_key_entry(const toml::table& k, std::string_view where, LinkageKeyConfig& key) {
    bool ok = true;
    if (auto f = string(k, "file", where, true)) key.file = resolve(*f);
    else ok = false;
    if (auto id = string(k, "id", where, true)) {
      // The id prefixes every token ("k2026a:…"), so ':' (or a space, which separates the tokens
      // of an overlap) would make tokens ambiguous.
      if (!valid_identity(*id) || id->size() > 16) {
        error(k.get("id"), "key id must be 1-16 characters of a-z, 0-9 and '-'");
        ok = false;
      }
      key.id = *id;
    } else {
      ok = false;
    }
    return ok;
  }

  // A TOML offset date-time, unquoted. A local date-time is refused: the instant a key comes into
  // force would otherwise depend on each appliance's time zone, and partners must agree on it.
  bool read_instant(const toml::table& t, std::string_view key, std::optional<std::int64_t>& out) {
    const toml::node* n = t.get(key);
    if (!n) return true;
    const std::string example = std::string(key) + " = 2027-01-01T00:00:00Z";
    const auto* v = n->as_date_time();
    if (!v) {
      error(n, "\"" + std::string(key) + "\" must be a date-time with a UTC offset, e.g. " + example,
            n->is_string() ? "write it without quotes: a TOML date-time, not a string"
            : n->is_date() ? "a date alone is not an instant: add the time and offset, T00:00:00Z"
                           : "");
      return false;
    }
    const toml::date_time& dt = v->get();
    if (!dt.offset) {
      error(n, "\"" + std::string(key) + "\" needs a UTC offset (Z or e.g. +01:00), e.g. " + example,
            "a local date-time would mean a different instant on appliances in other time zones");
      return false;
    }
    if (dt.time.nanosecond != 0) {
      error(n, "\"" + std::string(key) + "\" must be a whole second", "received times are whole seconds");
      return false;
    }
    DateTime d{{dt.date.year, dt.date.month, dt.date.day},
               {dt.time.hour, dt.time.minute, dt.time.second},
               dt.offset->minutes};
    out = to_unix_seconds(d);
    return true;
  }

  void read_limits(const toml::table& root) {
    const toml::table* l = table(root, "limits", false);
    if (!l) return;
    known_keys(*l, {"max_row_bytes", "max_field_bytes", "max_fields", "max_rejections_listed", "max_unique_values"},
               "[limits]");
    read_size(*l, "max_row_bytes", cfg_.limits.max_row_bytes, 1024, 64 << 20);
    read_size(*l, "max_field_bytes", cfg_.limits.max_field_bytes, 64, 16 << 20);
    read_size(*l, "max_fields", cfg_.limits.max_fields, 1, 100000);
    read_size(*l, "max_rejections_listed", cfg_.limits.max_rejections_listed, 0, 1000000);
    read_size(*l, "max_unique_values", cfg_.limits.max_unique_values, 0, 1000000000);
    if (cfg_.limits.max_field_bytes > cfg_.limits.max_row_bytes)
      error(l, "max_field_bytes cannot exceed max_row_bytes");
  }

  void read_hub(const toml::table& root) {
    const toml::table* h = table(root, "hub", false);
    if (!h) return;
    known_keys(*h, {"host", "port", "ca", "cert", "key", "mqtt", "keepalive_seconds", "transport", "path", "proxy",
                    "inflight", "window",
                    "receipt_timeout_seconds", "receipt_timeout_max_seconds"},
               "[hub]");
    HubConfig hub;
    read_endpoint(*h, "[hub]", hub.broker);
    read_int(*h, "inflight", hub.inflight, 1, 1000);
    read_int(*h, "window", hub.window, 1, 100000);
    if (hub.window < hub.inflight)
      error(h->get("window"), "window must be at least inflight",
            "window counts every batch sent and not yet answered by the hub, inflight only those not yet PUBACKed");
    read_int(*h, "receipt_timeout_seconds", hub.receipt_timeout_seconds, 5, 86400);
    read_int(*h, "receipt_timeout_max_seconds", hub.receipt_timeout_max_seconds, 5, 7 * 86400);
    if (hub.receipt_timeout_max_seconds < hub.receipt_timeout_seconds)
      error(h->get("receipt_timeout_max_seconds"), "receipt_timeout_max_seconds must be at least receipt_timeout_seconds",
            "re-sends start at receipt_timeout_seconds and double up to receipt_timeout_max_seconds");
    cfg_.hub = std::move(hub);
  }

  void read_batches(const toml::table& root) {
    const toml::table* b = table(root, "batches", false);
    if (!b) return;
    known_keys(*b, {"max_records", "max_bytes"}, "[batches]");
    read_size(*b, "max_records", cfg_.batches.max_records, 1, 100000);
    // Brokers cap message size (mosquitto's default is 256 MiB, others far less): stay modest.
    read_size(*b, "max_bytes", cfg_.batches.max_bytes, 1024, 16 << 20);
  }

  void read_http(const toml::table& root) {
    const toml::table* h = table(root, "http", false);
    if (!h) return;
    known_keys(*h, {"listen", "port", "cert", "key", "client_ca", "crl", "max_extract_bytes", "max_header_bytes",
                    "max_connections", "idle_timeout_seconds", "header_timeout_seconds",
                    "max_handshakes_per_address", "min_upload_bytes_per_second"},
               "[http]");
    HttpConfig http;
    read_listen(*h, http.listen, "[http]");
    read_int(*h, "port", http.port, 1, 65535);
    for (auto [key, path] : {std::pair<const char*, std::filesystem::path*>{"cert", &http.cert}, {"key", &http.key},
                             {"client_ca", &http.client_ca}})
      if (auto p = string(*h, key, "[http]", true)) *path = resolve(*p);
    if (auto p = string(*h, "crl", "[http]", false)) http.crl = resolve(*p);
    std::size_t max_extract = static_cast<std::size_t>(http.max_extract_bytes);
    read_size(*h, "max_extract_bytes", max_extract, 1, std::int64_t{1} << 40);
    http.max_extract_bytes = max_extract;
    read_size(*h, "max_header_bytes", http.max_header_bytes, 1024, 1 << 20);
    read_int(*h, "max_connections", http.max_connections, 1, 10000);
    read_int(*h, "idle_timeout_seconds", http.idle_timeout_seconds, 1, 3600);
    read_int(*h, "header_timeout_seconds", http.header_timeout_seconds, 1, 600);
    read_int(*h, "max_handshakes_per_address", http.max_handshakes_per_address, 1, 10000);
    std::size_t min_rate = static_cast<std::size_t>(http.min_upload_bytes_per_second);
    read_size(*h, "min_upload_bytes_per_second", min_rate, 0, std::int64_t{1} << 30);
    http.min_upload_bytes_per_second = min_rate;
    cfg_.http = std::move(http);
  }

  void read_storage(const toml::table& root) {
    const toml::table* s = table(root, "storage", false);
    if (!s) return;
    known_keys(*s, {"quota_bytes", "retain_extracts_hours", "spool_settle_seconds", "spool_scan_seconds"},
               "[storage]");
    std::size_t quota = static_cast<std::size_t>(cfg_.storage.quota_bytes);
    read_size(*s, "quota_bytes", quota, 1 << 20, std::int64_t{1} << 50);
    cfg_.storage.quota_bytes = quota;
    read_int(*s, "retain_extracts_hours", cfg_.storage.retain_extracts_hours, 0, 24 * 366);
    read_int(*s, "spool_settle_seconds", cfg_.storage.spool_settle_seconds, 0, 86400);
    read_int(*s, "spool_scan_seconds", cfg_.storage.spool_scan_seconds, 1, 86400);
  }

  void read_audit(const toml::table& root) {
    const toml::table* a = table(root, "audit", false);
    if (!a) return;
    known_keys(*a, {"device_key", "hub_witness_key", "checkpoint_events", "checkpoint_minutes"}, "[audit]");
    if (auto p = string(*a, "device_key", "[audit]", false)) cfg_.audit.device_key = resolve(*p);
    if (auto p = string(*a, "hub_witness_key", "[audit]", false)) cfg_.audit.hub_witness_key = resolve(*p);
    // A checkpoint message carries the leaf hashes since the one before: 4096 bounds it at 260 KiB.
    read_int(*a, "checkpoint_events", cfg_.audit.checkpoint_events, 1, 4096);
    read_int(*a, "checkpoint_minutes", cfg_.audit.checkpoint_minutes, 1, 24 * 60);
  }

  void read_feed(const toml::table& t) {
    FeedConfig feed;
    known_keys(t,
               {"id", "schema", "format", "encoding", "delimiter", "allowed_clients", "schedule", "reject_threshold",
                "min_group", "small_groups"},
               "[[feed]]");
    if (auto id = string(t, "id", "[[feed]]", true)) {
      if (!valid_identity(*id)) error(t.get("id"), "feed id must be 1-64 characters of a-z, 0-9 and '-'");
      for (const auto& other : cfg_.feeds)
        if (other.id == *id) error(t.get("id"), "feed \"" + *id + "\" is defined twice");
      feed.id = *id;
    }
    if (auto format = string(t, "format", "[[feed]]", false)) {
      if (*format == "csv") feed.format = Format::csv;
      else if (*format == "jsonl") feed.format = Format::jsonl;
      else error(t.get("format"), "format must be \"csv\" or \"jsonl\"");
    }
    if (auto enc = string(t, "encoding", "[[feed]]", false)) {
      std::string e = *enc;
      std::transform(e.begin(), e.end(), e.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      });
      if (e == "utf-8" || e == "utf8") feed.encoding = TextEncoding::utf8;
      else if (e == "windows-1252" || e == "cp1252") feed.encoding = TextEncoding::windows_1252;
      else error(t.get("encoding"), "encoding must be \"utf-8\" or \"windows-1252\"");
    }
    if (auto d = string(t, "delimiter", "[[feed]]", false)) {
      if (d->size() != 1 || (*d)[0] == '"' || (*d)[0] == '\r' || (*d)[0] == '\n')
        error(t.get("delimiter"), "delimiter must be one character such as \",\", \";\", \"|\" or \"\\t\"");
      else feed.delimiter = (*d)[0];
      if (feed.format == Format::jsonl) error(t.get("delimiter"), "delimiter only applies to csv feeds");
    }
    if (const toml::node* clients = t.get("allowed_clients")) {
      const toml::array* arr = clients->as_array();
      if (!arr) error(clients, "allowed_clients must be an array of client identities");
      else
        for (const auto& c : *arr) {
          auto s = c.value<std::string>();
          if (!c.is_string() || !valid_identity(*s))
            error(&c, "a client identity must be 1-64 characters of a-z, 0-9 and '-' (the certificate CN)");
          else if (reserved_client_identity(*s))
            error(&c,
                  "\"" + *s + "\" is reserved: the gateway records its own actions and the spool's extracts under it",
                  "give the export client a certificate with another CN, and list that");
          else feed.allowed_clients.push_back(*s);
        }
    }
    if (const toml::node* s = t.get("schedule")) read_schedule(s, feed.schedule);
    if (const toml::node* r = t.get("reject_threshold")) {
      auto v = r->value<double>();
      if (!(r->is_floating_point() || r->is_integer()) || !v || !(*v >= 0.0 && *v <= 1.0))
        error(r, "reject_threshold must be a fraction from 0.0 to 1.0 (0.1 = refuse above 10 % bad rows)");
      else feed.reject_threshold = *v;
    }
    read_int(t, "min_group", feed.min_group, 0, 1000);
    if (auto policy = string(t, "small_groups", "[[feed]]", false)) {
      if (*policy == "warn") feed.small_groups = SmallGroups::warn;
      else if (*policy == "refuse") feed.small_groups = SmallGroups::refuse;
      else error(t.get("small_groups"), "small_groups must be \"warn\" or \"refuse\"");
    }
    read_schema(t, feed.id, feed.schema_file, feed.schema);
    if (feed.min_group > 1 && !feed.schema.file.empty() && feed.schema.quasi_identifiers.empty())
      error(t.get("min_group"), "min_group needs quasi-identifiers, and schema \"" + feed.schema.name + "\" has none",
            "declare them with svd:quasi_identifiers in the schema, or leave min_group out");
    cfg_.feeds.push_back(std::move(feed));
  }

  void read_feeds(const toml::table& root) {
    const toml::node* n = root.get("feed");
    if (!n) {
      error(&root, "no [[feed]] defined", "add at least one [[feed]] table");
      return;
    }
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      error(n, "feeds are declared as [[feed]] tables");
      return;
    }
    for (const auto& f : *arr) read_feed(*f.as_table());
  }

  GatewayConfig cfg_;
};

}  // namespace

std::vector<LinkageKeyProblem> check_linkage_keys(const std::vector<LinkageKeyConfig>& keys) {
  using At = LinkageKeyProblem::At;
  constexpr std::int64_t kBeginning = std::numeric_limits<std::int64_t>::min();
  std::vector<LinkageKeyProblem> out;
  if (keys.empty()) return {{0, At::entry, "no linkage key is configured", ""}};
  if (keys.size() > kMaxLinkageKeys)
    out.push_back({kMaxLinkageKeys, At::entry,
                   "at most " + std::to_string(kMaxLinkageKeys) + " [[linkage_key]] tables are allowed",
                   "remove retired keys: a key whose until has passed is no longer used"});
  bool windows_ok = true;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const KeyWindow& w = keys[i].window;
    for (std::size_t j = 0; j < i; ++j)
      if (keys[j].id == keys[i].id)
        out.push_back({i, At::entry, "key id \"" + keys[i].id + "\" is used twice",
                       "every key needs an id of its own: the id prefixes the key's tokens"});
    if (w.from && w.until && *w.from >= *w.until) {
      out.push_back({i, At::until,
                     "key " + keys[i].id + ": until (" + utc_iso(*w.until) + ") must be after from (" +
                         utc_iso(*w.from) + ")",
                     ""});
      windows_ok = false;
    }
    // Listed in the order they come into force, so that the tokens of an overlap are always
    // old key first, at every partner (an absent from is the beginning of time).
    if (i > 0 && w.from.value_or(kBeginning) < keys[i - 1].window.from.value_or(kBeginning))
      out.push_back({i, w.from ? At::from : At::entry,
                     "[[linkage_key]] tables must be listed in the order their keys come into force (by from)",
                     ""});
  }
  if (!windows_ok) return out;

  // The number of keys in force changes only at a from or an until, so checking the beginning
  // of time and every bound checks every instant.
  std::vector<std::int64_t> points{kBeginning};
  for (const auto& k : keys) {
    if (k.window.from) points.push_back(*k.window.from);
    if (k.window.until) points.push_back(*k.window.until);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  for (std::size_t p = 0; p < points.size(); ++p) {
    const std::int64_t t = points[p];
    std::vector<std::size_t> in_force;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i].window.contains(t)) in_force.push_back(i);
    if (in_force.empty()) {
      const bool to_end = p + 1 == points.size();
      if (t == kBeginning) {
        // The gap ends where the earliest key begins.
        std::size_t first = 0;
        for (std::size_t i = 1; i < keys.size(); ++i)
          if (*keys[i].window.from < *keys[first].window.from) first = i;
        out.push_back({first, At::from, "no linkage key is in force before " + utc_iso(points[1]),
                       "the first key needs no from"});
      } else {
        std::size_t ending = 0;
        for (std::size_t i = 0; i < keys.size(); ++i)
          if (keys[i].window.until == t) ending = i;
        out.push_back({ending, At::until,
                       "no linkage key is in force from " + utc_iso(t) +
                           (to_end ? std::string(" on") : " to " + utc_iso(points[p + 1])),
                       to_end ? "the newest key needs no until; add the next key before removing it"
                              : "the next key's from must be no later than this key's until"});
      }
    } else if (in_force.size() > kMaxKeysInForce) {
      std::string ids;
      std::size_t newest = in_force.front();
      for (std::size_t i : in_force) {
        ids += (ids.empty() ? "" : ", ") + keys[i].id;
        if (keys[i].window.from == t) newest = i;
      }
      out.push_back({newest, keys[newest].window.from == t ? At::from : At::entry,
                     std::to_string(in_force.size()) + " keys are in force at " +
                         (t == kBeginning ? std::string("the beginning") : utc_iso(t)) + " (" + ids + "); at most " +
                         std::to_string(kMaxKeysInForce) + " may overlap",
                     "end the oldest key's window (until) before the next one begins"});
    }
  }
  return out;
}

const FeedConfig* GatewayConfig::find_feed(std::string_view id) const {
  for (const auto& f : feeds)
    if (f.id == id) return &f;
  return nullptr;
}

GatewayConfig load_gateway_config(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ConfigError({{file.string(), 0, 0, "config file not found or not a regular file", "check the --config path"}});
  return Loader(file).run();
}

}  // namespace svd::config
