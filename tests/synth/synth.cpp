#include "tests/synth/synth.h"

#include "tests/synth/synth_detail.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace svd::synth {
// The helpers synth_detail.h declares, which scenario.cpp shares.
namespace detail {

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::int64_t days_in_month(std::int64_t y, std::int64_t m) {
  constexpr std::array<std::int64_t, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t days_from_civil(Date d) {
  const std::int64_t y = d.month <= 2 ? d.year - 1 : d.year;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (d.month > 2 ? d.month - 3 : d.month + 9) + 2) / 5 + d.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t random_day(Rng& rng, Date first, Date last) {
  return rng.between(days_from_civil(first), days_from_civil(last));
}

// ---------------------------------------------------------------------------------------------
// Text. Hand-rolled digits so that no locale (or std::format availability) can change output.

void append_padded(std::string& s, std::uint64_t v, std::size_t width) {
  char digits[20];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = n; i < width; ++i) s.push_back('0');
  while (n > 0) s.push_back(digits[--n]);
}

void append_number(std::string& s, std::int64_t v, std::size_t width) {
  if (v < 0) s.push_back('-');
  append_padded(s, v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v), width);
}

void append_iso_date(std::string& s, Date d) {
  append_number(s, d.year, 4);
  s.push_back('-');
  append_number(s, d.month, 2);
  s.push_back('-');
  append_number(s, d.day, 2);
}

void append_time(std::string& s, std::int64_t second_of_day) {
  append_number(s, second_of_day / 3600, 2);
  s.push_back(':');
  append_number(s, second_of_day / 60 % 60, 2);
  s.push_back(':');
  append_number(s, second_of_day % 60, 2);
}

void append_iso_datetime(std::string& s, Date d, std::int64_t second_of_day) {
  append_iso_date(s, d);
  s.push_back('T');
  append_time(s, second_of_day);
}

// Council exports drop leading zeros now and then (3/7/2012); the gateway must take both.
void append_uk_date(std::string& s, Date d, bool zero_padded) {
  const std::size_t width = zero_padded ? 2 : 0;
  append_number(s, d.day, width);
  s.push_back('/');
  append_number(s, d.month, width);
  s.push_back('/');
  append_number(s, d.year, 4);
}

// RFC 4180, quoting only when needed: unconditional quoting would never exercise the reader's
// unquoted path.
void append_csv_cell(std::string& s, std::string_view cell) {
  // A plain loop: find_first_of runs memchr per character, a fifth of the whole run time.
  bool needs_quotes = false;
  for (const char c : cell) needs_quotes |= c == ',' || c == '"' || c == '\r' || c == '\n';
  if (!needs_quotes) {
    s.append(cell);
    return;
  }
  s.push_back('"');
  for (const char c : cell) {
    if (c == '"') s.push_back('"');
    s.push_back(c);
  }
  s.push_back('"');
}

// Bytes >= 0x80 pass through untouched: the input is UTF-8 and JSON allows it raw.
void append_json_string(std::string& s, std::string_view v) {
  constexpr std::string_view kHex = "0123456789abcdef";
  s.push_back('"');
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s.push_back('\\');
      s.push_back(c);
    } else if (u < 0x20) {
      s.append("\\u00");
      s.push_back(kHex[static_cast<std::size_t>(u >> 4)]);
      s.push_back(kHex[static_cast<std::size_t>(u & 0x0F)]);
    } else {
      s.push_back(c);
    }
  }
  s.push_back('"');
}

// The name lists only use U+00A0..U+00FF beyond ASCII, where Windows-1252 and Unicode agree
// code for code. Anything else is a slip in this file, not data.
std::string to_windows_1252(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    if (lead < 0x80) {
      out.push_back(utf8[i]);
      continue;
    }
    if ((lead == 0xC2 || lead == 0xC3) && i + 1 < utf8.size()) {
      const auto trail = static_cast<unsigned char>(utf8[i + 1]);
      const unsigned code = ((lead & 0x1Fu) << 6) | (trail & 0x3Fu);
      if ((trail & 0xC0u) == 0x80u && code >= 0xA0) {
        out.push_back(static_cast<char>(code));
        ++i;
        continue;
      }
    }
    throw std::logic_error("svd-synth: a name is not representable in Windows-1252");
  }
  return out;
}

// Stray spaces around names are common in real exports and must not break the person token.
void append_name(std::string& s, Rng& rng, std::string_view name) {
  const std::uint64_t u = rng.uniform(100);
  if (u == 0) s.push_back(' ');
  s.append(name);
  if (u == 1) s.push_back(' ');
}

// ---------------------------------------------------------------------------------------------
// NHS numbers: 999 test range only, which the NHS never issues to patients.

NhsDigits draw_nhs_number(Rng& rng) {
  NhsDigits d{'9', '9', '9'};
  for (;;) {
    for (std::size_t i = 3; i < 9; ++i) d[i] = rng.digit();
    int sum = 0;
    for (std::size_t i = 0; i < 9; ++i) sum += (d[i] - '0') * static_cast<int>(10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;  // this prefix has no valid number at all
    d[9] = static_cast<char>('0' + check);
    return d;
  }
}

// The gateway accepts spaces and hyphens as separators, so exports show all three shapes.
void append_nhs_number(std::string& s, Rng& rng, const NhsDigits& d) {
  const std::uint64_t u = rng.uniform(100);
  const char separator = u < 80 ? '\0' : (u < 90 ? ' ' : '-');
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (separator != '\0' && (i == 3 || i == 6)) s.push_back(separator);
    s.push_back(d[i]);
  }
}

// Writes canonical "SW1A 2XY" mostly, else lower case or without the space: both are common in
// partner exports and the gateway normalises them.
void append_postcode_text(std::string& s, Rng& rng, std::string_view canonical) {
  const std::uint64_t u = rng.uniform(100);
  for (const char c : canonical) {
    if (u < 6) {
      s.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    } else if (u < 12) {
      if (c != ' ') s.push_back(c);
    } else {
      s.push_back(c);
    }
  }
}

}  // namespace detail

namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Postcodes: Royal Mail shapes with the position rules the gateway enforces.

constexpr std::string_view kFirstLetters = "ABCDEFGHIJKLMNOPRSTUWYZ";  // not Q V X
constexpr std::string_view kSecondLetters = "ABCDEFGHKLMNOPQRSTUVWXY";  // not I J Z
constexpr std::string_view kA9ALetters = "ABCDEFGHJKPSTUW";
constexpr std::string_view kAA9ALetters = "ABEHMNPRVWXY";
constexpr std::string_view kForbiddenInward = "CIKMOV";

void append_outward(std::string& s, Rng& rng) {
  s.push_back(rng.pick_char(kFirstLetters));
  // Two-letter areas dominate real data; the rarer shapes still show up in any sizeable file.
  switch (rng.uniform(10)) {
    case 0:  // A9
      s.push_back(rng.digit(1));
      break;
    case 1:  // A99
      s.push_back(rng.digit(1));
      s.push_back(rng.digit());
      break;
    case 2: case 3: case 4:  // AA9
      s.push_back(rng.pick_char(kSecondLetters));
      s.push_back(rng.digit(1));
      break;
    case 5: case 6: case 7:  // AA99
      s.push_back(rng.pick_char(kSecondLetters));
      s.push_back(rng.digit(1));
      s.push_back(rng.digit());
      break;
    case 8:  // A9A
      s.push_back(rng.digit(1));
      s.push_back(rng.pick_char(kA9ALetters));
      break;
    default:  // AA9A
      s.push_back(rng.pick_char(kSecondLetters));
      s.push_back(rng.digit(1));
      s.push_back(rng.pick_char(kAA9ALetters));
      break;
  }
}

void append_postcode(std::string& s, Rng& rng, bool forbidden_inward) {
  std::string canonical;
  append_outward(canonical, rng);
  canonical.push_back(' ');
  canonical.push_back(rng.digit());
  const std::string_view letters = forbidden_inward ? kForbiddenInward : kInwardLetters;
  canonical.push_back(rng.pick_char(letters));
  canonical.push_back(rng.pick_char(letters));
  append_postcode_text(s, rng, canonical);
}

// About 5 % unknown and 1 % the NHS pseudo-postcodes for no fixed abode / not known.
void append_optional_postcode(std::string& s, Rng& rng) {
  const std::uint64_t u = rng.uniform(1000);
  if (u < 50) return;
  if (u < 55) return append_postcode_text(s, rng, "ZZ99 3VZ");
  if (u < 60) return append_postcode_text(s, rng, "ZZ99 3WZ");
  append_postcode(s, rng, false);
}

// ---------------------------------------------------------------------------------------------
// Output: rows are assembled in one reused buffer and handed to the stream in large chunks,
// which keeps a million rows to about a second without holding the file in memory.

class Sink {
 public:
  explicit Sink(std::ostream& out) : out_(out) { buf_.reserve(kFlushAt + 64 * 1024); }

  std::string& buffer() { return buf_; }

  void row_done() {
    if (buf_.size() >= kFlushAt) flush();
  }

  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
    if (!out_) throw std::runtime_error("svd-synth: writing the extract failed");
  }

 private:
  static constexpr std::size_t kFlushAt = 256 * 1024;
  std::ostream& out_;
  std::string buf_;
};

// ---------------------------------------------------------------------------------------------
// Feeds. Each has its columns, a constructor for per-file choices (drawn first, so they depend
// on the seed only) and row(), which fills one cell per column and applies at most one defect.

class EdAssaults {
 public:
  static constexpr std::uint64_t kSalt = 0x45442D4153534C54ULL;
  static constexpr std::array<std::string_view, 10> kColumns{
      "site_code",       "reporting_period_start", "reporting_period_end", "attendance_ref",
      "arrival_datetime", "assault_datetime",      "assault_method",       "assault_method_other",
      "assault_location_type", "assault_location_description"};
  using Cells = std::array<std::string, kColumns.size()>;

  explicit EdAssaults(Rng& rng) {
    const std::int64_t month = rng.between(1, 12);
    const Date first{2024, month, 1};
    first_day_ = days_from_civil(first);
    month_days_ = days_in_month(2024, month);
    append_iso_date(period_start_, first);
    append_iso_date(period_end_, {2024, month, month_days_});
    // An affine map with a multiplier coprime to 10^8 permutes 0..10^8-1: references look
    // random yet never repeat within a file.
    ref_multiplier_ = rng.uniform(kRefModulus - 16);
    while (ref_multiplier_ % 2 == 0 || ref_multiplier_ % 5 == 0) ++ref_multiplier_;
    ref_offset_ = rng.uniform(kRefModulus);
  }

  void row(Rng& rng, std::uint64_t index, bool defective, Cells& c) {
    c[0] = rng.pick(kSites);
    c[1] = period_start_;
    c[2] = period_end_;
    c[3].push_back('A');
    append_padded(c[3], (ref_multiplier_ * (index % kRefModulus) + ref_offset_) % kRefModulus, 8);
    // Reversing the digits is another permutation, and hides the constant stride.
    std::reverse(c[3].begin() + 1, c[3].end());

    // One draw per statement throughout: the operands of + and the arguments of a call are
    // evaluated in an unspecified order, which differs between compilers.
    const std::int64_t arrival_day = first_day_ + rng.between(0, month_days_ - 1);
    const std::int64_t arrival = arrival_day * kSecondsPerDay + rng.between(0, kSecondsPerDay - 1);
    const std::int64_t assault = arrival - rng.between(0, 48 * 3600);
    append_datetime(c[4], arrival);
    append_datetime(c[5], assault);

    const std::int64_t method = rng.between(1, 12);
    append_number(c[6], method, 2);
    // Code 12 is "other", which is what the free text is for; a few sites fill it regardless.
    if (method == 12 || rng.percent(4)) c[7] = rng.pick(kMethodOther);
    append_number(c[8], rng.between(1, 10), 2);
    append_location(c[9], rng);

    if (!defective) return;
    switch (rng.uniform(4)) {
      case 0:  // missing_required
        c[5].clear();
        break;
      case 1:  // pattern_mismatch
        c[6] = "1X2";
        break;
      case 2:  // invalid_datetime: 30 February
        c[4] = "2024-02-30T";
        append_time(c[4], arrival % kSecondsPerDay);
        break;
      default: {  // in_future: keep month, day and time, clamping 29 Feb to a real 2099 date
        Date d = civil_from_days(assault / kSecondsPerDay);
        d.year = 2099;
        if (d.day > days_in_month(d.year, d.month)) d.day = days_in_month(d.year, d.month);
        c[5].clear();
        append_iso_datetime(c[5], d, assault % kSecondsPerDay);
        break;
      }
    }
  }

 private:
  static constexpr std::uint64_t kRefModulus = 100000000;

  static constexpr std::array<std::string_view, 5> kSites{"RXH01", "RXH02", "RYJ", "RYJ02", "RAX01"};

  static constexpr std::array<std::string_view, 12> kMethodOther{
      "Bottle, glass",    "Hot drink thrown", "Dog set on victim", "Bike lock",
      "Brick",            "Stamped on head",  "Screwdriver",       "Vehicle, deliberate",
      "Bitten",           "Pool cue",         "Kettle, \"boiling\"", "Belt buckle"};

  static constexpr std::array<std::string_view, 8> kPubs{
      "Crown", "Red Lion", "Feathers", "Anchor", "Plough", "Black Horse", "Kings Arms", "Wheatsheaf"};

  static constexpr std::array<std::string_view, 10> kStreets{
      "High St",        "Station Rd",  "Market Sq",  "Church Lane", "Mill Road",
      "Queen's Parade", "London Road", "Victoria St", "The Broadway", "Bridge St"};

  static constexpr std::array<std::string_view, 8> kShops{
      "the chip shop", "Kebab House", "off-licence", "24h garage",
      "Pizza Place",   "bookmakers",  "Late Shop",   "corner shop"};

  static constexpr std::array<std::string_view, 5> kEstates{
      "Northgate", "Riverside", "Meadowbank", "Hillcrest", "Parkview"};

  static void append_datetime(std::string& s, std::int64_t unix_seconds) {
    append_iso_datetime(s, civil_from_days(unix_seconds / kSecondsPerDay), unix_seconds % kSecondsPerDay);
  }

  // Free text written by reception staff: commas and quotes are routine, and a line break
  // inside a cell turns up now and then. Every template stays within 60 characters.
  static void append_location(std::string& s, Rng& rng) {
    if (rng.percent(10)) return;
    if (rng.per_mille(15)) {
      s.append("Taxi rank by the station\nnear ").append(rng.pick(kStreets));
      return;
    }
    switch (rng.uniform(9)) {
      case 0: {
        const std::string_view pub = rng.pick(kPubs);
        s.append("Pub \"The ").append(pub).append("\", ").append(rng.pick(kStreets));
        break;
      }
      case 1: {
        const std::string_view shop = rng.pick(kShops);
        s.append("Outside ").append(shop).append(", ").append(rng.pick(kStreets));
        break;
      }
      case 2: s.append(rng.pick(kStreets)).append(" bus stop"); break;
      case 3: s.append("Car park behind \"").append(rng.pick(kShops)).append("\""); break;
      case 4: s.append("Home address"); break;
      case 5: s.append("Nightclub queue, ").append(rng.pick(kStreets)); break;
      case 6: s.append("Park, near the \"skate\" ramp"); break;
      case 7: s.append("Train station, platform "); append_number(s, rng.between(1, 6)); break;
      default: s.append("Stairwell, ").append(rng.pick(kEstates)).append(" estate"); break;
    }
  }

  std::string period_start_;
  std::string period_end_;
  std::int64_t first_day_ = 0;
  std::int64_t month_days_ = 0;
  std::uint64_t ref_multiplier_ = 1;
  std::uint64_t ref_offset_ = 0;
};

// An ambulance service's call-outs for one month: every incident, of which about half are
// assaults or stab/gunshot wounds (the feed's svd:filter keeps only those), with AMPDS-style
// dispatch codes (recoded to shared categories), an integer age and the incident's postcode.
class AmbulanceCallouts {
 public:
  static constexpr std::uint64_t kSalt = 0x414D42554C414E43ULL;
  static constexpr std::array<std::string_view, 8> kColumns{
      "incident_ref", "call_datetime", "incident_category", "dispatch_code",
      "patient_age",  "patient_sex",   "incident_postcode", "conveyed"};
  using Cells = std::array<std::string, kColumns.size()>;

  explicit AmbulanceCallouts(Rng& rng) {
    const std::int64_t month = rng.between(1, 12);
    first_day_ = days_from_civil({2024, month, 1});
    month_days_ = days_in_month(2024, month);
    ref_offset_ = rng.uniform(1000000);
  }

  void row(Rng& rng, std::uint64_t index, bool defective, Cells& c) {
    c[0] = "INC";
    append_padded(c[0], (ref_offset_ + index) % 10000000, 7);
    const std::int64_t day = first_day_ + rng.between(0, month_days_ - 1);
    append_iso_datetime(c[1], civil_from_days(day), rng.between(0, kSecondsPerDay - 1));
    // A defective row is always one the feed shares, so that it is rejected, not filtered.
    const std::int64_t kind = defective ? rng.between(0, 4) : rng.between(0, 9);
    if (kind < 4) {
      c[2] = "ASSAULT";
      c[3] = rng.pick(kAssaultCodes);
    } else if (kind < 5) {
      c[2] = "STAB_GUNSHOT";
      c[3] = rng.pick(kPenetratingCodes);
    } else {
      c[2] = rng.pick(kOtherCategories);
      c[3] = rng.pick(kOtherCodes);
    }
    // Assault victims are mostly young adults; other call-outs span every age.
    const std::int64_t age = kind < 5 ? rng.between(12, 45) : rng.between(0, 99);
    append_number(c[4], age);
    c[5] = rng.pick(kSexes);
    append_postcode(c[6], rng, false);
    c[7] = rng.percent(70) ? "Y" : "N";

    if (!defective) return;
    switch (rng.uniform(4)) {
      case 0:  // invalid_age: a typing slip
        c[4] = "-" + c[4];
        break;
      case 1:  // pattern_mismatch: a code from another dispatch system
        c[3] = "ASLT";
        break;
      case 2:  // invalid_integer
        c[4] = "unknown";
        break;
      default:  // missing_required
        c[1].clear();
        break;
    }
  }

 private:
  static constexpr std::array<std::string_view, 4> kAssaultCodes{"04A01", "04B01", "04D01", "04D03"};
  static constexpr std::array<std::string_view, 3> kPenetratingCodes{"27A01", "27B01", "27D01"};
  static constexpr std::array<std::string_view, 4> kOtherCategories{"FALL", "MEDICAL", "RTC", "OTHER"};
  static constexpr std::array<std::string_view, 5> kOtherCodes{"17A01", "10D01", "29B01", "26A01", "06C01"};
  static constexpr std::array<std::string_view, 3> kSexes{"M", "F", "U"};

  std::int64_t first_day_ = 0;
  std::int64_t month_days_ = 0;
  std::uint64_t ref_offset_ = 0;
};

class DeathReports {
 public:
  static constexpr std::uint64_t kSalt = 0x4445415448525054ULL;
  static constexpr std::array<std::string_view, 11> kColumns{
      "report_id", "nhs_number",    "surname",             "forename",       "date_of_birth",
      "sex",       "postcode",      "date_of_death",       "place_of_death_type",
      "cause_category", "reporting_agency"};
  using Cells = std::array<std::string, kColumns.size()>;

  // Small offset so that files below 900,000 rows keep six-digit ids; beyond that the ids
  // grow a digit, which the schema pattern allows, rather than repeat.
  explicit DeathReports(Rng& rng) : id_offset_(rng.uniform(100000)) {}

  void row(Rng& rng, std::uint64_t index, bool defective, Cells& c) {
    c[0] = "DR-";
    append_padded(c[0], id_offset_ + index, 6);
    if (!rng.percent(10)) append_nhs_number(c[1], rng, draw_nhs_number(rng));  // else unknown
    append_name(c[2], rng, rng.pick(kSurnames));
    append_name(c[3], rng, rng.pick(kForenames));
    append_iso_date(c[4], civil_from_days(random_day(rng, {1925, 1, 1}, {2010, 12, 31})));
    const std::uint64_t sex = rng.uniform(100);
    c[5] = sex < 48 ? "M" : sex < 96 ? "F" : sex < 98 ? "X" : "U";
    append_optional_postcode(c[6], rng);
    append_iso_date(c[7], civil_from_days(random_day(rng, {2023, 1, 1}, {2025, 6, 30})));
    c[8] = pick_weighted(rng, kPlaces);
    c[9] = pick_weighted(rng, kCauses);
    c[10] = pick_weighted(rng, kAgencies);

    if (!defective) return;
    switch (rng.uniform(6)) {
      case 0: {  // invalid_nhs_number: any digit but the right one
        NhsDigits d = draw_nhs_number(rng);
        d[9] = static_cast<char>('0' + (static_cast<std::uint64_t>(d[9] - '0') + 1 + rng.uniform(9)) % 10);
        c[1].clear();
        append_nhs_number(c[1], rng, d);
        break;
      }
      case 1:  // invalid_postcode
        c[6].clear();
        append_postcode(c[6], rng, true);
        break;
      case 2: {  // invalid_date: 30 February of the drawn birth year
        const std::string year = c[4].substr(0, 4);
        c[4] = year + "-02-30";
        break;
      }
      case 3:  // missing_required
        c[7].clear();
        break;
      case 4:  // not_in_enum
        c[8] = "garden";
        break;
      default: {  // invalid_age: born after death, both dates in the past and well formed
        const std::int64_t death = random_day(rng, {2023, 1, 1}, {2024, 6, 30});
        const std::int64_t birth = death + rng.between(1, 365);
        c[4].clear();
        append_iso_date(c[4], civil_from_days(birth));
        c[7].clear();
        append_iso_date(c[7], civil_from_days(death));
        break;
      }
    }
  }

 private:
  static constexpr std::array<Weighted, 6> kPlaces{{
      {"home", 35}, {"care_home", 12}, {"hospital", 40}, {"public_place", 6}, {"prison", 1}, {"other", 6}}};
  static constexpr std::array<Weighted, 7> kCauses{{{"natural", 45},
                                                    {"accident", 12},
                                                    {"self_harm", 8},
                                                    {"violence", 6},
                                                    {"drugs_alcohol", 10},
                                                    {"undetermined", 5},
                                                    {"awaiting", 14}}};
  static constexpr std::array<Weighted, 5> kAgencies{
      {{"police", 30}, {"nhs", 20}, {"ambulance", 15}, {"coroner", 30}, {"council", 5}}};

  std::uint64_t id_offset_;
};

class SchoolExclusions {
 public:
  static constexpr std::uint64_t kSalt = 0x5343484F4F4C4558ULL;
  static constexpr std::array<std::string_view, 12> kColumns{
      "record_id",  "surname",    "forename",       "date_of_birth", "postcode", "school_urn",
      "exclusion_type", "start_date", "sessions",   "reason_code",   "weapon_involved", "notes"};
  using Cells = std::array<std::string, kColumns.size()>;

  explicit SchoolExclusions(Rng& rng) {
    // Converted once: the feed is Windows-1252 from end to end, like a council export.
    for (const std::string_view n : kSurnames) surnames_.push_back(to_windows_1252(n));
    for (const std::string_view n : kForenames) forenames_.push_back(to_windows_1252(n));
    // A real council has a few dozen schools, so URNs repeat across rows.
    for (std::uint64_t& urn : urns_) urn = 100000 + rng.uniform(900000);
  }

  void row(Rng& rng, std::uint64_t index, bool defective, Cells& c) {
    append_padded(c[0], index + 1, 0);
    append_name(c[1], rng, surnames_[rng.index(surnames_.size())]);
    append_name(c[2], rng, forenames_[rng.index(forenames_.size())]);
    const Date birth = civil_from_days(random_day(rng, {2006, 1, 1}, {2019, 12, 31}));
    append_uk_date(c[3], birth, !rng.percent(25));
    append_optional_postcode(c[4], rng);
    append_padded(c[5], rng.pick(urns_), 6);
    const bool suspension = rng.percent(90);
    c[6] = suspension ? "suspension" : "permanent";
    const std::int64_t start = school_day(rng);
    append_uk_date(c[7], civil_from_days(start), !rng.percent(10));
    if (suspension) append_sessions(c[8], rng);  // a permanent exclusion has no end to count to
    c[9] = rng.pick(kReasons);
    c[10] = (c[9] == "WEA" || rng.percent(3)) ? "Y" : "N";
    append_notes(c[11], rng);

    if (!defective) return;
    switch (rng.uniform(5)) {
      case 0: {  // invalid_date: a day the month does not have
        constexpr std::array<std::string_view, 5> kNoSuchDay{
            "31/06/", "31/04/", "31/09/", "31/11/", "30/02/"};
        c[3] = rng.pick(kNoSuchDay);
        append_number(c[3], birth.year, 4);
        break;
      }
      case 1:  // not_in_enum
        c[6] = "expelled";
        break;
      case 2:  // below_minimum
        c[8] = "-";
        append_number(c[8], rng.between(1, 5));
        break;
      case 3:  // invalid_integer
        c[0] = "abc";
        break;
      default:  // missing_required
        c[1].clear();
        break;
    }
  }

 private:
  static constexpr std::array<std::string_view, 12> kReasons{
      "PA", "VA", "DA", "BU", "DMG", "OW", "WEA", "RAC", "SEX", "DRG", "TH", "MIS"};

  // A weekday of the 2023/24 school year; weekends roll forward to Monday.
  static std::int64_t school_day(Rng& rng) {
    const std::int64_t day = random_day(rng, {2023, 9, 4}, {2024, 7, 19});
    const std::int64_t weekday = (day + 3) % 7;  // 0 = Monday; 1970-01-01 was a Thursday
    return weekday >= 5 ? day + (7 - weekday) : day;
  }

  // Half-day sessions, so values like 1, 2.5 and 10, written without floating point.
  static void append_sessions(std::string& s, Rng& rng) {
    if (rng.percent(30)) {
      append_number(s, rng.between(0, 9));
      s.append(".5");
    } else {
      append_number(s, rng.between(1, 10));
    }
  }

  // Notes are dropped by the schema, so they may name another child: a good test that free
  // text never leaks.
  void append_notes(std::string& s, Rng& rng) const {
    if (rng.percent(30)) return;
    switch (rng.uniform(8)) {
      case 0: {
        const std::string& forename = forenames_[rng.index(forenames_.size())];
        const std::string& surname = surnames_[rng.index(surnames_.size())];
        s.append("Fight at lunch with ").append(forename).append(" ").append(surname);
        break;
      }
      case 1: s.append("Verbal abuse towards staff"); break;
      case 2: s.append("Damage to toilets, second time this term"); break;
      case 3: s.append("Knife found in bag; police informed"); break;
      case 4: s.append("Persistent disruption in lessons"); break;
      case 5: s.append("Parent meeting held, \"reintegration\" plan agreed"); break;
      case 6: s.append("Bullying of ").append(forenames_[rng.index(forenames_.size())])
                  .append(" reported by parent"); break;
      default: s.append("Refused to hand over phone"); break;
    }
  }

  std::vector<std::string> surnames_;
  std::vector<std::string> forenames_;
  std::array<std::uint64_t, 30> urns_{};
};

// ---------------------------------------------------------------------------------------------

// Integer comparison against a 53-bit threshold keeps the defect decision exact and
// platform-independent (the double product is exact IEEE arithmetic).
std::uint64_t defect_threshold(double rate) {
  if (!(rate >= 0.0 && rate <= 1.0)) throw std::invalid_argument("invalid_rate must be in [0, 1]");
  return static_cast<std::uint64_t>(rate * 9007199254740992.0);  // 2^53
}

// Seeds the stream that decides null versus omitted in JSON Lines, kept apart from the record
// stream so that the CSV and JSONL death reports carry identical records.
constexpr std::uint64_t kShapeSalt = 0x9E3779B97F4A7C15ULL;

enum class Format { csv, jsonl };

template <class Feed>
void run(Format format, std::uint64_t rows, std::uint64_t seed, std::ostream& out, const Options& opt) {
  const std::uint64_t threshold = defect_threshold(opt.invalid_rate);
  const std::string_view eol = opt.crlf ? "\r\n" : "\n";
  // Salted per feed: the same seed must not make two feeds draw the same people in step.
  Rng rng(seed ^ Feed::kSalt);
  Rng shape(seed ^ kShapeSalt);
  Feed feed(rng);
  Sink sink(out);
  std::string& buf = sink.buffer();

  if (format == Format::csv) {
    for (std::size_t k = 0; k < Feed::kColumns.size(); ++k) {
      if (k != 0) buf.push_back(',');
      append_csv_cell(buf, Feed::kColumns[k]);
    }
    buf.append(eol);
  }

  typename Feed::Cells cells;
  for (std::uint64_t i = 0; i < rows; ++i) {
    for (std::string& cell : cells) cell.clear();
    const bool defective = (rng.next() >> 11) < threshold;
    feed.row(rng, i, defective, cells);
    if (format == Format::csv) {
      for (std::size_t k = 0; k < cells.size(); ++k) {
        if (k != 0) buf.push_back(',');
        append_csv_cell(buf, cells[k]);
      }
    } else {
      buf.push_back('{');
      bool first = true;
      for (std::size_t k = 0; k < cells.size(); ++k) {
        const bool empty = cells[k].empty();
        if (empty && shape.uniform(2) == 0) continue;  // omitted
        if (!first) buf.push_back(',');
        first = false;
        append_json_string(buf, Feed::kColumns[k]);
        buf.push_back(':');
        if (empty) {
          buf.append("null");
        } else {
          append_json_string(buf, cells[k]);
        }
      }
      buf.push_back('}');
    }
    buf.append(eol);
    sink.row_done();
  }
  sink.flush();
}

// One valid row at a time for the scenario (synth_detail.h): the feed's own row(), never
// defective, without the per-row defect draw of run(), which only decides defects.
template <class Feed>
class FeedRows final : public RowMaker {
 public:
  explicit FeedRows(Rng& rng) : feed_(rng) {}

  std::span<const std::string_view> columns() const override { return Feed::kColumns; }

  void row(Rng& rng, std::uint64_t index, std::vector<std::string>& cells) override {
    typename Feed::Cells c;
    feed_.row(rng, index, false, c);
    cells.assign(std::make_move_iterator(c.begin()), std::make_move_iterator(c.end()));
  }

 private:
  Feed feed_;
};

}  // namespace

std::unique_ptr<RowMaker> detail::row_maker(std::string_view feed, Rng& rng) {
  if (feed == "ed-assaults") return std::make_unique<FeedRows<EdAssaults>>(rng);
  if (feed == "death-reports") return std::make_unique<FeedRows<DeathReports>>(rng);
  if (feed == "school-exclusions") return std::make_unique<FeedRows<SchoolExclusions>>(rng);
  throw std::invalid_argument("no row maker for feed \"" + std::string(feed) + "\"");
}

std::vector<std::string> feeds() {
  return {"ed-assaults", "death-reports", "death-reports-jsonl", "school-exclusions", "ambulance-callouts"};
}

void generate(std::string_view feed, std::uint64_t rows, std::uint64_t seed, std::ostream& out,
              const Options& opt) {
  if (feed == "ed-assaults") return run<EdAssaults>(Format::csv, rows, seed, out, opt);
  if (feed == "death-reports") return run<DeathReports>(Format::csv, rows, seed, out, opt);
  if (feed == "death-reports-jsonl") return run<DeathReports>(Format::jsonl, rows, seed, out, opt);
  if (feed == "school-exclusions") return run<SchoolExclusions>(Format::csv, rows, seed, out, opt);
  if (feed == "ambulance-callouts") return run<AmbulanceCallouts>(Format::csv, rows, seed, out, opt);
  throw std::invalid_argument("unknown feed \"" + std::string(feed) + "\"");
}

}  // namespace svd::synth
