#include "config/detail/toml_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace svd::config::detail {

toml::table TomlReader::parse() {
  try {
    return toml::parse_file(file_.string());
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw ConfigError({{file_.string(), src.begin.line, src.begin.column,
                        "not valid TOML: " + std::string(e.description()), ""}});
  }
}

void TomlReader::finish() {
  if (!diagnostics_.empty()) throw ConfigError(diagnostics_);
}

void TomlReader::add(const std::vector<Diagnostic>& more) {
  diagnostics_.insert(diagnostics_.end(), more.begin(), more.end());
}

void TomlReader::error(const toml::node* at, std::string message, std::string hint) {
  std::size_t line = at ? at->source().begin.line : 0;
  std::size_t col = at ? at->source().begin.column : 0;
  diagnostics_.push_back({file_.string(), line, col, std::move(message), std::move(hint)});
}

void TomlReader::known_keys(const toml::table& t, std::initializer_list<std::string_view> keys, std::string_view where) {
  for (auto&& [k, v] : t) {
    if (std::find(keys.begin(), keys.end(), k.str()) != keys.end()) continue;
    std::string known;
    for (auto key : keys) known += (known.empty() ? "" : ", ") + std::string(key);
    error(&v, "unknown key \"" + std::string(k.str()) + "\" in " + std::string(where), "known keys: " + known);
  }
}

const toml::table* TomlReader::table(const toml::table& parent, std::string_view key, bool required) {
  const toml::node* n = parent.get(key);
  if (!n) {
    if (required) error(&parent, "missing [" + std::string(key) + "] table");
    return nullptr;
  }
  if (!n->is_table()) {
    error(n, "\"" + std::string(key) + "\" must be a table");
    return nullptr;
  }
  return n->as_table();
}

std::optional<std::string> TomlReader::string(const toml::table& t, std::string_view key, std::string_view where,
                                             bool required) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) error(&t, "missing \"" + std::string(key) + "\" in " + std::string(where));
    return std::nullopt;
  }
  if (!n->is_string()) {
    error(n, "\"" + std::string(key) + "\" must be a string");
    return std::nullopt;
  }
  return n->as_string()->get();
}

std::filesystem::path TomlReader::resolve(const std::string& p) const {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : base_ / path;
}

void TomlReader::read_size(const toml::table& t, std::string_view key, std::size_t& out, std::int64_t lo,
                           std::int64_t hi) {
  const toml::node* n = t.get(key);
  if (!n) return;
  auto v = n->value<std::int64_t>();
  if (!n->is_integer() || !v || *v < lo || *v > hi) {
    error(n, "\"" + std::string(key) + "\" must be a whole number from " + std::to_string(lo) + " to " +
                 std::to_string(hi));
    return;
  }
  out = static_cast<std::size_t>(*v);
}

void TomlReader::read_int(const toml::table& t, std::string_view key, int& out, int lo, int hi) {
  std::size_t v = static_cast<std::size_t>(out);
  read_size(t, key, v, lo, hi);
  out = static_cast<int>(v);
}

void TomlReader::read_schema(const toml::table& feed_table, const std::string& feed_id, std::filesystem::path& file_out,
                             Schema& schema_out) {
  auto schema = string(feed_table, "schema", "[[feed]]", true);
  if (!schema) return;
  file_out = resolve(*schema);
  try {
    schema_out = load_schema(file_out);
  } catch (const ConfigError& e) {
    // Point at the line that names the schema too, so the operator sees which feed it was.
    error(feed_table.get("schema"),
          "feed \"" + feed_id + "\": its schema has " + std::to_string(e.diagnostics().size()) + " problem(s), listed below");
    add(e.diagnostics());
  }
}

void TomlReader::read_listen(const toml::table& t, std::string& out, std::string_view where) {
  auto a = string(t, "listen", where, false);
  if (!a) return;
  in6_addr v6{};
  in_addr v4{};
  if (::inet_pton(AF_INET, a->c_str(), &v4) != 1 && ::inet_pton(AF_INET6, a->c_str(), &v6) != 1)
    error(t.get("listen"), "listen must be an IP address such as \"0.0.0.0\", \"127.0.0.1\" or \"::\"");
  else out = *a;
}

void TomlReader::read_ops(const toml::table& root, OpsConfig& out) {
  const toml::table* o = table(root, "ops", false);
  if (!o) return;
  known_keys(*o, {"listen", "port"}, "[ops]");
  read_listen(*o, out.listen, "[ops]");
  read_int(*o, "port", out.port, 0, 65535);
}

void TomlReader::read_endpoint(const toml::table& t, std::string_view where, MqttEndpoint& out) {
  if (auto host = string(t, "host", where, true)) {
    if (host->empty() || host->find_first_of(" /:") != std::string::npos)
      error(t.get("host"), "host must be a host name or an IP address, without scheme or port");
    out.host = *host;
  }
  read_int(t, "port", out.port, 1, 65535);
  for (auto [key, path] : {std::pair<const char*, std::filesystem::path*>{"ca", &out.ca}, {"cert", &out.cert}, {"key", &out.key}})
    if (auto p = string(t, key, where, true)) *path = resolve(*p);
  if (auto v = string(t, "mqtt", where, false)) {
    if (*v == "3.1.1") out.mqtt_version = 4;
    else if (*v == "5") out.mqtt_version = 5;
    else error(t.get("mqtt"), "mqtt must be \"3.1.1\" or \"5\"", "clustered brokers such as RabbitMQ speak 3.1.1 only");
  }
  read_int(t, "keepalive_seconds", out.keepalive_seconds, 5, 3600);
  if (auto transport = string(t, "transport", where, false)) {
    if (*transport == "mqtts") out.transport = MqttEndpoint::Transport::tls;
    else if (*transport == "wss") out.transport = MqttEndpoint::Transport::wss;
    else error(t.get("transport"), "transport must be \"mqtts\" (MQTT over TLS) or \"wss\" (over secure WebSockets)");
  }
  if (auto path = string(t, "path", where, false)) {
    if (path->empty() || path->front() != '/' || path->size() > 256 ||
        path->find_first_of(" \"#?\\") != std::string::npos)
      error(t.get("path"), "path must start with '/' and hold no space, quote, '#', '?' or backslash");
    else out.ws_path = *path;
    if (out.transport != MqttEndpoint::Transport::wss) error(t.get("path"), "path only applies with transport = \"wss\"");
  }
  if (auto proxy = string(t, "proxy", where, false)) {
    std::string p = *proxy;
    if (p.starts_with("http://")) p.erase(0, 7);
    if (!p.empty() && p.back() == '/') p.pop_back();
    const auto colon = p.rfind(':');
    int port = 0;
    const bool port_ok = colon != std::string::npos && colon + 1 < p.size() && p.size() - colon <= 6 &&
                         p.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
                         (port = std::stoi(p.substr(colon + 1))) >= 1 && port <= 65535;
    if (!port_ok || colon == 0 || p.find_first_of(" /@") != std::string::npos)
      error(t.get("proxy"), "proxy must be host:port (or http://host:port) of an HTTP proxy that allows CONNECT",
            "proxy credentials are not supported: allow the gateway's address at the proxy instead");
    else out.proxy = p;
    if (out.transport != MqttEndpoint::Transport::wss)
      error(t.get("proxy"), "proxy only applies with transport = \"wss\"", "MQTT over TLS cannot go through an HTTP proxy");
  }
}

void TomlReader::read_schedule(const toml::node* n, Schedule& s) {
  if (!n->is_table()) {
    error(n, "schedule must be a table such as { every = \"week\", day = \"monday\", by = \"09:00\" }");
    return;
  }
  const toml::table& t = *n->as_table();
  known_keys(t, {"every", "day", "by"}, "schedule");
  auto every = string(t, "every", "schedule", true);
  if (!every) return;
  if (*every == "day") s.every = Schedule::Every::day;
  else if (*every == "week") s.every = Schedule::Every::week;
  else if (*every == "month") s.every = Schedule::Every::month;
  else {
    error(t.get("every"), "schedule \"every\" must be \"day\", \"week\" or \"month\"");
    return;
  }
  const toml::node* day = t.get("day");
  if (s.every == Schedule::Every::week) {
    auto name = day ? day->value<std::string>() : std::nullopt;
    std::string lowered = name.value_or("");
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    auto it = std::find(kWeekdays.begin(), kWeekdays.end(), lowered);
    if (it == kWeekdays.end()) error(day ? day : &t, "a weekly schedule needs day = \"monday\" … \"sunday\"");
    else s.weekday = static_cast<int>(it - kWeekdays.begin());
  } else if (s.every == Schedule::Every::month) {
    auto d = day ? day->value<std::int64_t>() : std::nullopt;
    if (!d || !day->is_integer() || *d < 1 || *d > 28)
      error(day ? day : &t, "a monthly schedule needs day = 1 … 28 (every month has those)");
    else s.day = static_cast<int>(*d);
  } else if (day) {
    error(day, "a daily schedule takes no \"day\"");
  }
  if (auto by = string(t, "by", "schedule", true)) {
    int h = -1, m = -1;
    if (by->size() == 5 && (*by)[2] == ':' && std::isdigit(static_cast<unsigned char>((*by)[0])) &&
        std::isdigit(static_cast<unsigned char>((*by)[1])) && std::isdigit(static_cast<unsigned char>((*by)[3])) &&
        std::isdigit(static_cast<unsigned char>((*by)[4]))) {
      h = ((*by)[0] - '0') * 10 + ((*by)[1] - '0');
      m = ((*by)[3] - '0') * 10 + ((*by)[4] - '0');
    }
    if (h < 0 || h > 23 || m < 0 || m > 59) error(t.get("by"), "\"by\" must be a time HH:MM, e.g. \"09:00\"");
    else {
      s.hour = h;
      s.minute = m;
    }
  }
}

}  // namespace svd::config::detail
