#pragma once
// `svdhub report`: the force's printable view of a range of days (render/html.h: one
// self-contained HTML page, no script, no network, A4) and its tables as CSV files.
//
// Sections: sharing compliance (for each partner and scheduled feed, each ISO week's periods as
// received / nil return / late / missing, hub/sharing.h), who failed to share and for how long,
// each gateway's last known state; then what the records show (hub/analysis.h): linked series,
// repeat contact and the area profile, every count of people or records through suppress()
// ([report] min_cell). The page and its CSV files name no token; the person-level file is written
// apart (person_level_csv) and only on request. docs/analysts.md ("The force's report") says how
// each figure is computed.
//
// Pure functions of what they are given; any thread.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/hub_config.h"
#include "hub/analysis.h"
#include "hub/sharing.h"
#include "hub/store.h"

namespace svd::hub {

struct ReportInput {
  // The report's UTC days, both included: [from, to + 1 day).
  std::int64_t from_day = 0, to_day = 0;  // days since 1970-01-01
  config::SystemTime now;
  std::vector<PeriodRow> periods;     // sharing_periods() over the range
  std::vector<GatewayState> gateways;  // Store::gateway_states()
  std::optional<Analysis> analysis;    // analyse() over the range
};

struct ReportFiles {
  std::string html;
  std::map<std::string, std::string> csv;  // file name -> content
};

ReportFiles render_report(const config::HubReceiverConfig& config, const ReportInput& input);

// The person-level file (`svdhub report --person-level`): personal data, one CSV row per record
// of each person found (analyse()'s person_record), tokens included, after this header.
std::string person_level_header();
std::string person_level_row(const PersonRecord& record);

}  // namespace svd::hub
