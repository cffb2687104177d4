#include "base/time.h"

#include <ctime>

namespace svd {

namespace {

// Floor division, so that instants before 1970 land on the right second.
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string format(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[40];
  if (::gmtime_r(&t, &tm) == nullptr) return "?";
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return n == 0 ? std::string("?") : std::string(buf, n);
}

}  // namespace

std::string utc_iso(std::int64_t unix_seconds) { return format(unix_seconds) + 'Z'; }

std::string utc_iso(std::chrono::system_clock::time_point t) {
  return utc_iso(std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count());
}

std::string utc_iso_ms(std::chrono::system_clock::time_point t) {
  const std::int64_t ms = std::chrono::floor<std::chrono::milliseconds>(t).time_since_epoch().count();
  const std::int64_t secs = floor_div(ms, 1000);
  const auto frac = static_cast<int>(ms - secs * 1000);
  std::string out = format(secs);
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += 'Z';
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_utc_iso(std::string_view text) {
  const std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  // system_clock counts nanoseconds in 64 bits (about 1678 to 2262): converting a year such as
  // 0226 from a peer's message would overflow.
  constexpr std::int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count();
  const std::int64_t secs = ::timegm(&tm);
  if (secs < -kLimit || secs > kLimit) return std::nullopt;
  return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(secs));
}

}  // namespace svd
