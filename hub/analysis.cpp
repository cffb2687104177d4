#include "hub/analysis.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "config/temporal.h"
#include "render/html.h"

namespace svd::hub {
namespace {

constexpr std::uint32_t kNobody = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kNoArea = std::numeric_limits<std::uint32_t>::max();

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int number(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// 64 bits of a token (std::hash, a 64-bit Murmur hash in libstdc++), kept apart by kind; 0 means none.
std::uint64_t token_key(std::string_view token, bool person) {
  std::uint64_t v = std::hash<std::string_view>{}(token);
  if (person) v ^= 0x9E3779B97F4A7C15ULL;
  return v ? v : 1;
}

// One record as the analysis keeps it.
struct Rec {
  std::int32_t day = 0;
  std::uint16_t feed = 0;
  std::uint32_t area = kNoArea;
  std::uint64_t nhs = 0, person = 0;
};

// What is read of one feed: `_partner`, the event date, then the optional columns.
struct FeedPlan {
  std::string id;
  std::vector<std::string> columns;
  std::size_t area = 0, nhs = 0, person = 0;  // index into the row (0 is `_partner`); 0: none
  bool death = false, violence = false;
  int agency = -1;  // its bit in a linked series' combination
};

std::vector<FeedPlan> plan(const config::HubReceiverConfig& cfg) {
  std::vector<FeedPlan> plans;
  int agencies = 0;
  for (const FeedTable& table : feed_tables(cfg)) {
    const auto rf = cfg.report.feeds.find(table.feed);
    if (rf == cfg.report.feeds.end() || rf->second.event_date.empty()) continue;
    FeedPlan p;
    p.id = table.feed;
    p.columns.push_back(rf->second.event_date);
    const auto add = [&](const std::string& column) {
      p.columns.push_back(column);
      return p.columns.size();  // row[0] is `_partner`
    };
    if (!rf->second.area.empty()) p.area = add(rf->second.area);
    for (const Column& c : table.columns) {
      if (c.token_kind == "nhs_number" && !p.nhs) p.nhs = add(c.name);
      if (c.token_kind == "person" && !p.person) p.person = add(c.name);
    }
    p.death = p.id == cfg.report.death_feed;
    p.violence = std::find(cfg.report.violence_feeds.begin(), cfg.report.violence_feeds.end(), p.id) !=
                 cfg.report.violence_feeds.end();
    if (!p.death && agencies < 63) p.agency = agencies++;
    plans.push_back(std::move(p));
  }
  return plans;
}

std::uint32_t intern(std::unordered_map<std::string, std::uint32_t>& index, std::vector<std::string>& names,
                     std::string_view s) {
  auto [it, added] = index.try_emplace(std::string(s), static_cast<std::uint32_t>(names.size()));
  if (added) names.emplace_back(s);
  return it->second;
}

// People: the records' tokens, joined wherever one record carries two (union-find).
class People {
 public:
  explicit People(const std::vector<Rec>& recs) {
    for (const Rec& r : recs) {
      if (r.nhs) keys_.push_back(r.nhs);
      if (r.person) keys_.push_back(r.person);
    }
    std::sort(keys_.begin(), keys_.end());
    keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    parent_.resize(keys_.size());
    std::iota(parent_.begin(), parent_.end(), 0u);
    for (const Rec& r : recs)
      if (r.nhs && r.person) join(index(r.nhs), index(r.person));
  }

  // The person of a record: the smallest key index among their tokens, the same whatever order
  // the records came in (union() keeps the smaller root); kNobody without a token.
  std::uint32_t of(const Rec& r) {
    if (r.nhs) return find(index(r.nhs));
    if (r.person) return find(index(r.person));
    return kNobody;
  }
  // Of a record read again: kNobody also when its tokens were not among the first read's.
  std::uint32_t lookup(std::uint64_t nhs, std::uint64_t person) {
    for (std::uint64_t k : {nhs, person}) {
      if (!k) continue;
      const auto it = std::lower_bound(keys_.begin(), keys_.end(), k);
      if (it != keys_.end() && *it == k) return find(static_cast<std::uint32_t>(it - keys_.begin()));
    }
    return kNobody;
  }

 private:
  std::uint32_t index(std::uint64_t key) const {
    return static_cast<std::uint32_t>(std::lower_bound(keys_.begin(), keys_.end(), key) - keys_.begin());
  }
  std::uint32_t find(std::uint32_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void join(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> parent_;
};

std::size_t before_death_band(std::int64_t days) {
  if (days < 91) return 0;
  if (days < 183) return 1;
  if (days < 365) return 2;
  return 3;
}

std::string month_label(std::int64_t day) {
  return config::to_iso(config::civil_from_days(day)).substr(0, 7);
}

struct Death {
  std::int64_t day = 0;
  std::uint64_t agencies = 0;  // bit per FeedPlan::agency
  std::int64_t first = std::numeric_limits<std::int64_t>::max();
};

}  // namespace

std::optional<std::int64_t> event_day(std::string_view v) {
  const auto date_at = [](int y, int m, int d) -> std::optional<std::int64_t> {
    const config::Date date{y, m, d};
    if (!config::valid_date(date)) return std::nullopt;
    return config::days_from_civil(date);
  };
  if (v.size() == 4 && digits(v)) return date_at(number(v), 1, 1);
  if (v.size() < 7 || !digits(v.substr(0, 4)) || v[4] != '-') return std::nullopt;
  if (v.size() == 8 && v[5] == 'W' && digits(v.substr(6))) {
    const int week = number(v.substr(6));
    const auto jan4 = date_at(number(v.substr(0, 4)), 1, 4);  // always in week 1
    if (!jan4 || week < 1 || week > 53) return std::nullopt;
    return render::monday_of(*jan4) + 7 * (week - 1);
  }
  if (!digits(v.substr(5, 2))) return std::nullopt;
  if (v.size() == 7) return date_at(number(v.substr(0, 4)), number(v.substr(5, 2)), 1);
  if (v.size() < 10 || v[7] != '-' || !digits(v.substr(8, 2))) return std::nullopt;
  if (v.size() > 10 && v[10] == 'T')
    if (const auto dt = config::parse_datetime(v, "default"); dt && dt->offset_minutes)
      return std::chrono::floor<std::chrono::days>(std::chrono::seconds(config::to_unix_seconds(*dt))).count();
  return date_at(number(v.substr(0, 4)), number(v.substr(5, 2)), number(v.substr(8, 2)));
}

std::string_view district_of(std::string_view area) { return area.substr(0, area.find(' ')); }

std::int64_t months_before(std::int64_t day, int months) {
  config::Date d = config::civil_from_days(day);
  int index = d.year * 12 + (d.month - 1) - months;
  d.year = index / 12;
  d.month = index % 12 + 1;
  while (!config::valid_date(d)) --d.day;
  return config::days_from_civil(d);
}

result<Analysis> analyse(Store& store, const config::HubReceiverConfig& cfg, std::int64_t from_day,
                         std::int64_t to_day, bool person_level) {
  const config::ReportConfig& rc = cfg.report;
  const std::vector<FeedPlan> plans = plan(cfg);
  const bool linking = !rc.death_feed.empty();
  const std::int64_t window_from = linking ? months_before(from_day, rc.lookback_months) : from_day;

  Analysis out;
  std::vector<Rec> recs;
  std::unordered_map<std::string, std::uint32_t> area_index;
  std::vector<std::string> areas;

  // A row read into a Rec; false when it has no date in the window.
  const auto read = [&](const FeedPlan& p, std::uint16_t feed, LinkedRow row, Rec& r) {
    const auto day = row[1] ? event_day(*row[1]) : std::nullopt;
    if (!day) return false;
    r.day = static_cast<std::int32_t>(*day);
    r.feed = feed;
    r.nhs = p.nhs > 0 && row[p.nhs] ? token_key(*row[p.nhs], false) : 0;
    r.person = p.person > 0 && row[p.person] ? token_key(*row[p.person], true) : 0;
    return *day >= window_from && *day <= to_day;
  };

  for (std::size_t f = 0; f < plans.size(); ++f) {
    const FeedPlan& p = plans[f];
    auto scanned = store.scan_linked(p.id, p.columns, [&](LinkedRow row) {
      ++out.records_read;
      Rec r;
      if (!row[1] || !event_day(*row[1])) ++out.records_undated;
      if (!read(p, static_cast<std::uint16_t>(f), row, r)) return;
      if (p.area > 0 && row[p.area]) r.area = intern(area_index, areas, district_of(*row[p.area]));
      recs.push_back(r);
    });
    if (!scanned) return scanned.error();
  }

  People people(recs);
  std::vector<std::uint32_t> who(recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) who[i] = people.of(recs[i]);
  const auto in_range = [&](std::int64_t day) { return day >= from_day && day <= to_day; };

  // Linked series: each person with a death in the range, and who saw them in the lookback.
  std::unordered_map<std::uint32_t, Death> deaths;
  std::uint64_t unlinkable_deaths = 0;  // a death record with no token: its own person
  if (linking) {
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (!plans[recs[i].feed].death || !in_range(recs[i].day)) continue;
      if (who[i] == kNobody) {
        ++unlinkable_deaths;
        continue;
      }
      auto [it, added] = deaths.try_emplace(who[i], Death{recs[i].day});
      if (!added) it->second.day = std::min<std::int64_t>(it->second.day, recs[i].day);
    }
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const FeedPlan& p = plans[recs[i].feed];
      if (p.agency < 0 || who[i] == kNobody) continue;
      const auto d = deaths.find(who[i]);
      if (d == deaths.end() || recs[i].day > d->second.day ||
          recs[i].day < months_before(d->second.day, rc.lookback_months))
        continue;
      d->second.agencies |= std::uint64_t{1} << p.agency;
      d->second.first = std::min<std::int64_t>(d->second.first, recs[i].day);
    }
    LinkedSeries ls;
    for (const FeedPlan& p : plans)
      if (p.agency >= 0) ls.agencies.push_back(p.id);
    std::map<std::pair<int, std::uint64_t>, std::vector<std::uint64_t>> rows;  // (agencies seen, mask)
    std::vector<std::uint64_t> none(kBeforeDeathBandCount, 0);
    none.back() = unlinkable_deaths;
    for (const auto& [person, d] : deaths) {
      if (!d.agencies) {
        ++none.back();
        continue;
      }
      auto& row = rows[{std::popcount(d.agencies), d.agencies}];
      row.resize(kBeforeDeathBandCount, 0);
      ++row[before_death_band(d.day - d.first)];
    }
    ls.deaths = deaths.size() + unlinkable_deaths;
    ls.by_combination.columns.assign(std::begin(kBeforeDeathBands), std::end(kBeforeDeathBands));
    for (auto& [key, counts] : rows) {
      std::string label;
      for (std::size_t a = 0; a < ls.agencies.size(); ++a)
        if (key.second >> a & 1) label += (label.empty() ? "" : " + ") + ls.agencies[a];
      ls.by_combination.rows.push_back(std::move(label));
      ls.by_combination.cells.push_back(std::move(counts));
    }
    ls.by_combination.rows.push_back("no other agency");
    ls.by_combination.cells.push_back(std::move(none));
    out.linked = std::move(ls);
  }

  // Repeat contact in the violence feeds, in the range.
  std::unordered_map<std::uint32_t, std::uint64_t> contacts;
  if (!rc.violence_feeds.empty()) {
    std::unordered_set<std::uint32_t> elsewhere;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (who[i] == kNobody) continue;
      if (!plans[recs[i].feed].violence) elsewhere.insert(who[i]);
      else if (in_range(recs[i].day)) ++contacts[who[i]];
    }
    RepeatContact rcs;
    rcs.persons.rows.assign(std::begin(kContactBands), std::end(kContactBands));
    rcs.persons.columns = {"violence feeds only", "also in another feed"};
    rcs.persons.cells.assign(kContactBandCount, std::vector<std::uint64_t>(2, 0));
    for (const auto& [person, n] : contacts)
      if (n >= 2) ++rcs.persons.cells[std::min<std::uint64_t>(n, 5) - 2][elsewhere.contains(person) ? 1 : 0];
    out.repeat = std::move(rcs);
  }

  // Area profile: records per district and month, feed by feed.
  std::vector<std::string> months;
  const config::Date first = config::civil_from_days(from_day);
  for (int m = first.year * 12 + first.month - 1;; ++m) {
    const std::int64_t day = config::days_from_civil({m / 12, m % 12 + 1, 1});
    if (day > to_day) break;
    months.push_back(month_label(day));
  }
  for (std::size_t f = 0; f < plans.size(); ++f) {
    if (!plans[f].area) continue;
    std::map<std::string, std::vector<std::uint64_t>> by_district;
    for (const Rec& r : recs) {
      if (r.feed != f || r.area == kNoArea || !in_range(r.day)) continue;
      auto& row = by_district[areas[r.area]];
      row.resize(months.size(), 0);
      const auto m = std::lower_bound(months.begin(), months.end(), month_label(r.day));
      ++row[static_cast<std::size_t>(m - months.begin())];
    }
    AreaProfile a;
    a.feed = plans[f].id;
    a.records.columns = months;
    for (auto& [district, counts] : by_district) {
      a.records.rows.push_back(district);
      a.records.cells.push_back(std::move(counts));
    }
    out.areas.push_back(std::move(a));
  }

  if (!person_level) return out;

  // The person-level file: the records of the persons found, read again for their tokens.
  std::set<std::uint32_t> found;
  for (const auto& [person, d] : deaths)
    if (d.agencies) found.insert(person);
  for (const auto& [person, n] : contacts)
    if (n >= 2) found.insert(person);
  std::map<std::uint32_t, std::string> numbers;  // person -> "P0001", in key order: stable
  for (std::uint32_t person : found) {
    std::string n = std::to_string(numbers.size() + 1);
    numbers.emplace(person, "P" + std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n);
  }
  for (std::size_t f = 0; f < plans.size(); ++f) {
    const FeedPlan& p = plans[f];
    auto scanned = store.scan_linked(p.id, p.columns, [&](LinkedRow row) {
      Rec r;
      if (!read(p, static_cast<std::uint16_t>(f), row, r)) return;
      const std::uint32_t person = people.lookup(r.nhs, r.person);
      const auto number = numbers.find(person);
      if (number == numbers.end()) return;
      const auto add = [&](const char* section, const char* role) {
        PersonRecord pr{number->second, section, role, p.id, std::string(row[0].value_or("")), {}, {}, {}, {}};
        pr.event = row[1]->size() > 10 && (*row[1])[10] == 'T' ? config::to_iso(config::civil_from_days(r.day))
                                                                : std::string(*row[1]);
        if (p.area > 0 && row[p.area]) pr.area = std::string(district_of(*row[p.area]));
        if (p.nhs > 0 && row[p.nhs]) pr.nhs_number_token = std::string(*row[p.nhs]);
        if (p.person > 0 && row[p.person]) pr.person_token = std::string(*row[p.person]);
        out.persons.push_back(std::move(pr));
      };
      if (const auto d = deaths.find(person); d != deaths.end() && d->second.agencies) {
        if (p.death && in_range(r.day)) add("linked_series", "death");
        else if (p.agency >= 0 && r.day <= d->second.day &&
                 r.day >= months_before(d->second.day, rc.lookback_months))
          add("linked_series", "earlier record");
      }
      if (p.violence && in_range(r.day))
        if (const auto c = contacts.find(person); c != contacts.end() && c->second >= 2)
          add("repeat_contact", "contact");
    });
    if (!scanned) return scanned.error();
  }
  std::sort(out.persons.begin(), out.persons.end(), [](const PersonRecord& a, const PersonRecord& b) {
    return std::tie(a.person, a.section, a.event, a.feed, a.role, a.partner, a.area, a.nhs_number_token,
                    a.person_token) < std::tie(b.person, b.section, b.event, b.feed, b.role, b.partner, b.area,
                                               b.nhs_number_token, b.person_token);
  });
  return out;
}

}  // namespace svd::hub
