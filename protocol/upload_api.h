#pragma once
// The upload API's wire contract, shared by its server (ingest/http_api.h) and its client
// (ingest/submit.h, `svdgw submit`): the routes, the rules for the names in them, and the
// problem codes of RFC 9457 replies. The codes are part of the contract: clients branch on them.
// docs/daemon.md describes the API as an export job sees it. Pure; any thread.
//
//   PUT /v1/feeds/{feed}/extracts/{name}          the body is the extract
//   PUT /v1/feeds/{feed}/nothing-to-share/{name}  an explicit "nothing to share" return; {name}
//                                                 is the period (valid_period)
//   GET /v1/extracts/{id}                         state and validation report
//   GET /healthz                                  liveness

#include <cstddef>
#include <string>
#include <string_view>

namespace svd::protocol {

inline constexpr std::size_t kMaxExtractNameBytes = 128;
inline constexpr std::size_t kMaxExtractIdBytes = 128;

// {name}: 1-128 of [A-Za-z0-9._-], not starting with '.'.
bool valid_extract_name(std::string_view name);
// {id}: 1-128 of [a-z0-9-], not starting with '-'.
bool valid_extract_id(std::string_view id);
// The {name} of a nothing-to-share return, its period: an ISO week YYYY-Www (W01-W53, W53 only in
// a year that has one), a month YYYY-MM or a day YYYY-MM-DD that exists. Nothing else, because it
// is recorded in the audit log: an identifier put in its place must not be.
bool valid_period(std::string_view period);

// The paths, from names that passed the checks above (and valid_identity for the feed).
std::string extract_path(std::string_view feed, std::string_view name);
std::string nothing_to_share_path(std::string_view feed, std::string_view period);
std::string extract_status_path(std::string_view id);

// A problem's type is this prefix and its code.
inline constexpr std::string_view kProblemTypePrefix = "https://svd-gateway.example/problems/";

enum class Problem {
  bad_request,
  invalid_path,
  invalid_feed,
  invalid_name,
  invalid_period,
  invalid_id,
  body_not_empty,
  bad_content_digest,
  digest_mismatch,
  forbidden,
  reserved_client,
  unknown_feed,
  not_found,
  method_not_allowed,
  conflict,
  too_large,
  unsupported_content_encoding,
  expectation_failed,
  header_too_large,
  internal_error,
  unsupported_transfer_coding,
  unavailable,
  storage_full,
  too_slow,
};

// Its status, code, title and detail: fixed text that never holds a name, a header value or
// body content.
struct ProblemSpec {
  int status;
  std::string_view code, title, detail;
};
ProblemSpec problem_spec(Problem p);

}  // namespace svd::protocol
