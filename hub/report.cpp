#include "hub/report.h"

#include <algorithm>
#include <set>

#include "base/time.h"
#include "config/temporal.h"
#include "hub/suppression.h"
#include "render/html.h"

namespace svd::hub {
namespace {

using render::html;
using render::num;

// Colours for a week's cell, on top of the shared stylesheet.
constexpr const char* kReportCss = R"(
td.s-ok { background: #e3f3e7; }
td.s-nil { background: #eef1f6; }
td.s-late { background: #fff3d6; }
td.s-missing { background: #fbe4e2; font-weight: 600; }
td.s-none { color: #8a94a6; }
td.sup { color: #5b6577; font-style: italic; }
tr.total td, td.total { font-weight: 600; }
@media print { td.s-ok, td.s-nil, td.s-late, td.s-missing { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
)";

std::int64_t day_of(config::SystemTime t) {
  return std::chrono::floor<std::chrono::days>(t.time_since_epoch()).count();
}

std::string day_text(std::int64_t day) { return config::to_iso(config::civil_from_days(day)); }

// CSV field: quoted when it holds a separator, a quote or a line break.
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The state a week shows when several periods end in it (a daily feed): the worst.
int severity(PeriodState s) {
  switch (s) {
    case PeriodState::missing: return 4;
    case PeriodState::late: return 3;
    case PeriodState::due: return 0;
    case PeriodState::nil_return: return 1;
    case PeriodState::received: return 2;
  }
  return 0;
}

const char* css_class(PeriodState s) {
  switch (s) {
    case PeriodState::missing: return "s-missing";
    case PeriodState::late: return "s-late";
    case PeriodState::nil_return: return "s-nil";
    case PeriodState::received: return "s-ok";
    case PeriodState::due: return "s-none";
  }
  return "s-none";
}

struct FeedRows {
  std::string partner, feed;
  std::vector<const PeriodRow*> periods;
};

std::vector<FeedRows> by_feed(const std::vector<PeriodRow>& periods) {
  std::vector<FeedRows> out;
  for (const PeriodRow& p : periods) {
    if (out.empty() || out.back().partner != p.partner || out.back().feed != p.feed)
      out.push_back({p.partner, p.feed, {}});
    out.back().periods.push_back(&p);
  }
  return out;
}

// One week's cell: what the periods ending in it came to.
std::string week_cell(const std::vector<const PeriodRow*>& in_week) {
  if (in_week.empty()) return "<td class=\"s-none\">–</td>";
  const PeriodRow* worst = in_week.front();
  std::map<PeriodState, int> counts;
  for (const PeriodRow* p : in_week) {
    ++counts[p->state];
    if (severity(p->state) > severity(worst->state)) worst = p;
  }
  std::string text;
  if (in_week.size() == 1) {
    text = std::string(to_string(worst->state));
    if (worst->state == PeriodState::late || worst->state == PeriodState::missing)
      text += " " + duration_text(worst->overdue_for);
  } else {
    for (const auto& [state, n] : counts)
      text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(to_string(state));
  }
  return std::string("<td class=\"l ") + css_class(worst->state) + "\">" + html(text) + "</td>";
}

struct Totals {
  std::uint64_t due = 0, received = 0, nil = 0, late = 0, missing = 0, records = 0;
  std::chrono::seconds without{0};
};

Totals totals(const FeedRows& f) {
  Totals t;
  for (const PeriodRow* p : f.periods) {
    t.records += p->records;
    if (p->state == PeriodState::due) continue;
    ++t.due;
    t.received += p->state == PeriodState::received;
    t.nil += p->state == PeriodState::nil_return;
    t.late += p->state == PeriodState::late;
    t.missing += p->state == PeriodState::missing;
    t.without += p->overdue_for;
  }
  return t;
}

std::string sharing_csv(const std::vector<PeriodRow>& periods) {
  std::string out =
      "partner,feed,iso_week,period,deadline_utc,state,extracts,records,nil_returns,in_transit,overdue_seconds\n";
  for (const PeriodRow& p : periods)
    out += csv(p.partner) + "," + csv(p.feed) + "," + render::iso_week_label(render::monday_of(day_of(p.deadline))) +
           "," + csv(p.period) + "," + utc_iso(p.deadline) + "," + std::string(to_string(p.state)) + "," +
           num(p.extracts) + "," + num(p.records) + "," + num(p.nil_returns) + "," + num(p.in_transit) + "," +
           std::to_string(p.overdue_for.count()) + "\n";
  return out;
}

std::string gateways_csv(const config::HubReceiverConfig& config, const std::vector<GatewayState>& gateways) {
  std::string out = "partner,state,last_online_utc,queued_batches,version\n";
  for (const auto& p : config.partners) {
    const auto g = std::find_if(gateways.begin(), gateways.end(), [&](const GatewayState& s) { return s.partner == p.id; });
    if (g == gateways.end()) {
      out += csv(p.id) + ",never seen,,,\n";
      continue;
    }
    out += csv(p.id) + "," + (g->online ? "online" : "offline") + "," +
           (g->last_online_at ? utc_iso(*g->last_online_at) : "") + "," +
           (g->queued_batches ? num(*g->queued_batches) : "") + "," + csv(g->version) + "\n";
  }
  return out;
}

// A table of counts through suppress(): its rows with their totals, then a total row. Hidden
// entries show "<k" or "*".
std::string table_html(const CountTable& t, std::uint64_t k, const std::string& corner) {
  const SuppressedTable s = suppress(t.cells, k);
  std::string h = "<table><tr><th class=\"l\">" + html(corner) + "</th>";
  for (const std::string& c : t.columns) h += "<th>" + html(c) + "</th>";
  h += "<th>Total</th></tr>";
  for (std::size_t r = 0; r <= t.rows.size(); ++r) {
    const bool total = r == t.rows.size();
    h += std::string(total ? "<tr class=\"total\">" : "<tr>") + "<td class=\"l\">" +
         html(total ? std::string("Total") : t.rows[r]) + "</td>";
    for (std::size_t c = 0; c <= t.columns.size(); ++c)
      h += std::string(s.shown[r][c] == Shown::value ? "<td>" : "<td class=\"sup\">") + html(s.text(r, c, k)) + "</td>";
    h += "</tr>";
  }
  return h + "</table>\n";
}

// The same as CSV: `prefix` columns first (header names and this table's values), then the label,
// the columns and the total; a last row "Total".
std::string table_csv(const CountTable& t, std::uint64_t k,
                      const std::vector<std::pair<std::string, std::string>>& prefix = {}) {
  const SuppressedTable s = suppress(t.cells, k);
  std::string out, lead;
  for (const auto& [name, value] : prefix) lead += csv(value) + ",";
  for (std::size_t r = 0; r <= t.rows.size(); ++r) {
    out += lead + csv(r == t.rows.size() ? std::string("Total") : t.rows[r]);
    for (std::size_t c = 0; c <= t.columns.size(); ++c) out += "," + s.text(r, c, k);
    out += "\n";
  }
  return out;
}

std::string csv_header(const CountTable& t, const std::string& corner,
                       const std::vector<std::pair<std::string, std::string>>& prefix = {}) {
  std::string h;
  for (const auto& [name, value] : prefix) h += csv(name) + ",";
  h += csv(corner);
  for (const std::string& c : t.columns) h += "," + csv(c);
  return h + ",Total\n";
}

void analysis_sections(const config::HubReceiverConfig& config, const Analysis& a, std::string& h,
                       std::map<std::string, std::string>& files) {
  const config::ReportConfig& rc = config.report;
  const std::uint64_t k = rc.min_cell;
  const std::string small = "Counts from 1 to " + std::to_string(k - 1) + " show as &lt;" + std::to_string(k) +
                            "; a * hides a count that the totals would otherwise give away.";

  h += "<h2>Linked series: deaths, and who saw the person before</h2>";
  if (!a.linked) {
    h += "<p>No death feed is configured (<code>[report] death_feed</code>), so there is no linked series.</p>\n";
  } else {
    const LinkedSeries& ls = *a.linked;
    h += "<p class=\"meta\">Persons with a death in <code>" + html(rc.death_feed) +
         "</code> dated in the range, by the other feeds holding a record of the same person (the same NHS-number "
         "or person token, across linkage-key rotations) dated in the " + std::to_string(rc.lookback_months) +
         " months up to the death, and by the time from the first such record to the death. Linkage is exact: a "
         "name or date of birth recorded differently is not linked. " + small + "</p>";
    h += table_html(ls.by_combination, k, "Other feeds with a record");
    files["linked_series.csv"] = csv_header(ls.by_combination, "other_feeds") + table_csv(ls.by_combination, k);
  }

  h += "<h2>Repeat contact</h2>";
  if (!a.repeat) {
    h += "<p>No violence feed is configured (<code>[report] violence_feeds</code>), so there is no repeat-contact "
         "count.</p>\n";
  } else {
    std::string feeds;
    for (const std::string& f : rc.violence_feeds) feeds += (feeds.empty() ? "" : ", ") + f;
    h += "<p class=\"meta\">Persons with two or more records dated in the range in the violence feeds (" +
         html(feeds) + "), by how many, and whether another feed holds a record of them (dated in the range or, "
         "with a death feed, its lookback). " + small + "</p>";
    h += table_html(a.repeat->persons, k, "Records in the range");
    files["repeat_contact.csv"] =
        csv_header(a.repeat->persons, "records_in_range") + table_csv(a.repeat->persons, k);
  }

  h += "<h2>Area profile</h2>";
  std::string area_csv;
  if (a.areas.empty()) {
    h += "<p>No feed shares a postcode district or sector with a date, so there is no area profile.</p>\n";
  } else {
    h += "<p class=\"meta\">Records dated in the range, by postcode district (a sector counts for its district) "
         "and month of the event, feed by feed. " + small + "</p>";
    // Every feed's table has the range's months as its columns: one header for the file.
    area_csv = csv_header(a.areas.front().records, "district", {{"feed", ""}});
    for (const AreaProfile& ap : a.areas) {
      h += "<h3>" + html(ap.feed) + "</h3>";
      if (ap.records.rows.empty()) {
        h += "<p>No record of this feed is dated in the range.</p>\n";
        continue;
      }
      h += table_html(ap.records, k, "District");
      area_csv += table_csv(ap.records, k, {{"feed", ap.feed}});
    }
  }
  if (!area_csv.empty()) files["area_profile.csv"] = area_csv;
}

}  // namespace

std::string person_level_header() {
  return "person,section,role,feed,partner,event,district,nhs_number_token,person_token\n";
}

std::string person_level_row(const PersonRecord& p) {
  return csv(p.person) + "," + csv(p.section) + "," + csv(p.role) + "," + csv(p.feed) + "," + csv(p.partner) + "," +
         csv(p.event) + "," + csv(p.area) + "," + csv(p.nhs_number_token) + "," + csv(p.person_token) + "\n";
}

ReportFiles render_report(const config::HubReceiverConfig& config, const ReportInput& in) {
  ReportFiles files;
  files.csv["sharing.csv"] = sharing_csv(in.periods);
  files.csv["gateways.csv"] = gateways_csv(config, in.gateways);

  std::vector<std::int64_t> mondays;
  for (std::int64_t m = render::monday_of(in.from_day); m <= in.to_day; m += 7) mondays.push_back(m);
  const auto feeds = by_feed(in.periods);

  std::string h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Data sharing at the force: " +
                  html(day_text(in.from_day)) + " to " + html(day_text(in.to_day)) + "</title><style>" +
                  std::string(render::kPageCss) + kReportCss + "</style></head><body>\n";
  h += "<header><h1>Data sharing at the force</h1><p class=\"meta\">" + html(day_text(in.from_day)) + " to " +
       html(day_text(in.to_day)) +
       " (UTC days, both included; weeks are ISO weeks, Monday to Sunday, UTC, each holding the periods whose "
       "deadline falls in it). Deadlines and period labels are the hub's local time. As stored up to " +
       html(utc_iso(in.now)) + ". The sharing sections count extracts, records and periods; the sections after them count people and "
       "records, with small numbers hidden. This page names no token.</p></header>\n";

  // Summary per partner and feed.
  h += "<h2>Sharing compliance</h2>";
  if (feeds.empty()) {
    h += "<p>No partner feed has a schedule in the hub's config (<code>[partner.schedule]</code>), so none is "
         "expected and none can be missing.</p>\n";
  } else {
    h += "<table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th><th class=\"l\">Schedule</th><th>Periods "
         "due</th><th>Received</th><th>Nil return</th><th>Late</th><th>Missing</th><th>Records</th><th>Without a "
         "delivery for</th></tr>";
    for (const FeedRows& f : feeds) {
      const Totals t = totals(f);
      std::string schedule_text;
      if (const auto* partner = config.partner(f.partner))
        if (const auto s = partner->schedules.find(f.feed); s != partner->schedules.end())
          schedule_text = s->second.to_string();
      h += std::string("<tr") + (t.missing ? " class=\"bad\"" : t.late ? " class=\"warn\"" : "") + "><td class=\"l\">" +
           html(f.partner) + "</td><td class=\"l\">" + html(f.feed) + "</td><td class=\"l\">" + html(schedule_text) +
           "</td><td>" + num(t.due) + "</td><td>" + num(t.received) + "</td><td>" + num(t.nil) + "</td><td>" +
           num(t.late) + "</td><td>" + num(t.missing) + "</td><td>" + num(t.records) + "</td><td>" +
           (t.without.count() ? html(duration_text(t.without)) : "–") + "</td></tr>";
    }
    h += "</table>\n";

    // Week by week.
    h += "<h3>Week by week</h3><table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th>";
    for (std::int64_t m : mondays) h += "<th class=\"l\">" + html(render::iso_week_label(m)) + "</th>";
    h += "</tr>";
    for (const FeedRows& f : feeds) {
      h += "<tr><td class=\"l\">" + html(f.partner) + "</td><td class=\"l\">" + html(f.feed) + "</td>";
      for (std::int64_t m : mondays) {
        std::vector<const PeriodRow*> in_week;
        for (const PeriodRow* p : f.periods)
          if (render::monday_of(day_of(p->deadline)) == m) in_week.push_back(p);
        h += week_cell(in_week);
      }
      h += "</tr>";
    }
    h += "</table>\n";
  }

  // Who did not share.
  h += "<h2>Who did not share, and for how long</h2>";
  std::string rows;
  for (const PeriodRow& p : in.periods) {
    if (p.state != PeriodState::late && p.state != PeriodState::missing) continue;
    rows += std::string("<tr class=\"") + (p.state == PeriodState::missing ? "bad" : "warn") + "\"><td class=\"l\">" +
            html(p.partner) + "</td><td class=\"l\">" + html(p.feed) + "</td><td class=\"l\">" + html(p.period) +
            "</td><td class=\"l\">" + html(std::string(to_string(p.state))) + "</td><td>" +
            html(duration_text(p.overdue_for)) + "</td><td class=\"l\">" +
            (p.ended_gap ? "delivered " + html(utc_iso(*p.ended_gap)) : std::string("nothing since")) + "</td></tr>";
  }
  if (rows.empty())
    h += "<p>Every period due in the range was received or answered with a nil return.</p>\n";
  else
    h += "<table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th><th class=\"l\">Period</th><th "
         "class=\"l\">State</th><th>Without a delivery for</th><th class=\"l\">Since</th></tr>" +
         rows + "</table>\n";

  // Gateways.
  h += "<h2>Gateways</h2><table><tr><th class=\"l\">Partner</th><th class=\"l\">State</th><th class=\"l\">Last known "
       "online (UTC)</th><th>Queued batches</th><th class=\"l\">svdgw</th></tr>";
  for (const auto& p : config.partners) {
    const auto g =
        std::find_if(in.gateways.begin(), in.gateways.end(), [&](const GatewayState& s) { return s.partner == p.id; });
    if (g == in.gateways.end()) {
      h += "<tr class=\"warn\"><td class=\"l\">" + html(p.id) +
           "</td><td class=\"l\">never seen</td><td class=\"l\">–</td><td>–</td><td class=\"l\">–</td></tr>";
      continue;
    }
    h += std::string("<tr") + (g->online ? "" : " class=\"warn\"") + "><td class=\"l\">" + html(p.id) +
         "</td><td class=\"l\">" + (g->online ? "online" : "offline") + "</td><td class=\"l\">" +
         (g->last_online_at ? html(utc_iso(*g->last_online_at)) : "–") + "</td><td>" +
         (g->queued_batches ? num(*g->queued_batches) : "–") + "</td><td class=\"l\">" + html(g->version) +
         "</td></tr>";
  }
  h += "</table>\n";
  if (in.analysis) analysis_sections(config, *in.analysis, h, files.csv);
  std::string names;
  for (const auto& [name, content] : files.csv)
    if (name != "sharing.csv") names += ", " + name;
  h += "<footer>Made by svdhub report at " + html(utc_iso(in.now)) +
       ". The CSV files beside this page hold the same tables: sharing.csv (one row per period)" + html(names) +
       ". None of them holds a token.</footer>\n</body></html>\n";
  files.html = std::move(h);
  return files;
}

}  // namespace svd::hub
