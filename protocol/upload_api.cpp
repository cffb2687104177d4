#include "protocol/upload_api.h"

#include <algorithm>

namespace svd::protocol {

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
  }
  return {500, "internal_error", "Internal error", ""};
}

}  // namespace svd::protocol
