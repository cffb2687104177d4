#pragma once
// The local operations port of `svdgw run` and `svdhub run`: plain HTTP (no TLS), GET only, for `GET /healthz` and
// `GET /metrics` (Prometheus text). Meant for 127.0.0.1 or a management network: it serves only
// what the handler returns, which must never hold an identifier.
//
// Bounded on every side: a request head of at most 8 KiB, at most 8 connections (more are
// accepted and closed at once), 5 s for a request head and for writing a reply, 5 s idle between
// requests; a request with a body is answered 400 and the connection closed. Other methods get
// 405 (Allow: GET). Requests are not logged (scrapes come every few seconds); refused
// connections and listening errors are (through Log, which adds the component tag).
//
// Threads: runs on the io_context it is given; the handler is called there (on a connection's
// strand) with the path of the request target (without the query) and must not block.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/errc.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace svd::ops {

// What the handler answers: the status, Content-Type and body of the reply.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class OpsServer {
 public:
  using Handler = std::function<Reply(std::string_view path)>;
  using Log = std::function<void(const std::string&)>;

  // Binds and listens at once; port 0 lets the kernel pick (see port()). Errors: io_error, with
  // the reason logged.
  static result<std::unique_ptr<OpsServer>> open(boost::asio::io_context& io, const std::string& address,
                                                 unsigned short port, Handler handler, Log log);
  ~OpsServer();  // stop()
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  unsigned short port() const;
  // Closes the listener and every connection now; the handler and the log are not called once it
  // has returned. On the I/O thread; idempotent.
  void stop();

 private:
  struct Impl;
  explicit OpsServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace svd::ops
