#pragma once
// `svdgw submit`: the partner's upload client for the HTTPS upload API (DESIGN 3.4, 3.7).
//
//   PUT {url}/v1/feeds/{feed}/extracts/{name}           the file, streamed
//   PUT {url}/v1/feeds/{feed}/nothing-to-share/{period} an empty body
//
// TLS 1.2+ with the partner's client certificate; the server must chain to --ca alone and match
// the URL's host (crypto/tls_client.h). The file's SHA-256 is computed before anything is sent
// and goes out as `Content-Digest: sha-256=:<base64>:` (RFC 9530), with Content-Length; the body
// is then read from the file in chunks (never whole in memory). A file that changes after it was
// hashed fails the server's digest check (400 digest_mismatch) and is reported as such; one that
// shrinks is noticed here.
//
// Attempts: connection failures, timeouts (no progress in either direction for `timeout`),
// 5xx (503 with its Retry-After) and 507 are tried again with exponential backoff and jitter;
// every 4xx is final. Re-sending after a lost answer is safe: the server answers 200 with the
// first receipt. The file's contents never reach stdout or stderr; its name (the partner's own)
// may appear there.
//
// Exit codes (also the value run_submit() returns):
//   0 accepted (201 created, or 200: already received)
//   1 usage or configuration error: bad option, unreadable file, certificate or key, server
//     certificate not trusted or not for that host, client certificate refused, file changed
//   2 refused by the gateway (a 4xx, or an unexpected answer such as a redirect)
//   3 given up: every attempt failed in a way that might pass (network, 5xx, 507)
//
// Threads: run_submit() runs its own io_context on the calling thread and returns when done.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace svd::ingest {

inline constexpr int kSubmitOk = 0, kSubmitUsage = 1, kSubmitRefused = 2, kSubmitGaveUp = 3;

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
