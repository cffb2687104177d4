#pragma once
// Reading back what `svd-synth scenario` writes, for scenario_test.cpp and
// scenario_process_test.cpp: its CSV files as tables, its dates, and its manifest. Header-only;
// the two tests are separate executables.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/csv_text.h"
#include "tests/synth/scenario.h"

namespace svd::synth::testing {

// A Monday well in the past, so that the real clock is past every delivery too.
inline const ScenarioOptions kDefaultScenario{.start = "2025-01-06"};

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::size_t column(std::string_view name) const {
    for (std::size_t k = 0; k < header.size(); ++k)
      if (header[k] == name) return k;
    ADD_FAILURE() << "no column " << name;
    return 0;
  }
};

inline Table parse_csv(std::string_view bytes) {
  auto records = test_support::csv_records(bytes);
  Table t;
  if (records.empty()) return t;
  t.header = std::move(records.front());
  t.rows.assign(std::make_move_iterator(records.begin() + 1), std::make_move_iterator(records.end()));
  return t;
}

using Days = std::chrono::sys_days;
using Seconds = std::chrono::sys_seconds;

inline std::optional<Days> make_day(int y, unsigned m, unsigned d) {
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return Days(ymd);
}

// Digits only, as many as given (1 to `max`), from `text` at `at`; advances `at`.
inline std::optional<unsigned> digits(std::string_view text, std::size_t& at, std::size_t min, std::size_t max) {
  unsigned v = 0;
  std::size_t n = 0;
  while (at < text.size() && n < max && text[at] >= '0' && text[at] <= '9') {
    v = v * 10 + static_cast<unsigned>(text[at++] - '0');
    ++n;
  }
  if (n < min) return std::nullopt;
  return v;
}

// YYYY-MM-DD.
inline std::optional<Days> iso_day(std::string_view text) {
  std::size_t at = 0;
  auto y = digits(text, at, 4, 4);
  if (!y || at >= text.size() || text[at++] != '-') return std::nullopt;
  auto m = digits(text, at, 2, 2);
  if (!m || at >= text.size() || text[at++] != '-') return std::nullopt;
  auto d = digits(text, at, 2, 2);
  if (!d || at != text.size()) return std::nullopt;
  return make_day(static_cast<int>(*y), *m, *d);
}

// D/M/YYYY with or without leading zeros, as councils export it.
inline std::optional<Days> uk_day(std::string_view text) {
  std::size_t at = 0;
  auto d = digits(text, at, 1, 2);
  if (!d || at >= text.size() || text[at++] != '/') return std::nullopt;
  auto m = digits(text, at, 1, 2);
  if (!m || at >= text.size() || text[at++] != '/') return std::nullopt;
  auto y = digits(text, at, 4, 4);
  if (!y || at != text.size()) return std::nullopt;
  return make_day(static_cast<int>(*y), *m, *d);
}

// YYYY-MM-DDTHH:MM:SS, with a trailing Z accepted (the manifest's deliver_at).
inline std::optional<Seconds> iso_seconds(std::string_view text) {
  if (text.ends_with('Z')) text.remove_suffix(1);
  if (text.size() != 19 || text[10] != 'T' || text[13] != ':' || text[16] != ':') return std::nullopt;
  auto day = iso_day(text.substr(0, 10));
  std::size_t at = 11;
  auto h = digits(text, at, 2, 2);
  ++at;
  auto mi = digits(text, at, 2, 2);
  ++at;
  auto s = digits(text, at, 2, 2);
  if (!day || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  return Seconds(*day) + std::chrono::hours(*h) + std::chrono::minutes(*mi) + std::chrono::seconds(*s);
}

struct ScenarioOutput {
  std::map<std::string, std::string> files;  // path -> bytes, the manifest included
  boost::json::object manifest;
};

inline ScenarioOutput index_scenario(std::vector<ScenarioFile> files) {
  ScenarioOutput out;
  for (ScenarioFile& f : files) out.files.emplace(f.path, std::move(f.bytes));
  out.manifest = boost::json::parse(out.files.at("scenario.json")).as_object();
  return out;
}

inline std::uint64_t number(const boost::json::value& v) { return boost::json::value_to<std::uint64_t>(v); }
inline std::string text(const boost::json::value& v) { return std::string(v.as_string()); }

}  // namespace svd::synth::testing
