#include "ops/ops_server.h"

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace svd::ops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kMaxHead = 8 << 10;
constexpr std::size_t kMaxConnections = 8;
constexpr std::chrono::seconds kTimeout{5};

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

http::response<http::string_body> plain(unsigned version, http::status status, std::string text) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(text);
  return res;
}

}  // namespace

struct OpsServer::Impl : std::enable_shared_from_this<OpsServer::Impl> {
  struct Conn {
    Conn(std::shared_ptr<Impl> owner, std::uint64_t conn_id, tcp::socket socket)
        : impl(std::move(owner)), id(conn_id), stream(std::move(socket)), buffer(kMaxHead) {}
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
      std::lock_guard lock(impl->mu);
      impl->conns.erase(id);
    }
    std::shared_ptr<Impl> impl;
    std::uint64_t id;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
  };

  Impl(asio::io_context& io_context, Handler h, Log l)
      : io(io_context),
        strand(asio::make_strand(io_context)),
        acceptor(strand),
        handler(std::move(h)),
        log_(std::move(l)) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  const Handler handler;
  const Log log_;
  unsigned short port = 0;

  mutable std::mutex mu;  // guards the members below
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns;
  std::uint64_t next_id = 1;
  bool stopped = false;
  std::chrono::steady_clock::time_point last_refusal_log{};

  bool live() const {
    std::lock_guard lock(mu);
    return !stopped;
  }
  void log(const std::string& line) {
    if (live() && log_) log_(line);
  }

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kAwait);
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        self->log("accept failed: " + ec.message());
        asio::steady_timer pause(strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(kAwait);
        continue;
      }
      start_connection(tcp::socket(std::move(socket)));
    }
  }

  void start_connection(tcp::socket socket) {
    std::uint64_t id = 0;
    bool log_refusal = false;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      if (conns.size() >= kMaxConnections) {
        // At most one line a minute: the port is local, a flood of these says the same thing.
        const auto now = std::chrono::steady_clock::now();
        log_refusal = now - last_refusal_log >= std::chrono::minutes(1);
        if (log_refusal) last_refusal_log = now;
      } else {
        id = next_id++;
      }
    }
    if (id == 0) {
      beast::error_code ec;
      const auto ep = socket.remote_endpoint(ec);
      socket.close(ec);
      if (log_refusal)
        log("connection from " + (ep.port() != 0 ? endpoint_text(ep) : std::string("unknown peer")) +
            " refused: " + std::to_string(kMaxConnections) + " connections open");
      return;
    }
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);  // a reply's last segment must not wait for an ACK
    auto conn = std::make_shared<Conn>(shared_from_this(), id, std::move(socket));
    {
      std::lock_guard lock(mu);
      conns[id] = conn;
    }
    auto ex = conn->stream.get_executor();
    asio::co_spawn(ex, run_connection(std::move(conn)), [self = shared_from_this()](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        self->log(std::string("connection ended by an exception: ") + x.what());
      } catch (...) {
        self->log("connection ended by an unknown exception");
      }
    });
  }

  asio::awaitable<void> run_connection(std::shared_ptr<Conn> c) {
    for (bool first = true;; first = false) {
      if (!first && c->buffer.size() == 0) {
        c->stream.expires_after(kTimeout);
        auto [ec, n] = co_await c->stream.async_read_some(c->buffer.prepare(1024), kAwait);
        if (ec) co_return;
        c->buffer.commit(n);
      }
      c->stream.expires_after(kTimeout);
      http::request_parser<http::empty_body> parser;
      parser.header_limit(kMaxHead);
      parser.body_limit(0);
      auto [ec, n] = co_await http::async_read_header(c->stream, c->buffer, parser, kAwait);
      if (ec) {
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
          co_await write_and_close(
              c, plain(11, http::status::request_header_fields_too_large, "request head too large\n"));
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::operation_aborted && ec != asio::error::eof &&
                   ec != asio::error::connection_reset && ec != http::error::partial_message) {
          co_await write_and_close(c, plain(11, http::status::bad_request, "malformed request\n"));
        }
        co_return;
      }
      const auto& req = parser.get();
      const unsigned version = req.version();
      if (!parser.is_done()) {
        co_await write_and_close(c, plain(version, http::status::bad_request, "a request body is not accepted here\n"));
        co_return;
      }
      if (req.method() != http::verb::get) {
        auto res = plain(version, http::status::method_not_allowed, "only GET\n");
        res.set(http::field::allow, "GET");
        co_await write_and_close(c, std::move(res));
        co_return;
      }
      const std::string_view target(req.target().data(), req.target().size());
      const std::string_view path = target.substr(0, target.find('?'));
      if (path.empty() || path.front() != '/') {
        co_await write_and_close(c, plain(version, http::status::bad_request, "malformed request target\n"));
        co_return;
      }
      if (!live()) co_return;
      http::response<http::string_body> res;
      try {
        Reply reply = handler(path);
        const int status = reply.status >= 100 && reply.status <= 599 ? reply.status : 500;
        res = http::response<http::string_body>{static_cast<http::status>(status), version};
        if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
        res.set(http::field::cache_control, "no-store");
        res.body() = std::move(reply.body);
      } catch (const std::exception&) {
        res = plain(version, http::status::internal_server_error, "internal error\n");
      }
      const bool keep = req.keep_alive() && live();
      res.keep_alive(keep);
      res.prepare_payload();
      c->stream.expires_after(kTimeout);
      auto [wec, wn] = co_await http::async_write(c->stream, res, kAwait);
      if (wec || !keep) {
        beast::error_code ignored;
        c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
    }
  }

  asio::awaitable<void> write_and_close(std::shared_ptr<Conn> c, http::response<http::string_body> res) {
    res.keep_alive(false);
    res.prepare_payload();
    c->stream.expires_after(kTimeout);
    co_await http::async_write(c->stream, res, kAwait);
    beast::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  void stop() {
    std::vector<std::shared_ptr<Conn>> open;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      stopped = true;
      for (auto& [id, weak] : conns)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    beast::error_code ec;
    acceptor.close(ec);
    for (auto& c : open) {
      auto ex = c->stream.get_executor();
      asio::post(ex, [c = std::move(c)] { c->stream.close(); });
    }
  }
};

result<std::unique_ptr<OpsServer>> OpsServer::open(boost::asio::io_context& io, const std::string& address,
                                                   unsigned short port, Handler handler, Log log) {
  auto impl = std::make_shared<Impl>(io, std::move(handler), std::move(log));
  auto fail = [&](const std::string& what, const beast::error_code& ec) -> result<std::unique_ptr<OpsServer>> {
    if (impl->log_)
      impl->log_("cannot listen on " + address + ":" + std::to_string(port) + ": " + what + ": " + ec.message());
    return errc::io_error;
  };
  if (!impl->handler) return fail("no handler", asio::error::invalid_argument);
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) return fail("not an IP address", ec);
  const tcp::endpoint endpoint(addr, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("socket", ec);
  impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR", ec);
  impl->acceptor.bind(endpoint, ec);
  if (ec) return fail("bind", ec);
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen", ec);
  impl->port = impl->acceptor.local_endpoint(ec).port();
  if (ec) return fail("local address", ec);
  asio::co_spawn(impl->strand, impl->accept_loop(impl), [impl](std::exception_ptr e) {
    if (e) impl->log("the listener ended by an exception");
  });
  impl->log("listening on " + endpoint_text(tcp::endpoint(addr, impl->port)));
  return std::unique_ptr<OpsServer>(new OpsServer(std::move(impl)));
}

OpsServer::OpsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

OpsServer::~OpsServer() { impl_->stop(); }

unsigned short OpsServer::port() const { return impl_->port; }

void OpsServer::stop() { impl_->stop(); }

}  // namespace svd::ops
