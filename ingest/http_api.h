#pragma once
// The HTTPS upload API of `svdgw run`, on Boost.Beast over OpenSSL: the routes of
// protocol/upload_api.h. This layer owns the transport: TLS (crypto/tls_server.h), the caller's
// identity (the client certificate's CN), bounded heads and connections, timeouts, the body
// streamed to a file while its SHA-256 is computed, the size limit, Content-Digest, name checks
// after percent-decoding, and every error as application/problem+json. What a request means is
// the ApiBackend's. Names, ids and header values are never logged. The API as a client sees it,
// its codes and its log lines: docs/daemon.md, "The API".
//
// Threads: the server runs on the io_context it is given (the daemon's network thread). The
// backend's admit() and health() are called there and must not block; incoming_file(), accept()
// and status() may take time and answer through a callback, from any thread. A callback answered
// twice keeps the first answer; one destroyed unanswered counts as io_error (500). Answer (or
// drop) every callback before the io_context is destroyed: the answer is posted to it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/errc.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace svd::ingest {

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal
  unsigned short port = 0;            // 0: the kernel picks one (tests); see HttpServer::port()
  std::uint64_t max_body_bytes = std::uint64_t{1} << 30;  // 413 beyond (Content-Length or streamed)
  std::size_t max_header_bytes = 16 << 10;                // 431 beyond
  // Open connections at most. When all are taken, a new one takes the place of the oldest still
  // in its TLS handshake, so peers that connect and say nothing cannot lock clients out; with
  // none in a handshake, it is accepted and closed at once.
  std::size_t max_connections = 32;
  // Connections from one address in their TLS handshake at most; the oldest is cut for a new one
  // (so one address cannot hold the slots of others).
  std::size_t max_handshakes_per_address = 8;
  std::chrono::seconds idle_timeout{30};    // no progress in either direction: closed
  std::chrono::seconds header_timeout{10};  // handshake + request head must arrive within this
  // After idle_timeout, a body must have arrived at this average rate at least (408 too_slow),
  // so an upload cannot hold a connection for ever by trickling; 0: no minimum.
  std::uint64_t min_upload_bytes_per_second = 16 << 10;
};

enum class UploadKind { extract, nothing_to_share };

struct Upload {
  UploadKind kind = UploadKind::extract;
  std::string feed, name;
  std::string client;  // the client certificate's CN
};

enum class Admission {
  ok,
  unknown_feed,  // 404
  forbidden,     // 403: the client is not allowed for this feed
  storage_full,  // 507: the quota is reached
  unavailable,   // 503: shutting down (Retry-After is sent)
};

// Room held under a quota for one upload while its body arrives, so that uploads in parallel
// cannot overrun the quota together; given back when destroyed, which is after accept() has
// answered or once the upload has failed.
class BodyRoom {
 public:
  virtual ~BodyRoom() = default;
  // On the I/O thread, before each piece of the body is written: room for `bytes` of body in
  // all? false: the upload is answered 507 and its file removed.
  virtual bool grow_to(std::uint64_t bytes) = 0;
};

// The backend's answer before any body byte is read.
struct Admitted {
  // Implicit, so that a refusal is answered with its Admission alone.
  Admitted(Admission a = Admission::ok, std::unique_ptr<BodyRoom> r = nullptr) : admission(a), room(std::move(r)) {}
  Admission admission;
  std::unique_ptr<BodyRoom> room;  // none: no quota to hold the body to
};

struct AcceptResult {
  enum class Outcome { created, same, conflict } outcome = Outcome::created;  // 201, 200, 409
  std::string extract_id;
  std::string receipt_json;  // the body of 201 / 200 (for conflict: unused)
};

// A complete reply for GET requests (status() and health()).
struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// An application/problem+json reply in the server's own shape, for the backend's status() and
// health() answers (e.g. 404 "not_found" for an id the client may not see). `code` is
// [a-z0-9_]; `title` and `detail` are fixed text (never a name or a value from a request).
ApiReply problem_reply(int status, std::string_view code, std::string_view title, std::string_view detail = {});

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  // On the I/O thread, before reading the body; must not block. `content_length` is absent for
  // a chunked body, whose size is known only as it arrives (hence the room's grow_to()).
  virtual Admitted admit(const Upload& upload, std::optional<std::uint64_t> content_length) = 0;
  // A new empty file to stream the body into (in the extract store's incoming/). Any thread may
  // answer. Errors: io_error (500), storage_full (507).
  virtual void incoming_file(std::function<void(result<std::filesystem::path>)> done) = 0;
  // The body is complete in `file` (written, not yet synced) with this SHA-256 (hex) and size:
  // accept it durably, then answer (any thread). The file belongs to the backend from here on,
  // whatever it answers. Errors: storage_full (507), io_error (500).
  virtual void accept(const Upload& upload, const std::filesystem::path& file, const std::string& sha256,
                      std::uint64_t bytes, std::function<void(result<AcceptResult>)> done) = 0;
  // GET /v1/extracts/{id} by `client` (the backend decides what that client may see: an id it may
  // not see is answered 404, like an unknown one). Any thread may answer.
  virtual void status(const std::string& id, const std::string& client, std::function<void(ApiReply)> done) = 0;
  // GET /healthz; on the I/O thread, must not block.
  virtual ApiReply health() = 0;
};

// Counts for /metrics (all since open() except open_connections, a gauge); counters() may be
// called from any thread.
struct HttpCounters {
  std::uint64_t connections = 0, handshake_failures = 0, refused_connections = 0;
  std::uint64_t handshakes_cut = 0;  // cut for a newer connection (max_connections, max_handshakes_per_address)
  std::uint64_t requests = 0, uploads_created = 0, uploads_same = 0;
  std::uint64_t responses_4xx = 0, responses_5xx = 0, timeouts = 0;
  std::uint64_t open_connections = 0;
};

class HttpServer {
 public:
  // Binds and listens at once (errors: io_error, with the reason logged). `tls` is the context
  // for new connections (crypto::make_tls_server_context(...)->context); set_tls() swaps it
  // (SIGHUP reload) without touching open connections. `backend` and whatever `log` refers to
  // must stay valid until stop()'s `done` has run or the destructor has returned, whichever
  // comes first; neither is called after that.
  using Log = std::function<void(const std::string&)>;
  static result<std::unique_ptr<HttpServer>> open(boost::asio::io_context& io,
                                                  std::shared_ptr<boost::asio::ssl::context> tls,
                                                  HttpServerOptions options, ApiBackend& backend, Log log);
  // On the I/O thread. Without a finished stop(), cuts every connection (an upload not yet
  // handed to accept() is removed, one that was is the backend's) and a pending stop()'s `done`
  // is never called.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  unsigned short port() const;
  // On the I/O thread.
  void set_tls(std::shared_ptr<boost::asio::ssl::context> tls);
  // Stops accepting; requests in progress finish (their uploads are answered, with
  // `Connection: close`); a request whose head arrives after stop() on a kept-alive connection
  // gets 503 + Retry-After + `Connection: close`. `done` is called on the I/O thread once every
  // connection has closed, or after `grace` with the rest cut. On the I/O thread; once.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);
  HttpCounters counters() const;

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace svd::ingest
