#include "tests/synth/scenario.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tests/synth/synth_detail.h"

namespace svd::synth {
namespace {

using namespace detail;

// Salts keep the population's draws apart from each feed's row draws, so that a change in how
// one feed writes its rows leaves the people (and so the manifest's answers) as they were.
constexpr std::uint64_t kPeopleSalt = 0x5343454E2D505050ULL;
constexpr std::uint64_t kEdRowSalt = 0x5343454E2D454452ULL;
constexpr std::uint64_t kSchoolRowSalt = 0x5343454E2D534352ULL;
constexpr std::uint64_t kDeathRowSalt = 0x5343454E2D445252ULL;

constexpr std::int64_t kLookbackMonths = 24;
constexpr std::uint64_t kMinWeeks = 6;
constexpr std::uint64_t kMaxWeeks = 52;
// The area's linkage key rotates in week 3: the old key ends and the new one starts that week
// (the test configures the gateways so), so week 3's records carry both tokens and only they link
// a person's records under the old key to those under the new one. Every planted series but
// `rotation` therefore lies in weeks 0 to 3, where it links whatever the keys; the rotation's
// persons show the link through week 3, dying in week 5 under the new key only.
constexpr std::uint64_t kRotationWeek = 3;
constexpr std::uint64_t kRotationDeathWeek = 5;
constexpr std::uint64_t kMissedSchoolWeek = 2;
// Weekly events stop an hour before the Friday 12:00 delivery, so that a gateway clock at the
// delivery time (or a little behind it) never sees them as in the future.
constexpr std::int64_t kLastEventSecond = 4 * kSecondsPerDay + 11 * 3600;

enum Feed : std::size_t { kEd, kSchool, kDeath };
constexpr std::array<std::string_view, 3> kFeedIds{"ed-attendances", "school-exclusions", "death-reports"};

enum class Category : std::size_t {
  linked_ed_school,
  linked_ed,
  linked_school,
  linked_school_accented,
  variant_missed,
  outside_lookback,
  death_only,
  rotation,
  repeat_ed,
  background,
};

struct Planted {
  Category category;
  std::string_view name;
  std::uint64_t count;
};

constexpr std::array<Planted, 9> kPlanted{{
    {Category::linked_ed_school, "linked_ed_school", 6},
    {Category::linked_ed, "linked_ed", 7},
    {Category::linked_school, "linked_school", 5},
    {Category::linked_school_accented, "linked_school_accented", 3},
    {Category::variant_missed, "variant_missed", 2},
    {Category::outside_lookback, "outside_lookback", 2},
    {Category::death_only, "death_only", 8},
    {Category::rotation, "rotation", 5},
    {Category::repeat_ed, "repeat_ed", 9},
}};

constexpr std::uint64_t kEdHistoric = 200;
constexpr std::uint64_t kEdPerWeek = 40;
constexpr std::uint64_t kSchoolHistoric = 100;
constexpr std::uint64_t kSchoolPerWeek = 15;
// The coroner's first extract carries a backlog, deaths of the three months before the start:
// every partner then delivers from week 0 on, and none of these deaths is in the report range.
constexpr std::uint64_t kDeathHistoric = 12;
// And every week from 1 on some deaths of people with no other record, so that the coroner has
// something to send every week, the weeks after the rotation included.
constexpr std::uint64_t kDeathPerWeek = 1;

// A dozen districts of one invented area (there is no NX area), weighted so that an area profile
// has both large cells and cells small enough to need suppression.
constexpr std::array<Weighted, 12> kDistricts{{{"NX1", 26},
                                               {"NX2", 18},
                                               {"NX3", 14},
                                               {"NX4", 10},
                                               {"NX5", 8},
                                               {"NX6", 7},
                                               {"NX7", 5},
                                               {"NX8", 4},
                                               {"NX9", 3},
                                               {"NX10", 2},
                                               {"NX11", 2},
                                               {"NX12", 1}}};

constexpr std::array<Weighted, 4> kSexes{{{"M", 48}, {"F", 48}, {"X", 2}, {"U", 2}}};

constexpr std::array<std::string_view, 9> kEdColumns{
    "attendance_ref", "nhs_number",       "surname",        "forename",
    "date_of_birth",  "postcode",         "arrival_datetime", "assault_method",
    "assault_location_type"};

// ---------------------------------------------------------------------------------------------
// Names as the hub's normaliser sees them (crypto/normalise.h): accents removed, upper case,
// A-Z only. The name lists stay within U+00C0..U+00FF, where removing the accent is a fixed
// table; anything else is a slip in the lists.

char unaccented(unsigned code) {
  // '?': no decomposition (Æ, Ø, ß, ...), so the normaliser drops or expands it; not in the lists.
  constexpr std::string_view kFrom0xC0 = "AAAAAA?CEEEEIIII?NOOOOO??UUUUY??aaaaaa?ceeeeiiii?nooooo??uuuuy?y";
  static_assert(kFrom0xC0.size() == 0x40);
  const char c = code >= 0xC0 && code <= 0xFF ? kFrom0xC0[code - 0xC0] : '?';
  if (c == '?') throw std::logic_error("svd-synth: a name letter has no plain form");
  return c;
}

std::string without_accents(std::string_view utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    if (lead < 0x80) {
      out.push_back(utf8[i]);
    } else if (lead == 0xC3 && i + 1 < utf8.size()) {
      out.push_back(unaccented(0xC0u | (static_cast<unsigned char>(utf8[++i]) & 0x3Fu)));
    } else {
      throw std::logic_error("svd-synth: a name letter has no plain form");
    }
  }
  return out;
}

std::string normalised(std::string_view utf8) {
  std::string out;
  for (const char c : without_accents(utf8)) {
    if (c >= 'a' && c <= 'z') out.push_back(static_cast<char>(c - 'a' + 'A'));
    else if (c >= 'A' && c <= 'Z') out.push_back(c);
  }
  return out;
}

bool has_accent(std::string_view name) {
  return std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// ---------------------------------------------------------------------------------------------
// Calendar.

std::int64_t weekday(std::int64_t day) { return ((day + 3) % 7 + 7) % 7; }  // 0 = Monday

std::int64_t add_months(std::int64_t day, std::int64_t months) {
  const Date d = civil_from_days(day);
  const std::int64_t index = d.year * 12 + (d.month - 1) + months;
  const std::int64_t year = index / 12, month = index % 12 + 1;
  return days_from_civil({year, month, std::min(d.day, days_in_month(year, month))});
}

std::string iso_date(std::int64_t day) {
  std::string s;
  append_iso_date(s, civil_from_days(day));
  return s;
}

std::int64_t parse_start(std::string_view text) {
  auto digits = [&](std::size_t from, std::size_t n, std::int64_t& v) {
    v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    return true;
  };
  std::int64_t y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(0, 4, y) || !digits(5, 2, m) ||
      !digits(8, 2, d) || y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
    throw std::invalid_argument("--start must be a date YYYY-MM-DD, got \"" + std::string(text) + "\"");
  const std::int64_t day = days_from_civil({y, m, d});
  if (weekday(day) != 0) {
    constexpr std::array<std::string_view, 7> kNames{"Monday", "Tuesday", "Wednesday", "Thursday",
                                                     "Friday", "Saturday", "Sunday"};
    throw std::invalid_argument("--start must be a Monday (weeks run Monday to Sunday); " + std::string(text) +
                                " is a " + std::string(kNames[static_cast<std::size_t>(weekday(day))]));
  }
  return day;
}

// ---------------------------------------------------------------------------------------------
// The population: who exists, and what happened to them when. Rows are written from this later.

struct Person {
  Category category;
  std::string surname, forename;                // as ED and the death reports write them
  std::string school_surname, school_forename;  // as the council writes them
  std::int64_t birth;                           // day number
  NhsDigits nhs;
  std::string postcode;  // canonical; a person keeps one
  std::string_view sex;
};

struct Event {
  Feed feed;
  std::size_t person;
  std::uint64_t week;  // of the file that delivers it
  std::int64_t when;   // ED: Unix seconds of arrival; school and deaths: day number
  bool nhs_known;      // ED only: the other feeds always (deaths) or never (school) have one

  std::int64_t day() const { return feed == kEd ? when / kSecondsPerDay : when; }
};

class Population {
 public:
  Population(std::int64_t start, std::uint64_t weeks, std::uint64_t seed)
      : start_(start), weeks_(weeks), rng_(seed ^ kPeopleSalt) {
    for (const std::string_view n : kSurnames)
      if (has_accent(n)) accented_surnames_.push_back(n);
    for (const std::string_view n : kForenames)
      if (has_accent(n)) accented_forenames_.push_back(n);
    plant();
    add_background();
  }

  std::vector<Person> people;
  std::vector<Event> events;

 private:
  std::int64_t monday(std::uint64_t week) const { return start_ + 7 * static_cast<std::int64_t>(week); }

  // One draw per statement throughout, as in synth.cpp: argument evaluation order is unspecified.
  std::int64_t weekday_in(std::uint64_t week) { return monday(week) + rng_.between(0, 4); }

  std::int64_t ed_time_in(std::uint64_t week) {
    return monday(week) * kSecondsPerDay + rng_.between(0, kLastEventSecond);
  }

  // Both bounds inclusive; the ranges are months long, so the redraws for weekends end quickly.
  std::int64_t school_day_between(std::int64_t first, std::int64_t last) {
    for (;;) {
      const std::int64_t day = rng_.between(first, last);
      if (weekday(day) < 5) return day;
    }
  }

  std::int64_t ed_time_between(std::int64_t first_day, std::int64_t last_day) {
    const std::int64_t day = rng_.between(first_day, last_day);
    return day * kSecondsPerDay + rng_.between(0, kSecondsPerDay - 1);
  }

  // The unique identity the hub links on: normalised surname, forename and date of birth.
  bool claim_identity(const std::string& surname, const std::string& forename, std::int64_t birth) {
    return identities_.insert(normalised(surname) + '|' + normalised(forename) + '|' + iso_date(birth)).second;
  }

  // School-age people are 8 to 15 at the start, so 5 to 16 on every record of the scenario;
  // the others 12 to 79.
  std::size_t add_person(Category category, bool school_age, bool accented = false) {
    Person p;
    p.category = category;
    const std::int64_t oldest = add_months(start_, school_age ? -16 * 12 : -80 * 12) + 1;
    const std::int64_t youngest = add_months(start_, school_age ? -8 * 12 : -12 * 12);
    for (;;) {
      const std::string_view surname =
          accented ? accented_surnames_[rng_.index(accented_surnames_.size())] : rng_.pick(kSurnames);
      const std::string_view forename =
          accented ? accented_forenames_[rng_.index(accented_forenames_.size())] : rng_.pick(kForenames);
      p.birth = rng_.between(oldest, youngest);
      p.school_surname = surname;
      p.school_forename = forename;
      // The accented person's hospital and coroner records are typed without the accents.
      p.surname = accented ? without_accents(surname) : std::string(surname);
      p.forename = accented ? without_accents(forename) : std::string(forename);
      if (claim_identity(p.surname, p.forename, p.birth)) break;
    }
    do p.nhs = draw_nhs_number(rng_);
    while (!nhs_numbers_.insert(p.nhs).second);
    p.postcode = pick_weighted(rng_, kDistricts);
    p.postcode.push_back(' ');
    p.postcode.push_back(rng_.digit());
    p.postcode.push_back(rng_.pick_char(kInwardLetters));
    p.postcode.push_back(rng_.pick_char(kInwardLetters));
    p.sex = pick_weighted(rng_, kSexes);
    people.push_back(std::move(p));
    return people.size() - 1;
  }

  // One letter after the first dropped or changed: a typing slip that exact tokens cannot see
  // past. The misspelt identity is claimed too, so that it never names another person.
  void misspell_school_forename(Person& p) {
    for (;;) {
      std::string v = p.forename;
      std::size_t at = 0;
      do at = 1 + rng_.index(v.size() - 1);
      while (!((v[at] >= 'a' && v[at] <= 'z') || (v[at] >= 'A' && v[at] <= 'Z')));
      if (rng_.uniform(2) == 0) {
        v.erase(at, 1);
      } else {
        const char lower = v[at] >= 'a' ? v[at] : static_cast<char>(v[at] - 'A' + 'a');
        char replacement = lower;
        while (replacement == lower) replacement = static_cast<char>('a' + rng_.uniform(26));
        v[at] = replacement;
      }
      if (claim_identity(p.surname, v, p.birth)) {
        p.school_forename = std::move(v);
        return;
      }
    }
  }

  void add(Feed feed, std::size_t person, std::uint64_t week, std::int64_t when, bool nhs_known = true) {
    events.push_back({feed, person, week, when, nhs_known});
  }

  // Historic records of someone who dies on `death`: `from`..`to` months before it, and always
  // before the start, since they come in the week-0 load.
  void add_historic(Feed feed, std::size_t person, std::int64_t death, std::int64_t from_months,
                    std::int64_t to_months) {
    const std::int64_t first = add_months(death, -to_months);
    const std::int64_t last = std::min(add_months(death, -from_months), start_ - 1);
    add(feed, person, 0, feed == kEd ? ed_time_between(first, last) : school_day_between(first, last));
  }

  void plant() {
    // The planted deaths fall in weeks 1 to 3, before the rotation ends the old key (kRotationWeek).
    std::vector<std::uint64_t> death_weeks;
    for (const Planted& c : kPlanted)
      if (c.category != Category::rotation && c.category != Category::repeat_ed)
        for (std::uint64_t i = 0; i < c.count; ++i) death_weeks.push_back(1 + death_weeks.size() % kRotationWeek);
    for (std::size_t i = death_weeks.size(); i > 1; --i) std::swap(death_weeks[i - 1], death_weeks[rng_.index(i)]);
    std::size_t next_death = 0;

    for (const Planted& c : kPlanted) {
      for (std::uint64_t n = 0; n < c.count; ++n) {
        const bool school = c.category == Category::linked_ed_school || c.category == Category::linked_school ||
                            c.category == Category::linked_school_accented ||
                            c.category == Category::variant_missed;
        const std::size_t p = add_person(c.category, school, c.category == Category::linked_school_accented);
        if (c.category == Category::variant_missed) misspell_school_forename(people[p]);

        if (c.category == Category::rotation) {
          add(kEd, p, 1, ed_time_in(1));
          add(kEd, p, 3, ed_time_in(3));
          add(kDeath, p, kRotationDeathWeek, weekday_in(kRotationDeathWeek));
          continue;
        }
        if (c.category == Category::repeat_ed) {
          std::vector<std::uint64_t> weeks(kRotationWeek);  // weeks 1 to 3, like the deaths
          std::iota(weeks.begin(), weeks.end(), std::uint64_t{1});
          const std::size_t visits = static_cast<std::size_t>(rng_.between(2, 3));
          for (std::size_t i = 0; i < visits; ++i) {
            std::swap(weeks[i], weeks[i + rng_.index(weeks.size() - i)]);
            add(kEd, p, weeks[i], ed_time_in(weeks[i]));
          }
          continue;
        }

        const std::uint64_t week = death_weeks[next_death++];
        const std::int64_t death = weekday_in(week);
        add(kDeath, p, week, death);
        switch (c.category) {
          case Category::linked_ed_school: {
            const std::int64_t ed = rng_.between(1, 2);
            for (std::int64_t i = 0; i < ed; ++i) add_historic(kEd, p, death, 3, 20);
            const std::int64_t school_records = rng_.between(1, 2);
            for (std::int64_t i = 0; i < school_records; ++i) add_historic(kSchool, p, death, 3, 20);
            break;
          }
          case Category::linked_ed: {
            const std::int64_t ed = rng_.between(1, 2);
            for (std::int64_t i = 0; i < ed; ++i) add_historic(kEd, p, death, 1, 20);
            break;
          }
          case Category::linked_school:
          case Category::linked_school_accented:
          case Category::variant_missed:
            add_historic(kSchool, p, death, 3, 20);
            break;
          case Category::outside_lookback:
            add_historic(kEd, p, death, 27, 30);
            break;
          default:  // death_only
            break;
        }
      }
    }
  }

  // Everyone here has exactly one record; those who die (the backlog, and some every week) have no
  // other.
  void add_background() {
    const std::int64_t historic_from = add_months(start_, -30);
    for (std::uint64_t i = 0; i < kDeathHistoric; ++i) {
      const std::size_t p = add_person(Category::background, false);
      // A week clear of the start, so that no week-resolution date reaches into the range.
      add(kDeath, p, 0, rng_.between(add_months(start_, -3), start_ - 7));
    }
    for (std::uint64_t week = 1; week < weeks_; ++week)
      for (std::uint64_t i = 0; i < kDeathPerWeek; ++i) add(kDeath, add_person(Category::background, false), week, weekday_in(week));
    for (std::uint64_t i = 0; i < kEdHistoric; ++i) {
      const std::size_t p = add_person(Category::background, false);
      const std::int64_t when = ed_time_between(historic_from, start_ - 1);
      add(kEd, p, 0, when, !rng_.percent(5));
    }
    for (std::uint64_t week = 1; week < weeks_; ++week) {
      for (std::uint64_t i = 0; i < kEdPerWeek; ++i) {
        const std::size_t p = add_person(Category::background, false);
        const std::int64_t when = ed_time_in(week);
        add(kEd, p, week, when, !rng_.percent(5));
      }
    }
    for (std::uint64_t i = 0; i < kSchoolHistoric; ++i) {
      const std::size_t p = add_person(Category::background, true);
      add(kSchool, p, 0, school_day_between(historic_from, start_ - 1));
    }
    for (std::uint64_t week = 1; week < weeks_; ++week) {
      if (week == kMissedSchoolWeek) continue;
      for (std::uint64_t i = 0; i < kSchoolPerWeek; ++i) {
        const std::size_t p = add_person(Category::background, true);
        add(kSchool, p, week, weekday_in(week));
      }
    }
  }

  std::int64_t start_;
  std::uint64_t weeks_;
  Rng rng_;
  std::vector<std::string_view> accented_surnames_, accented_forenames_;
  std::set<std::string> identities_;
  std::set<NhsDigits> nhs_numbers_;
};

// ---------------------------------------------------------------------------------------------
// What exact-token linkage finds, worked out from the rows as written: records join when they
// share an NHS number or a normalised name with date of birth (the two tokens), and a death
// links to a feed when a joined record of it falls in the lookback before the death.

struct Expected {
  std::uint64_t deaths = 0, ed_only = 0, school_only = 0, both = 0, none = 0;
  std::uint64_t repeat_contact = 0, missed_by_variant = 0, accent_linked = 0;
};

class Links {
 public:
  explicit Links(const Population& pop) : parent_(pop.events.size()) {
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
    std::map<std::string, std::size_t> first;
    auto join = [&](std::string key, std::size_t e) {
      const auto [it, added] = first.emplace(std::move(key), e);
      if (!added) parent_[root(e)] = root(it->second);
    };
    for (std::size_t e = 0; e < pop.events.size(); ++e) {
      const Event& ev = pop.events[e];
      const Person& p = pop.people[ev.person];
      const bool school = ev.feed == kSchool;
      const std::string& surname = school ? p.school_surname : p.surname;
      const std::string& forename = school ? p.school_forename : p.forename;
      join("person|" + normalised(surname) + '|' + normalised(forename) + '|' + iso_date(p.birth), e);
      if (!school && ev.nhs_known) join("nhs|" + std::string(p.nhs.begin(), p.nhs.end()), e);
    }
  }

  std::size_t root(std::size_t e) {
    while (parent_[e] != e) e = parent_[e] = parent_[parent_[e]];
    return e;
  }

 private:
  std::vector<std::size_t> parent_;
};

Expected expected_links(const Population& pop, std::int64_t first_day, std::int64_t last_day) {
  Links links(pop);
  const std::vector<Event>& ev = pop.events;
  auto in_lookback = [](std::int64_t day, std::int64_t death) {
    return day <= death && day >= add_months(death, -kLookbackMonths);
  };

  std::map<std::size_t, std::size_t> death_of;  // root -> its first death event in the range
  for (std::size_t e = 0; e < ev.size(); ++e) {
    if (ev[e].feed != kDeath || ev[e].day() < first_day || ev[e].day() > last_day) continue;
    const auto [it, added] = death_of.emplace(links.root(e), e);
    if (!added && ev[e].day() < ev[it->second].day()) it->second = e;
  }

  Expected x;
  x.deaths = death_of.size();
  for (const auto& [root, d] : death_of) {
    const std::int64_t death = ev[d].day();
    const Person& dead = pop.people[ev[d].person];
    bool ed = false, school = false, accent = false, school_in_truth = false;
    for (std::size_t e = 0; e < ev.size(); ++e) {
      if (ev[e].feed == kDeath || !in_lookback(ev[e].day(), death)) continue;
      if (ev[e].feed == kSchool && ev[e].person == ev[d].person) school_in_truth = true;
      if (links.root(e) != root) continue;
      if (ev[e].feed == kEd) {
        ed = true;
      } else {
        school = true;
        const Person& pupil = pop.people[ev[e].person];
        accent |= pupil.school_surname != dead.surname || pupil.school_forename != dead.forename;
      }
    }
    (ed && school ? x.both : ed ? x.ed_only : school ? x.school_only : x.none) += 1;
    if (school_in_truth && !school) ++x.missed_by_variant;
    if (accent) ++x.accent_linked;
  }

  std::map<std::size_t, std::uint64_t> contacts;
  for (std::size_t e = 0; e < ev.size(); ++e)
    if (ev[e].feed == kEd && ev[e].day() >= first_day && ev[e].day() <= last_day) ++contacts[links.root(e)];
  for (const auto& [root, n] : contacts)
    if (n >= 2) ++x.repeat_contact;
  return x;
}

// ---------------------------------------------------------------------------------------------
// Rows. Each feed's non-identity cells come from synth.cpp's own row writer (RowMaker), so the
// codes, ids and free text are exactly those of `svd-synth FEED`; the people and dates are ours.

void append_csv_row(std::string& out, const std::vector<std::string>& cells) {
  for (std::size_t k = 0; k < cells.size(); ++k) {
    if (k != 0) out.push_back(',');
    append_csv_cell(out, cells[k]);
  }
  out.push_back('\n');
}

void append_csv_header(std::string& out, std::span<const std::string_view> columns) {
  append_csv_row(out, std::vector<std::string>(columns.begin(), columns.end()));
}

class Writer {
 public:
  explicit Writer(std::uint64_t seed)
      : ed_rng_(seed ^ kEdRowSalt),
        school_rng_(seed ^ kSchoolRowSalt),
        death_rng_(seed ^ kDeathRowSalt),
        ed_(row_maker("ed-assaults", ed_rng_)),
        school_(row_maker("school-exclusions", school_rng_)),
        death_(row_maker("death-reports", death_rng_)) {}

  void header(Feed feed, std::string& out) const {
    if (feed == kEd) append_csv_header(out, kEdColumns);
    else append_csv_header(out, (feed == kSchool ? school_ : death_)->columns());
  }

  // Row numbers run on across the weeks, so ids never repeat within the scenario.
  void row(const Event& ev, const Person& p, std::string& out) {
    if (ev.feed == kEd) ed_row(ev, p, out);
    else if (ev.feed == kSchool) school_row(ev, p, out);
    else death_row(ev, p, out);
  }

 private:
  void ed_row(const Event& ev, const Person& p, std::string& out) {
    Rng& rng = ed_rng_;
    ed_->row(rng, ed_rows_++, base_);  // attendance_ref 3, assault_method 6, assault_location_type 8
    std::vector<std::string> c(kEdColumns.size());
    c[0] = std::move(base_[3]);
    if (ev.nhs_known) append_nhs_number(c[1], rng, p.nhs);
    append_name(c[2], rng, p.surname);
    append_name(c[3], rng, p.forename);
    append_iso_date(c[4], civil_from_days(p.birth));
    append_postcode_text(c[5], rng, p.postcode);
    append_iso_datetime(c[6], civil_from_days(ev.when / kSecondsPerDay), ev.when % kSecondsPerDay);
    c[7] = std::move(base_[6]);
    c[8] = std::move(base_[8]);
    append_csv_row(out, c);
  }

  void school_row(const Event& ev, const Person& p, std::string& out) {
    Rng& rng = school_rng_;
    std::vector<std::string>& c = base_;
    school_->row(rng, school_rows_++, c);
    for (const std::size_t k : kSchoolOwnCells) c[k].clear();
    append_name(c[1], rng, to_windows_1252(p.school_surname));
    append_name(c[2], rng, to_windows_1252(p.school_forename));
    append_uk_date(c[3], civil_from_days(p.birth), !rng.percent(25));
    append_postcode_text(c[4], rng, p.postcode);
    append_uk_date(c[7], civil_from_days(ev.when), !rng.percent(10));
    append_csv_row(out, c);
  }

  void death_row(const Event& ev, const Person& p, std::string& out) {
    Rng& rng = death_rng_;
    std::vector<std::string>& c = base_;
    death_->row(rng, death_rows_++, c);
    for (const std::size_t k : kDeathOwnCells) c[k].clear();
    append_nhs_number(c[1], rng, p.nhs);
    append_name(c[2], rng, p.surname);
    append_name(c[3], rng, p.forename);
    append_iso_date(c[4], civil_from_days(p.birth));
    c[5] = p.sex;
    append_postcode_text(c[6], rng, p.postcode);
    append_iso_date(c[7], civil_from_days(ev.when));
    append_csv_row(out, c);
  }

  // The cells this file writes itself (SchoolExclusions / DeathReports::kColumns in synth.cpp).
  static constexpr std::array<std::size_t, 5> kSchoolOwnCells{1, 2, 3, 4, 7};  // names, birth, postcode, start
  static constexpr std::array<std::size_t, 7> kDeathOwnCells{1, 2, 3, 4, 5, 6, 7};  // nhs .. date_of_death

  Rng ed_rng_, school_rng_, death_rng_;
  std::unique_ptr<RowMaker> ed_, school_, death_;
  std::uint64_t ed_rows_ = 0, school_rows_ = 0, death_rows_ = 0;
  std::vector<std::string> base_;
};

// ---------------------------------------------------------------------------------------------
// The manifest, written by hand so that its bytes are fixed.

struct Delivery {
  Feed feed;
  std::uint64_t week;
  std::string file;
  std::string deliver_at;
  std::uint64_t rows;
};

void append_key(std::string& s, std::string_view key) {
  append_json_string(s, key);
  s.append(": ");
}

void append_feed_week(std::string& s, Feed feed, std::uint64_t week) {
  s.append("{");
  append_key(s, "feed");
  append_json_string(s, kFeedIds[feed]);
  s.append(", ");
  append_key(s, "week");
  append_number(s, static_cast<std::int64_t>(week));
}

}  // namespace

std::vector<ScenarioFile> make_scenario(const ScenarioOptions& opt) {
  const std::int64_t start = parse_start(opt.start);
  if (opt.weeks < kMinWeeks || opt.weeks > kMaxWeeks)
    throw std::invalid_argument("--weeks must be between 6 and 52");
  const std::int64_t end = start + 7 * static_cast<std::int64_t>(opt.weeks) - 1;  // the last Sunday

  const Population pop(start, opt.weeks, opt.seed);
  Writer writer(opt.seed);
  std::vector<ScenarioFile> files;
  std::vector<Delivery> deliveries;

  // Week by week, and within a week in the order the partners' exports would come: a death
  // report is the natural last word on the people in it.
  for (std::uint64_t week = 0; week < opt.weeks; ++week) {
    const std::int64_t friday = start + 7 * static_cast<std::int64_t>(week) + 4;
    for (const Feed feed : {kEd, kSchool, kDeath}) {
      if (feed == kSchool && week == kMissedSchoolWeek) continue;
      std::vector<std::size_t> rows;
      for (std::size_t e = 0; e < pop.events.size(); ++e)
        if (pop.events[e].feed == feed && pop.events[e].week == week) rows.push_back(e);
      // An export lists events in time order; the stable sort keeps ties in drawing order.
      std::stable_sort(rows.begin(), rows.end(),
                       [&](std::size_t a, std::size_t b) { return pop.events[a].when < pop.events[b].when; });
      Delivery d{feed, week, std::string(kFeedIds[feed]) + "/week-", iso_date(friday) + "T12:00:00Z", rows.size()};
      append_number(d.file, static_cast<std::int64_t>(week));
      d.file.append(".csv");
      // The gateway refuses a header without rows; every week has events for every feed.
      if (rows.empty()) throw std::logic_error("scenario: no rows for a week's file");
      std::string bytes;
      writer.header(feed, bytes);
      for (const std::size_t e : rows) writer.row(pop.events[e], pop.people[pop.events[e].person], bytes);
      files.push_back({d.file, std::move(bytes)});
      deliveries.push_back(std::move(d));
    }
  }

  const Expected x = expected_links(pop, start, end);
  std::map<Category, std::uint64_t> planted;
  std::array<std::uint64_t, 3> background{};
  for (const Person& p : pop.people) ++planted[p.category];
  for (const Event& e : pop.events)
    if (pop.people[e.person].category == Category::background) ++background[e.feed];

  std::string m = "{\n";
  auto field = [&m](std::string_view key, std::string_view json_value, bool last = false) {
    m.append("  ");
    append_key(m, key);
    m.append(json_value).append(last ? "\n" : ",\n");
  };
  auto json_string = [](std::string_view v) {
    std::string s;
    append_json_string(s, v);
    return s;
  };
  auto number = [](std::uint64_t v) {
    std::string s;
    append_padded(s, v, 0);
    return s;
  };
  field("scenario_version", "1");
  field("start", json_string(iso_date(start)));
  field("end", json_string(iso_date(end)));
  field("weeks", number(opt.weeks));
  field("seed", number(opt.seed));
  field("lookback_months", number(static_cast<std::uint64_t>(kLookbackMonths)));
  field("key_rotation_week", number(kRotationWeek));

  std::string list = "[";
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const Delivery& d = deliveries[i];
    list.append(i == 0 ? "\n    " : ",\n    ");
    append_feed_week(list, d.feed, d.week);
    list.append(", ");
    append_key(list, "file");
    append_json_string(list, d.file);
    list.append(", ");
    append_key(list, "deliver_at");
    append_json_string(list, d.deliver_at);
    list.append(", ");
    append_key(list, "rows");
    append_padded(list, d.rows, 0);
    list.append("}");
  }
  field("deliveries", list + (deliveries.empty() ? "]" : "\n  ]"));
  {
    std::string missed = "[\n    ";
    append_feed_week(missed, kSchool, kMissedSchoolWeek);
    missed.append("}\n  ]");
    field("missed", missed);
  }

  std::string p = "{";
  for (std::size_t i = 0; i < kPlanted.size(); ++i) {
    p.append(i == 0 ? "\n    " : ",\n    ");
    append_key(p, kPlanted[i].name);
    append_padded(p, planted[kPlanted[i].category], 0);
  }
  field("planted", p + "\n  }");
  std::string b = "{";
  for (const Feed f : {kEd, kSchool, kDeath}) {
    b.append(f == kEd ? "" : ", ");
    append_key(b, kFeedIds[f]);
    append_padded(b, background[f], 0);
  }
  field("background_rows", b + "}");

  std::string e = "{\n    ";
  append_key(e, "deaths");
  append_padded(e, x.deaths, 0);
  e.append(",\n    ");
  append_key(e, "linked");
  e.append("{");
  const std::pair<std::string_view, std::uint64_t> linked[] = {{"ed-attendances", x.ed_only},
                                                               {"school-exclusions", x.school_only},
                                                               {"ed-attendances+school-exclusions", x.both},
                                                               {"none", x.none}};
  for (std::size_t i = 0; i < std::size(linked); ++i) {
    if (i != 0) e.append(", ");
    append_key(e, linked[i].first);
    append_padded(e, linked[i].second, 0);
  }
  e.append("},\n    ");
  append_key(e, "repeat_contact");
  append_padded(e, x.repeat_contact, 0);
  e.append(",\n    ");
  append_key(e, "missed_by_variant");
  append_padded(e, x.missed_by_variant, 0);
  e.append(",\n    ");
  append_key(e, "accent_linked");
  append_padded(e, x.accent_linked, 0);
  field("expected", e + "\n  }", true);
  m.append("}\n");

  files.push_back({"scenario.json", std::move(m)});
  return files;
}

void write_scenario(const std::filesystem::path& out_dir, const std::vector<ScenarioFile>& files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !(fs::is_directory(out_dir, ec) && fs::is_empty(out_dir, ec)))
    throw std::invalid_argument(out_dir.string() + " must be an empty folder or not exist yet");
  for (const ScenarioFile& f : files) {
    const fs::path path = out_dir / fs::path(f.path);
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create " + path.parent_path().string() + ": " + ec.message());
    // Binary mode: the bytes, line ends included, are exactly the generated ones.
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("writing " + path.string() + " failed");
  }
}

}  // namespace svd::synth
