#pragma once
// Instants as the project writes them everywhere (logs, audit events, reports, the wire):
// ISO 8601 in UTC with a 'Z', to the second or to the millisecond. Pure functions; any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace svd {

// "2027-01-01T00:00:00Z"; seconds since the epoch, before 1970 too.
std::string utc_iso(std::int64_t unix_seconds);
// The same, truncated to the second.
std::string utc_iso(std::chrono::system_clock::time_point t);
// "2027-01-01T00:00:00.123Z", truncated to the millisecond.
std::string utc_iso_ms(std::chrono::system_clock::time_point t);

// "2026-11-23T09:15:20Z", as utc_iso writes it, back to an instant; nothing for any other text,
// nor for an instant system_clock cannot hold (before about 1678 or after about 2262).
std::optional<std::chrono::system_clock::time_point> parse_utc_iso(std::string_view text);

}  // namespace svd
