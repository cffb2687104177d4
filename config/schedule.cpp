#include "config/schedule.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "config/temporal.h"

namespace svd::config {
namespace {

using config::Schedule;
using Clock = std::chrono::system_clock;
using Day = std::int64_t;  // days since 1970-01-01 (config::days_from_civil)

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::array<const char*, 7> kWeekdayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                      "Thursday", "Friday", "Saturday"};

std::tm local_tm(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

Day local_day(std::time_t t) {
  const std::tm tm = local_tm(t);
  return config::days_from_civil({tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday});
}

// 0 = Sunday, as config::Schedule::weekday. 1970-01-01 was a Thursday.
int weekday(Day d) {
  return static_cast<int>(((d % 7) + 7 + 4) % 7);
}

// The instant at which local wall-clock time `hour:minute` happens on local date `d`: in a
// daylight-saving gap, read with the offset in force before the gap; in an overlap, the first
// occurrence (docs/daemon.md, "Schedules"). Not mktime(): with tm_isdst = -1 its answer in a gap
// or an overlap is unspecified, and glibc's depends on the previous call. A UTC offset never
// exceeds a day, so the offsets a day either side of the wall time read as UTC are the ones in
// force before and after any change near it (zones do not change offset twice within two days).
std::time_t local_instant(Day d, int hour, int minute) {
  const std::time_t wall = static_cast<std::time_t>(d * kSecondsPerDay + hour * 3600 + minute * 60);
  const std::time_t before = wall - local_tm(wall - kSecondsPerDay).tm_gmtoff;
  const std::time_t after = wall - local_tm(wall + kSecondsPerDay).tm_gmtoff;
  auto names_wall = [&](std::time_t t) { return t + local_tm(t).tm_gmtoff == wall; };
  const bool before_ok = names_wall(before), after_ok = names_wall(after);
  if (before_ok && after_ok) return std::min(before, after);  // an overlap: the first occurrence
  if (after_ok) return after;
  return before;  // valid, or a gap: the offset before the gap
}

SystemTime deadline_on(const Schedule& s, Day d) {
  return Clock::from_time_t(local_instant(d, s.hour, s.minute));
}

// The latest scheduled date <= d.
Day scheduled_on_or_before(const Schedule& s, Day d) {
  switch (s.every) {
    case Schedule::Every::day: return d;
    case Schedule::Every::week: return d - (weekday(d) - s.weekday + 7) % 7;
    case Schedule::Every::month: {
      config::Date c = config::civil_from_days(d);
      if (c.day < s.day && --c.month == 0) {
        c.month = 12;
        --c.year;
      }
      c.day = s.day;  // 1…28: every month has it
      return config::days_from_civil(c);
    }
    case Schedule::Every::none: break;
  }
  assert(false && "no scheduled dates for Every::none");
  return d;
}

// The earliest scheduled date > d.
Day scheduled_after(const Schedule& s, Day d) {
  switch (s.every) {
    case Schedule::Every::day: return d + 1;
    case Schedule::Every::week: return scheduled_on_or_before(s, d + 7);
    case Schedule::Every::month: {
      config::Date c = config::civil_from_days(d);
      if (c.day >= s.day && ++c.month == 13) {
        c.month = 1;
        ++c.year;
      }
      c.day = s.day;
      return config::days_from_civil(c);
    }
    case Schedule::Every::none: break;
  }
  assert(false && "no scheduled dates for Every::none");
  return d;
}

[[maybe_unused]] bool valid(const Schedule& s) {
  return s.hour >= 0 && s.hour <= 23 && s.minute >= 0 && s.minute <= 59 &&
         (s.every != Schedule::Every::week || (s.weekday >= 0 && s.weekday <= 6)) &&
         (s.every != Schedule::Every::month || (s.day >= 1 && s.day <= 28));
}

// One tick before t: deadlines are whole seconds, so the latest deadline <= this is the latest
// deadline < t.
SystemTime just_before(SystemTime t) {
  return t - Clock::duration(1);
}

}  // namespace

std::optional<SystemTime> previous_deadline(const Schedule& schedule, SystemTime t) {
  if (schedule.every == Schedule::Every::none) return std::nullopt;
  assert(valid(schedule));
  // Start from a date whose deadline may be after t and walk back; deadlines only move by a gap's
  // length from their date, so this takes at most three steps.
  Day d = scheduled_on_or_before(schedule, local_day(Clock::to_time_t(t)) + 1);
  for (;;) {
    const SystemTime deadline = deadline_on(schedule, d);
    if (deadline <= t) return deadline;
    d = scheduled_on_or_before(schedule, d - 1);
  }
}

std::optional<SystemTime> next_deadline(const Schedule& schedule, SystemTime t) {
  if (schedule.every == Schedule::Every::none) return std::nullopt;
  assert(valid(schedule));
  Day d = scheduled_on_or_before(schedule, local_day(Clock::to_time_t(t)) - 1);
  for (;;) {
    const SystemTime deadline = deadline_on(schedule, d);
    if (deadline > t) return deadline;
    d = scheduled_after(schedule, d);
  }
}

std::optional<SystemTime> period_deadline(const Schedule& schedule, SystemTime t) {
  auto previous = previous_deadline(schedule, t);
  if (previous && *previous == t) return previous;
  return next_deadline(schedule, t);
}

std::string period_label(const Schedule& schedule, SystemTime deadline) {
  const char* unit = "";
  switch (schedule.every) {
    case Schedule::Every::none: return "";
    case Schedule::Every::day: unit = "day"; break;
    case Schedule::Every::week: unit = "week"; break;
    case Schedule::Every::month: unit = "month"; break;
  }
  const std::tm tm = local_tm(Clock::to_time_t(deadline));
  char text[64];
  std::snprintf(text, sizeof text, "%s to %s %04d-%02d-%02d %02d:%02d", unit,
                kWeekdayNames[static_cast<std::size_t>(tm.tm_wday)], tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min);
  return text;
}

FeedStatus evaluate(const Schedule& schedule, std::optional<SystemTime> last_delivery, SystemTime now,
                    SystemTime watched_since) {
  FeedStatus status;
  if (schedule.every == Schedule::Every::none) return status;
  status.next_deadline = next_deadline(schedule, now);

  const SystemTime first_counted = *period_deadline(schedule, watched_since);
  const SystemTime due = *previous_deadline(schedule, just_before(now));
  const SystemTime before_due = *previous_deadline(schedule, just_before(due));
  if (due < first_counted || (last_delivery && *last_delivery > before_due)) {
    status.period = period_label(schedule, *period_deadline(schedule, now));
    return status;
  }

  status.overdue = true;
  status.missed_deadline = due;
  // The run of missed deadlines starts after the period of the last delivery (which that
  // delivery satisfied), and never before the first period that counts.
  SystemTime since = first_counted;
  if (last_delivery) since = std::max(since, *next_deadline(schedule, *period_deadline(schedule, *last_delivery)));
  status.overdue_since = since;
  status.overdue_for = std::chrono::floor<std::chrono::seconds>(now - since);
  status.period = period_label(schedule, due);
  return status;
}

void ScheduleTracker::watch(WatchedFeed feed) {
  auto it = feeds_.find(feed.id);
  if (it == feeds_.end()) {
    std::string id = feed.id;
    feeds_.emplace(std::move(id), Entry{std::move(feed), {}, false});
    return;
  }
  Entry& entry = it->second;
  std::optional<SystemTime> last = entry.feed.last_delivery;
  if (feed.last_delivery && (!last || *feed.last_delivery > *last)) last = feed.last_delivery;
  entry.feed = std::move(feed);
  entry.feed.last_delivery = last;
}

bool ScheduleTracker::unwatch(std::string_view feed) {
  auto it = feeds_.find(feed);
  if (it == feeds_.end()) return false;
  const bool was_overdue = it->second.reported_overdue;
  feeds_.erase(it);
  return was_overdue;
}

bool ScheduleTracker::record_delivery(std::string_view feed, SystemTime t) {
  auto it = feeds_.find(feed);
  if (it == feeds_.end()) return false;
  std::optional<SystemTime>& last = it->second.feed.last_delivery;
  if (!last || t > *last) last = t;
  return true;
}

std::vector<OverdueChange> ScheduleTracker::evaluate_all(SystemTime now) {
  std::vector<OverdueChange> changes;
  for (auto& [id, entry] : feeds_) {
    entry.status = evaluate(entry.feed.schedule, entry.feed.last_delivery, now, entry.feed.watched_since);
    if (entry.status.overdue == entry.reported_overdue) continue;
    entry.reported_overdue = entry.status.overdue;
    changes.push_back({id, entry.status.overdue, entry.status});
  }
  return changes;
}

std::vector<std::pair<std::string, FeedStatus>> ScheduleTracker::overdue() const {
  std::vector<std::pair<std::string, FeedStatus>> out;
  for (const auto& [id, entry] : feeds_)
    if (entry.status.overdue) out.emplace_back(id, entry.status);
  return out;
}

std::vector<std::pair<std::string, FeedStatus>> ScheduleTracker::statuses() const {
  std::vector<std::pair<std::string, FeedStatus>> out;
  for (const auto& [id, entry] : feeds_) out.emplace_back(id, entry.status);
  return out;
}

std::string Schedule::to_string() const {
  char time[8];
  std::snprintf(time, sizeof time, "%02d:%02d", hour, minute);
  switch (every) {
    case Every::none: return "no schedule";
    case Every::day: return std::string("daily by ") + time;
    case Every::week: return std::string("weekly by ") + kWeekdayNames[static_cast<std::size_t>(weekday)] + " " + time;
    case Every::month: return "monthly by day " + std::to_string(day) + " " + time;
  }
  return "?";
}

}  // namespace svd::config
