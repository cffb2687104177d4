#include "hub/sharing.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "base/time.h"

namespace svd::hub {
namespace {

using config::SystemTime;

// Deadlines are local time: the tests pin the zone to UTC (November: London is UTC too), and give
// it back afterwards.
class SharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    setenv("TZ", "UTC", 1);
    tzset();
    config::HubPartner ed;
    ed.id = "northgate-ed";
    ed.feeds = {"ed-assaults"};
    ed.schedules["ed-assaults"] = weekly_monday_9();
    config::HubPartner council;
    council.id = "eastshire-council";
    council.feeds = {"exclusions", "unscheduled"};
    council.schedules["exclusions"] = weekly_monday_9();
    config_.partners = {ed, council};
  }
  void TearDown() override {
    if (saved_) setenv("TZ", saved_->c_str(), 1);
    else unsetenv("TZ");
    tzset();
  }

  static config::Schedule weekly_monday_9() {
    config::Schedule s;
    s.every = config::Schedule::Every::week;
    s.weekday = 1;
    s.hour = 9;
    return s;
  }
  static SystemTime t(std::string_view iso) { return *parse_utc_iso(iso); }
  static std::int64_t unix(std::string_view iso) {
    return std::chrono::duration_cast<std::chrono::seconds>(t(iso).time_since_epoch()).count();
  }
  // A delivered extract (every batch stored), or one still on its way.
  static ExtractArrival extract(const std::string& partner, const std::string& feed, std::string_view at,
                                std::uint64_t records, bool nil = false, bool complete = true) {
    ExtractArrival a;
    a.partner = partner;
    a.feed = feed;
    a.extract_id = std::string(at);
    a.received_at = unix(at);
    a.nil_return = nil;
    a.batches = complete ? 2 : 1;
    a.records = records;
    if (complete) a.last_seq = 1;
    a.stored_at = a.received_at + 60;
    return a;
  }
  const PeriodRow& row(const std::vector<PeriodRow>& rows, std::string_view partner, std::string_view deadline) {
    for (const auto& r : rows)
      if (r.partner == partner && r.deadline == t(deadline)) return r;
    ADD_FAILURE() << "no period of " << partner << " to " << deadline;
    static const PeriodRow none;
    return none;
  }

  config::HubReceiverConfig config_;
  std::optional<std::string> saved_;
};

// Weeks to Mondays 2 Nov, 9, 16, 23 and 30 Nov 2026, 09:00; now is Wednesday 2 Dec.
TEST_F(SharingTest, EachPeriodIsReceivedANilReturnLateMissingOrDue) {
  const std::vector<ExtractArrival> arrivals{
      extract("northgate-ed", "ed-assaults", "2026-11-02T08:59:59Z", 120),  // on time, just
      extract("northgate-ed", "ed-assaults", "2026-11-05T10:00:00Z", 95),   // early in the next week
      extract("northgate-ed", "ed-assaults", "2026-11-16T09:00:00Z", 0, true),  // nil return at the deadline
      // Nothing by 23 Nov 09:00; the next extract on Tuesday 24 Nov: week to 23 Nov late by a day.
      extract("northgate-ed", "ed-assaults", "2026-11-24T09:30:00Z", 80),
      // Still on its way: not a delivery.
      extract("northgate-ed", "ed-assaults", "2026-12-01T12:00:00Z", 40, false, false),
      // Another partner's delivery never counts for this one.
      extract("eastshire-council", "exclusions", "2026-11-08T12:00:00Z", 7),
  };
  const auto rows = sharing_periods(config_, arrivals, t("2026-11-01T00:00:00Z"), t("2026-12-07T23:59:59Z"),
                                    t("2026-12-02T12:00:00Z"));
  ASSERT_EQ(rows.size(), 12u);  // 6 weeks of 2 scheduled feeds; the council's unscheduled feed is not expected

  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-02T09:00:00Z").state, PeriodState::received);
  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-02T09:00:00Z").records, 120u);
  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-09T09:00:00Z").state, PeriodState::received);
  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-16T09:00:00Z").state, PeriodState::nil_return);
  const PeriodRow& late = row(rows, "northgate-ed", "2026-11-23T09:00:00Z");
  EXPECT_EQ(late.state, PeriodState::late);
  EXPECT_EQ(late.ended_gap, t("2026-11-24T09:30:00Z"));
  EXPECT_EQ(late.overdue_for, std::chrono::hours(24) + std::chrono::minutes(30));
  // The late extract also counts for the week it fell in, as at the gateway.
  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-30T09:00:00Z").state, PeriodState::received);
  EXPECT_EQ(row(rows, "northgate-ed", "2026-11-30T09:00:00Z").records, 80u);
  const PeriodRow& due = row(rows, "northgate-ed", "2026-12-07T09:00:00Z");
  EXPECT_EQ(due.state, PeriodState::due);
  EXPECT_EQ(due.in_transit, 1u);
  EXPECT_EQ(due.period, "week to Monday 2026-12-07 09:00");

  // The council: nothing by 2 Nov, one extract on 8 Nov (late for the week to 2 Nov, and the
  // week to 9 Nov's own), then nothing: missing since each deadline.
  EXPECT_EQ(row(rows, "eastshire-council", "2026-11-02T09:00:00Z").state, PeriodState::late);
  EXPECT_EQ(row(rows, "eastshire-council", "2026-11-09T09:00:00Z").state, PeriodState::received);
  const PeriodRow& missing = row(rows, "eastshire-council", "2026-11-30T09:00:00Z");
  EXPECT_EQ(missing.state, PeriodState::missing);
  EXPECT_EQ(missing.overdue_for, std::chrono::hours(2 * 24 + 3));
  EXPECT_EQ(row(rows, "eastshire-council", "2026-11-02T09:00:00Z").overdue_for,
            std::chrono::hours(24 * 6 + 3));  // to the extract of 8 Nov
  for (const auto& r : rows) EXPECT_EQ(r.feed == "unscheduled", false);

  const std::string text = render_sharing(rows);
  EXPECT_NE(text.find("northgate-ed ed-assaults: 5 period(s) due, 3 received, 1 nil return, 1 late, 0 missing; "
                      "without a delivery for 24h 30m"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("eastshire-council exclusions: 5 period(s) due, 1 received, 0 nil return, 1 late, 3 missing"),
            std::string::npos)
      << text;
}

TEST_F(SharingTest, TheFeedsOverdueNowFollowTheGatewaysRule) {
  const std::vector<ExtractArrival> arrivals{
      extract("northgate-ed", "ed-assaults", "2026-11-30T08:00:00Z", 10),
      extract("eastshire-council", "exclusions", "2026-11-20T08:00:00Z", 10),
  };
  const auto statuses =
      feed_statuses(config_, arrivals, t("2026-12-02T12:00:00Z"), t("2026-10-01T00:00:00Z"));
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].partner, "northgate-ed");  // the config's order
  EXPECT_FALSE(statuses[0].status.overdue);
  EXPECT_EQ(statuses[1].partner, "eastshire-council");
  EXPECT_TRUE(statuses[1].status.overdue);
  EXPECT_EQ(statuses[1].status.overdue_since, t("2026-11-30T09:00:00Z"));
  // A partner that never delivered is overdue from the first deadline after the hub started watching.
  const auto never = feed_statuses(config_, {}, t("2026-12-02T12:00:00Z"), t("2026-11-25T00:00:00Z"));
  EXPECT_TRUE(never[0].status.overdue);
  EXPECT_EQ(never[0].status.overdue_since, t("2026-11-30T09:00:00Z"));
}

TEST_F(SharingTest, NoScheduleNoRows) {
  config_.partners[0].schedules.clear();
  config_.partners[1].schedules.clear();
  const auto rows = sharing_periods(config_, {}, t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z"),
                                    t("2026-12-02T00:00:00Z"));
  EXPECT_TRUE(rows.empty());
  EXPECT_NE(render_sharing(rows).find("no partner feed has a schedule"), std::string::npos);
}

}  // namespace
}  // namespace svd::hub
