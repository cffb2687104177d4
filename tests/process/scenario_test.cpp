// svd-synth scenario, in process: the files and the manifest agree, every date is deliverable
// when its week is delivered, and the manifest's answers are those the scenario is built to
// give. scenario_process_test.cpp runs the files through the real svdgw.

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "tests/process/scenario_files.h"
#include "tests/synth/scenario.h"

namespace svd::synth::testing {
namespace {

constexpr std::array<std::string_view, 3> kFeeds{"ed-attendances", "school-exclusions", "death-reports"};

TEST(Scenario, SameOptionsGiveTheSameBytes) {
  const std::vector<ScenarioFile> a = make_scenario(kDefaultScenario);
  const std::vector<ScenarioFile> b = make_scenario(kDefaultScenario);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].path, b[i].path);
    EXPECT_TRUE(a[i].bytes == b[i].bytes) << a[i].path << " differs between two runs";
  }
  ScenarioOptions other = kDefaultScenario;
  other.seed = 2;
  const ScenarioOutput c = index_scenario(make_scenario(other));
  EXPECT_NE(c.files.at("ed-attendances/week-0.csv"), index_scenario(a).files.at("ed-attendances/week-0.csv"));
}

// Each feed and week is accounted for exactly once: delivered (a file with rows) or missed; and
// nothing is written that the manifest does not list.
void expect_every_week_accounted_for(const ScenarioOutput& s, std::uint64_t weeks) {
  const auto& m = s.manifest;
  std::map<std::pair<std::string, std::uint64_t>, std::string> seen;
  std::set<std::string> listed;
  for (const auto& d : m.at("deliveries").as_array()) {
    const auto& o = d.as_object();
    const std::string feed = text(o.at("feed")), file = text(o.at("file"));
    const std::uint64_t week = number(o.at("week"));
    EXPECT_TRUE(seen.emplace(std::pair(feed, week), "delivered").second) << feed << " week " << week;
    EXPECT_EQ(file, feed + "/week-" + std::to_string(week) + ".csv");
    ASSERT_TRUE(s.files.contains(file)) << file;
    listed.insert(file);
    const Table t = parse_csv(s.files.at(file));
    EXPECT_EQ(t.rows.size(), number(o.at("rows"))) << file;
    EXPECT_GT(t.rows.size(), 0u) << file;
    for (const auto& row : t.rows) EXPECT_EQ(row.size(), t.header.size()) << file;
  }
  for (const auto& d : m.at("missed").as_array())
    EXPECT_TRUE(seen.emplace(std::pair(text(d.at("feed")), number(d.at("week"))), "missed").second);
  for (const std::string_view feed : kFeeds)
    for (std::uint64_t week = 0; week < weeks; ++week)
      EXPECT_TRUE(seen.contains({std::string(feed), week})) << feed << " week " << week << " is not accounted for";
  EXPECT_EQ(seen.size(), 3 * weeks);
  EXPECT_EQ(listed.size() + 1, s.files.size());
}

TEST(Scenario, ManifestListsEveryFileWithItsRows) {
  const ScenarioOutput s = index_scenario(make_scenario(kDefaultScenario));
  EXPECT_EQ(text(s.manifest.at("start")), "2025-01-06");
  EXPECT_EQ(text(s.manifest.at("end")), "2025-02-16");
  EXPECT_EQ(number(s.manifest.at("weeks")), 6u);
  EXPECT_EQ(number(s.manifest.at("seed")), 1u);
  expect_every_week_accounted_for(s, 6);
  // Every partner delivers every week but the council's week 2.
  EXPECT_EQ(s.manifest.at("deliveries").as_array().size(), 17u);
}

// Every week the coroner has a death to send (one of someone with no other record, at least), so
// even a year-long scenario is a delivery a week from every partner and no nothing-to-share return.
TEST(Scenario, EveryWeekHasDeathsToSend) {
  const ScenarioOutput s = index_scenario(make_scenario({.start = "2025-01-06", .weeks = 52}));
  expect_every_week_accounted_for(s, 52);
  for (int week = 0; week < 52; ++week)
    EXPECT_TRUE(s.files.contains("death-reports/week-" + std::to_string(week) + ".csv")) << week;
}

TEST(Scenario, CouncilMissesWeekTwo) {
  const ScenarioOutput s = index_scenario(make_scenario(kDefaultScenario));
  EXPECT_FALSE(s.files.contains("school-exclusions/week-2.csv"));
  for (const char* week : {"0", "1", "3", "4", "5"})
    EXPECT_TRUE(s.files.contains(std::string("school-exclusions/week-") + week + ".csv")) << week;
  const auto& missed = s.manifest.at("missed").as_array();
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(text(missed[0].at("feed")), "school-exclusions");
  EXPECT_EQ(number(missed[0].at("week")), 2u);
}

// The gateway refuses a date after its today and a date-time ahead of its clock (not_future), so
// week K's file may hold nothing later than its delivery, Friday of week K at 12:00. Week 0 is
// the historic load, before the start; later files hold only their own week.
TEST(Scenario, EveryDateIsDeliverableWhenItsWeekIsDelivered) {
  const ScenarioOutput s = index_scenario(make_scenario(kDefaultScenario));
  const Days start = *iso_day("2025-01-06");
  std::size_t checked = 0, listed = 0;
  for (const auto& d : s.manifest.at("deliveries").as_array()) {
    listed += number(d.at("rows"));
    const std::string feed = text(d.at("feed")), file = text(d.at("file"));
    const std::uint64_t week = number(d.at("week"));
    SCOPED_TRACE(file);
    const auto deliver_at = iso_seconds(text(d.at("deliver_at")));
    ASSERT_TRUE(deliver_at);
    const Days monday = start + std::chrono::days(7 * week), friday = monday + std::chrono::days(4);
    ASSERT_EQ(*deliver_at, Seconds(friday) + std::chrono::hours(12));
    const Table t = parse_csv(s.files.at(file));

    auto event_in_week = [&](Seconds at) {
      if (week == 0) {
        EXPECT_LT(at, Seconds(start)) << "week 0 is the historic load";
        EXPECT_GE(at, Seconds(start - std::chrono::days(31 * 30))) << "at most 30 months before the start";
      } else {
        EXPECT_GE(at, Seconds(monday));
        EXPECT_LE(at, Seconds(friday) + std::chrono::hours(11)) << "weekly events end Friday 11:00";
      }
      EXPECT_LE(at, *deliver_at);
    };
    const bool uk = feed == "school-exclusions";
    const std::size_t birth = t.column("date_of_birth");
    const std::size_t event = t.column(feed == "ed-attendances"      ? "arrival_datetime"
                                       : feed == "school-exclusions" ? "start_date"
                                                                     : "date_of_death");
    for (const auto& row : t.rows) {
      const auto born = uk ? uk_day(row[birth]) : iso_day(row[birth]);
      ASSERT_TRUE(born) << "date_of_birth does not parse";
      if (feed == "ed-attendances") {
        const auto arrival = iso_seconds(row[event]);
        ASSERT_TRUE(arrival) << "arrival_datetime does not parse";
        event_in_week(*arrival);
        EXPECT_LE(Seconds(*born), *arrival);
      } else {
        const auto day = uk ? uk_day(row[event]) : iso_day(row[event]);
        ASSERT_TRUE(day) << "the event date does not parse";
        event_in_week(Seconds(*day));
        EXPECT_LE(*born, *day);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, listed);
}

// The NHS numbers come from the 999 test range with a valid check digit; deaths always carry
// one, planted ED rows too, and the school feed has none.
TEST(Scenario, NhsNumbersAreTestNumbersWithValidCheckDigits) {
  const ScenarioOutput s = index_scenario(make_scenario(kDefaultScenario));
  std::size_t ed_total = 0, ed_empty = 0;
  for (const auto& [path, bytes] : s.files) {
    if (path == "scenario.json" || path.starts_with("school-exclusions/")) continue;
    const Table t = parse_csv(bytes);
    const std::size_t col = t.column("nhs_number");
    for (const auto& row : t.rows) {
      std::string d;
      for (const char c : row[col])
        if (c != ' ' && c != '-') d.push_back(c);
      if (path.starts_with("ed-attendances/")) {
        ++ed_total;
        if (d.empty()) {
          ++ed_empty;
          continue;
        }
      }
      ASSERT_EQ(d.size(), 10u) << path;
      EXPECT_TRUE(d.starts_with("999")) << path;
      int sum = 0;
      for (std::size_t i = 0; i < 9; ++i) sum += (d[i] - '0') * static_cast<int>(10 - i);
      const int check = (11 - sum % 11) % 11;
      EXPECT_TRUE(check != 10 && d[9] - '0' == check) << path;
    }
  }
  EXPECT_GT(ed_empty, 0u);
  EXPECT_LT(ed_empty * 10, ed_total) << "about 5 % of background ED rows have no NHS number";
}

void expect_listed_answers(const boost::json::object& m) {
  const auto& p = m.at("planted").as_object();
  const std::pair<const char*, std::uint64_t> planted[] = {
      {"linked_ed_school", 6}, {"linked_ed", 7}, {"linked_school", 5}, {"linked_school_accented", 3},
      {"variant_missed", 2},   {"outside_lookback", 2}, {"death_only", 8}, {"rotation", 5}, {"repeat_ed", 9}};
  EXPECT_EQ(p.size(), std::size(planted));
  for (const auto& [name, count] : planted) EXPECT_EQ(number(p.at(name)), count) << name;

  const auto& x = m.at("expected").as_object();
  // The planted deaths, and one a week of someone with no other record.
  const std::uint64_t weekly = number(m.at("weeks")) - 1;
  EXPECT_EQ(number(x.at("deaths")), 38u + weekly);
  const auto& linked = x.at("linked").as_object();
  EXPECT_EQ(linked.size(), 4u);
  EXPECT_EQ(number(linked.at("ed-attendances")), 12u);
  EXPECT_EQ(number(linked.at("school-exclusions")), 8u);
  EXPECT_EQ(number(linked.at("ed-attendances+school-exclusions")), 6u);
  EXPECT_EQ(number(linked.at("none")), 12u + weekly);
  EXPECT_EQ(number(x.at("repeat_contact")), 14u);
  EXPECT_EQ(number(x.at("missed_by_variant")), 2u);
  EXPECT_EQ(number(x.at("accent_linked")), 3u);
  EXPECT_EQ(number(m.at("lookback_months")), 24u);
  EXPECT_EQ(number(m.at("key_rotation_week")), 3u);
}

TEST(Scenario, ExpectedLinkageForTheDefaultSeed) {
  const ScenarioOutput s = index_scenario(make_scenario(kDefaultScenario));
  expect_listed_answers(s.manifest);
  const auto& background = s.manifest.at("background_rows").as_object();
  EXPECT_EQ(number(background.at("ed-attendances")), 200u + 5 * 40);
  EXPECT_EQ(number(background.at("school-exclusions")), 100u + 4 * 15);
  EXPECT_EQ(number(background.at("death-reports")), 12u + 5);
}

// The answers come from the rows as drawn, not from constants, and the planting makes them the
// same whatever the seed, start and length.
TEST(Scenario, ExpectedLinkageHoldsForOtherSeedsStartsAndLengths) {
  for (const ScenarioOptions& o : {ScenarioOptions{.start = "2024-02-26", .weeks = 6, .seed = 2},
                                   ScenarioOptions{.start = "2025-12-29", .weeks = 9, .seed = 77},
                                   ScenarioOptions{.start = "2023-06-05", .weeks = 52, .seed = 12345}}) {
    SCOPED_TRACE(o.start);
    const ScenarioOutput s = index_scenario(make_scenario(o));
    expect_listed_answers(s.manifest);
    EXPECT_EQ(number(s.manifest.at("weeks")), o.weeks);
  }
}

TEST(Scenario, RefusesBadOptions) {
  for (const char* start : {"2025-01-07", "2025-01-05", "2025-02-30", "06/01/2025", "2025-1-6", ""}) {
    SCOPED_TRACE(start);
    EXPECT_THROW(make_scenario({.start = start}), std::invalid_argument);
  }
  try {
    make_scenario({.start = "2025-01-07"});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Monday"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Tuesday"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_scenario({.start = "2025-01-06", .weeks = 5}), std::invalid_argument);
  EXPECT_THROW(make_scenario({.start = "2025-01-06", .weeks = 53}), std::invalid_argument);
  EXPECT_NO_THROW(make_scenario({.start = "2025-01-06", .weeks = 6}));
}

}  // namespace
}  // namespace svd::synth::testing
