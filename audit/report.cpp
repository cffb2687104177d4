#include "audit/report.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "audit/audit_log.h"
#include "audit/export.h"
#include "audit/verify.h"
#include "base/hex.h"
#include "render/html.h"
#include "config/schedule.h"
#include "config/temporal.h"
#include "crypto/signing_key.h"

namespace svd::audit {
namespace {

namespace json = boost::json;
using render::bar_chart;
using render::html;
using render::iso_week_label;
using render::kPageCss;
using render::monday_of;
using render::num;
using render::Series;
using config::Schedule;
using Ms = std::int64_t;  // milliseconds since the epoch, UTC

constexpr Ms kMsPerDay = 86'400'000;
constexpr Ms kForever = std::numeric_limits<Ms>::max();
constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

Ms to_ms(config::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

config::SystemTime from_ms(Ms ms) {
  return config::SystemTime(std::chrono::duration_cast<config::SystemTime::duration>(std::chrono::milliseconds(ms)));
}

Ms floor_div(Ms a, Ms b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string day_label(std::int64_t day) {
  return config::to_iso(config::civil_from_days(day));
}

// "2026-11-09T14:30:00Z", or with milliseconds as event times are written (comparable with them).
std::string utc_time_label(Ms ms, bool with_ms = false) {
  const std::int64_t day = floor_div(ms, kMsPerDay);
  const Ms in_day = ms - day * kMsPerDay;
  char text[96];
  std::snprintf(text, sizeof text, "%sT%02lld:%02lld:%02lld", day_label(day).c_str(),
                static_cast<long long>(in_day / 3'600'000), static_cast<long long>(in_day / 60'000 % 60),
                static_cast<long long>(in_day / 1000 % 60));
  std::string out = text;
  if (with_ms) {
    std::snprintf(text, sizeof text, ".%03lld", static_cast<long long>(in_day % 1000));
    out += text;
  }
  return out + "Z";
}

// Local time, as the deadlines are named (config/schedule.h), with the zone said.
std::string local_time_label(Ms ms, const char* format = "%Y-%m-%d %H:%M %Z") {
  const std::time_t t = static_cast<std::time_t>(floor_div(ms, 1000));
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

std::string duration_label(Ms ms) {
  const long long s = static_cast<long long>(ms / 1000);
  char text[96];
  if (s < 60) std::snprintf(text, sizeof text, "%lld s", s);
  else if (s < 3600) std::snprintf(text, sizeof text, "%lld min %02lld s", s / 60, s % 60);
  else if (s < 86400) std::snprintf(text, sizeof text, "%lld h %02lld min", s / 3600, s / 60 % 60);
  else std::snprintf(text, sizeof text, "%lld d %lld h", s / 86400, s / 3600 % 24);
  return text;
}

// --- what the log says, per feed ------------------------------------------------------------

struct Watch {
  Ms at = 0;         // the feed.watched event's time
  Ms since = 0;      // its `since`
  std::string schedule_text, partner;
};

struct Delivery {
  Ms at = 0;
  std::string extract;
  bool nil = false;
};

struct LateItem {
  std::string period;
  Ms deadline = 0, delivered = 0;
  std::string extract;
};

struct MissingItem {
  std::string period;
  Ms deadline = 0;
};

struct Week {
  std::int64_t first_day = 0, last_day = 0;  // the UTC days of the range it covers (inclusive)
  std::uint64_t expected = 0, received = 0, nil_returns = 0, on_time = 0, late = 0, missing = 0;
  std::uint64_t extracts_refused = 0, uploads_refused = 0;
  std::uint64_t rows_received = 0, rows_rejected = 0, rows_filtered = 0;
  std::map<std::string, std::uint64_t> rejected_by_code;
  std::uint64_t records_forwarded = 0, records_acknowledged = 0, batches_rejected = 0, awaiting_hub = 0;
  std::map<std::string, std::uint64_t> schemas;  // schema file digest -> extracts processed with it
  std::vector<Ms> to_hub;  // per extract: upload to the hub's receipt of its last batch
  std::vector<LateItem> late_items;
  std::vector<MissingItem> missing_items;
};

struct ExtractTrack {
  std::size_t week = 0;
  Ms received = 0;
  std::optional<std::uint64_t> batches;  // from extract.processed / refused
  std::uint64_t acknowledged = 0;
  Ms last_ack = 0;
};

// Batches the hub rejected for one reason (its error code).
struct Rejections {
  std::uint64_t rejected = 0, requeued = 0;  // events in the range
  std::uint64_t outstanding = 0;             // rejected and not re-queued since, as recorded up to the cutoff
};

struct FeedReport {
  std::string id, partner;
  const config::FeedConfig* config = nullptr;
  std::vector<Watch> watches;
  std::vector<Delivery> deliveries;  // the whole log's, up to the cutoff: periods before the range matter
  std::vector<Week> weeks;
  std::map<std::string, ExtractTrack> extracts;  // received in the range
  std::string schedule_text;  // as last recorded, for the reader
  std::vector<std::string> notes;
  std::map<std::string, Rejections> rejections;  // by the hub's reason
  // The schema file's digest as each start and reload recorded it, and the times it changed in
  // the range (to that digest).
  std::string configured_schema;
  std::vector<std::pair<Ms, std::string>> schema_changes;
  std::map<std::string, std::string> rejected_now;  // batch id -> reason, while it stands rejected
};

struct Totals {
  std::uint64_t expected = 0, received = 0, nil_returns = 0, on_time = 0, late = 0, missing = 0;
  std::uint64_t extracts_refused = 0, uploads_refused = 0, rows_received = 0, rows_rejected = 0, rows_filtered = 0;
  std::uint64_t records_forwarded = 0, records_acknowledged = 0, batches_rejected = 0, awaiting_hub = 0;
  std::map<std::string, std::uint64_t> rejected_by_code;
};

Totals totals(const FeedReport& f) {
  Totals t;
  for (const Week& w : f.weeks) {
    t.expected += w.expected;
    t.received += w.received;
    t.nil_returns += w.nil_returns;
    t.on_time += w.on_time;
    t.late += w.late;
    t.missing += w.missing;
    t.extracts_refused += w.extracts_refused;
    t.uploads_refused += w.uploads_refused;
    t.rows_received += w.rows_received;
    t.rows_rejected += w.rows_rejected;
    t.rows_filtered += w.rows_filtered;
    t.records_forwarded += w.records_forwarded;
    t.records_acknowledged += w.records_acknowledged;
    t.batches_rejected += w.batches_rejected;
    t.awaiting_hub += w.awaiting_hub;
    for (const auto& [code, n] : w.rejected_by_code) t.rejected_by_code[code] += n;
  }
  return t;
}

std::uint64_t u64(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class Collector {
 public:
  Collector(const config::GatewayConfig& cfg, const UtcDateRange& range)
      : cfg_(cfg), range_(range), begin_(range.first_day * kMsPerDay) {
    first_monday_ = monday_of(range.first_day);
    const std::int64_t last_monday = monday_of(range.end_day - 1);
    weeks_ = static_cast<std::size_t>((last_monday - first_monday_) / 7 + 1);
    for (const auto& f : cfg.feeds) feed(f.id);
  }

  bool visit(const audit::Entry& e) {
    const std::string& action = e.event.action;
    const bool wanted = action == "feed.watched" || action.starts_with("extract.") || action == "upload.refused" ||
                        action.starts_with("batch.") || action == "gateway.started" || action == "config.reloaded";
    if (!wanted) return true;
    const auto at = parse_event_time_ms(e.event.time);
    if (!at) {
      ++unreadable_;
      return true;
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(e.event.details, ec);
    if (ec || !parsed.is_object()) {
      ++unreadable_;
      return true;
    }
    const json::object& d = parsed.as_object();
    if (action == "gateway.started" || action == "config.reloaded") {
      if (const auto* schemas = d.if_contains("schemas"); schemas && schemas->is_object())
        for (const auto& [id, digest] : schemas->as_object()) {
          if (!digest.is_string()) continue;
          FeedReport& f = feed(std::string(id));
          const std::string now(digest.as_string());
          if (!f.configured_schema.empty() && now != f.configured_schema && *at >= begin_)
            f.schema_changes.emplace_back(*at, now);
          f.configured_schema = now;
        }
      return true;
    }
    const std::string feed_id = event_feed(e.event, str(d, "feed"));
    if (feed_id.empty()) return true;
    FeedReport& f = feed(feed_id);
    const bool in_range = *at >= begin_;
    Week* w = in_range ? &week_of(f, *at) : nullptr;

    // A rejection stands until the batch is re-queued (svdgw requeue) or, re-sent, acknowledged.
    if (action == "batch.rejected") {
      f.rejected_now[e.event.object] = str(d, "reason");
      if (w) ++f.rejections[str(d, "reason")].rejected;
    } else if (action == "batch.requeued") {
      f.rejected_now.erase(e.event.object);
      if (w) ++f.rejections[str(d, "reason")].requeued;
    } else if (action == "batch.acknowledged") {
      f.rejected_now.erase(e.event.object);
    }

    if (action == "feed.watched") {
      Watch watch{*at, *at, str(d, "schedule"), str(d, "partner")};
      if (const auto since = parse_event_time_ms(str(d, "since"))) watch.since = *since;
      else f.notes.push_back("feed.watched at seq " + num(e.seq) + " has no readable `since`: counted from the event");
      f.watches.push_back(std::move(watch));
    } else if (action == "extract.received" || action == "extract.nil_return") {
      const bool nil = action == "extract.nil_return";
      f.deliveries.push_back({*at, e.event.object, nil});
      if (w) {
        ++w->received;
        w->nil_returns += nil;
        if (!nil) f.extracts.try_emplace(e.event.object, ExtractTrack{week_index(*at), *at, {}, 0, 0});
      }
    } else if (w && (action == "extract.processed" || action == "extract.refused")) {
      w->extracts_refused += action == "extract.refused";
      if (const std::string schema = str(d, "schema_sha256"); !schema.empty()) ++w->schemas[schema];
      w->rows_received += u64(d, "rows");
      w->rows_rejected += u64(d, "rejected");
      w->rows_filtered += u64(d, "filtered");
      if (const auto* codes = d.if_contains("rejected_by_code"); codes && codes->is_object())
        for (const auto& [code, n] : codes->as_object())
          if (n.is_uint64() || n.is_int64()) w->rejected_by_code[std::string(code)] += u64(codes->as_object(), code);
      if (auto it = f.extracts.find(e.event.object); it != f.extracts.end()) it->second.batches = u64(d, "batches");
    } else if (w && action == "upload.refused") {
      ++w->uploads_refused;
    } else if (w && action == "batch.published") {
      if (u64(d, "attempt") == 1) w->records_forwarded += u64(d, "records");
    } else if (w && action == "batch.acknowledged") {
      // A batch sent again after a lost receipt is answered again ("duplicate"): its records
      // reached the hub once.
      if (acknowledged_batches_.insert(e.event.object).second) {
        w->records_acknowledged += u64(d, "records");
        if (auto it = f.extracts.find(str(d, "extract")); it != f.extracts.end()) {
          ++it->second.acknowledged;
          it->second.last_ack = std::max(it->second.last_ack, *at);
        }
      }
    } else if (w && action == "batch.rejected") {
      ++w->batches_rejected;
    }
    return true;
  }

  std::map<std::string, FeedReport>& feeds() { return feeds_; }
  std::uint64_t unreadable() const { return unreadable_; }
  std::int64_t first_monday() const { return first_monday_; }

 private:
  FeedReport& feed(const std::string& id) {
    auto [it, added] = feeds_.try_emplace(id);
    if (added) {
      FeedReport& f = it->second;
      f.id = id;
      f.partner = cfg_.partner;
      f.config = cfg_.find_feed(id);
      f.weeks.resize(weeks_);
      for (std::size_t i = 0; i < weeks_; ++i) {
        const std::int64_t monday = first_monday_ + static_cast<std::int64_t>(i) * 7;
        f.weeks[i].first_day = std::max(monday, range_.first_day);
        f.weeks[i].last_day = std::min(monday + 6, range_.end_day - 1);
      }
    }
    return it->second;
  }

  std::size_t week_index(Ms at) const {
    const std::int64_t i = (monday_of(floor_div(at, kMsPerDay)) - first_monday_) / 7;
    return static_cast<std::size_t>(std::clamp<std::int64_t>(i, 0, static_cast<std::int64_t>(weeks_) - 1));
  }
  Week& week_of(FeedReport& f, Ms at) { return f.weeks[week_index(at)]; }

  const config::GatewayConfig& cfg_;
  const UtcDateRange& range_;
  Ms begin_;
  std::int64_t first_monday_ = 0;
  std::size_t weeks_ = 0;
  std::map<std::string, FeedReport> feeds_;
  std::set<std::string> acknowledged_batches_;
  std::uint64_t unreadable_ = 0;
};

// --- expected periods and their deliveries ---------------------------------------------------

struct Period {
  Ms deadline = 0;
  Schedule schedule;
  enum class State { pending, on_time, late, missing } state = State::pending;
  Ms delivered = 0;
  std::string extract;
};

// The deadlines the gateway was expecting deliveries by, from the first feed.watched on: each
// event's schedule applies from its own time (the first's from its `since`) until the next one.
std::vector<Period> expected_periods(FeedReport& f, Ms cutoff) {
  std::vector<Period> periods;
  std::sort(f.watches.begin(), f.watches.end(), [](const Watch& a, const Watch& b) { return a.at < b.at; });
  for (std::size_t i = 0; i < f.watches.size(); ++i) {
    const Watch& w = f.watches[i];
    if (!w.partner.empty()) f.partner = w.partner;
    f.schedule_text = w.schedule_text;
    std::optional<Schedule> s = parse_schedule_text(w.schedule_text);
    if (!s) {
      if (f.config) {
        s = f.config->schedule;
        f.notes.push_back("the schedule recorded by feed.watched (\"" + w.schedule_text +
                          "\") cannot be read: the config's (" + s->to_string() + ") is used instead");
      } else {
        f.notes.push_back("the schedule recorded by feed.watched (\"" + w.schedule_text +
                          "\") cannot be read, and the config no longer has this feed: nothing is counted as expected");
        continue;
      }
    }
    if (s->every == Schedule::Every::none) continue;
    const Ms start = i == 0 ? w.since : std::max(w.since, w.at);
    const Ms end = i + 1 < f.watches.size() ? f.watches[i + 1].at : kForever;
    std::optional<config::SystemTime> d = period_deadline(*s, from_ms(start));
    while (d && to_ms(*d) < end) {
      const Ms deadline = to_ms(*d);
      if (!periods.empty() && deadline <= periods.back().deadline) {
        d = next_deadline(*s, *d);
        continue;
      }
      periods.push_back({deadline, *s, Period::State::pending, 0, {}});
      if (deadline > cutoff) break;  // the period still open at the cutoff: deliveries in it may fill late ones
      d = next_deadline(*s, *d);
    }
  }
  return periods;
}

// The rule in docs/audit.md ("on time / late / missing"): each period's own deliveries; a surplus
// fills the oldest periods of the run of missed ones just before it.
void match_deliveries(std::vector<Period>& periods, std::vector<Delivery>& deliveries, Ms cutoff) {
  if (periods.empty()) return;
  std::sort(deliveries.begin(), deliveries.end(), [](const Delivery& a, const Delivery& b) { return a.at < b.at; });
  const auto before_first = previous_deadline(periods.front().schedule, from_ms(periods.front().deadline - 1000));
  const Ms first_window_start = before_first ? to_ms(*before_first) : std::numeric_limits<Ms>::min();
  std::size_t next = 0;
  while (next < deliveries.size() && deliveries[next].at <= first_window_start) ++next;
  std::vector<std::size_t> missed;  // the run of periods with no delivery, oldest first
  for (std::size_t p = 0; p < periods.size(); ++p) {
    Period& period = periods[p];
    std::vector<std::size_t> window;
    while (next < deliveries.size() && deliveries[next].at <= period.deadline) window.push_back(next++);
    const bool open = period.deadline > cutoff;
    if (window.empty()) {
      if (!open) missed.push_back(p);
      continue;
    }
    std::size_t surplus = window.size() - 1, used = 0;
    for (std::size_t m = 0; m < missed.size() && surplus > 0; ++m, --surplus, ++used) {
      Period& late = periods[missed[m]];
      late.state = Period::State::late;
      late.delivered = deliveries[window[used]].at;
      late.extract = deliveries[window[used]].extract;
    }
    for (std::size_t m : missed)
      if (periods[m].state == Period::State::pending) periods[m].state = Period::State::missing;
    missed.clear();
    period.state = Period::State::on_time;
    period.delivered = deliveries[window.back()].at;
    period.extract = deliveries[window.back()].extract;
  }
  for (std::size_t m : missed) periods[m].state = Period::State::missing;
}

void finish_feed(FeedReport& f, const UtcDateRange& range, std::int64_t first_monday, Ms cutoff) {
  const Ms begin = range.first_day * kMsPerDay;
  if (f.watches.empty()) {
    f.notes.push_back(f.config && f.config->schedule.every != Schedule::Every::none
                          ? "no feed.watched event in the log: the gateway never recorded expecting this feed ("
                                + f.config->schedule.to_string() + " in the config), so nothing is counted as expected"
                          : "not scheduled: nothing is counted as expected");
    if (f.config) f.schedule_text = f.config->schedule.to_string();
  }
  std::vector<Period> periods = expected_periods(f, cutoff);
  match_deliveries(periods, f.deliveries, cutoff);
  for (const Period& p : periods) {
    if (p.deadline < begin || p.deadline > cutoff) continue;
    const std::int64_t day = floor_div(p.deadline, kMsPerDay);
    Week& w = f.weeks[static_cast<std::size_t>((monday_of(day) - first_monday) / 7)];
    ++w.expected;
    const std::string label = period_label(p.schedule, from_ms(p.deadline));
    switch (p.state) {
      case Period::State::on_time: ++w.on_time; break;
      case Period::State::late:
        ++w.late;
        w.late_items.push_back({label, p.deadline, p.delivered, p.extract});
        break;
      case Period::State::missing:
      case Period::State::pending:
        ++w.missing;
        w.missing_items.push_back({label, p.deadline});
        break;
    }
  }
  for (const auto& [id, x] : f.extracts) {
    Week& w = f.weeks[x.week];
    if (x.batches && *x.batches == 0) continue;  // refused or all rows rejected: nothing to forward
    if (x.batches && x.acknowledged >= *x.batches) w.to_hub.push_back(x.last_ack - x.received);
    else ++w.awaiting_hub;
  }
  for (Week& w : f.weeks) std::sort(w.to_hub.begin(), w.to_hub.end());
}

std::optional<Ms> median(const std::vector<Ms>& sorted) {
  if (sorted.empty()) return std::nullopt;
  const std::size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

std::string codes_text(const std::map<std::string, std::uint64_t>& codes, const char* pair, const char* sep) {
  std::string out;
  for (const auto& [code, n] : codes) {
    if (!out.empty()) out += sep;
    out += code + pair + num(n);
  }
  return out;
}

// The schema digests of a week's extracts, ';'-separated.
std::string schemas_text(const std::map<std::string, std::uint64_t>& schemas) {
  std::string out;
  for (const auto& [digest, n] : schemas) out += (out.empty() ? "" : ";") + digest;
  return out;
}

// --- CSV -------------------------------------------------------------------------------------

std::string report_csv(const std::map<std::string, FeedReport>& feeds, std::int64_t first_monday) {
  std::string out =
      "feed,partner,schedule,week,week_start,week_end,expected,received,nil_returns,on_time,late,missing,"
      "late_periods,missing_periods,extracts_refused,uploads_refused,rows_received,rows_rejected,rejected_by_code,"
      "records_forwarded,records_acknowledged,batches_rejected,awaiting_hub,hub_receipt_median_seconds,"
      "hub_receipt_max_seconds,schema_sha256,rows_filtered\r\n";
  for (const auto& [id, f] : feeds) {
    for (std::size_t i = 0; i < f.weeks.size(); ++i) {
      const Week& w = f.weeks[i];
      std::string late, missing;
      for (const auto& l : w.late_items)
        late += (late.empty() ? "" : ";") + l.period + " (" + std::to_string((l.delivered - l.deadline) / 1000) +
                " s late)";
      for (const auto& m : w.missing_items) missing += (missing.empty() ? "" : ";") + m.period;
      const auto med = median(w.to_hub);
      const std::vector<std::string> cells = {
          id, f.partner, f.schedule_text.empty() ? "not scheduled" : f.schedule_text,
          iso_week_label(first_monday + static_cast<std::int64_t>(i) * 7), day_label(w.first_day),
          day_label(w.last_day), num(w.expected), num(w.received), num(w.nil_returns), num(w.on_time), num(w.late),
          num(w.missing), late, missing, num(w.extracts_refused), num(w.uploads_refused), num(w.rows_received),
          num(w.rows_rejected), codes_text(w.rejected_by_code, ":", ";"), num(w.records_forwarded),
          num(w.records_acknowledged), num(w.batches_rejected), num(w.awaiting_hub),
          med ? std::to_string(*med / 1000) : "", w.to_hub.empty() ? "" : std::to_string(w.to_hub.back() / 1000),
          schemas_text(w.schemas), num(w.rows_filtered)};
      for (std::size_t c = 0; c < cells.size(); ++c) {
        if (c) out += ',';
        out += csv_field(cells[c]);
      }
      out += "\r\n";
    }
  }
  return out;
}

// --- HTML ------------------------------------------------------------------------------------

std::string td(std::uint64_t v) {
  std::string cls = v == 0 ? " class=\"zero\"" : "";
  return "<td" + cls + ">" + num(v) + "</td>";
}

std::string chain_block(const audit::VerifyReport& v) {
  std::string out;
  if (v.ok) {
    out += "<div class=\"status ok\"><div class=\"big\">Chain OK</div><p>Every row follows from the one before it";
    // What the chain alone proves is limited: whoever can write the file can rebuild it whole.
    // Only what the hub witnessed is fixed.
    out += v.last_witnessed_seq > 0
               ? ", and the hub witnessed the log up to seq " + num(v.last_witnessed_seq) +
                     ": no row up to there was edited, removed or reordered since.</p>"
               : ". No checkpoint has been witnessed by the hub yet, so a rewrite of the whole log would not "
                 "show here.</p>";
  } else {
    out += "<div class=\"status bad\"><div class=\"big\">Chain BROKEN";
    if (v.first_bad_seq) out += " at seq " + num(*v.first_bad_seq);
    out += "</div><p><strong>" + html(v.problem) +
           "</strong>. The figures below are read from a log that does not verify: treat everything from that "
           "sequence number on as unreliable.</p>";
  }
  out += "<p>" + num(v.events) + " events; " + num(v.checkpoints) + " checkpoints, " + num(v.checkpoints_witnessed) +
         " witnessed by the hub; last seq witnessed by the hub: " +
         (v.last_witnessed_seq ? num(v.last_witnessed_seq) : std::string("none")) + ". Head of the chain: <code>" +
         to_hex(v.head) + "</code>.</p>";
  if (!v.notes.empty()) {
    out += "<ul class=\"notes\">";
    for (const auto& n : v.notes) out += "<li>" + html(n) + "</li>";
    out += "</ul>";
  }
  out += "</div>";
  return out;
}

std::string weeks_label(const Week& w, std::int64_t monday) {
  return iso_week_label(monday) + " (" + day_label(w.first_day) + " to " + day_label(w.last_day) + ")";
}

// Which schema the feed's extracts were processed with, week by week, and when the configured
// one changed: the proof of what left the site, and a flag on any change for the reader to check.
std::string schema_block(const FeedReport& f) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> weeks_of;  // digest -> first, last week index
  std::map<std::string, std::uint64_t> extracts;
  for (std::size_t i = 0; i < f.weeks.size(); ++i)
    for (const auto& [digest, n] : f.weeks[i].schemas) {
      auto [it, added] = weeks_of.try_emplace(digest, i, i);
      it->second.second = i;
      extracts[digest] += n;
    }
  if (weeks_of.empty() && f.schema_changes.empty()) return {};
  std::string h = "<p class=\"sentence\">Schema (SHA-256 of the schema file) of the extracts processed: ";
  bool first = true;
  for (const auto& [digest, span] : weeks_of) {
    h += std::string(first ? "" : "; ") + "<code>" + html(digest.substr(0, 16)) + "…</code> (" + num(extracts[digest]) +
         " extract" + (extracts[digest] == 1 ? "" : "s") + ", " + html(day_label(f.weeks[span.first].first_day)) +
         " to " + html(day_label(f.weeks[span.second].last_day)) + ")";
    first = false;
  }
  if (weeks_of.empty()) h += "none";
  h += ".</p>";
  if (weeks_of.size() > 1 || !f.schema_changes.empty()) {
    h += "<p class=\"sentence warn\">The schema changed in the range";
    for (const auto& [at, digest] : f.schema_changes)
      h += std::string(", configured ") + html(utc_time_label(at)) + " as <code>" + html(digest.substr(0, 16)) + "…</code>";
    h += ": check that the fields leaving the site are still the ones agreed.</p>";
  }
  return h;
}

// For an operator reading the report: what a rejection reason asks of whom.
std::string rejection_advice(const std::string& reason, const std::string& feed) {
  const std::string requeue = "; then svdgw requeue --feed " + feed;
  if (reason == "feed_not_permitted")
    return "the hub does not take this feed from this partner: its operator adds it to the partner's feeds" + requeue;
  if (reason == "unknown_feed")
    return "the hub has no store for this feed: its operator adds the feed and its schema" + requeue;
  if (reason == "bad_record")
    return "a record does not fit the hub's schema for this feed (a column it lacks, say, after the schema was "
           "updated here first): its operator updates the hub's schema" + requeue;
  if (reason == "batch_too_large") return "lower [batches] max_bytes here, or raise the hub's limit" + requeue;
  return "ask the hub's operator what the reason means; once fixed there" + requeue;
}

std::string report_html(const config::GatewayConfig& cfg, const UtcDateRange& range,
                        const std::map<std::string, FeedReport>& feeds, std::int64_t first_monday,
                        const audit::VerifyReport& verify, const std::filesystem::path& log_file, Ms now, Ms cutoff,
                        std::uint64_t unreadable) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += "<title>Audit report " + html(cfg.partner) + " " + html(range.from_label) + " to " + html(range.to_label) +
       "</title><style>" + std::string(kPageCss) + "</style></head><body>\n";
  h += "<header><h1>Data-sharing audit report: " + html(cfg.partner) + "</h1>";
  h += "<p class=\"meta\">" + html(range.from_label) + " to " + html(range.to_label) +
       " (UTC days, both included; weeks are ISO weeks, Monday to Sunday, UTC). Deadlines and period labels are the "
       "gateway's local time (" +
       html(local_time_label(now, "zone %Z, UTC offset %z when this report was made")) + "). Figures as recorded up to " + html(utc_time_label(cutoff)) +
       ".</p></header>\n";
  h += chain_block(verify);

  // Summary over the range, every feed.
  h += "<h2>Summary</h2><table><tr><th class=\"l\">Feed</th><th class=\"l\">Partner</th><th class=\"l\">Schedule</th>"
       "<th>Expected</th><th>Received</th><th>of which nothing to share</th><th>On time</th><th>Late</th>"
       "<th>Missing</th><th>Rows received</th><th>Rows rejected</th><th>Records forwarded</th>"
       "<th>Acknowledged by hub</th></tr>";
  for (const auto& [id, f] : feeds) {
    const Totals t = totals(f);
    h += std::string("<tr") + (t.missing ? " class=\"bad\"" : t.late ? " class=\"warn\"" : "") + "><td class=\"l\">" +
         html(id) + "</td><td class=\"l\">" + html(f.partner) + "</td><td class=\"l\">" +
         html(f.schedule_text.empty() ? "not scheduled" : f.schedule_text) + "</td>" + td(t.expected) +
         td(t.received) + td(t.nil_returns) + td(t.on_time) + td(t.late) + td(t.missing) + td(t.rows_received) +
         td(t.rows_rejected) + td(t.records_forwarded) + td(t.records_acknowledged) + "</tr>";
  }
  h += "</table>\n";

  // Who did not send, and who sent late, across feeds: what an auditor asks first.
  h += "<h2>Missing extracts</h2>";
  std::string rows;
  for (const auto& [id, f] : feeds)
    for (const Week& w : f.weeks)
      for (const auto& m : w.missing_items)
        rows += "<tr class=\"bad\"><td class=\"l\">" + html(f.partner) + "</td><td class=\"l\">" + html(id) +
                "</td><td class=\"l\">" + html(m.period) + "</td><td class=\"l\">" + html(utc_time_label(m.deadline)) +
                "</td></tr>";
  h += rows.empty() ? "<p>None: every expected period in the range had a delivery.</p>"
                    : "<table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th><th class=\"l\">Period (no "
                      "delivery)</th><th class=\"l\">Deadline (UTC)</th></tr>" +
                          rows + "</table>";
  h += "\n<h2>Late extracts</h2>";
  rows.clear();
  for (const auto& [id, f] : feeds)
    for (const Week& w : f.weeks)
      for (const auto& l : w.late_items)
        rows += "<tr class=\"warn\"><td class=\"l\">" + html(f.partner) + "</td><td class=\"l\">" + html(id) +
                "</td><td class=\"l\">" + html(l.period) + "</td><td class=\"l\">" + html(local_time_label(l.delivered)) +
                "</td><td>" + html(duration_label(l.delivered - l.deadline)) + "</td><td class=\"l\">" +
                html(l.extract) + "</td></tr>";
  h += rows.empty() ? "<p>None.</p>"
                    : "<table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th><th class=\"l\">Period</th>"
                      "<th class=\"l\">Delivered</th><th>Late by</th><th class=\"l\">Extract</th></tr>" +
                          rows + "</table>";

  // Records the hub refused are lost to the force until someone acts: say what and what to do.
  h += "\n<h2>Batches the hub rejected</h2>";
  rows.clear();
  for (const auto& [id, f] : feeds) {
    std::map<std::string, Rejections> by_reason = f.rejections;
    for (const auto& [batch, reason] : f.rejected_now) ++by_reason[reason].outstanding;
    for (const auto& [reason, n] : by_reason)
      rows += std::string("<tr") + (n.outstanding ? " class=\"bad\"" : "") + "><td class=\"l\">" + html(f.partner) +
              "</td><td class=\"l\">" + html(id) + "</td><td class=\"l\">" + html(reason) + "</td>" + td(n.rejected) +
              td(n.requeued) + td(n.outstanding) + "<td class=\"l\">" + html(rejection_advice(reason, id)) +
              "</td></tr>";
  }
  h += rows.empty() ? "<p>None.</p>"
                    : "<table><tr><th class=\"l\">Partner</th><th class=\"l\">Feed</th><th class=\"l\">The hub's "
                      "reason</th><th>Rejected</th><th>Re-queued</th><th>Still rejected</th><th class=\"l\">What to "
                      "do</th></tr>" +
                          rows + "</table>";

  for (const auto& [id, f] : feeds) {
    const Totals t = totals(f);
    const bool quiet = t.expected == 0 && t.received == 0 && t.rows_received == 0 && t.uploads_refused == 0 &&
                       t.records_forwarded == 0 && t.records_acknowledged == 0 && t.batches_rejected == 0;
    h += std::string("\n<section class=\"feed") + (quiet ? " quiet" : "") + "\"><h2>Feed " + html(id) + "</h2>";
    h += "<p class=\"meta\">Partner " + html(f.partner) + "; schedule: " +
         html(f.schedule_text.empty() ? "not scheduled" : f.schedule_text) + ".</p>";
    h += "<p class=\"sentence\">In the range: expected " + num(t.expected) + ", received " + num(t.received) + " (" +
         num(t.nil_returns) + " nothing to share), on time " + num(t.on_time) + ", late " + num(t.late) +
         ", missing " + num(t.missing) + "; extracts refused " + num(t.extracts_refused) + ", uploads refused " +
         num(t.uploads_refused) + "; rows received " + num(t.rows_received) + ", rows rejected " +
         num(t.rows_rejected) +
         (t.rejected_by_code.empty() ? std::string() : " (" + html(codes_text(t.rejected_by_code, ": ", ", ")) + ")") +
         (t.rows_filtered ? ", rows outside the feed's filter (not shared) " + num(t.rows_filtered) : std::string()) +
         "; records forwarded " + num(t.records_forwarded) + ", acknowledged by the hub " +
         num(t.records_acknowledged) + ".</p>";
    h += schema_block(f);
    if (!f.notes.empty()) {
      h += "<ul class=\"notes\">";
      for (const auto& n : f.notes) h += "<li>" + html(n) + "</li>";
      h += "</ul>";
    }
    if (quiet) {
      h += "<p>Nothing was expected or recorded for this feed in the range.</p></section>\n";
      continue;
    }
    std::vector<std::string> categories;
    Series expected{"expected", "#8a94a6", {}}, received{"received", "#2b6cb0", {}}, missing{"missing", "#c53030", {}};
    Series rows_in{"rows received", "#2f855a", {}}, rows_out{"rows rejected", "#dd6b20", {}};
    for (std::size_t i = 0; i < f.weeks.size(); ++i) {
      const Week& w = f.weeks[i];
      const std::string label = iso_week_label(first_monday + static_cast<std::int64_t>(i) * 7);
      categories.push_back(label.substr(5));
      expected.values.push_back(w.expected);
      received.values.push_back(w.received);
      missing.values.push_back(w.missing);
      rows_in.values.push_back(w.rows_received);
      rows_out.values.push_back(w.rows_rejected);
    }
    h += "<div class=\"charts\"><div class=\"chart\">" +
         bar_chart("Extracts expected, received and missing per week, feed " + id, categories,
                   {expected, received, missing}) +
         "</div><div class=\"chart\">" +
         bar_chart("Rows received and rejected per week, feed " + id, categories, {rows_in, rows_out}) +
         "</div></div>";

    h += "<h3>Deliveries per week</h3><table><tr><th class=\"l\">Week</th><th>Expected</th><th>Received</th>"
         "<th>Nothing to share</th><th>On time</th><th>Late</th><th>Missing</th><th>Extracts refused</th>"
         "<th>Uploads refused</th><th class=\"l\">Late or missing periods</th></tr>";
    for (std::size_t i = 0; i < f.weeks.size(); ++i) {
      const Week& w = f.weeks[i];
      std::string periods;
      for (const auto& l : w.late_items)
        periods += (periods.empty() ? "" : "<br>") + std::string("late: ") + html(l.period) + " (by " +
                   html(duration_label(l.delivered - l.deadline)) + ")";
      for (const auto& m : w.missing_items)
        periods += (periods.empty() ? "" : "<br>") + std::string("missing: ") + html(m.period);
      h += std::string("<tr") + (w.missing ? " class=\"bad\"" : w.late ? " class=\"warn\"" : "") +
           "><td class=\"l\">" + html(weeks_label(w, first_monday + static_cast<std::int64_t>(i) * 7)) + "</td>" +
           td(w.expected) + td(w.received) + td(w.nil_returns) + td(w.on_time) + td(w.late) + td(w.missing) +
           td(w.extracts_refused) + td(w.uploads_refused) + "<td class=\"l\">" + periods + "</td></tr>";
    }
    h += "</table>";

    h += "<h3>Rows and records per week</h3><table><tr><th class=\"l\">Week</th><th>Rows received</th>"
         "<th>Rows rejected</th><th class=\"l\">Rejections by code</th><th>Records forwarded</th>"
         "<th>Acknowledged by hub</th><th>Batches rejected by hub</th><th>Upload to hub receipt: median</th>"
         "<th>max</th><th>Extracts awaiting the hub</th></tr>";
    for (std::size_t i = 0; i < f.weeks.size(); ++i) {
      const Week& w = f.weeks[i];
      const auto med = median(w.to_hub);
      h += "<tr><td class=\"l\">" + html(iso_week_label(first_monday + static_cast<std::int64_t>(i) * 7)) + "</td>" +
           td(w.rows_received) + td(w.rows_rejected) + "<td class=\"l\">" +
           html(codes_text(w.rejected_by_code, ": ", ", ")) + "</td>" + td(w.records_forwarded) +
           td(w.records_acknowledged) + td(w.batches_rejected) + "<td>" + (med ? html(duration_label(*med)) : "") +
           "</td><td>" + (w.to_hub.empty() ? "" : html(duration_label(w.to_hub.back()))) + "</td>" +
           td(w.awaiting_hub) + "</tr>";
    }
    h += "</table></section>\n";
  }

  h += "<h2>How the figures are counted</h2><dl class=\"defs\">"
       "<dt>Expected</dt><dd>Deadlines of the feed's schedule (as recorded by the gateway's feed.watched events) "
       "that fall in the week, from the period in which the gateway started watching the feed.</dd>"
       "<dt>Received</dt><dd>Extracts received and explicit nothing-to-share returns, by the week they arrived.</dd>"
       "<dt>On time, late, missing</dt><dd>A period is on time when a delivery arrived in it (after the previous "
       "deadline, up to and including its own). A period without one is late when a following period, up to the "
       "next one delivered on time, received more than one delivery: the earliest extra one is taken as its late "
       "delivery. Otherwise it is missing. Each is counted in the week of its deadline.</dd>"
       "<dt>Rows</dt><dd>From the gateway's processing of each extract (rejections by validation code; a row can "
       "have several problems).</dd>"
       "<dt>Records forwarded, acknowledged</dt><dd>Records in batches published for the first time, and in "
       "batches the hub acknowledged (each batch once).</dd>"
       "<dt>Upload to hub receipt</dt><dd>From an extract's arrival to the hub's acknowledgement of its last "
       "batch, for extracts of the week whose batches were all acknowledged.</dd></dl>";
  h += "<footer>Generated " + html(utc_time_label(now)) + " by svdgw audit report from " + html(log_file.string()) +
       ". The audit log holds identifiers of extracts, batches, feeds and certificates, counts and codes, and never a "
       "value from an extract; this report shows nothing else.";
  if (unreadable)
    h += " " + num(unreadable) + " event(s) with an unreadable time or details were left out of the figures.";
  h += "</footer></body></html>\n";
  return h;
}

bool write_whole(const std::filesystem::path& path, const std::string& text) {
  std::string error;
  auto out = OutputFile::open(path, error);
  if (out) {
    out->write(text);
    if (out->commit(error)) return true;
  }
  std::cerr << error << '\n';
  return false;
}

}  // namespace

std::optional<Schedule> parse_schedule_text(std::string_view text) {
  Schedule s;
  if (text == "no schedule") return s;
  auto take = [&](std::string_view prefix) {
    if (!text.starts_with(prefix)) return false;
    text.remove_prefix(prefix.size());
    return true;
  };
  auto time_of_day = [&](std::string_view t) {
    if (t.size() != 5 || t[2] != ':') return false;
    for (std::size_t i : {0u, 1u, 3u, 4u})
      if (t[i] < '0' || t[i] > '9') return false;
    s.hour = (t[0] - '0') * 10 + (t[1] - '0');
    s.minute = (t[3] - '0') * 10 + (t[4] - '0');
    return s.hour < 24 && s.minute < 60;
  };
  if (take("daily by ")) {
    s.every = Schedule::Every::day;
    return time_of_day(text) ? std::optional(s) : std::nullopt;
  }
  if (take("weekly by ")) {
    s.every = Schedule::Every::week;
    for (std::size_t d = 0; d < kWeekdays.size(); ++d) {
      const std::string_view name = kWeekdays[d];
      if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == ' ') {
        s.weekday = static_cast<int>(d);
        return time_of_day(text.substr(name.size() + 1)) ? std::optional(s) : std::nullopt;
      }
    }
    return std::nullopt;
  }
  if (take("monthly by day ")) {
    s.every = Schedule::Every::month;
    const auto space = text.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 2) return std::nullopt;
    s.day = 0;
    for (char c : text.substr(0, space)) {
      if (c < '0' || c > '9') return std::nullopt;
      s.day = s.day * 10 + (c - '0');
    }
    if (s.day < 1 || s.day > 28) return std::nullopt;
    return time_of_day(text.substr(space + 1)) ? std::optional(s) : std::nullopt;
  }
  return std::nullopt;
}

int audit_report_main(const AuditReportArgs& a) {
  std::string error;
  const auto range = parse_utc_date_range(a.from, a.to, error);
  if (!range) {
    std::cerr << "svdgw audit report: " << error << '\n';
    return 2;
  }
  if (a.config.empty() && !a.log) {
    std::cerr << "svdgw audit report: give --config, or --log with a copy of audit.db\n";
    return 2;
  }
  std::optional<config::GatewayConfig> cfg;
  if (!a.config.empty()) cfg = load_config_for_audit(a.config);
  else cfg.emplace();
  if (!cfg) return 1;
  if (a.device_key) cfg->audit.device_key = *a.device_key;
  if (a.witness_key) cfg->audit.hub_witness_key = *a.witness_key;
  const auto log_file = a.log.value_or(cfg->state_dir / "audit.db");
  auto reader = audit::AuditReader::open(log_file);
  if (!reader) {
    std::cerr << log_file.string() << ": cannot open the audit log: " << reader.error().message() << '\n';
    return 1;
  }
  if (cfg->partner.empty()) {
    // A copy of the log alone: the partner is the one the gateway said it ran as.
    auto found = (*reader)->for_each([&](const audit::Entry& e) {
      if (e.event.action == "gateway.started") cfg->partner = e.event.object;
      return true;
    });
    if (!found) {
      std::cerr << log_file.string() << ": reading the audit log failed: " << found.error().message() << '\n';
      return 1;
    }
  }
  audit::VerifyInputs inputs;
  inputs.log = log_file;
  inputs.partner = cfg->partner;
  // A key that cannot be read does not stop the report: the chain is still checked, and the
  // report says what was not (verify's notes) and why (ours).
  std::vector<std::string> key_notes;
  if (!cfg->audit.device_key.empty()) {
    if (auto k = crypto::load_public_half(cfg->audit.device_key)) inputs.device_key = *k;
    else key_notes.push_back("[audit] device_key " + cfg->audit.device_key.string() + ": " + errc_problem(k.error()));
  }
  if (!cfg->audit.hub_witness_key.empty()) {
    if (auto k = crypto::load_public_key(cfg->audit.hub_witness_key)) inputs.witness_key = *k;
    else
      key_notes.push_back("[audit] hub_witness_key " + cfg->audit.hub_witness_key.string() + ": " +
                          errc_problem(k.error()));
  }
  auto verified = audit::verify(inputs);
  if (!verified) {
    std::cerr << log_file.string() << ": cannot verify the audit log: " << verified.error().message() << '\n';
    return 1;
  }
  for (const auto& n : key_notes) std::cerr << "warning: " << n << '\n';
  verified->notes.insert(verified->notes.begin(), key_notes.begin(), key_notes.end());

  const Ms now = to_ms(std::chrono::system_clock::now());
  const Ms cutoff = std::min(range->end_day * kMsPerDay - 1, now);
  Collector collector(*cfg, *range);
  // Everything before the cutoff is read, not only the range: when a feed started being watched
  // and what was delivered for the periods just before the range decide the range's figures.
  auto read = (*reader)->for_each([&](const audit::Entry& e) { return collector.visit(e); }, std::nullopt,
                                  utc_time_label(cutoff + 1, true));
  if (!read) {
    std::cerr << log_file.string() << ": reading the audit log failed: " << read.error().message() << '\n';
    return 1;
  }
  auto& feeds = collector.feeds();
  for (auto& [id, f] : feeds) finish_feed(f, *range, collector.first_monday(), cutoff);

  std::error_code ec;
  std::filesystem::create_directories(a.out_dir, ec);
  if (ec || !std::filesystem::is_directory(a.out_dir)) {
    std::cerr << a.out_dir.string() << ": cannot create the output directory\n";
    return 1;
  }
  if (!write_whole(a.out_dir / "report.csv", report_csv(feeds, collector.first_monday()))) return 1;
  if (!write_whole(a.out_dir / "report.html", report_html(*cfg, *range, feeds, collector.first_monday(), *verified,
                                                          log_file, now, cutoff, collector.unreadable())))
    return 1;
  std::cerr << "wrote " << (a.out_dir / "report.html").string() << " and report.csv (" << feeds.size()
            << " feed(s), " << range->from_label << " to " << range->to_label << " UTC); chain "
            << (verified->ok ? std::string("OK") : "BROKEN: " + verified->problem) << '\n';
  return verified->ok ? 0 : 3;
}

}  // namespace svd::audit
