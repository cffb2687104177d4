#include "protocol/upload_api.h"

#include <algorithm>
#include <chrono>

namespace svd::protocol {

namespace {

// The number `s` spells in decimal digits, or -1 when it is empty or holds anything else.
int digits(std::string_view s) {
  if (s.empty()) return -1;
  int n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// ISO 8601: a year has 53 weeks when it starts on a Thursday, or on a Wednesday in a leap year.
bool has_week_53(std::chrono::year y) {
  const std::chrono::weekday first{std::chrono::sys_days{y / std::chrono::January / 1}};
  return first == std::chrono::Thursday || (y.is_leap() && first == std::chrono::Wednesday);
}

}  // namespace

bool valid_extract_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxExtractNameBytes || s.front() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

bool valid_extract_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxExtractIdBytes || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool valid_period(std::string_view s) {
  if (s.size() < 7 || s[4] != '-') return false;
  const int y = digits(s.substr(0, 4));
  if (y < 0) return false;
  const std::chrono::year year{y};
  const std::string_view rest = s.substr(5);
  if (rest.size() == 3 && rest[0] == 'W') {
    const int week = digits(rest.substr(1));
    return week >= 1 && (week <= 52 || (week == 53 && has_week_53(year)));
  }
  const int month = digits(rest.substr(0, 2));
  if (rest.size() == 2) return month >= 1 && month <= 12;
  if (rest.size() != 5 || rest[2] != '-' || month < 0) return false;
  const int day = digits(rest.substr(3));
  return day >= 0 && std::chrono::year_month_day{year, std::chrono::month{static_cast<unsigned>(month)},
                                                 std::chrono::day{static_cast<unsigned>(day)}}
                         .ok();
}

std::string extract_path(std::string_view feed, std::string_view name) {
  return "/v1/feeds/" + std::string(feed) + "/extracts/" + std::string(name);
}

std::string nothing_to_share_path(std::string_view feed, std::string_view period) {
  return "/v1/feeds/" + std::string(feed) + "/nothing-to-share/" + std::string(period);
}

std::string extract_status_path(std::string_view id) { return "/v1/extracts/" + std::string(id); }

ProblemSpec problem_spec(Problem p) {
  switch (p) {
    case Problem::bad_request:
      return {400, "bad_request", "Malformed request", "The request is not valid HTTP/1.1 or cannot be served."};
    case Problem::invalid_path:
      return {400, "invalid_path", "Invalid path",
              "The path holds a dot segment, an encoded '/' or another character not allowed in it."};
    case Problem::invalid_feed:
      return {400, "invalid_feed", "Invalid feed id", "A feed id is 1-64 characters of a-z, 0-9 and '-'."};
    case Problem::invalid_name:
      return {400, "invalid_name", "Invalid extract name",
              "An extract name is 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.'."};
    case Problem::invalid_period:
      return {400, "invalid_period", "Invalid period",
              "A nothing-to-share period is an ISO week YYYY-Www, a month YYYY-MM or a day YYYY-MM-DD."};
    case Problem::invalid_id:
      return {400, "invalid_id", "Invalid extract id", "An extract id is 1-128 characters of a-z, 0-9 and '-'."};
    case Problem::body_not_empty:
      return {400, "body_not_empty", "Body must be empty", "A nothing-to-share return has no body."};
    case Problem::bad_content_digest:
      return {400, "bad_content_digest", "Malformed Content-Digest",
              "Content-Digest must be an RFC 9530 dictionary; its sha-256 member a 32-byte byte sequence."};
    case Problem::digest_mismatch:
      return {400, "digest_mismatch", "Content-Digest mismatch",
              "The SHA-256 of the received body differs from the one in Content-Digest; nothing was stored."};
    case Problem::forbidden:
      return {403, "forbidden", "Not allowed", "This client certificate may not send this feed."};
    case Problem::reserved_client:
      return {403, "reserved_client", "Reserved client name",
              "This client certificate's CN is a name the gateway keeps for itself (spool, gateway, hub); "
              "no request is served to it."};
    case Problem::unknown_feed:
      return {404, "unknown_feed", "Unknown feed", "No feed with this id is configured on this gateway."};
    case Problem::not_found:
      return {404, "not_found", "Not found", "No such resource."};
    case Problem::method_not_allowed:
      return {405, "method_not_allowed", "Method not allowed", "See the Allow header."};
    case Problem::conflict:
      return {409, "conflict", "Name already used",
              "This feed already holds an extract of this name with other content."};
    case Problem::too_large:
      return {413, "too_large", "Body too large", "The body exceeds the gateway's size limit; nothing was stored."};
    case Problem::unsupported_content_encoding:
      return {415, "unsupported_content_encoding", "Unsupported Content-Encoding",
              "Send the extract without a Content-Encoding."};
    case Problem::expectation_failed:
      return {417, "expectation_failed", "Expectation failed", "Only Expect: 100-continue is supported."};
    case Problem::header_too_large:
      return {431, "header_too_large", "Request head too large", "The request line and headers exceed the limit."};
    case Problem::internal_error:
      return {500, "internal_error", "Internal error", "The gateway could not store the upload; nothing was stored."};
    case Problem::unsupported_transfer_coding:
      return {501, "unsupported_transfer_coding", "Unsupported Transfer-Encoding", "Only chunked is supported."};
    case Problem::unavailable:
      return {503, "unavailable", "Unavailable", "The gateway is shutting down or busy; retry later."};
    case Problem::storage_full:
      return {507, "storage_full", "Storage full", "The gateway's storage quota is reached; nothing was stored."};
    case Problem::too_slow:
      return {408, "too_slow", "Upload too slow",
              "The body arrived more slowly than the gateway's minimum upload rate; nothing was stored."};
  }
  return {500, "internal_error", "Internal error", ""};
}

}  // namespace svd::protocol
