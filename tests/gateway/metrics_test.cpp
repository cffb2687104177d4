#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace svd::gateway {
namespace {

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

bool metric_name(std::string_view s, bool colon) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::optional<double> parse_value(const std::string& text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text.empty() || text.find_first_not_of("0123456789+-.e") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

Exposition parse_exposition(const std::string& text) {
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

const std::string kDroppedHeader =
    "# HELP svdgw_metrics_dropped_series_total Metric updates dropped because their family already had the "
    "maximum number of series (a bug: label values must come from a small fixed set)\n"
    "# TYPE svdgw_metrics_dropped_series_total counter\n";

TEST(MetricsTest, RendersTheTextFormat) {
  Metrics m;
  const Counter requests = m.counter("test_requests_total", "Requests handled.", {"feed", "outcome"});
  const Gauge depth = m.gauge("test_depth", "Queue depth.");
  m.gauge("test_empty", "A labelled family with no series yet.", {"feed"});
  requests.add({"b", "ok"}, 2);
  requests.add({"a", "ok"}, 1);
  requests.add({"a", "failed"}, 3);
  requests.add({"a", "ok"}, 1);
  depth.set(7.5);
  EXPECT_EQ(m.render(), kDroppedHeader +
                            "# HELP test_depth Queue depth.\n"
                            "# TYPE test_depth gauge\n"
                            "test_depth 7.5\n"
                            "# HELP test_empty A labelled family with no series yet.\n"
                            "# TYPE test_empty gauge\n"
                            "# HELP test_requests_total Requests handled.\n"
                            "# TYPE test_requests_total counter\n"
                            "test_requests_total{feed=\"a\",outcome=\"failed\"} 3\n"
                            "test_requests_total{feed=\"a\",outcome=\"ok\"} 2\n"
                            "test_requests_total{feed=\"b\",outcome=\"ok\"} 2\n");
  EXPECT_EQ(kMetricsContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsTest, FamiliesWithoutLabelsStartAtZero) {
  Metrics m;
  m.counter("test_events_total", "Events.");
  EXPECT_EQ(m.render(), kDroppedHeader +
                            "# HELP test_events_total Events.\n"
                            "# TYPE test_events_total counter\n"
                            "test_events_total 0\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Metrics m;
  const Gauge g = m.gauge("test_gauge", "Help with a \\ backslash,\na newline and \"quotes\".", {"v"});
  const std::string raw = "a\\b\"c\nd";
  g.set({raw}, 1);
  g.set({"plain"}, 2);
  const std::string text = m.render();
  EXPECT_NE(text.find("# HELP test_gauge Help with a \\\\ backslash,\\na newline and \"quotes\".\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test_gauge{v=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos) << text;
  const Exposition parsed = parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  ASSERT_TRUE(parsed.samples.count("test_gauge{v=\"" + raw + "\"}"));
  EXPECT_EQ(parsed.labels.at("test_gauge{v=\"" + raw + "\"}").at("v"), raw);
}

TEST(MetricsTest, ValuesRoundTrip) {
  Metrics m;
  const Gauge g = m.gauge("test_value", "Values.", {"k"});
  const std::vector<std::pair<std::string, double>> cases = {
      {"int", 10737418240.0},        {"fraction", 0.1},
      {"negative", -2.5},            {"huge", 1e300},
      {"tiny", 5e-324},              {"nan", std::numeric_limits<double>::quiet_NaN()},
      {"inf", std::numeric_limits<double>::infinity()}, {"minus_inf", -std::numeric_limits<double>::infinity()},
  };
  for (const auto& [k, v] : cases) g.set({k}, v);
  const std::string text = m.render();
  EXPECT_NE(text.find("test_value{k=\"int\"} 10737418240\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_value{k=\"nan\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_value{k=\"inf\"} +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_value{k=\"minus_inf\"} -Inf\n"), std::string::npos) << text;
  const Exposition parsed = parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  for (const auto& [k, v] : cases) {
    const double read = parsed.samples.at("test_value{k=\"" + k + "\"}");
    if (std::isnan(v)) EXPECT_TRUE(std::isnan(read)) << k;
    else EXPECT_EQ(read, v) << k;
  }
}

TEST(MetricsTest, CountersNeverGoDown) {
  Metrics m;
  const Counter c = m.counter("test_things_total", "Things.", {"feed"});
  c.add({"a"}, 5);
  c.add({"a"}, -3);
  c.add({"a"}, std::numeric_limits<double>::quiet_NaN());
  c.set_total({"a"}, 4);  // lower than 5: ignored
  c.set_total({"a"}, std::numeric_limits<double>::quiet_NaN());
  EXPECT_NE(m.render().find("test_things_total{feed=\"a\"} 5\n"), std::string::npos);
  c.set_total({"a"}, 9);
  c.add({"a"}, 0.5);
  EXPECT_NE(m.render().find("test_things_total{feed=\"a\"} 9.5\n"), std::string::npos);
  // A negative delta does not even create the series.
  c.add({"b"}, -1);
  EXPECT_EQ(m.render().find("feed=\"b\""), std::string::npos);
  // Gauges go both ways.
  const Gauge g = m.gauge("test_level", "Level.");
  g.add(3);
  g.add(-5);
  EXPECT_NE(m.render().find("test_level -2\n"), std::string::npos);
}

TEST(MetricsTest, SeriesPerFamilyAreBounded) {
  Metrics m(3);
  const Gauge g = m.gauge("test_bounded", "Bounded.", {"feed"});
  const Counter other = m.counter("test_other_total", "Other.", {"feed"});
  for (int i = 0; i < 10; ++i) g.set({"feed-" + std::to_string(i)}, i);
  g.set({"feed-0"}, 100);  // an existing series is still updated at the bound
  other.add({"x"}, 1);     // the bound is per family
  const Exposition parsed = parse_exposition(m.render());
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.samples.at("test_bounded{feed=\"feed-0\"}"), 100);
  EXPECT_TRUE(parsed.samples.count("test_bounded{feed=\"feed-2\"}"));
  EXPECT_FALSE(parsed.samples.count("test_bounded{feed=\"feed-3\"}"));
  EXPECT_EQ(parsed.samples.at("svdgw_metrics_dropped_series_total{family=\"test_bounded\"}"), 7);
  EXPECT_EQ(parsed.samples.at("test_other_total{feed=\"x\"}"), 1);
  EXPECT_EQ(parsed.samples.size(), 5u);
}

TEST(MetricsTest, TheDroppedCounterIsNotItselfBounded) {
  Metrics m(1);
  std::vector<Gauge> gauges;
  for (int i = 0; i < 3; ++i) gauges.push_back(m.gauge("test_g" + std::to_string(i), "G.", {"k"}));
  for (const Gauge& g : gauges) {
    g.set({"a"}, 1);
    g.set({"b"}, 1);  // dropped, for each of the three families
  }
  const Exposition parsed = parse_exposition(m.render());
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(parsed.samples.at("svdgw_metrics_dropped_series_total{family=\"test_g" + std::to_string(i) + "\"}"), 1);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  const Counter c = m.counter("test_concurrent_total", "Concurrent.", {"feed"});
  const Gauge g = m.gauge("test_concurrent_level", "Level.", {"feed"});
  constexpr int kThreads = 4, kUpdates = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string mine = "feed-" + std::to_string(t);
      for (int i = 0; i < kUpdates; ++i) {
        c.add({"shared"}, 1);
        c.add({mine}, 2);
        g.set({"shared"}, i);
        g.add({mine}, 1);
      }
    });
  }
  // Scrapes while the updates run: each one a complete, valid snapshot.
  threads.emplace_back([&] {
    for (int i = 0; i < 50; ++i) {
      const Exposition parsed = parse_exposition(m.render());
      EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
    }
  });
  for (auto& t : threads) t.join();
  const Exposition parsed = parse_exposition(m.render());
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.samples.at("test_concurrent_total{feed=\"shared\"}"), kThreads * kUpdates);
  for (int t = 0; t < kThreads; ++t) {
    const std::string feed = "feed-" + std::to_string(t);
    EXPECT_EQ(parsed.samples.at("test_concurrent_total{feed=\"" + feed + "\"}"), 2 * kUpdates);
    EXPECT_EQ(parsed.samples.at("test_concurrent_level{feed=\"" + feed + "\"}"), kUpdates);
  }
  EXPECT_EQ(parsed.samples.at("test_concurrent_level{feed=\"shared\"}"), kUpdates - 1);
}

TEST(MetricsTest, GatewayMetricsRenderValidText) {
  Metrics m;
  const GatewayMetrics gw(m, "0.1.0");
  gw.init_feed("ed-assaults");
  gw.init_feed("death-reports");
  gw.extracts.add({"ed-assaults", "received"}, 1);
  gw.rows.add({"ed-assaults", "received"}, 1200);
  gw.rows.add({"ed-assaults", "rejected"}, 3);
  gw.batches.set_total({"published"}, 7);
  gw.outbox_batches.set(2);
  gw.broker_connected.set(1);
  gw.storage_quota.set(10737418240.0);
  gw.feed_overdue.set({"death-reports"}, 1);
  gw.feed_overdue_seconds.set({"death-reports"}, 93600);
  gw.uploads.add({"2xx"}, 1);
  gw.certificate_expiry.set({"hub-client"}, 1795425320);
  const std::string text = m.render();
  const Exposition parsed = parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors) << text;

  // Every family the header documents, and the series that exist from the start.
  for (const char* family :
       {"svdgw_extracts_total", "svdgw_rows_total", "svdgw_batches_total", "svdgw_outbox_batches",
        "svdgw_outbox_records", "svdgw_outbox_oldest_unacknowledged_seconds", "svdgw_broker_connected",
        "svdgw_storage_headroom_bytes", "svdgw_storage_quota_bytes", "svdgw_feed_overdue",
        "svdgw_feed_overdue_seconds", "svdgw_uploads_total", "svdgw_build_info", "svdgw_metrics_dropped_series_total",
        "svdgw_certificate_expiry_timestamp_seconds"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  EXPECT_EQ(parsed.samples.at("svdgw_build_info{version=\"0.1.0\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_extracts_total{feed=\"death-reports\",outcome=\"refused\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_extracts_total{feed=\"ed-assaults\",outcome=\"received\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_rows_total{feed=\"ed-assaults\",stage=\"acknowledged\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_rows_total{feed=\"ed-assaults\",stage=\"received\"}"), 1200);
  EXPECT_EQ(parsed.samples.at("svdgw_batches_total{stage=\"published\"}"), 7);
  EXPECT_EQ(parsed.samples.at("svdgw_batches_total{stage=\"rejected\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_uploads_total{class=\"5xx\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_feed_overdue{feed=\"death-reports\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_feed_overdue{feed=\"ed-assaults\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_storage_quota_bytes"), 10737418240.0);
  EXPECT_EQ(parsed.samples.at("svdgw_outbox_oldest_unacknowledged_seconds"), 0);
  // 2 feeds x (3 outcomes + 4 stages + 2 overdue gauges) + 3 batch stages + 3 upload classes
  // + build info + 6 gauges without labels + one certificate's expiry.
  EXPECT_EQ(parsed.samples.at("svdgw_certificate_expiry_timestamp_seconds{role=\"hub-client\"}"), 1795425320);
  EXPECT_EQ(parsed.samples.size(), 2u * 9 + 3 + 3 + 1 + 6 + 1);
}

TEST(MetricsTest, TheParserCatchesWhatItShould) {
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\na 1").errors.empty());                  // final newline
  EXPECT_FALSE(parse_exposition("a 1\n").errors.empty());                                // no TYPE
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\na 1\na 2\n").errors.empty());           // duplicate
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\na{k=\"x\\q\"} 1\n").errors.empty());    // escape
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\na{k=\"x} 1\n").errors.empty());         // quote
  EXPECT_FALSE(parse_exposition("# TYPE a counter\na 1\n").errors.empty());              // _total
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\n# TYPE b gauge\na 1\n").errors.empty());  // grouping
  EXPECT_FALSE(parse_exposition("# TYPE a gauge\na one\n").errors.empty());              // value
  EXPECT_TRUE(parse_exposition("# HELP a x\n# TYPE a gauge\na{k=\"\\\"\"} -1.5e+3\n").errors.empty());
}

// Misuse is a bug in our code, found by the first test that reaches it.
TEST(MetricsDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Metrics m;
        m.counter("test_total", "T.", {"feed"}).add({"a", "b"}, 1);
      },
      "2 label values for 1 labels");
  EXPECT_DEATH(
      {
        Metrics m;
        m.counter("test_count", "T.");
      },
      "must be named \\*_total");
  EXPECT_DEATH(
      {
        Metrics m;
        m.gauge("test_g", "T.");
        m.gauge("test_g", "T.");
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Metrics m;
        m.gauge("test-g", "T.");
      },
      "bad metric name");
  EXPECT_DEATH(
      {
        Metrics m;
        m.gauge("test_g", "T.", {"__reserved"});
      },
      "bad label name");
  EXPECT_DEATH(
      {
        Metrics m;
        m.gauge("test_g", "T.", {"a", "a"});
      },
      "label a twice");
  EXPECT_DEATH(
      {
        Metrics m;
        m.gauge("test_g", "");
      },
      "no help text");
}

}  // namespace
}  // namespace svd::gateway
