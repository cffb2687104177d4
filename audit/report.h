#pragma once
// `svdgw audit report`: what was shared, when, what was rejected and why, and which partner did
// not send an expected extract, per feed and ISO week, for auditors and information-governance
// leads. Writes DIR/report.html (self-contained: inline CSS and SVG, no script, nothing fetched;
// laid out for A4) and DIR/report.csv, each atomically (.part, then renamed).
//
// Everything comes from the audit log; the config gives only the log's place, the partner, the
// feeds to list and the keys to check signatures with, and a copy of the log alone will do. Weeks are UTC; deadlines are the gateway's local time (config/schedule.h), so the
// report must run in the gateway's time zone. How each figure is counted: docs/audit.md,
// "`svdgw audit export` and `svdgw audit report`".
//
// Exit status: 0 written and the chain verifies, 3 written but the chain does not verify, 1 the
// config, the log or the output cannot be read or written, 2 bad arguments. Runs on the calling
// thread.

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
  std::filesystem::path config;  // or empty, with `log`
  std::optional<std::filesystem::path> log, device_key, witness_key;  // override the config's
  std::string from, to;
  std::filesystem::path out_dir;
};

// Runs the command; explains any problem on stderr. Returns the exit status.
int audit_report_main(const AuditReportArgs& args);

}  // namespace svd::audit
