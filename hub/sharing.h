#pragma once
// Who shared and who did not: per partner, feed and period of the feed's schedule at the hub
// ([partner.schedule]), what reached the force. `svdhub sharing` prints it, `svdhub report` tabulates
// it by ISO week, and /metrics raises the feeds overdue now. docs/operations.md ("Who shared and
// who did not") has the rules in an operator's words.
//
// A delivery is an extract whose every batch is stored (ExtractArrival::complete), placed in time
// by when it reached its gateway, as the gateway's own overdue alert places it (config/schedule.h):
// period k is (deadline_{k-1}, deadline_k], and a delivery counts for the period that holds it.
// A period is then
//   received    a data extract of its own was delivered;
//   nil_return  only a nothing-to-share return (the hub can tell it from silence);
//   late        nothing of its own by its deadline, but a delivery before the next deadline ended
//               the gap (the gateway's alert raised and cleared; that delivery also counts for
//               the period it falls in, as at the gateway);
//   missing     nothing of its own and nothing before the next deadline either (or nothing yet,
//               once its deadline has passed);
//   due         its deadline is still ahead.
// `overdue_for` is how long the feed went without a delivery after the period's deadline, to the
// delivery that ended the gap or to `now`: "for how long" a partner failed to share. An extract
// some of whose batches are still on their way counts as `in_transit`, not as a delivery.
//
// Pure functions of the config, the arrivals and the times given; any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/hub_config.h"
#include "config/schedule.h"
#include "hub/store.h"

namespace svd::hub {

enum class PeriodState { received, nil_return, late, missing, due };
std::string_view to_string(PeriodState s);

struct PeriodRow {
  std::string partner, feed;
  std::string period;               // config::period_label(): "week to Monday 2026-11-23 09:00"
  config::SystemTime deadline;      // the period's end
  PeriodState state = PeriodState::due;
  std::uint64_t extracts = 0;       // data extracts delivered in the period
  std::uint64_t records = 0;        // their records
  std::uint64_t nil_returns = 0;    // nothing-to-share returns delivered in the period
  std::uint64_t in_transit = 0;     // extracts in the period not yet wholly stored
  std::optional<config::SystemTime> ended_gap;  // late: the delivery after the deadline
  std::chrono::seconds overdue_for{0};          // late and missing: see above
};

// The rows of the periods whose deadline is in (from, to], for every partner feed with a schedule,
// partners in the config's order, then by feed and deadline; `arrivals` must cover (from - one period, to + one
// period] (sharing_window() says which span to ask the store for). Periods whose deadline is
// after `now` are `due`.
std::vector<PeriodRow> sharing_periods(const config::HubReceiverConfig& config,
                                       const std::vector<ExtractArrival>& arrivals, config::SystemTime from,
                                       config::SystemTime to, config::SystemTime now);

// The span of arrivals sharing_periods() needs for (from, to]: a month and a day either side (the
// longest period, and a daylight-saving change).
std::pair<config::SystemTime, config::SystemTime> sharing_window(config::SystemTime from, config::SystemTime to);

// A feed overdue now at the hub, by the gateway's rule (config::evaluate): the last delivery is
// the latest complete extract; deadlines before `watched_since` never count.
struct OverdueFeed {
  std::string partner, feed;
  config::FeedStatus status;
};
// Every scheduled partner feed with its status at `now`, partners in the config's order.
std::vector<OverdueFeed> feed_statuses(const config::HubReceiverConfig& config,
                                       const std::vector<ExtractArrival>& arrivals, config::SystemTime now,
                                       config::SystemTime watched_since);

// "7d 00h" from two days on, "24h 30m" below: how long a feed went without a delivery.
std::string duration_text(std::chrono::seconds s);

// The table `svdhub sharing` prints: one line per period, then a summary per partner and feed.
std::string render_sharing(const std::vector<PeriodRow>& rows);

}  // namespace svd::hub
