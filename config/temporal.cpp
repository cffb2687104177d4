#include "config/temporal.h"

#include <array>
#include <cstdio>

namespace svd::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads between min_digits and max_digits digits at text[pos].
inline std::optional<int> read_number(std::string_view text, std::size_t& pos, std::size_t min_digits,
                               std::size_t max_digits) {
  std::size_t start = pos;
  int value = 0;
  while (pos < text.size() && pos - start < max_digits && is_digit(text[pos])) {
    value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos - start < min_digits) return std::nullopt;
  return value;
}

// Exactly n digits at text[pos]: the ISO layouts are fixed-width, and this runs for every
// date of every row.
inline std::optional<int> read_fixed(std::string_view text, std::size_t& pos, std::size_t n) {
  if (text.size() - pos < n || pos > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned d = static_cast<unsigned char>(text[pos + i]) - unsigned{'0'};
    if (d > 9) return std::nullopt;
    value = value * 10 + static_cast<int>(d);
  }
  pos += n;
  return value;
}

inline bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

bool valid_time(const TimeOfDay& t) {
  return t.hour >= 0 && t.hour <= 23 && t.minute >= 0 && t.minute <= 59 && t.second >= 0 &&
         t.second <= 59;
}

// What a pattern produced; -1 marks a component the pattern does not have.
struct Parts {
  int year = -1, month = -1, day = -1, hour = -1, minute = -1, second = -1;
};

std::optional<Parts> match_pattern(std::string_view text, std::string_view format) {
  Parts parts;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    char f = format[i];
    if (f != '%') {
      if (!expect(text, pos, f)) return std::nullopt;
      continue;
    }
    if (++i == format.size()) return std::nullopt;
    std::optional<int> v;
    switch (format[i]) {
      case 'Y': v = read_number(text, pos, 4, 4); if (v) parts.year = *v; break;
      case 'm': v = read_number(text, pos, 1, 2); if (v) parts.month = *v; break;
      case 'd': v = read_number(text, pos, 1, 2); if (v) parts.day = *v; break;
      case 'H': v = read_number(text, pos, 1, 2); if (v) parts.hour = *v; break;
      case 'M': v = read_number(text, pos, 1, 2); if (v) parts.minute = *v; break;
      case 'S': v = read_number(text, pos, 1, 2); if (v) parts.second = *v; break;
      case '%': if (!expect(text, pos, '%')) return std::nullopt; continue;
      default: return std::nullopt;
    }
    if (!v) return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return parts;
}

std::string check_pattern(std::string_view format, bool needs_date, bool needs_time) {
  if (format == "default") return {};
  std::string seen;  // the conversions used, once each
  auto has = [&seen](char c) { return seen.find(c) != std::string::npos; };
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (i + 1 == format.size()) return "format ends with a lone '%'";
    char c = format[++i];
    if (c != 'Y' && c != 'm' && c != 'd' && c != 'H' && c != 'M' && c != 'S' && c != '%')
      return std::string("format uses %") + c + ", which is not supported (use %Y %m %d %H %M %S)";
    if (c != '%' && has(c))
      return std::string("format uses %") + c + " twice";
    seen += c;
  }
  if (needs_date && !(has('Y') && has('m') && has('d')))
    return "a date format needs %Y, %m and %d";
  if (!needs_date && (has('Y') || has('m') || has('d')))
    return "a time format cannot hold a date (%Y %m %d)";
  if (needs_time && !(has('H') && has('M'))) return "a format with a time needs %H and %M";
  if (!needs_time && (has('H') || has('M') || has('S')))
    return "a date format cannot hold a time (%H %M %S)";
  return {};
}

// HH:MM[:SS[.fraction]] at text[pos].
std::optional<TimeOfDay> read_iso_time(std::string_view text, std::size_t& pos) {
  TimeOfDay t;
  auto h = read_fixed(text, pos, 2);
  if (!h || !expect(text, pos, ':')) return std::nullopt;
  auto m = read_fixed(text, pos, 2);
  if (!m) return std::nullopt;
  t.hour = *h;
  t.minute = *m;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    auto s = read_fixed(text, pos, 2);
    if (!s) return std::nullopt;
    t.second = *s;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      // Sub-second precision never leaves the site; read and drop it.
      if (!read_number(text, pos, 1, 9)) return std::nullopt;
    }
  }
  if (!valid_time(t)) return std::nullopt;
  return t;
}

std::optional<Date> read_iso_date(std::string_view text, std::size_t& pos) {
  Date d;
  auto y = read_fixed(text, pos, 4);
  if (!y || !expect(text, pos, '-')) return std::nullopt;
  auto m = read_fixed(text, pos, 2);
  if (!m || !expect(text, pos, '-')) return std::nullopt;
  auto dd = read_fixed(text, pos, 2);
  if (!dd) return std::nullopt;
  d = {*y, *m, *dd};
  if (!valid_date(d)) return std::nullopt;
  return d;
}

}  // namespace

bool valid_date(Date d) {
  return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
         d.day <= days_in_month(d.year, d.month);
}

std::optional<Date> parse_date(std::string_view text, std::string_view format) {
  if (format == "default") {
    std::size_t pos = 0;
    auto d = read_iso_date(text, pos);
    if (!d || pos != text.size()) return std::nullopt;
    return d;
  }
  auto parts = match_pattern(text, format);
  if (!parts) return std::nullopt;
  Date d{parts->year, parts->month, parts->day};
  if (!valid_date(d)) return std::nullopt;
  return d;
}

std::optional<DateTime> parse_datetime(std::string_view text, std::string_view format) {
  DateTime dt;
  if (format == "default") {
    std::size_t pos = 0;
    auto d = read_iso_date(text, pos);
    if (!d || pos >= text.size() || (text[pos] != 'T' && text[pos] != ' ')) return std::nullopt;
    ++pos;
    auto t = read_iso_time(text, pos);
    if (!t) return std::nullopt;
    dt.date = *d;
    dt.time = *t;
    if (pos < text.size()) {
      char c = text[pos++];
      if (c == 'Z' && pos == text.size()) {
        dt.offset_minutes = 0;
      } else if (c == '+' || c == '-') {
        auto oh = read_fixed(text, pos, 2);
        if (!oh) return std::nullopt;
        int om = 0;
        if (pos < text.size()) {
          expect(text, pos, ':');
          auto m = read_fixed(text, pos, 2);
          if (!m) return std::nullopt;
          om = *m;
        }
        if (pos != text.size() || *oh > 14 || om > 59) return std::nullopt;
        dt.offset_minutes = (c == '-' ? -1 : 1) * (*oh * 60 + om);
      } else {
        return std::nullopt;
      }
    }
    return dt;
  }
  auto parts = match_pattern(text, format);
  if (!parts) return std::nullopt;
  dt.date = {parts->year, parts->month, parts->day};
  dt.time = {parts->hour, parts->minute, parts->second < 0 ? 0 : parts->second};
  if (!valid_date(dt.date) || !valid_time(dt.time)) return std::nullopt;
  return dt;
}

std::optional<TimeOfDay> parse_time(std::string_view text, std::string_view format) {
  if (format == "default") {
    std::size_t pos = 0;
    auto t = read_iso_time(text, pos);
    if (!t || pos != text.size()) return std::nullopt;
    return t;
  }
  auto parts = match_pattern(text, format);
  if (!parts) return std::nullopt;
  TimeOfDay t{parts->hour, parts->minute, parts->second < 0 ? 0 : parts->second};
  if (!valid_time(t)) return std::nullopt;
  return t;
}

std::string check_date_format(std::string_view format) { return check_pattern(format, true, false); }
std::string check_datetime_format(std::string_view format) { return check_pattern(format, true, true); }
std::string check_time_format(std::string_view format) { return check_pattern(format, false, true); }

// Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
std::int64_t days_from_civil(Date d) {
  std::int64_t y = d.year - (d.month <= 2 ? 1 : 0);
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  std::int64_t yoe = y - era * 400;
  std::int64_t mp = (d.month + 9) % 12;
  std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date civil_from_days(std::int64_t z) {
  z += 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(y + (m <= 2 ? 1 : 0)), static_cast<int>(m), static_cast<int>(d)};
}

std::string to_iso(Date d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

std::string to_iso(TimeOfDay t) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", t.hour, t.minute, t.second);
  return buf;
}

std::string to_iso(const DateTime& dt) {
  std::string s = to_iso(dt.date) + 'T' + to_iso(dt.time);
  if (dt.offset_minutes) {
    int off = *dt.offset_minutes;
    if (off == 0) {
      s += 'Z';
    } else {
      char buf[16];
      int a = off < 0 ? -off : off;
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", off < 0 ? '-' : '+', a / 60, a % 60);
      s += buf;
    }
  }
  return s;
}

std::int64_t to_unix_seconds(const DateTime& dt) {
  std::int64_t s = days_from_civil(dt.date) * 86400 + dt.time.hour * 3600 + dt.time.minute * 60 +
                   dt.time.second;
  return s - static_cast<std::int64_t>(dt.offset_minutes.value_or(0)) * 60;
}

}  // namespace svd::config
