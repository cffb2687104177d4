// A request head as the upload API reads it from an unauthenticated peer, without the sockets:
// Beast's header parser with the server's default header limit, then what the server takes from
// the head before it reads any of the body (ingest/http_request.h: the route and the name and
// id checks, Content-Digest; the transfer and content codings, the length). Only the head is
// parsed: the body goes to a file whatever its bytes, and that streaming is the server's, not a
// parser's.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "base/identity.h"
#include "config/gateway_config.h"
#include "ingest/http_request.h"
#include "protocol/upload_api.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(svd::config::HttpConfig{}.max_header_bytes));
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_header_done() && used < size) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return 0;

  const auto& req = parser.get();
  const svd::ingest::Route route = svd::ingest::parse_route(std::string_view(req.target().data(), req.target().size()));
  (void)route.pattern();
  (void)route.method();
  switch (route.kind) {
    case svd::ingest::RouteKind::extract_upload: (void)svd::protocol::valid_extract_name(route.name); break;
    case svd::ingest::RouteKind::nothing_upload: (void)svd::protocol::valid_period(route.name); break;
    case svd::ingest::RouteKind::status: (void)svd::protocol::valid_extract_id(route.id); break;
    case svd::ingest::RouteKind::health:
    case svd::ingest::RouteKind::unknown: break;
  }
  (void)svd::valid_identity(route.feed);

  std::array<unsigned char, 32> sha256{};
  (void)svd::ingest::content_digest(req, sha256);
  (void)req.count(http::field::transfer_encoding);
  (void)req.find(http::field::content_encoding);
  if (!parser.chunked()) (void)parser.content_length();
  (void)req.keep_alive();
  return 0;
}
