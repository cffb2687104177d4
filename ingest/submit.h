#pragma once
// `svdgw submit`: the partner's upload client for the HTTPS upload API (protocol/upload_api.h).
// TLS with the partner's client certificate; the server must chain to --ca alone and match the
// URL's host (crypto/tls_client.h). The file's SHA-256 goes out as Content-Digest and the body is
// streamed from the file; a file that changes after it was hashed is reported. Connection
// failures, timeouts, 5xx and 507 are tried again with backoff and jitter; every 4xx is final.
// The file's contents never reach stdout or stderr. Attempts, exit codes and examples:
// docs/daemon.md, "The upload client".
//
// Exit codes (also run_submit()'s value): 0 accepted, 1 usage or configuration error, 2 refused
// by the gateway, 3 given up. Threads: run_submit() runs its own io_context on the calling thread
// and returns when done.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace svd::ingest {

inline constexpr int kSubmitOk = 0, kSubmitUsage = 1, kSubmitRefused = 2, kSubmitGaveUp = 3;
// With --wait: the extract was refused as a whole when processed, or the hub rejected batches of
// it; the wait ran out first.
inline constexpr int kSubmitNotShared = 4, kSubmitWaitTimedOut = 5;

struct SubmitOptions {
  std::string url;  // https://host[:port][/prefix]
  std::string feed;
  std::filesystem::path file;                   // empty with nothing_to_share
  std::string name;                             // default: file's base name
  std::optional<std::string> nothing_to_share;  // the period; no file then
  std::filesystem::path cert, key, ca;
  unsigned retries = 4;              // attempts after the first one
  double timeout_seconds = 60;       // no progress for this long: the attempt fails
  double max_backoff_seconds = 60;   // cap on the wait between attempts (Retry-After included)
  bool quiet = false;                // no progress bar, no retry notes (errors and receipt stay)
  bool progress = true;              // draw a bar when stderr is a terminal (and not quiet)
  // After the receipt, wait (polling GET /v1/extracts/{id}) until the gateway has processed the
  // extract, or until the hub has also answered every batch of it.
  enum class Wait { none, processed, acknowledged } wait = Wait::none;
  double wait_timeout_seconds = 3600;  // then kSubmitWaitTimedOut
  double poll_seconds = 2;             // between status requests
};

// Prints the receipt on `out` and everything else on `err`.
int run_submit(const SubmitOptions& options, std::ostream& out, std::ostream& err);
int run_submit(const SubmitOptions& options);  // std::cout, std::cerr

// ---- pieces, exposed for tests ------------------------------------------------------------------

struct SubmitUrl {
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 443;
  std::string prefix;       // "" or "/path" without a trailing '/'
  std::string host_header;  // "host[:port]" (the port when not 443; IPv6 in brackets)
  std::string origin;       // "https://" + host_header (for printing the status URL)
};
// https only; no user info, query or fragment; the path, if any, becomes a prefix.
std::optional<SubmitUrl> parse_submit_url(std::string_view url);

// "sha-256=:<base64 of the digest>:" from a hex SHA-256; "" when `hex` is not 64 hex digits.
std::string content_digest_header(std::string_view sha256_hex);

// Seconds to wait from a Retry-After value (delta-seconds only; an HTTP-date gives nullopt).
std::optional<std::uint64_t> parse_retry_after(std::string_view value);

// The wait before attempt `attempt` + 1 (attempt >= 1): 1 s doubling per attempt, capped at
// `max_seconds`, then scaled by `jitter` in [0.5, 1] so clients that failed together do not
// come back together.
double backoff_seconds(unsigned attempt, double max_seconds, double jitter);

}  // namespace svd::ingest
