#include "hub/sharing.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

namespace svd::hub {

using config::SystemTime;

std::string_view to_string(PeriodState s) {
  switch (s) {
    case PeriodState::received: return "received";
    case PeriodState::nil_return: return "nil return";
    case PeriodState::late: return "late";
    case PeriodState::missing: return "missing";
    case PeriodState::due: return "due";
  }
  return "?";
}

namespace {

SystemTime at(std::int64_t unix_seconds) { return SystemTime(std::chrono::seconds(unix_seconds)); }

// The arrivals of one partner feed, ordered by when they reached the gateway.
using Arrivals = std::vector<const ExtractArrival*>;
std::map<std::pair<std::string_view, std::string_view>, Arrivals> by_feed(const std::vector<ExtractArrival>& all) {
  std::map<std::pair<std::string_view, std::string_view>, Arrivals> out;
  for (const auto& a : all) out[{a.partner, a.feed}].push_back(&a);
  for (auto& [key, list] : out)
    std::sort(list.begin(), list.end(), [](const ExtractArrival* x, const ExtractArrival* y) {
      return std::tie(x->received_at, x->extract_id) < std::tie(y->received_at, y->extract_id);
    });
  return out;
}

// The first delivery (complete extract, data or nil) that reached the gateway after `t`.
std::optional<SystemTime> first_delivery_after(const Arrivals& list, SystemTime t) {
  for (const ExtractArrival* a : list)
    if (a->complete() && at(a->received_at) > t) return at(a->received_at);
  return std::nullopt;
}

}  // namespace

std::string duration_text(std::chrono::seconds s) {
  const auto hours = s.count() / 3600;
  char text[32];
  if (hours >= 48) std::snprintf(text, sizeof text, "%lldd %02lldh", static_cast<long long>(hours / 24),
                                 static_cast<long long>(hours % 24));
  else std::snprintf(text, sizeof text, "%lldh %02lldm", static_cast<long long>(hours),
                     static_cast<long long>(s.count() % 3600 / 60));
  return text;
}

std::pair<SystemTime, SystemTime> sharing_window(SystemTime from, SystemTime to) {
  constexpr auto kSpan = std::chrono::hours(24 * 32);
  return {from - kSpan, to + kSpan};
}

std::vector<PeriodRow> sharing_periods(const config::HubReceiverConfig& config,
                                       const std::vector<ExtractArrival>& arrivals, SystemTime from, SystemTime to,
                                       SystemTime now) {
  const auto feeds = by_feed(arrivals);
  static const Arrivals kNone;
  std::vector<PeriodRow> rows;
  for (const auto& partner : config.partners) {
    for (const auto& [feed, schedule] : partner.schedules) {
      if (schedule.every == config::Schedule::Every::none) continue;
      const auto found = feeds.find({partner.id, feed});
      const Arrivals& list = found == feeds.end() ? kNone : found->second;
      for (auto deadline = config::next_deadline(schedule, from); deadline && *deadline <= to;
           deadline = config::next_deadline(schedule, *deadline)) {
        PeriodRow row;
        row.partner = partner.id;
        row.feed = feed;
        row.deadline = *deadline;
        row.period = config::period_label(schedule, *deadline);
        const SystemTime start = *config::previous_deadline(schedule, *deadline - std::chrono::seconds(1));
        for (const ExtractArrival* a : list) {
          if (at(a->received_at) <= start || at(a->received_at) > *deadline) continue;
          if (!a->complete()) ++row.in_transit;
          else if (a->nil_return) ++row.nil_returns;
          else {
            ++row.extracts;
            row.records += a->records;
          }
        }
        if (row.extracts) row.state = PeriodState::received;
        else if (row.nil_returns) row.state = PeriodState::nil_return;
        else if (*deadline >= now) row.state = PeriodState::due;
        else {
          const auto next = config::next_deadline(schedule, *deadline);
          const auto ended = first_delivery_after(list, *deadline);
          if (ended && *ended <= now && next && *ended <= *next) {
            row.state = PeriodState::late;
            row.ended_gap = ended;
            row.overdue_for = std::chrono::floor<std::chrono::seconds>(*ended - *deadline);
          } else {
            row.state = PeriodState::missing;
            const SystemTime until = ended && *ended <= now ? *ended : now;
            row.overdue_for = std::chrono::floor<std::chrono::seconds>(until - *deadline);
          }
        }
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

std::vector<OverdueFeed> feed_statuses(const config::HubReceiverConfig& config,
                                       const std::vector<ExtractArrival>& arrivals, SystemTime now,
                                       SystemTime watched_since) {
  const auto feeds = by_feed(arrivals);
  std::vector<OverdueFeed> out;
  for (const auto& partner : config.partners) {
    for (const auto& [feed, schedule] : partner.schedules) {
      if (schedule.every == config::Schedule::Every::none) continue;
      std::optional<SystemTime> last;
      if (const auto found = feeds.find({partner.id, feed}); found != feeds.end())
        for (const ExtractArrival* a : found->second)
          if (a->complete() && at(a->received_at) <= now) last = std::max(last.value_or(at(a->received_at)), at(a->received_at));
      out.push_back({partner.id, feed, config::evaluate(schedule, last, now, watched_since)});
    }
  }
  return out;
}

std::string render_sharing(const std::vector<PeriodRow>& rows) {
  if (rows.empty()) return "no partner feed has a schedule in the hub's config ([partner.schedule])\n";
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-20s %-20s %-34s %-10s %8s %9s  %s\n", "partner", "feed", "period", "state",
                "extracts", "records", "overdue for");
  out += line;
  struct Totals {
    std::uint64_t periods = 0, received = 0, nil = 0, late = 0, missing = 0;
    std::chrono::seconds overdue{0};
  };
  std::map<std::pair<std::string, std::string>, Totals> totals;
  for (const PeriodRow& r : rows) {
    std::string note;
    if (r.state == PeriodState::late || r.state == PeriodState::missing) note = duration_text(r.overdue_for);
    if (r.in_transit) note += std::string(note.empty() ? "" : "; ") + std::to_string(r.in_transit) + " in transit";
    std::snprintf(line, sizeof line, "%-20s %-20s %-34s %-10s %8llu %9llu  %s\n", r.partner.c_str(), r.feed.c_str(),
                  r.period.c_str(), std::string(to_string(r.state)).c_str(),
                  static_cast<unsigned long long>(r.extracts), static_cast<unsigned long long>(r.records),
                  note.c_str());
    out += line;
    Totals& t = totals[{r.partner, r.feed}];
    if (r.state == PeriodState::due) continue;
    ++t.periods;
    t.received += r.state == PeriodState::received;
    t.nil += r.state == PeriodState::nil_return;
    t.late += r.state == PeriodState::late;
    t.missing += r.state == PeriodState::missing;
    t.overdue += r.overdue_for;
  }
  out += "\n";
  for (const auto& [key, t] : totals) {
    std::snprintf(line, sizeof line,
                  "%s %s: %llu period(s) due, %llu received, %llu nil return, %llu late, %llu missing%s\n",
                  key.first.c_str(), key.second.c_str(), static_cast<unsigned long long>(t.periods),
                  static_cast<unsigned long long>(t.received), static_cast<unsigned long long>(t.nil),
                  static_cast<unsigned long long>(t.late), static_cast<unsigned long long>(t.missing),
                  t.overdue.count() ? ("; without a delivery for " + duration_text(t.overdue)).c_str() : "");
    out += line;
  }
  return out;
}

}  // namespace svd::hub
