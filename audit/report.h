#pragma once
// `svdgw audit report`: what was shared, when, what was rejected and why, and which partner did
// not send an expected extract (DESIGN 1, 5), per feed and ISO week, for auditors and
// information-governance leads.
//
//   svdgw audit report --config FILE --from DATE --to DATE --out DIR
//
// writes DIR/report.html (one self-contained page: inline CSS and SVG, no script, nothing fetched
// from anywhere, laid out for A4 print) and DIR/report.csv (one row per feed and week, the same
// figures). Both appear atomically (written as .part, then renamed).
//
// Everything comes from the audit log and nothing else: the log holds ids, counts, codes and
// digests, never a value from an extract, and the report adds nothing that is not in it. The
// config gives only the log's place, the partner and the feeds to list.
//
// Dates and weeks are UTC (ISO 8601 weeks, Monday to Sunday; the first and last week may be
// cut short by the range). Deadlines and period labels are the gateway's local time, as
// config/schedule.h defines them: the report must run in the gateway's time zone (TZ).
//
// How the figures are counted (the page ends with the same, for its readers):
//   - expected: the deadlines of the feed's schedule that fall in the week, in the range and not
//     after now, from the period that holds feed.watched's `since` on (a feed with no
//     feed.watched event, or Every::none, expects nothing). The schedule is the one each
//     feed.watched event recorded ("weekly by Monday 09:00"), from that event on; the config's
//     when the recorded text cannot be read.
//   - received: extract.received and extract.nil_return events in the week (nil returns also
//     counted on their own).
//   - on time / late / missing, per expected period (in the week of its deadline): a period is on
//     time when a delivery falls in it ((previous deadline, deadline], config/schedule.h). A
//     period with none is late when a later period up to the next on-time one got more than one
//     delivery: the earliest surplus ones fill the oldest such periods, late by how long after the
//     deadline they came. Otherwise it is missing. So a partner that skips a week and sends two
//     the week after is late, not missing, while one extra correction never hides a period
//     missed months before.
//   - rows received / rejected: extract.processed and extract.refused events in the week
//     (rejections by errc code, from their rejected_by_code).
//   - records forwarded: batch.published with attempt 1 (re-sends are not counted again);
//     acknowledged: the first batch.acknowledged of each batch.
//   - time to hub receipt: for each extract received in the week whose batches were all
//     acknowledged by the end of the range, from extract.received to its last batch's first
//     acknowledgement; median and max per week. Extracts still waiting are counted.
//   - the chain status at the top: audit::verify over the whole log, with the config's
//     [audit] device_key (its public half) and hub_witness_key when set; a key that cannot be
//     read is reported on the page, and the chain is still checked.
//
// Exit status: 0 written and the chain verifies, 3 written but the chain does not verify (the
// report says where), 1 the config, the log or the output cannot be read or written,
// 2 bad arguments.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "config/gateway_config.h"

namespace svd::audit {

// The inverse of config::Schedule::to_string ("weekly by Monday 09:00", "daily by 09:00",
// "monthly by day 5 09:00", "no schedule"): feed.watched events record the schedule that way.
std::optional<config::Schedule> parse_schedule_text(std::string_view text);

struct AuditReportArgs {
  std::filesystem::path config;
  std::string from, to;
  std::filesystem::path out_dir;
};

// Runs the command; explains any problem on stderr. Returns the exit status.
int audit_report_main(const AuditReportArgs& args);

}  // namespace svd::audit
