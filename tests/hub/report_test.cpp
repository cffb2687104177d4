#include "hub/report.h"

#include <gtest/gtest.h>

#include "base/time.h"
#include "hub/suppression.h"

namespace svd::hub {
namespace {

config::SystemTime t(std::string_view iso) { return *parse_utc_iso(iso); }

PeriodRow period(const std::string& partner, std::string_view deadline, PeriodState state,
                 std::chrono::seconds overdue = std::chrono::seconds(0)) {
  PeriodRow p;
  p.partner = partner;
  p.feed = "ed-assaults";
  p.deadline = t(deadline);
  p.period = "day to " + std::string(deadline.substr(0, 10));
  p.state = state;
  p.overdue_for = overdue;
  if (state == PeriodState::received) {
    p.extracts = 1;
    p.records = 10;
  }
  return p;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::HubPartner ed;
    ed.id = "northgate-ed";
    ed.feeds = {"ed-assaults"};
    config::Schedule daily;
    daily.every = config::Schedule::Every::day;
    ed.schedules["ed-assaults"] = daily;
    config::HubPartner council;
    council.id = "eastshire-council";
    config_.partners = {ed, council};
    input_.from_day = std::chrono::floor<std::chrono::days>(t("2026-11-30T00:00:00Z").time_since_epoch()).count();
    input_.to_day = input_.from_day + 13;  // two ISO weeks: 2026-W49 and W50
    input_.now = t("2026-12-14T12:00:00Z");
  }
  config::HubReceiverConfig config_;
  ReportInput input_;
};

TEST_F(ReportTest, AWeekOfADailyFeedShowsItsWorstDayAndHowManyOfEach) {
  for (const char* day : {"2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"})
    input_.periods.push_back(period("northgate-ed", std::string(day) + "T09:00:00Z", PeriodState::received));
  input_.periods.push_back(
      period("northgate-ed", "2026-12-05T09:00:00Z", PeriodState::late, std::chrono::hours(3)));
  input_.periods.push_back(
      period("northgate-ed", "2026-12-07T09:00:00Z", PeriodState::missing, std::chrono::hours(24 * 7 + 3)));
  const ReportFiles files = render_report(config_, input_);
  EXPECT_NE(files.html.find("<td class=\"l s-late\">5 received, 1 late</td>"), std::string::npos) << files.html;
  EXPECT_NE(files.html.find("<td class=\"l s-missing\">missing 7d 03h</td>"), std::string::npos);
  // Who did not share: both, with how long and since when.
  EXPECT_NE(files.html.find("<td>3h 00m</td>"), std::string::npos);
  EXPECT_NE(files.html.find("nothing since"), std::string::npos);
  // The summary: 7 due, 5 received, 1 late, 1 missing, 50 records, 7d 06h without a delivery.
  EXPECT_NE(files.html.find("<td>7</td><td>5</td><td>0</td><td>1</td><td>1</td><td>50</td><td>7d 06h</td>"),
            std::string::npos)
      << files.html;
  // A partner whose gateway never reported is shown as such, on the page and in the CSV.
  EXPECT_NE(files.html.find("never seen"), std::string::npos);
  EXPECT_EQ(files.csv.at("gateways.csv"),
            "partner,state,last_online_utc,queued_batches,version\nnorthgate-ed,never seen,,,\n"
            "eastshire-council,never seen,,,\n");
  EXPECT_EQ(files.csv.at("sharing.csv").substr(files.csv.at("sharing.csv").rfind("northgate-ed")),
            "northgate-ed,ed-assaults,2026-W50,day to 2026-12-07,2026-12-07T09:00:00Z,missing,0,0,0,0,615600\n");
  EXPECT_EQ(files.html.find("<script"), std::string::npos);
  EXPECT_EQ(files.html.find("http"), std::string::npos);  // nothing to fetch
}

TEST_F(ReportTest, WithoutSchedulesTheReportSaysNothingIsExpected) {
  const ReportFiles files = render_report(config_, input_);
  EXPECT_NE(files.html.find("No partner feed has a schedule"), std::string::npos);
  EXPECT_NE(files.html.find("Every period due in the range was received"), std::string::npos);
  EXPECT_EQ(files.csv.at("sharing.csv"),
            "partner,feed,iso_week,period,deadline_utc,state,extracts,records,nil_returns,in_transit,overdue_seconds\n");
}

}  // namespace
}  // namespace svd::hub

namespace svd::hub {
namespace {

// What the records show, through suppression: no count from 1 to k-1 on the page or in a CSV,
// none recoverable from a row or column total, and no token anywhere.
TEST_F(ReportTest, TheRecordSectionsHideSmallCountsAndNameNoToken) {
  config_.report.min_cell = 5;
  config_.report.death_feed = "death-reports";
  config_.report.violence_feeds = {"ed-attendances"};
  Analysis a;
  LinkedSeries ls;
  ls.agencies = {"ed-attendances", "school-exclusions"};
  ls.deaths = 38;
  ls.by_combination.columns.assign(std::begin(kBeforeDeathBands), std::end(kBeforeDeathBands));
  ls.by_combination.rows = {"ed-attendances", "school-exclusions", "ed-attendances + school-exclusions",
                            "no other agency"};
  ls.by_combination.cells = {{6, 3, 2, 1, 0}, {0, 2, 6, 0, 0}, {0, 0, 6, 0, 0}, {0, 0, 0, 0, 12}};
  a.linked = ls;
  RepeatContact rc;
  rc.persons.rows.assign(std::begin(kContactBands), std::end(kContactBands));
  rc.persons.columns = {"violence feeds only", "also in another feed"};
  rc.persons.cells = {{9, 5}, {0, 0}, {0, 0}, {0, 0}};
  a.repeat = rc;
  AreaProfile area;
  area.feed = "ed-attendances";
  area.records.rows = {"AB1", "CD2"};
  area.records.columns = {"2027-03"};
  area.records.cells = {{40}, {3}};
  a.areas.push_back(area);
  AreaProfile quiet;  // a feed with no record in the range: named, with nothing in the file
  quiet.feed = "school-exclusions";
  quiet.records.columns = {"2027-03"};
  a.areas.push_back(quiet);
  PersonRecord p{"P0001", "linked_series", "death", "death-reports", "northgate-coroner", "2027-W10", "AB1",
                 "k1:0123456789abcdef0123456789abcdef", "k1:fedcba9876543210fedcba9876543210"};
  input_.analysis = a;

  const ReportFiles files = render_report(config_, input_);
  for (const char* heading : {"<h2>Linked series: deaths, and who saw the person before</h2>",
                              "<h2>Repeat contact</h2>", "<h2>Area profile</h2>"})
    EXPECT_NE(files.html.find(heading), std::string::npos) << heading;
  EXPECT_EQ(files.csv.at("linked_series.csv"),
            "other_feeds,under 3 months,3 to 6 months,6 to 12 months,12 months or more,no earlier record,Total\n"
            "ed-attendances,6,<5,<5,<5,0,12\n"
            "school-exclusions,0,<5,*,0,0,8\n"
            "ed-attendances + school-exclusions,0,0,6,0,0,6\n"
            "no other agency,0,0,0,0,12,12\n"
            "Total,6,*,14,<5,12,38\n");
  EXPECT_EQ(files.csv.at("area_profile.csv"), "feed,district,2027-03,Total\ned-attendances,AB1,*,*\n"
                                              "ed-attendances,CD2,<5,<5\ned-attendances,Total,43,43\n");
  EXPECT_NE(files.html.find("<h3>school-exclusions</h3><p>No record of this feed is dated in the range.</p>"),
            std::string::npos);
  EXPECT_EQ(files.csv.at("repeat_contact.csv").substr(0, 60),
            "records_in_range,violence feeds only,also in another feed,To");
  // The raw table behind it: no line gives a hidden count away.
  EXPECT_FALSE(recoverable_from_a_line(suppress(ls.by_combination.cells, 5)));
  // Tokens only in the person-level file.
  for (const auto& [name, text] : files.csv) EXPECT_EQ(text.find("k1:"), std::string::npos) << name;
  EXPECT_EQ(files.html.find("k1:"), std::string::npos);
  EXPECT_EQ(person_level_row(p),
            "P0001,linked_series,death,death-reports,northgate-coroner,2027-W10,AB1,"
            "k1:0123456789abcdef0123456789abcdef,k1:fedcba9876543210fedcba9876543210\n");
}

}  // namespace
}  // namespace svd::hub
