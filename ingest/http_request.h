#pragma once
// What the upload API reads from a request's head before any byte of the body: the route its
// target names, and the sha-256 member of its Content-Digest field. Kept apart from the server
// (http_api.cpp) because they are pure, read what an unauthenticated peer sent, and are fuzzed
// on their own (fuzz/http_request_fuzz.cpp); they need Beast's header fields, not its network
// code. Pure; any thread.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include "protocol/upload_api.h"

namespace svd::ingest {

enum class RouteKind { extract_upload, nothing_upload, status, health, unknown };

struct Route {
  RouteKind kind = RouteKind::unknown;
  std::optional<protocol::Problem> problem;  // a path we refuse outright (400)
  std::string feed, name, id;

  // What the log may show: the feed id when it is a valid one, never the name or the id.
  std::string pattern() const;
  // The one method the route accepts.
  boost::beast::http::verb method() const;
};

// A request target in origin form ("/v1/feeds/{feed}/extracts/{name}", ...), segments judged
// after percent-decoding. Names and ids are not checked here: that is protocol/upload_api.h's,
// and a bad one has a problem code of its own.
Route parse_route(std::string_view target);

enum class DigestHeader { absent, sha256, malformed };

// The sha-256 member of Content-Digest (RFC 9530: an RFC 8941 dictionary; other algorithms are
// allowed alongside and ignored). Several Content-Digest field lines are read as one list.
DigestHeader content_digest(const boost::beast::http::fields& fields, std::array<unsigned char, 32>& sha256);

}  // namespace svd::ingest
