#include "config/schedule.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "base/time.h"
#include "config/temporal.h"

namespace svd::config {
namespace {

using config::Schedule;
using Clock = std::chrono::system_clock;
using std::chrono::seconds;

// Deadlines are local time: every test pins the zone, and gives it back afterwards.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (saved_) setenv("TZ", saved_->c_str(), 1);
    else unsetenv("TZ");
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> saved_;
};

// Instants are written in UTC so the expectations do not depend on the code under test's idea
// of local time. London is UTC+0 in winter (GMT) and UTC+1 in summer (BST).
SystemTime utc(std::string_view text) {
  auto dt = config::parse_datetime(text, "default");
  EXPECT_TRUE(dt) << text;
  return Clock::from_time_t(static_cast<std::time_t>(config::to_unix_seconds(*dt)));
}

std::string iso(std::optional<SystemTime> t) {
  if (!t) return "none";
  std::string out = utc_iso(*t);
  if (std::chrono::floor<std::chrono::seconds>(*t) != *t) out += "+fraction";
  return out;
}

Schedule daily(int hour, int minute) {
  Schedule s;
  s.every = Schedule::Every::day;
  s.hour = hour;
  s.minute = minute;
  return s;
}

Schedule weekly(int weekday, int hour, int minute) {
  Schedule s = daily(hour, minute);
  s.every = Schedule::Every::week;
  s.weekday = weekday;
  return s;
}

Schedule monthly(int day, int hour, int minute) {
  Schedule s = daily(hour, minute);
  s.every = Schedule::Every::month;
  s.day = day;
  return s;
}

constexpr int kSunday = 0, kMonday = 1, kSaturday = 6;

std::string prev(const Schedule& s, std::string_view t) {
  return iso(previous_deadline(s, utc(t)));
}
std::string next(const Schedule& s, std::string_view t) {
  return iso(next_deadline(s, utc(t)));
}
std::string period(const Schedule& s, std::string_view t) {
  return iso(period_deadline(s, utc(t)));
}

class ScheduleTest : public ::testing::Test {
 protected:
  ScopedTimeZone zone_{"Europe/London"};
};

TEST_F(ScheduleTest, DailyDeadlines) {
  const Schedule s = daily(9, 0);
  EXPECT_EQ(prev(s, "2026-11-23T12:00:00Z"), "2026-11-23T09:00:00Z");
  EXPECT_EQ(next(s, "2026-11-23T12:00:00Z"), "2026-11-24T09:00:00Z");
  EXPECT_EQ(prev(s, "2026-11-23T08:00:00Z"), "2026-11-22T09:00:00Z");
  EXPECT_EQ(next(s, "2026-11-23T08:00:00Z"), "2026-11-23T09:00:00Z");
  // Summer: 09:00 BST is 08:00 UTC.
  EXPECT_EQ(prev(s, "2026-07-01T08:30:00Z"), "2026-07-01T08:00:00Z");
  EXPECT_EQ(next(s, "2026-07-01T08:30:00Z"), "2026-07-02T08:00:00Z");
  // Year boundary.
  EXPECT_EQ(next(s, "2026-12-31T10:00:00Z"), "2027-01-01T09:00:00Z");
}

TEST_F(ScheduleTest, ExactlyAtTheDeadline) {
  const Schedule s = weekly(kMonday, 9, 0);
  // The deadline itself is the last instant of its period.
  EXPECT_EQ(prev(s, "2026-11-23T09:00:00Z"), "2026-11-23T09:00:00Z");
  EXPECT_EQ(next(s, "2026-11-23T09:00:00Z"), "2026-11-30T09:00:00Z");
  EXPECT_EQ(period(s, "2026-11-23T09:00:00Z"), "2026-11-23T09:00:00Z");
  EXPECT_EQ(period(s, "2026-11-23T08:59:59Z"), "2026-11-23T09:00:00Z");
  // A second later belongs to the next period.
  EXPECT_EQ(period(s, "2026-11-23T09:00:01Z"), "2026-11-30T09:00:00Z");
  EXPECT_EQ(prev(s, "2026-11-23T08:59:59Z"), "2026-11-16T09:00:00Z");
  // One tick either side.
  const SystemTime at = utc("2026-11-23T09:00:00Z");
  EXPECT_EQ(iso(previous_deadline(s, at - Clock::duration(1))), "2026-11-16T09:00:00Z");
  EXPECT_EQ(iso(next_deadline(s, at - Clock::duration(1))), "2026-11-23T09:00:00Z");
  EXPECT_EQ(iso(period_deadline(s, at + Clock::duration(1))), "2026-11-30T09:00:00Z");
}

TEST_F(ScheduleTest, WeeklyDeadlines) {
  const Schedule monday = weekly(kMonday, 9, 0);
  EXPECT_EQ(prev(monday, "2026-11-25T12:00:00Z"), "2026-11-23T09:00:00Z");  // a Wednesday
  EXPECT_EQ(next(monday, "2026-11-25T12:00:00Z"), "2026-11-30T09:00:00Z");
  EXPECT_EQ(prev(monday, "2026-11-22T23:59:59Z"), "2026-11-16T09:00:00Z");  // the Sunday before
  // The ends of the week numbering.
  const Schedule sunday = weekly(kSunday, 17, 30);
  EXPECT_EQ(prev(sunday, "2026-11-25T12:00:00Z"), "2026-11-22T17:30:00Z");
  EXPECT_EQ(next(sunday, "2026-11-25T12:00:00Z"), "2026-11-29T17:30:00Z");
  const Schedule saturday = weekly(kSaturday, 0, 0);
  EXPECT_EQ(prev(saturday, "2026-11-25T12:00:00Z"), "2026-11-21T00:00:00Z");
  EXPECT_EQ(next(saturday, "2026-11-28T00:00:00Z"), "2026-12-05T00:00:00Z");
  EXPECT_EQ(period_label(monday, utc("2026-11-23T09:00:00Z")), "week to Monday 2026-11-23 09:00");
}

TEST_F(ScheduleTest, MonthlyDeadlines) {
  const Schedule first = monthly(1, 9, 0);
  EXPECT_EQ(prev(first, "2026-12-15T00:00:00Z"), "2026-12-01T09:00:00Z");
  EXPECT_EQ(next(first, "2026-12-15T00:00:00Z"), "2027-01-01T09:00:00Z");
  EXPECT_EQ(prev(first, "2027-01-01T08:00:00Z"), "2026-12-01T09:00:00Z");  // year boundary, backwards
  EXPECT_EQ(prev(first, "2026-07-01T12:00:00Z"), "2026-07-01T08:00:00Z");  // BST
  EXPECT_EQ(period_label(first, utc("2026-12-01T09:00:00Z")), "month to Tuesday 2026-12-01 09:00");
}

TEST_F(ScheduleTest, MonthlyOnThe28thFitsFebruary) {
  const Schedule s = monthly(28, 9, 0);
  EXPECT_EQ(prev(s, "2027-03-01T00:00:00Z"), "2027-02-28T09:00:00Z");
  EXPECT_EQ(next(s, "2027-02-01T00:00:00Z"), "2027-02-28T09:00:00Z");
  EXPECT_EQ(next(s, "2027-02-28T09:00:00Z"), "2027-03-28T08:00:00Z");  // 28 March 2027 is in BST
  EXPECT_EQ(next(s, "2026-02-28T09:00:00Z"), "2026-03-28T09:00:00Z");  // 28 March 2026 is not yet
  // A leap year: the 29th is after the deadline, in the period to the 28th of March.
  EXPECT_EQ(prev(s, "2028-02-29T12:00:00Z"), "2028-02-28T09:00:00Z");
  EXPECT_EQ(period(s, "2028-02-29T12:00:00Z"), "2028-03-28T08:00:00Z");
  // 31-day months and the turn of the year.
  EXPECT_EQ(next(s, "2026-12-29T00:00:00Z"), "2027-01-28T09:00:00Z");
  EXPECT_EQ(prev(s, "2027-01-27T00:00:00Z"), "2026-12-28T09:00:00Z");
  EXPECT_EQ(period_label(s, utc("2027-02-28T09:00:00Z")), "month to Sunday 2027-02-28 09:00");
}

// Clocks go forward at 01:00 GMT on 29 March 2026 and back at 01:00 GMT (02:00 BST) on
// 25 October 2026.
TEST_F(ScheduleTest, DeadlinesFollowLocalTimeAcrossDaylightSavingChanges) {
  const Schedule s = daily(9, 0);
  EXPECT_EQ(next(s, "2026-03-28T10:00:00Z"), "2026-03-29T08:00:00Z");  // 23 hours later
  EXPECT_EQ(prev(s, "2026-03-29T08:59:59Z"), "2026-03-29T08:00:00Z");
  EXPECT_EQ(next(s, "2026-10-24T09:00:00Z"), "2026-10-25T09:00:00Z");  // 25 hours later
  EXPECT_EQ(prev(s, "2026-10-25T08:30:00Z"), "2026-10-24T08:00:00Z");
  const Schedule weekly_sunday = weekly(kSunday, 9, 0);
  EXPECT_EQ(next(weekly_sunday, "2026-03-22T09:00:00Z"), "2026-03-29T08:00:00Z");
  EXPECT_EQ(next(weekly_sunday, "2026-10-18T08:00:00Z"), "2026-10-25T09:00:00Z");
}

TEST_F(ScheduleTest, ANonexistentLocalTimeFallsAsLongAfterTheGap) {
  // 01:30 does not exist on 29 March 2026 in London; read with the offset before the jump (GMT)
  // it is 01:30 UTC, i.e. 02:30 BST: half an hour after the clocks change.
  const Schedule s = daily(1, 30);
  EXPECT_EQ(next(s, "2026-03-28T12:00:00Z"), "2026-03-29T01:30:00Z");
  EXPECT_EQ(prev(s, "2026-03-29T01:29:59Z"), "2026-03-28T01:30:00Z");
  EXPECT_EQ(prev(s, "2026-03-29T12:00:00Z"), "2026-03-29T01:30:00Z");
  EXPECT_EQ(next(s, "2026-03-29T01:30:00Z"), "2026-03-30T00:30:00Z");  // 01:30 BST the day after
  EXPECT_EQ(period_label(s, utc("2026-03-29T01:30:00Z")), "day to Sunday 2026-03-29 02:30");
  // Weekly on that Sunday: the same instant, one deadline for the date.
  const Schedule sunday = weekly(kSunday, 1, 30);
  EXPECT_EQ(next(sunday, "2026-03-23T00:00:00Z"), "2026-03-29T01:30:00Z");
  EXPECT_EQ(next(sunday, "2026-03-29T01:30:00Z"), "2026-04-05T00:30:00Z");
  // 01:00 (the start of the gap) is 02:00 BST, the instant the clocks change.
  EXPECT_EQ(next(daily(1, 0), "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
  // 00:59 still exists.
  EXPECT_EQ(next(daily(0, 59), "2026-03-28T12:00:00Z"), "2026-03-29T00:59:00Z");
}

TEST_F(ScheduleTest, ARepeatedLocalTimeIsItsFirstOccurrence) {
  // 01:30 happens twice on 25 October 2026: 01:30 BST (00:30 UTC), then 01:30 GMT (01:30 UTC).
  const Schedule s = daily(1, 30);
  // mktime() keeps a guess between calls that decides this case; make sure nothing depends on it.
  for (int month : {1, 7}) {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = 1;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    (void)std::mktime(&tm);
    EXPECT_EQ(next(s, "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
    EXPECT_EQ(prev(s, "2026-10-25T01:45:00Z"), "2026-10-25T00:30:00Z");  // after the second 01:30
    EXPECT_EQ(next(s, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
    EXPECT_EQ(period_label(s, utc("2026-10-25T00:30:00Z")), "day to Sunday 2026-10-25 01:30");
  }
}

TEST(ScheduleZoneTest, AGapAtMidnightMovesTheDeadlineIntoTheSameDate) {
  // São Paulo started daylight saving at midnight on 4 November 2018: 00:00 -03 became
  // 01:00 -02, so the date began at 01:00 and 00:30 did not exist.
  ScopedTimeZone zone("America/Sao_Paulo");
  const Schedule s = daily(0, 30);
  EXPECT_EQ(prev(s, "2018-11-04T12:00:00Z"), "2018-11-04T03:30:00Z");  // 01:30 -02
  EXPECT_EQ(prev(s, "2018-11-04T03:29:59Z"), "2018-11-03T03:30:00Z");  // 00:30 -03
  EXPECT_EQ(next(s, "2018-11-04T03:30:00Z"), "2018-11-05T02:30:00Z");  // 00:30 -02
  EXPECT_EQ(period_label(s, utc("2018-11-04T03:30:00Z")), "day to Sunday 2018-11-04 01:30");
}

// Every instant of two years, every 61 minutes, for schedules that meet both clock changes:
// previous <= t < next with no deadline between them, and each deadline at its local time of
// day on a scheduled date (except 01:30 on the spring-forward Sunday, checked above).
TEST_F(ScheduleTest, DeadlinesAreConsistentAllYear) {
  for (const Schedule& s : {daily(1, 30), daily(9, 0), weekly(kSunday, 1, 30), monthly(28, 23, 59), monthly(1, 0, 0)}) {
    SCOPED_TRACE(testing::Message() << "every " << static_cast<int>(s.every) << " weekday " << s.weekday << " day "
                                    << s.day << " by " << s.hour << ":" << s.minute);
    for (SystemTime t = utc("2026-01-01T00:00:00Z"); t < utc("2028-01-01T00:00:00Z"); t += std::chrono::minutes(61)) {
      const SystemTime p = *previous_deadline(s, t), n = *next_deadline(s, t);
      ASSERT_LE(p, t);
      ASSERT_GT(n, t);
      ASSERT_EQ(*next_deadline(s, p), n) << iso(t);
      ASSERT_EQ(*previous_deadline(s, n - Clock::duration(1)), p) << iso(t);
      ASSERT_EQ(*period_deadline(s, t), p == t ? p : n);
      const std::time_t local = Clock::to_time_t(p);
      std::tm tm{};
      localtime_r(&local, &tm);
      if (tm.tm_hour == 2 && s.hour == 1) continue;  // the gap
      ASSERT_EQ(tm.tm_hour, s.hour) << iso(p);
      ASSERT_EQ(tm.tm_min, s.minute) << iso(p);
      if (s.every == Schedule::Every::week) {
        ASSERT_EQ(tm.tm_wday, s.weekday) << iso(p);
      }
      if (s.every == Schedule::Every::month) {
        ASSERT_EQ(tm.tm_mday, s.day) << iso(p);
      }
    }
  }
}

TEST_F(ScheduleTest, NoScheduleHasNoDeadlinesAndIsNeverOverdue) {
  const Schedule s;
  EXPECT_EQ(previous_deadline(s, utc("2026-11-23T09:00:00Z")), std::nullopt);
  EXPECT_EQ(next_deadline(s, utc("2026-11-23T09:00:00Z")), std::nullopt);
  EXPECT_EQ(period_deadline(s, utc("2026-11-23T09:00:00Z")), std::nullopt);
  EXPECT_EQ(period_label(s, utc("2026-11-23T09:00:00Z")), "");
  const FeedStatus status = evaluate(s, std::nullopt, utc("2030-01-01T00:00:00Z"), utc("2020-01-01T00:00:00Z"));
  EXPECT_FALSE(status.overdue);
  EXPECT_EQ(status.next_deadline, std::nullopt);
  EXPECT_EQ(status.period, "");
}


// evaluate(): a weekly feed due by Monday 09:00 (GMT in November, so local = UTC).
class EvaluateTest : public ScheduleTest {
 protected:
  const Schedule weekly_ = weekly(kMonday, 9, 0);
  const SystemTime since_ = utc("2026-11-01T00:00:00Z");  // watched from a Sunday

  FeedStatus at(std::string_view now, std::optional<std::string_view> last) const {
    std::optional<SystemTime> delivered;
    if (last) delivered = utc(*last);
    return evaluate(weekly_, delivered, utc(now), since_);
  }
};

TEST_F(EvaluateTest, OnTimeDeliveryIsNotOverdue) {
  const FeedStatus status = at("2026-11-25T12:00:00Z", "2026-11-23T08:00:00Z");
  EXPECT_FALSE(status.overdue);
  EXPECT_EQ(status.missed_deadline, std::nullopt);
  EXPECT_EQ(status.overdue_since, std::nullopt);
  EXPECT_EQ(status.overdue_for, seconds(0));
  EXPECT_EQ(iso(status.next_deadline), "2026-11-30T09:00:00Z");
  EXPECT_EQ(status.period, "week to Monday 2026-11-30 09:00");  // the period now is in
}

TEST_F(EvaluateTest, OverdueStartsJustAfterAnUnmetDeadline) {
  const char* last = "2026-11-20T10:00:00Z";  // for the week to 23 November
  EXPECT_FALSE(at("2026-11-30T08:59:59Z", last).overdue);
  EXPECT_FALSE(at("2026-11-30T09:00:00Z", last).overdue);  // a delivery now would still be on time
  const FeedStatus status = at("2026-11-30T09:00:01Z", last);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.missed_deadline), "2026-11-30T09:00:00Z");
  EXPECT_EQ(iso(status.overdue_since), "2026-11-30T09:00:00Z");
  EXPECT_EQ(status.overdue_for, seconds(1));
  EXPECT_EQ(iso(status.next_deadline), "2026-12-07T09:00:00Z");
  EXPECT_EQ(status.period, "week to Monday 2026-11-30 09:00");
}

TEST_F(EvaluateTest, ADeliveryAtTheDeadlineCountsForThatPeriodOnly) {
  const char* last = "2026-11-23T09:00:00Z";
  EXPECT_FALSE(at("2026-11-23T09:00:01Z", last).overdue);
  EXPECT_FALSE(at("2026-11-30T09:00:00Z", last).overdue);
  EXPECT_TRUE(at("2026-11-30T09:00:01Z", last).overdue);
}

TEST_F(EvaluateTest, ADeliveryJustAfterTheDeadlineCountsForTheNextPeriod) {
  const char* last = "2026-11-23T09:00:01Z";
  // It is late for the week to 23 November, but the alert concerns the latest deadline only and
  // any delivery after the one before it ends it.
  EXPECT_FALSE(at("2026-11-23T09:00:02Z", last).overdue);
  // It also counts for the week to 30 November, ...
  EXPECT_FALSE(at("2026-11-30T09:00:01Z", last).overdue);
  // ... and for no later week.
  const FeedStatus status = at("2026-12-07T09:00:01Z", last);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.missed_deadline), "2026-12-07T09:00:00Z");
}

TEST_F(EvaluateTest, OverdueSinceIsTheFirstOfTheMissedDeadlines) {
  const FeedStatus status = at("2026-11-25T12:00:00Z", "2026-11-03T12:00:00Z");  // week to 9 November
  ASSERT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.missed_deadline), "2026-11-23T09:00:00Z");
  EXPECT_EQ(iso(status.overdue_since), "2026-11-16T09:00:00Z");
  EXPECT_EQ(status.overdue_for, seconds(9 * 86400 + 3 * 3600));
  EXPECT_EQ(status.period, "week to Monday 2026-11-23 09:00");
}

TEST_F(EvaluateTest, NeverDeliveredCountsFromThePeriodHoldingWatchedSince) {
  const FeedStatus status = at("2026-11-25T12:00:00Z", std::nullopt);
  ASSERT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.missed_deadline), "2026-11-23T09:00:00Z");
  EXPECT_EQ(iso(status.overdue_since), "2026-11-02T09:00:00Z");
}

TEST_F(EvaluateTest, DeadlinesBeforeWatchedSinceNeverCount) {
  const Schedule& s = weekly_;
  // Installed on Wednesday 25 November: the week to 23 November was before it existed.
  const SystemTime installed = utc("2026-11-25T15:00:00Z");
  FeedStatus status = evaluate(s, std::nullopt, utc("2026-11-27T12:00:00Z"), installed);
  EXPECT_FALSE(status.overdue);
  EXPECT_EQ(status.period, "week to Monday 2026-11-30 09:00");
  // The period it was installed in counts.
  status = evaluate(s, std::nullopt, utc("2026-11-30T09:00:01Z"), installed);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.overdue_since), "2026-11-30T09:00:00Z");
  // Watched from exactly a deadline: that deadline's period holds it, so it counts.
  EXPECT_TRUE(evaluate(s, std::nullopt, utc("2026-11-23T09:00:01Z"), utc("2026-11-23T09:00:00Z")).overdue);
  EXPECT_FALSE(evaluate(s, std::nullopt, utc("2026-11-23T09:00:02Z"), utc("2026-11-23T09:00:01Z")).overdue);
  // An old last delivery does not reach back before watched_since either.
  status = evaluate(s, utc("2026-01-05T00:00:00Z"), utc("2026-12-01T00:00:00Z"), installed);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(iso(status.overdue_since), "2026-11-30T09:00:00Z");
}

TEST_F(ScheduleTest, EvaluateMonthlyAcrossFebruaryAndTheClockChange) {
  const Schedule s = monthly(28, 9, 0);
  const SystemTime since = utc("2026-12-01T00:00:00Z");
  FeedStatus status = evaluate(s, utc("2027-01-20T00:00:00Z"), utc("2027-03-01T00:00:00Z"), since);
  ASSERT_TRUE(status.overdue);
  EXPECT_EQ(status.period, "month to Sunday 2027-02-28 09:00");
  EXPECT_EQ(iso(status.next_deadline), "2027-03-28T08:00:00Z");
  // Delivered on 28 March 2027 at 08:30 BST (07:30 UTC), before 09:00 BST: on time.
  status = evaluate(s, utc("2027-03-28T07:30:00Z"), utc("2027-03-28T08:00:01Z"), since);
  EXPECT_FALSE(status.overdue);
  // Nothing since February: overdue a second after 09:00 BST.
  status = evaluate(s, utc("2027-02-10T00:00:00Z"), utc("2027-03-28T08:00:01Z"), since);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(status.period, "month to Sunday 2027-03-28 09:00");
}

TEST_F(ScheduleTest, EvaluateADailyDeadlineInTheSpringGap) {
  const Schedule s = daily(1, 30);  // 29 March 2026: 02:30 BST = 01:30 UTC
  const SystemTime since = utc("2026-03-01T00:00:00Z");
  const SystemTime last = utc("2026-03-28T01:00:00Z");  // for the day to 28 March
  EXPECT_FALSE(evaluate(s, last, utc("2026-03-29T01:30:00Z"), since).overdue);
  const FeedStatus status = evaluate(s, last, utc("2026-03-29T01:30:01Z"), since);
  EXPECT_TRUE(status.overdue);
  EXPECT_EQ(status.period, "day to Sunday 2026-03-29 02:30");
  EXPECT_EQ(iso(status.next_deadline), "2026-03-30T00:30:00Z");
}

// ScheduleTracker: the feed.overdue events.
class TrackerTest : public ScheduleTest {
 protected:
  ScheduleTracker tracker_;

  void watch(const std::string& id, std::optional<std::string_view> last = std::nullopt) {
    WatchedFeed feed{id, weekly(kMonday, 9, 0), utc("2026-11-01T00:00:00Z"), std::nullopt};
    if (last) feed.last_delivery = utc(*last);
    tracker_.watch(std::move(feed));
  }
  std::vector<OverdueChange> evaluate_at(std::string_view now) { return tracker_.evaluate_all(utc(now)); }
};

TEST_F(TrackerTest, OverdueIsRaisedOnceAndClearedOnce) {
  watch("ed-assaults", "2026-11-20T10:00:00Z");
  EXPECT_TRUE(evaluate_at("2026-11-25T00:00:00Z").empty());
  EXPECT_TRUE(evaluate_at("2026-11-30T09:00:00Z").empty());

  auto changes = evaluate_at("2026-11-30T09:01:00Z");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].feed, "ed-assaults");
  EXPECT_TRUE(changes[0].overdue);
  EXPECT_EQ(changes[0].status.period, "week to Monday 2026-11-30 09:00");
  EXPECT_EQ(changes[0].status.overdue_for, seconds(60));

  // Still overdue: not raised again, not even when the next deadline is missed too.
  EXPECT_TRUE(evaluate_at("2026-11-30T10:00:00Z").empty());
  EXPECT_TRUE(evaluate_at("2026-12-07T09:00:01Z").empty());
  ASSERT_EQ(tracker_.overdue().size(), 1u);
  EXPECT_EQ(iso(tracker_.overdue()[0].second.missed_deadline), "2026-12-07T09:00:00Z");
  EXPECT_EQ(iso(tracker_.overdue()[0].second.overdue_since), "2026-11-30T09:00:00Z");

  // A delivery clears it, once.
  EXPECT_TRUE(tracker_.record_delivery("ed-assaults", utc("2026-12-08T11:00:00Z")));
  changes = evaluate_at("2026-12-08T11:00:05Z");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].overdue);
  EXPECT_FALSE(changes[0].status.overdue);
  EXPECT_EQ(changes[0].status.period, "week to Monday 2026-12-14 09:00");
  EXPECT_TRUE(evaluate_at("2026-12-08T12:00:00Z").empty());
  EXPECT_TRUE(tracker_.overdue().empty());

  // The late delivery also covers the week it fell in: nothing at the next deadline.
  EXPECT_TRUE(evaluate_at("2026-12-14T09:00:01Z").empty());
  // A new miss is a new alert.
  changes = evaluate_at("2026-12-21T09:00:01Z");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].overdue);
  EXPECT_EQ(iso(changes[0].status.overdue_since), "2026-12-21T09:00:00Z");
}

TEST_F(TrackerTest, FeedsAlreadyOverdueAtStartAreReportedByTheFirstEvaluation) {
  watch("school-exclusions");                            // never delivered
  watch("ed-assaults", "2026-11-23T08:00:00Z");          // on time
  watch("death-reports", "2026-11-10T08:00:00Z");        // missed the week to 23 November
  const auto changes = evaluate_at("2026-11-25T00:00:00Z");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].feed, "death-reports");  // ordered by feed id
  EXPECT_EQ(changes[1].feed, "school-exclusions");
  EXPECT_TRUE(changes[0].overdue && changes[1].overdue);

  const auto overdue = tracker_.overdue();
  ASSERT_EQ(overdue.size(), 2u);
  EXPECT_EQ(overdue[0].first, "death-reports");
  const auto all = tracker_.statuses();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].first, "ed-assaults");
  EXPECT_FALSE(all[1].second.overdue);
  EXPECT_EQ(iso(all[1].second.next_deadline), "2026-11-30T09:00:00Z");
}

TEST_F(TrackerTest, DeliveriesOnlyMoveForwardAndUnknownFeedsAreRefused) {
  watch("ed-assaults", "2026-11-23T08:00:00Z");
  EXPECT_FALSE(tracker_.record_delivery("no-such-feed", utc("2026-11-23T08:00:00Z")));
  // An older delivery reported late (e.g. a re-send) does not undo the newer one.
  EXPECT_TRUE(tracker_.record_delivery("ed-assaults", utc("2026-11-01T08:00:00Z")));
  EXPECT_TRUE(evaluate_at("2026-11-25T00:00:00Z").empty());
}

TEST_F(TrackerTest, AReloadKeepsTheReportedStateAndTheLatestDelivery) {
  watch("ed-assaults");
  ASSERT_EQ(evaluate_at("2026-11-25T00:00:00Z").size(), 1u);
  // The same feed again (config reload), with no delivery known to the caller: still overdue,
  // nothing new to report.
  watch("ed-assaults");
  EXPECT_TRUE(evaluate_at("2026-11-25T00:01:00Z").empty());
  // A delivery, then a reload that passes an older last delivery: the newer one stays.
  tracker_.record_delivery("ed-assaults", utc("2026-11-25T00:02:00Z"));
  watch("ed-assaults", "2026-11-01T00:00:00Z");
  auto changes = evaluate_at("2026-11-25T00:03:00Z");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].overdue);
  // The schedule removed while overdue: cleared like any other change of answer.
  ASSERT_EQ(evaluate_at("2026-12-07T09:00:01Z").size(), 1u);
  tracker_.watch({"ed-assaults", Schedule{}, utc("2026-11-01T00:00:00Z"), std::nullopt});
  changes = evaluate_at("2026-12-07T09:01:00Z");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].overdue);
  EXPECT_EQ(changes[0].status.next_deadline, std::nullopt);
}

TEST_F(TrackerTest, UnwatchSaysWhetherTheFeedWasOverdue) {
  watch("ed-assaults");
  watch("death-reports", "2026-11-23T08:00:00Z");
  evaluate_at("2026-11-25T00:00:00Z");
  EXPECT_TRUE(tracker_.unwatch("ed-assaults"));
  EXPECT_FALSE(tracker_.unwatch("death-reports"));
  EXPECT_FALSE(tracker_.unwatch("ed-assaults"));
  EXPECT_TRUE(evaluate_at("2026-11-25T00:01:00Z").empty());
  EXPECT_TRUE(tracker_.statuses().empty());
}

TEST_F(TrackerTest, NoScheduleIsNeverReported) {
  tracker_.watch({"ad-hoc", Schedule{}, utc("2020-01-01T00:00:00Z"), std::nullopt});
  EXPECT_TRUE(evaluate_at("2026-11-25T00:00:00Z").empty());
  EXPECT_TRUE(tracker_.overdue().empty());
  ASSERT_EQ(tracker_.statuses().size(), 1u);
  EXPECT_FALSE(tracker_.statuses()[0].second.overdue);
}

}  // namespace
}  // namespace svd::config
