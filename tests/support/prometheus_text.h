#pragma once
// A strict reader of the Prometheus text format 0.0.4 for the tests of both programs' /metrics.

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace svd::test_support {

// A strict reader of the text format 0.0.4, as Prometheus's own parser applies it, for what
// render() may produce (counters and gauges, no timestamps): returns the samples as
// "name{label="value",...}" (values unescaped, in the order written) -> value, and records
// every violation in `errors`. python3-prometheus-client is not installed here, so this is the
// independent check.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::map<std::string, std::string>> labels;  // series -> label -> raw value
  std::vector<std::string> errors;
};

inline bool metric_name(std::string_view s, bool colon) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline std::optional<double> parse_value(const std::string& text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text.empty() || text.find_first_not_of("0123456789+-.e") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

inline Exposition parse_exposition(const std::string& text) {
  Exposition out;
  auto error = [&](std::size_t line, const std::string& what) {
    out.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (text.empty() || text.back() != '\n') out.errors.push_back("no final newline");
  std::set<std::string> helped, typed, finished;
  std::string current;  // the family whose samples may follow
  std::size_t number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.empty()) {
      error(number, "empty line");
      continue;
    }
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      const std::size_t space = line.find(' ', 7);
      const std::string name = line.substr(7, space == std::string::npos ? std::string::npos : space - 7);
      const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
      if (!metric_name(name, true)) error(number, "bad name in " + line);
      if (name != current) {
        if (finished.count(name)) error(number, name + " appears in two places");
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      if (help) {
        if (!helped.insert(name).second) error(number, "second HELP for " + name);
        for (std::size_t i = 0; i < rest.size(); ++i)
          if (rest[i] == '\\' && (i + 1 == rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')))
            error(number, "bad escape in HELP");
          else if (rest[i] == '\\') ++i;
      } else {
        if (!typed.insert(name).second) error(number, "second TYPE for " + name);
        if (out.samples.count(name) || (rest != "counter" && rest != "gauge")) error(number, "bad TYPE line " + line);
        if (rest == "counter" && !name.ends_with("_total")) error(number, "counter not named *_total");
      }
      continue;
    }
    if (line[0] == '#') {
      error(number, "unexpected comment");
      continue;
    }
    // A sample: name [{label="value",...}] value
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!metric_name(name, true)) error(number, "bad sample name " + name);
    if (name != current) error(number, name + " outside its family (after TYPE " + current + ")");
    if (!typed.count(name)) error(number, name + " has no TYPE before it");
    std::string key = name;
    std::map<std::string, std::string> label_map;
    if (i < line.size() && line[i] == '{') {
      key += '{';
      ++i;
      bool first = true;
      while (i < line.size() && line[i] != '}') {
        if (!first) {
          if (line[i] != ',') {
            error(number, "expected ,");
            break;
          }
          ++i;
        }
        first = false;
        const std::size_t eq = line.find("=\"", i);
        if (eq == std::string::npos) {
          error(number, "expected =\"");
          break;
        }
        const std::string label = line.substr(i, eq - i);
        if (!metric_name(label, false) || label.starts_with("__")) error(number, "bad label name " + label);
        if (label_map.count(label)) error(number, "label twice: " + label);
        i = eq + 2;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c != '\\') {
            value += c;
            continue;
          }
          const char e = i < line.size() ? line[i++] : '\0';
          if (e == '\\') value += '\\';
          else if (e == '"') value += '"';
          else if (e == 'n') value += '\n';
          else error(number, "bad escape in label value");
        }
        if (!closed) error(number, "unterminated label value");
        key += (label_map.empty() ? "" : ",") + label + "=\"" + value + "\"";
        label_map[label] = value;
      }
      if (i >= line.size()) {
        error(number, "unterminated labels");
        continue;
      }
      ++i;  // '}'
      key += '}';
    }
    if (i >= line.size() || line[i] != ' ') {
      error(number, "expected a space before the value");
      continue;
    }
    const auto value = parse_value(line.substr(i + 1));
    if (!value) error(number, "bad value in " + line);
    if (!out.samples.emplace(key, value.value_or(0)).second) error(number, "duplicate series " + key);
    out.labels[key] = label_map;
  }
  return out;
}

}  // namespace svd::test_support
