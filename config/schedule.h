#pragma once
// Expected deliveries per feed and the `feed.overdue` alert: which partner's expected extract has
// not arrived. A schedule ("weekly by Monday 09:00", local time) defines deadlines; period k is
// (deadline_{k-1}, deadline_k], and a delivery at t counts for the period that holds t. A
// delivery is what the daemon reports with ScheduleTracker::record_delivery (an accepted extract
// or a "nothing to share" return); only its time matters. The rules, including daylight-saving
// gaps and overlaps: docs/daemon.md, "Schedules".
//
// Deadlines are found with localtime_r(), never mktime(); glibc keeps the zone it loaded, so the
// daemon calls tzset() at start and on reload. Times are system_clock time points; deadlines fall
// on whole seconds. Pure functions; any thread. ScheduleTracker: no locking, one owner.

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace svd::config {

// When a feed's extract is due: `schedule = { every = "week", day = "monday", by = "09:00" }` in a
// gateway's [[feed]] and in the hub's [partner.schedule] (read by config/detail/toml_reader.h).
struct Schedule {
  enum class Every { none, day, week, month };
  Every every = Every::none;
  int weekday = 1;   // 0 = Sunday … 6 = Saturday, for Every::week
  int day = 1;       // 1…28, for Every::month
  int hour = 9, minute = 0;  // the deadline's time of day (local time)

  std::string to_string() const;  // "weekly by Monday 09:00"
};

inline constexpr std::array<std::string_view, 7> kWeekdays{"sunday",   "monday", "tuesday", "wednesday",
                                                           "thursday", "friday", "saturday"};

using SystemTime = std::chrono::system_clock::time_point;

// The latest deadline <= t, and the earliest deadline > t. None for Every::none.
std::optional<SystemTime> previous_deadline(const config::Schedule& schedule, SystemTime t);
std::optional<SystemTime> next_deadline(const config::Schedule& schedule, SystemTime t);
// The deadline of the period that holds t (the earliest deadline >= t): the period a delivery
// at t counts for. None for Every::none.
std::optional<SystemTime> period_deadline(const config::Schedule& schedule, SystemTime t);

// "day to Monday 2026-11-23 09:00", "week to …", "month to …": the period ending at `deadline`,
// named by the deadline's local date and time. "" for Every::none.
std::string period_label(const config::Schedule& schedule, SystemTime deadline);

struct FeedStatus {
  bool overdue = false;
  // When overdue: the most recent deadline that passed with nothing received in its period, and
  // the first deadline of the run of missed ones that ends with it (the same when one period
  // was missed). overdue_for = now - overdue_since.
  std::optional<SystemTime> missed_deadline, overdue_since;
  std::chrono::seconds overdue_for{0};
  std::optional<SystemTime> next_deadline;  // the earliest deadline > now; none for Every::none
  // Overdue: the missed period's label; otherwise the period now is in. "" for Every::none.
  std::string period;
};

// The feed's state at `now`. It is overdue when the latest deadline before now (strictly: a
// delivery at the deadline itself is still on time, so the alert starts just after it) had no
// delivery in its period, i.e. `last_delivery` is absent or not after the deadline before that
// one. Only the latest deadline matters: any delivery after the one before it clears the alert,
// including a late one (which also counts for the period it falls in). Deadlines before the
// period holding `watched_since` (when the gateway started watching the feed) never count, so
// a new install or a newly added feed is not overdue for periods before it existed; the period
// holding `watched_since` does count, even if it ends a minute later. Every::none: never overdue.
FeedStatus evaluate(const config::Schedule& schedule, std::optional<SystemTime> last_delivery, SystemTime now,
                    SystemTime watched_since);

struct WatchedFeed {
  std::string id;
  config::Schedule schedule;
  SystemTime watched_since;                  // e.g. when the feed first appeared in the config
  std::optional<SystemTime> last_delivery;   // the latest delivery already on record (at start)
};

struct OverdueChange {
  std::string feed;
  bool overdue = false;  // true: became overdue (log feed.overdue); false: cleared
  FeedStatus status;     // the new status
};

// The feeds' overdue states, and when they change: the daemon logs `feed.overdue` once when a
// feed becomes overdue and once when it clears, however often it evaluates. A feed that stays
// overdue while further deadlines pass is not raised again (FeedStatus::overdue_since and
// overdue_for say how long it has been); once cleared, the next missed deadline raises it anew.
//
// At start the daemon passes each feed's last delivery (from the extract store) to watch();
// evaluate_all() then reports the feeds already overdue as changes, so a restart logs them once.
//
// Thread-safety: none; one owner. Pure: no clock, no I/O, no logging.
class ScheduleTracker {
 public:
  // Adds the feed, or replaces its schedule and watched_since (a config reload). A replaced
  // feed keeps the later of the two last deliveries and its reported state, so a reload alone
  // raises or clears nothing unless the new schedule changes the answer.
  void watch(WatchedFeed feed);
  // Forgets the feed; returns whether it had been reported overdue (no change is reported for it).
  bool unwatch(std::string_view feed);
  // A delivery for `feed` at `t` (earlier ones than the latest on record change nothing).
  // False when the feed is not watched. Takes effect at the next evaluate_all().
  bool record_delivery(std::string_view feed, SystemTime t);

  // Evaluates every feed at `now` and returns those whose overdue state differs from the one
  // last reported, ordered by feed id. Call it periodically (a minute is plenty) and after
  // record_delivery(); the wall clock may jump, so a timer to the next deadline is not enough.
  std::vector<OverdueChange> evaluate_all(SystemTime now);

  // As of the last evaluate_all(), ordered by feed id (never evaluated: not overdue, empty status).
  std::vector<std::pair<std::string, FeedStatus>> overdue() const;
  std::vector<std::pair<std::string, FeedStatus>> statuses() const;

 private:
  struct Entry {
    WatchedFeed feed;
    FeedStatus status;
    bool reported_overdue = false;
  };
  std::map<std::string, Entry, std::less<>> feeds_;
};

}  // namespace svd::config
