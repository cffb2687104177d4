#include "ops/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/prometheus_text.h"

namespace svd::ops {
namespace {

using test_support::Exposition;
using test_support::parse_exposition;

const std::string kDroppedHeader =
    "# HELP svdgw_metrics_dropped_series_total Metric updates dropped because their family already had the "
    "maximum number of series (a bug: label values must come from a small fixed set)\n"
    "# TYPE svdgw_metrics_dropped_series_total counter\n";

TEST(MetricsTest, RendersTheTextFormat) {
  Metrics m("svdgw");
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
  Metrics m("svdgw");
  m.counter("test_events_total", "Events.");
  EXPECT_EQ(m.render(), kDroppedHeader +
                            "# HELP test_events_total Events.\n"
                            "# TYPE test_events_total counter\n"
                            "test_events_total 0\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Metrics m("svdgw");
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
  Metrics m("svdgw");
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
  Metrics m("svdgw");
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
  Metrics m("svdgw", 3);
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
  Metrics m("svdgw", 1);
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
  Metrics m("svdgw");
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
        Metrics m("svdgw");
        m.counter("test_total", "T.", {"feed"}).add({"a", "b"}, 1);
      },
      "2 label values for 1 labels");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.counter("test_count", "T.");
      },
      "must be named \\*_total");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.gauge("test_g", "T.");
        m.gauge("test_g", "T.");
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.gauge("test-g", "T.");
      },
      "bad metric name");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.gauge("test_g", "T.", {"__reserved"});
      },
      "bad label name");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.gauge("test_g", "T.", {"a", "a"});
      },
      "label a twice");
  EXPECT_DEATH(
      {
        Metrics m("svdgw");
        m.gauge("test_g", "");
      },
      "no help text");
}

}  // namespace
}  // namespace svd::ops
