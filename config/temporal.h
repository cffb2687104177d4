#pragma once
// Calendar values as feeds spell them. Shared by the schema loader (to check constraint
// bounds) and the validator (to check cells), so both agree on what a date is.
//
// Formats: "default" is ISO 8601 (date YYYY-MM-DD; datetime date 'T' or ' ' HH:MM[:SS[.f]]
// with an optional Z or ±HH[:MM] offset; time HH:MM[:SS[.f]]). Any other format is a pattern
// of %Y (4 digits), %m %d %H %M %S (1 or 2 digits), %% and literal characters, matched against
// the whole cell: "%d/%m/%Y" reads 01/03/2024 and 1/3/2024.
// Pure functions: nothing when a value does not parse; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace svd::config {

struct Date {
  int year = 0, month = 0, day = 0;
};

struct TimeOfDay {
  int hour = 0, minute = 0, second = 0;
};

struct DateTime {
  Date date;
  TimeOfDay time;
  // Offset from UTC in minutes when the value carried one ('Z' is 0).
  std::optional<int> offset_minutes;
};

std::optional<Date> parse_date(std::string_view text, std::string_view format);
std::optional<DateTime> parse_datetime(std::string_view text, std::string_view format);
std::optional<TimeOfDay> parse_time(std::string_view text, std::string_view format);

// Empty when `format` can spell a date (needs %Y %m %d), a datetime (also %H %M) or a time
// (%H %M); otherwise what is wrong with it.
std::string check_date_format(std::string_view format);
std::string check_datetime_format(std::string_view format);
std::string check_time_format(std::string_view format);

// Days since 1970-01-01 (proleptic Gregorian), and back.
std::int64_t days_from_civil(Date d);
Date civil_from_days(std::int64_t days);

bool valid_date(Date d);

// Normalised spellings: "2024-03-01", "2024-03-01T14:05:09" plus "Z" or "+01:00" when the
// value had an offset, "14:05:09".
std::string to_iso(Date d);
std::string to_iso(const DateTime& dt);
std::string to_iso(TimeOfDay t);

// Seconds since the epoch in UTC; a value without an offset is taken as UTC.
std::int64_t to_unix_seconds(const DateTime& dt);

}  // namespace svd::config
