#include "hub/analysis.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>

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
  std::uint32_t size() const { return static_cast<std::uint32_t>(keys_.size()); }
  std::uint32_t root(std::uint32_t k) { return find(k); }
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

// Districts in the order people read them: NX2 before NX10.
bool district_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = a[i] >= '0' && a[i] <= '9', db = b[j] >= '0' && b[j] <= '9';
    if (da && db) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && a[ei] >= '0' && a[ei] <= '9') ++ei;
      while (ej < b.size() && b[ej] >= '0' && b[ej] <= '9') ++ej;
      const std::string_view na = std::string_view(a).substr(i, ei - i), nb = std::string_view(b).substr(j, ej - j);
      if (na.size() != nb.size()) return na.size() < nb.size();  // no leading zeros in a district
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::size_t before_death_band(std::int64_t days) {
  if (days < 91) return 0;
  if (days < 183) return 1;
  if (days < 365) return 2;
  return 3;
}

std::string month_label(std::int64_t day) {
  return config::to_iso(config::civil_from_days(day)).substr(0, 7);
}


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
                         std::int64_t to_day, const std::function<void(const PersonRecord&)>& person_record) {
  const config::ReportConfig& rc = cfg.report;
  const std::vector<FeedPlan> plans = plan(cfg);
  const bool linking = !rc.death_feed.empty();
  const std::int64_t window_from = linking ? months_before(from_day, rc.lookback_months) : from_day;

  Analysis out;
  std::vector<Rec> recs;
  std::unordered_map<std::string, std::uint32_t> area_index;
  std::vector<std::string> areas;

  // A row read into a Rec: kept when its date is in the window.
  enum class Read { undated, outside, kept };
  const auto read = [&](const FeedPlan& p, std::uint16_t feed, LinkedRow row, Rec& r) {
    const auto day = row[1] ? event_day(*row[1]) : std::nullopt;
    if (!day) return Read::undated;
    if (*day < window_from || *day > to_day) return Read::outside;
    r.day = static_cast<std::int32_t>(*day);
    r.feed = feed;
    r.nhs = p.nhs > 0 && row[p.nhs] ? token_key(*row[p.nhs], false) : 0;
    r.person = p.person > 0 && row[p.person] ? token_key(*row[p.person], true) : 0;
    return Read::kept;
  };

  for (std::size_t f = 0; f < plans.size(); ++f) {
    const FeedPlan& p = plans[f];
    auto scanned = store.scan_linked(p.id, p.columns, [&](LinkedRow row) {
      ++out.records_read;
      Rec r;
      const Read got = read(p, static_cast<std::uint16_t>(f), row, r);
      out.records_undated += got == Read::undated;
      if (got != Read::kept) return;
      if (p.area > 0 && row[p.area]) r.area = intern(area_index, areas, district_of(*row[p.area]));
      recs.push_back(r);
    });
    if (!scanned) return scanned.error();
  }

  // Persons as dense numbers 0..n-1, in the order of their smallest token key: the same whatever
  // order the store returned the records in, so both backends number them alike.
  People people(recs);
  std::vector<std::uint32_t> dense(people.size(), kNobody);
  std::uint32_t persons = 0;
  for (std::uint32_t k = 0; k < people.size(); ++k)
    if (people.root(k) == k) dense[k] = persons++;
  const auto person_of = [&](std::uint32_t root) { return root == kNobody ? kNobody : dense[root]; };
  std::vector<std::uint32_t> who(recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) who[i] = person_of(people.of(recs[i]));
  const auto in_range = [&](std::int64_t day) { return day >= from_day && day <= to_day; };

  // Linked series: each person with a death in the range, and who saw them in the lookback.
  constexpr std::int32_t kNoDeath = std::numeric_limits<std::int32_t>::max();
  std::vector<std::int32_t> death_day, first_seen;  // by person
  std::vector<std::uint64_t> seen_by;               // by person: a bit per FeedPlan::agency
  if (linking) {
    death_day.assign(persons, kNoDeath);
    first_seen.assign(persons, kNoDeath);
    seen_by.assign(persons, 0);
    std::uint64_t unlinkable = 0;  // a death record with no token: a person of its own
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (!plans[recs[i].feed].death || !in_range(recs[i].day)) continue;
      if (who[i] == kNobody) ++unlinkable;
      else death_day[who[i]] = std::min(death_day[who[i]], recs[i].day);
    }
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const FeedPlan& p = plans[recs[i].feed];
      if (p.agency < 0 || who[i] == kNobody) continue;
      const std::int32_t died = death_day[who[i]];
      if (died == kNoDeath || recs[i].day > died || recs[i].day < months_before(died, rc.lookback_months)) continue;
      seen_by[who[i]] |= std::uint64_t{1} << p.agency;
      first_seen[who[i]] = std::min(first_seen[who[i]], recs[i].day);
    }
    LinkedSeries ls;
    for (const FeedPlan& p : plans)
      if (p.agency >= 0) ls.agencies.push_back(p.id);
    std::map<std::pair<int, std::uint64_t>, std::vector<std::uint64_t>> rows;  // (agencies seen, mask)
    std::vector<std::uint64_t> none(kBeforeDeathBandCount, 0);
    none.back() = unlinkable;
    ls.deaths = unlinkable;
    for (std::uint32_t person = 0; person < persons; ++person) {
      if (death_day[person] == kNoDeath) continue;
      ++ls.deaths;
      if (!seen_by[person]) {
        ++none.back();
        continue;
      }
      auto& row = rows[{std::popcount(seen_by[person]), seen_by[person]}];
      row.resize(kBeforeDeathBandCount, 0);
      ++row[before_death_band(death_day[person] - first_seen[person])];
    }
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
  std::vector<std::uint32_t> contacts;  // by person
  if (!rc.violence_feeds.empty()) {
    contacts.assign(persons, 0);
    std::vector<bool> elsewhere(persons, false);
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (who[i] == kNobody) continue;
      if (!plans[recs[i].feed].violence) elsewhere[who[i]] = true;
      else if (in_range(recs[i].day)) ++contacts[who[i]];
    }
    RepeatContact rcs;
    rcs.persons.rows.assign(std::begin(kContactBands), std::end(kContactBands));
    rcs.persons.columns = {"violence feeds only", "also in another feed"};
    rcs.persons.cells.assign(kContactBandCount, std::vector<std::uint64_t>(2, 0));
    for (std::uint32_t person = 0; person < persons; ++person)
      if (contacts[person] >= 2)
        ++rcs.persons.cells[std::min<std::uint32_t>(contacts[person], 5) - 2][elsewhere[person] ? 1 : 0];
    out.repeat = std::move(rcs);
  }

  // Area profile: records per district and month, feed by feed.
  const auto month_of = [](std::int64_t day) {
    const config::Date d = config::civil_from_days(day);
    return d.year * 12 + d.month - 1;
  };
  const int first_month = month_of(from_day), months = month_of(to_day) - first_month + 1;
  for (std::size_t f = 0; f < plans.size(); ++f) {
    if (!plans[f].area) continue;
    std::vector<std::vector<std::uint64_t>> by_area(areas.size());
    for (const Rec& r : recs) {
      if (r.feed != f || r.area == kNoArea || !in_range(r.day)) continue;
      auto& row = by_area[r.area];
      row.resize(static_cast<std::size_t>(months), 0);
      ++row[static_cast<std::size_t>(month_of(r.day) - first_month)];
    }
    std::map<std::string, std::vector<std::uint64_t>, decltype(&district_less)> by_district(&district_less);
    for (std::size_t a = 0; a < areas.size(); ++a)
      if (!by_area[a].empty()) by_district.emplace(areas[a], std::move(by_area[a]));
    AreaProfile a;
    a.feed = plans[f].id;
    for (int m = 0; m < months; ++m)
      a.records.columns.push_back(month_label(config::days_from_civil({(first_month + m) / 12, (first_month + m) % 12 + 1, 1})));
    for (auto& [district, counts] : by_district) {
      a.records.rows.push_back(district);
      a.records.cells.push_back(std::move(counts));
    }
    out.areas.push_back(std::move(a));
  }

  if (!person_record) return out;

  // The person-level file: the records of the persons found, read again for their tokens and
  // handed over one by one (the file may hold most of the store).
  std::vector<std::uint32_t> number(persons, 0);  // by person: 1.. for those found, 0 otherwise
  std::uint32_t found = 0;
  for (std::uint32_t person = 0; person < persons; ++person)
    if ((linking && death_day[person] != kNoDeath && seen_by[person]) || (!contacts.empty() && contacts[person] >= 2))
      number[person] = ++found;
  const std::size_t width = std::max<std::size_t>(4, std::to_string(found).size());
  for (std::size_t f = 0; f < plans.size(); ++f) {
    const FeedPlan& p = plans[f];
    auto scanned = store.scan_linked(p.id, p.columns, [&](LinkedRow row) {
      Rec r;
      if (read(p, static_cast<std::uint16_t>(f), row, r) != Read::kept) return;
      const std::uint32_t person = person_of(people.lookup(r.nhs, r.person));
      if (person == kNobody || !number[person]) return;
      const auto add = [&](const char* section, const char* role) {
        const std::string n = std::to_string(number[person]);
        PersonRecord pr{"P" + std::string(width - n.size(), '0') + n, section, role, p.id,
                        std::string(row[0].value_or("")), {}, {}, {}, {}};
        pr.event = row[1]->size() > 10 && (*row[1])[10] == 'T' ? config::to_iso(config::civil_from_days(r.day))
                                                                : std::string(*row[1]);
        if (p.area > 0 && row[p.area]) pr.area = std::string(district_of(*row[p.area]));
        if (p.nhs > 0 && row[p.nhs]) pr.nhs_number_token = std::string(*row[p.nhs]);
        if (p.person > 0 && row[p.person]) pr.person_token = std::string(*row[p.person]);
        ++out.person_records;
        person_record(pr);
      };
      if (linking && death_day[person] != kNoDeath && seen_by[person]) {
        const std::int32_t died = death_day[person];
        if (p.death && in_range(r.day)) add("linked_series", "death");
        else if (p.agency >= 0 && r.day <= died && r.day >= months_before(died, rc.lookback_months))
          add("linked_series", "earlier record");
      }
      if (p.violence && in_range(r.day) && contacts[person] >= 2) add("repeat_contact", "contact");
    });
    if (!scanned) return scanned.error();
  }
  return out;
}

}  // namespace svd::hub
