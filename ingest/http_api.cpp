#include "ingest/http_api.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "base/hex.h"
#include "base/identity.h"
#include "base/unique_fd.h"
#include "config/gateway_config.h"
#include "crypto/sha256.h"
#include "crypto/tls_server.h"
#include "ingest/http_request.h"
#include "protocol/upload_api.h"

namespace svd::ingest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

using Stream = beast::ssl_stream<beast::tcp_stream>;
using Response = http::response<http::string_body>;
using Parser = http::request_parser<http::buffer_body>;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kBodyChunk = std::size_t{64} << 10;  // one write(2) per 64 KiB of body
constexpr std::size_t kFirstRead = std::size_t{4} << 10;
constexpr std::size_t kMaxHeaderLimit = std::size_t{1} << 20;  // bound on max_header_bytes
// After a reply sent before the body was read: how long and how much of the rest we read and
// drop so the client sees the reply rather than a reset (closing with unread data sends RST).
constexpr std::chrono::seconds kLingerTime{5};
constexpr std::uint64_t kMaxLingerBytes = std::uint64_t{64} << 20;
constexpr std::chrono::seconds kShutdownTime{2};  // TLS close_notify exchange
constexpr const char* kRetryAfterSeconds = "30";
// Connection-level log lines (refusals, handshake failures, timeouts) come from unauthenticated
// peers: a token bucket keeps a scan or a flood from flooding the journal.
constexpr double kLogBurst = 20;
constexpr double kLogPerSecond = 1;

// ---- problems -----------------------------------------------------------------------------------

using protocol::Problem;

using protocol::ProblemSpec;
ProblemSpec spec(Problem p) { return protocol::problem_spec(p); }

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// ---- small helpers ------------------------------------------------------------------------------

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

std::string method_text(http::verb v) {
  return v == http::verb::unknown ? std::string("OTHER") : std::string(http::to_string(v));
}

// The peer went away or the connection was cut: nothing to answer, nothing worth a log line.
bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
         ec == ssl::error::stream_truncated;
}

// 0 or the errno of the failed write.
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

// Removes an incoming file on every way out until it is handed to the backend's accept().
class RemoveUnlessReleased {
 public:
  explicit RemoveUnlessReleased(fs::path p) : path_(std::move(p)) {}
  RemoveUnlessReleased(const RemoveUnlessReleased&) = delete;
  RemoveUnlessReleased& operator=(const RemoveUnlessReleased&) = delete;
  ~RemoveUnlessReleased() {
    if (armed_) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }
  void release() { armed_ = false; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool armed_ = true;
};

// Awaits a backend answer delivered through a std::function from any thread: the answer is
// posted back to the awaiting coroutine's executor, a second answer is ignored, and a callback
// destroyed unanswered delivers `fallback`, so the coroutine never hangs on a lost callback.
template <class T, class Handler>
class Answer {
 public:
  Answer(Handler handler, T fallback)
      : handler_(std::move(handler)),
        executor_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)),
        fallback_(std::move(fallback)) {}
  Answer(const Answer&) = delete;
  Answer& operator=(const Answer&) = delete;
  ~Answer() {
    if (!answered_.exchange(true)) post(std::move(fallback_));
  }
  void deliver(T value) {
    if (!answered_.exchange(true)) post(std::move(value));
  }

 private:
  void post(T value) {
    asio::post(executor_, [h = std::move(handler_), v = std::move(value)]() mutable { std::move(h)(std::move(v)); });
  }
  Handler handler_;
  asio::any_io_executor executor_;  // tracks work: run() does not return while an answer is due
  T fallback_;
  std::atomic<bool> answered_{false};
};

template <class T, class Start>
asio::awaitable<T> await_answer(T fallback, Start start) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
      [&start, &fallback](auto handler) {
        auto answer = std::make_shared<Answer<T, decltype(handler)>>(std::move(handler), std::move(fallback));
        start(std::function<void(T)>([answer](T value) { answer->deliver(std::move(value)); }));
      },
      asio::use_awaitable);
}

}  // namespace

ApiReply problem_reply(int status, std::string_view code, std::string_view title, std::string_view detail) {
  ApiReply r;
  r.status = status;
  r.content_type = "application/problem+json";
  std::string type(protocol::kProblemTypePrefix);
  type += code;
  r.body = "{\"type\":";
  append_json_string(r.body, type);
  r.body += ",\"title\":";
  append_json_string(r.body, title);
  r.body += ",\"status\":" + std::to_string(status) + ",\"detail\":";
  append_json_string(r.body, detail.empty() ? title : detail);
  r.body += "}";
  return r;
}

// ---- the server ---------------------------------------------------------------------------------

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  struct Conn {
    Conn(std::shared_ptr<Impl> owner, std::uint64_t conn_id, tcp::socket socket, std::shared_ptr<ssl::context> ctx,
         std::string peer, std::size_t buffer_limit)
        : impl(std::move(owner)),
          id(conn_id),
          tls(std::move(ctx)),
          stream(beast::tcp_stream(std::move(socket)), *tls),
          remote(std::move(peer)),
          buffer(buffer_limit) {}
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() { impl->on_closed(id); }

    beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream); }

    std::shared_ptr<Impl> impl;
    std::uint64_t id;
    std::shared_ptr<ssl::context> tls;  // declared before `stream`, which refers to it
    Stream stream;
    std::string remote, client;
    beast::flat_buffer buffer;
    std::optional<Parser> parser;  // one per request (a parser reads one message)
    std::atomic<bool> cut{false};  // cut in its handshake for a newer connection (already logged)
  };

  // An open connection as the server counts it (under mu).
  struct Slot {
    std::weak_ptr<Conn> conn;
    std::string address;       // the peer's IP address, without the port
    bool in_handshake = true;  // until its client certificate has been verified
    bool cut = false;          // cut for a newer connection: its place is taken already
  };

  // What happens to the connection after a request.
  enum class Next { keep_alive, close, linger, abort };

  struct RequestLog {
    SteadyClock::time_point start = SteadyClock::now();
    std::string method = "-", route = "<unparsed>";
    std::uint64_t in = 0, out = 0;
  };

  Impl(asio::io_context& io_context, std::shared_ptr<ssl::context> ctx, HttpServerOptions options,
       ApiBackend& api_backend, Log log_fn)
      : io(io_context),
        strand(asio::make_strand(io_context)),
        acceptor(strand),
        grace_timer(strand),
        opt(std::move(options)),
        backend(api_backend),
        log_(std::move(log_fn)),
        header_limit(std::clamp<std::size_t>(opt.max_header_bytes, 1024, kMaxHeaderLimit)),
        tls(std::move(ctx)) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;  // acceptor, grace timer, stop
  tcp::acceptor acceptor;
  asio::steady_timer grace_timer;
  const HttpServerOptions opt;
  ApiBackend& backend;
  const Log log_;
  const std::size_t header_limit;
  unsigned short port = 0;

  mutable std::mutex mu;  // guards everything below
  std::shared_ptr<ssl::context> tls;
  HttpCounters counters;
  std::map<std::uint64_t, Slot> conns;  // by id: oldest first
  std::uint64_t next_id = 1;
  bool stopping = false;
  bool detached = false;  // stop finished or the server destroyed: no backend or log calls any more
  std::function<void()> done;
  double log_tokens = kLogBurst;
  SteadyClock::time_point log_refilled = SteadyClock::now();
  std::uint64_t log_suppressed = 0;

  // ---- shared state -----------------------------------------------------------------------------

  bool live() const {
    std::lock_guard lock(mu);
    return !detached;
  }
  bool is_stopping() const {
    std::lock_guard lock(mu);
    return stopping;
  }
  template <class F>
  void count(F f) {
    std::lock_guard lock(mu);
    f(counters);
  }

  void log(const std::string& line) {
    if (live() && log_) log_(line);
  }

  void log_limited(std::string line) {
    std::uint64_t suppressed = 0;
    {
      std::lock_guard lock(mu);
      if (detached) return;
      const auto now = SteadyClock::now();
      const double elapsed = std::chrono::duration<double>(now - log_refilled).count();
      log_refilled = now;
      log_tokens = std::min(kLogBurst, log_tokens + elapsed * kLogPerSecond);
      if (log_tokens < 1) {
        ++log_suppressed;
        return;
      }
      log_tokens -= 1;
      suppressed = std::exchange(log_suppressed, 0);
    }
    if (suppressed > 0) line += " (" + std::to_string(suppressed) + " similar lines suppressed)";
    if (log_) log_(line);
  }

  void log_exception(std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const fs::filesystem_error&) {
      log("connection ended by a filesystem exception");  // its what() holds a path
    } catch (const std::exception& x) {
      log(std::string("connection ended by an exception: ") + x.what());
    } catch (...) {
      log("connection ended by an unknown exception");
    }
  }

  // ---- accepting --------------------------------------------------------------------------------

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kAwait);
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        self->log_limited("accept failed: " + ec.message());
        // EMFILE and the like leave the listening socket readable: back off instead of spinning.
        asio::steady_timer pause(strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(kAwait);
        continue;
      }
      start_connection(tcp::socket(std::move(socket)));
    }
  }

  // The oldest connection still in its handshake (from `address`, unless empty); under mu.
  Slot* oldest_in_handshake(const std::string& address) {
    for (auto& [id, slot] : conns)
      if (slot.in_handshake && !slot.cut && (address.empty() || slot.address == address)) return &slot;
    return nullptr;
  }

  void start_connection(tcp::socket socket) {
    beast::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    std::string remote = ec ? std::string("unknown peer") : endpoint_text(ep);
    std::string address = ec ? std::string("unknown") : ep.address().to_string();
    // Replies are written whole; Nagle would hold a reply's last segment for the client's
    // delayed ACK (40 ms a request).
    socket.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<ssl::context> ctx;
    std::shared_ptr<Conn> victim;  // released outside the lock: its destructor takes it
    std::uint64_t id = 0;
    std::size_t open_now = 0;
    {
      std::lock_guard lock(mu);
      if (stopping) return;  // the socket closes here
      std::size_t from_address = 0;
      for (const auto& [other, slot] : conns) {
        if (slot.cut) continue;
        ++open_now;
        if (slot.in_handshake && slot.address == address) ++from_address;
      }
      // A peer that connects and says nothing holds its place only until a newer connection
      // needs it: one from its own address beyond the per-address cap, or any when all are taken.
      Slot* evict = nullptr;
      if (from_address >= opt.max_handshakes_per_address) evict = oldest_in_handshake(address);
      else if (open_now >= opt.max_connections) evict = oldest_in_handshake({});
      if (evict || open_now < opt.max_connections) {
        if (evict) {
          evict->cut = true;
          victim = evict->conn.lock();
          ++counters.handshakes_cut;
        }
        id = next_id++;
        ++counters.connections;
        ctx = tls;
      } else {
        ++counters.refused_connections;
      }
    }
    if (victim) {
      victim->cut = true;
      log_limited("connection from " + victim->remote +
                  " cut: still in its TLS handshake when a newer connection needed its place");
      auto ex = victim->stream.get_executor();
      asio::post(ex, [c = std::move(victim)] { c->tcp().close(); });
    }
    if (!ctx) {
      socket.close(ec);
      log_limited("connection from " + remote + " refused: " + std::to_string(open_now) +
                  " connections open (max_connections), none in a TLS handshake");
      return;
    }
    auto conn = std::make_shared<Conn>(shared_from_this(), id, std::move(socket), std::move(ctx), std::move(remote),
                                       header_limit + kBodyChunk);
    {
      std::lock_guard lock(mu);
      conns[id] = Slot{conn, std::move(address)};
    }
    auto ex = conn->stream.get_executor();
    asio::co_spawn(ex, run_connection(std::move(conn)), [self = shared_from_this()](std::exception_ptr e) {
      if (e) self->log_exception(e);
    });
  }

  void on_closed(std::uint64_t id) {
    bool last = false;
    {
      std::lock_guard lock(mu);
      conns.erase(id);
      last = stopping && conns.empty() && done;
    }
    if (last) {
      asio::post(strand, [self = shared_from_this()] {
        self->grace_timer.cancel();
        self->finish_stop();
      });
    }
  }

  // ---- stopping ---------------------------------------------------------------------------------

  void stop(std::chrono::milliseconds grace, std::function<void()> on_done) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
      done = std::move(on_done);
    }
    asio::post(strand, [self = shared_from_this(), grace] {
      beast::error_code ec;
      self->acceptor.close(ec);
      std::size_t open_now = 0;
      {
        std::lock_guard lock(self->mu);
        open_now = self->conns.size();
      }
      self->log("stopping; " + std::to_string(open_now) + " connection(s) open");
      if (open_now == 0) {
        self->finish_stop();
        return;
      }
      self->grace_timer.expires_after(grace);
      self->grace_timer.async_wait([self](beast::error_code wait_ec) {
        if (wait_ec) return;
        std::size_t cut = 0;
        {
          std::lock_guard lock(self->mu);
          cut = self->conns.size();
        }
        if (cut > 0) self->log("stop grace passed; cutting " + std::to_string(cut) + " connection(s)");
        self->cut_all();
        self->finish_stop();
      });
    });
  }

  // On `strand`.
  void finish_stop() {
    std::function<void()> f;
    {
      std::lock_guard lock(mu);
      f = std::exchange(done, nullptr);
      if (!f) return;
      detached = true;
    }
    f();
  }

  void cut_all() {
    std::vector<std::shared_ptr<Conn>> open;
    {
      std::lock_guard lock(mu);
      for (auto& [id, slot] : conns)
        if (auto c = slot.conn.lock()) open.push_back(std::move(c));
    }
    for (auto& c : open) {
      auto ex = c->stream.get_executor();
      asio::post(ex, [c = std::move(c)] { c->tcp().close(); });
    }
  }

  void destroy() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      detached = true;
      done = nullptr;
    }
    beast::error_code ec;
    acceptor.close(ec);
    grace_timer.cancel();
    cut_all();
  }

  // ---- one connection ---------------------------------------------------------------------------

  asio::awaitable<void> run_connection(std::shared_ptr<Conn> c) {
    c->tcp().expires_after(opt.header_timeout);  // handshake and the first request head together
    {
      auto [ec] = co_await c->stream.async_handshake(ssl::stream_base::server, kAwait);
      if (ec) {
        handshake_failed(*c, ec);
        co_return;
      }
    }
    auto cn = crypto::verified_peer_common_name(c->stream.native_handle());
    if (!cn || !valid_identity(*cn)) {
      count([](HttpCounters& k) { ++k.handshake_failures; });
      log_limited("connection from " + c->remote +
                  " refused: the client certificate's CN is not a valid identity (1-64 of a-z, 0-9, '-')");
      co_await close_gracefully(c);
      co_return;
    }
    c->client = std::move(*cn);
    {
      std::lock_guard lock(mu);
      if (auto it = conns.find(c->id); it != conns.end()) it->second.in_handshake = false;
    }
    // Refused request by request (serve_request) rather than cut, so the client is told why.
    if (reserved_client_identity(c->client))
      log_limited("connection from " + c->remote + ": the client certificate's CN " + c->client +
                  " is reserved for the gateway's own use; every request is refused");

    for (bool first = true;; first = false) {
      if (!first) {
        // Between requests: idle_timeout for the first byte, then header_timeout for the head.
        if (c->buffer.size() == 0) {
          c->tcp().expires_after(opt.idle_timeout);
          auto [ec, n] = co_await c->stream.async_read_some(c->buffer.prepare(kFirstRead), kAwait);
          if (ec) {
            if (ec == beast::error::timeout) {
              count([](HttpCounters& k) { ++k.timeouts; });
              log_limited("connection from " + c->remote + " (client " + c->client + ") closed: idle timeout");
            }
            co_return;
          }
          c->buffer.commit(n);
        }
        c->tcp().expires_after(opt.header_timeout);
      }
      const Next next = co_await serve_request(c);
      switch (next) {
        case Next::keep_alive: continue;
        case Next::close: co_await close_gracefully(c); co_return;
        case Next::linger: co_await linger_and_close(c); co_return;
        case Next::abort: co_return;
      }
    }
  }

  // True when a body that began at `start` has fallen behind the minimum rate, counted from
  // idle_timeout after it began (the time a client has anyway before its first byte).
  bool below_min_rate(SteadyClock::time_point start, std::uint64_t bytes) const {
    if (opt.min_upload_bytes_per_second == 0) return false;
    const auto late = SteadyClock::now() - start - std::chrono::duration_cast<SteadyClock::duration>(opt.idle_timeout);
    if (late <= SteadyClock::duration::zero()) return false;
    return static_cast<double>(bytes) <
           std::chrono::duration<double>(late).count() * static_cast<double>(opt.min_upload_bytes_per_second);
  }

  void handshake_failed(Conn& c, const beast::error_code& ec) {
    if (c.cut) return;  // counted and logged when it was cut
    count([](HttpCounters& k) { ++k.handshake_failures; });
    std::string why;
    if (ec == beast::error::timeout) {
      count([](HttpCounters& k) { ++k.timeouts; });
      why = "timed out";
    } else if (is_disconnect(ec)) {
      why = "the peer closed the connection";
    } else {
      why = ec.message();
      const std::string verify = crypto::peer_verify_error(c.stream.native_handle());
      if (!verify.empty()) why += " (" + verify + ")";
    }
    log_limited("TLS handshake with " + c.remote + " failed: " + why);
  }

  asio::awaitable<void> close_gracefully(std::shared_ptr<Conn> c) { co_await close_tls(std::move(c), false); }
  asio::awaitable<void> linger_and_close(std::shared_ptr<Conn> c) { co_await close_tls(std::move(c), true); }

  // Sends close_notify and waits (bounded) for the peer's. With `drain`, the client may still be
  // sending a body we did not read: OpenSSL drops application data that arrives after our
  // close_notify but ends the shutdown on it, so the rest is read and dropped below TLS until the
  // client closes, or the time or byte bound is reached. Closing with unread data would send a
  // reset, and the client would lose the reply it has not read yet.
  asio::awaitable<void> close_tls(std::shared_ptr<Conn> c, bool drain) {
    c->tcp().expires_after(std::min<std::chrono::seconds>(drain ? kLingerTime : kShutdownTime, opt.idle_timeout));
    auto [ec] = co_await c->stream.async_shutdown(kAwait);
    // EOF or a reset means the client has closed: nothing left to drain.
    if (ec && drain && ec != beast::error::timeout && !is_disconnect(ec) && c->tcp().socket().is_open()) {
      std::vector<char> sink(16 << 10);
      std::uint64_t dropped = 0;
      while (dropped < kMaxLingerBytes) {
        auto [read_ec, n] = co_await c->tcp().async_read_some(asio::buffer(sink), kAwait);
        if (read_ec) break;
        dropped += n;
      }
    }
    c->tcp().close();
  }

  asio::awaitable<bool> write(std::shared_ptr<Conn> c, Response res, RequestLog& rl) {
    const int status = static_cast<int>(res.result_int());
    count([status](HttpCounters& k) {
      if (status >= 500) ++k.responses_5xx;
      else if (status >= 400) ++k.responses_4xx;
    });
    rl.out = res.body().size();
    c->tcp().expires_after(opt.idle_timeout);
    auto [ec, n] = co_await http::async_write(c->stream, res, kAwait);
    if (ec && ec == beast::error::timeout) count([](HttpCounters& k) { ++k.timeouts; });
    co_return !ec;
  }

  Response make_response(unsigned version, int status) {
    Response res{static_cast<http::status>(status), version};
    res.set(http::field::cache_control, "no-store");
    return res;
  }

  Response problem(unsigned version, Problem p) {
    const ProblemSpec s = spec(p);
    ApiReply r = problem_reply(s.status, s.code, s.title, s.detail);
    Response res = make_response(version, s.status);
    res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    if (p == Problem::unavailable) res.set(http::field::retry_after, kRetryAfterSeconds);
    if (p == Problem::method_not_allowed) res.set(http::field::allow, "GET");
    return res;
  }

  Response from_reply(unsigned version, ApiReply r) {
    const int status = r.status >= 100 && r.status <= 599 ? r.status : 500;
    Response res = make_response(version, status);
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    if (status == 503) res.set(http::field::retry_after, kRetryAfterSeconds);
    return res;
  }

  void log_request(const Conn& c, const RequestLog& rl, const std::string& outcome) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - rl.start).count();
    log(rl.method + " " + rl.route + " " + outcome + " client=" + c.client + " in=" + std::to_string(rl.in) +
        " out=" + std::to_string(rl.out) + " ms=" + std::to_string(ms));
  }

  asio::awaitable<Next> serve_request(std::shared_ptr<Conn> c) {
    RequestLog rl;
    Parser& parser = c->parser.emplace();
    parser.header_limit(static_cast<std::uint32_t>(header_limit));
    parser.body_limit(boost::none);  // ours: checked against Content-Length first, then while reading

    {
      auto [ec, n] = co_await http::async_read_header(c->stream, c->buffer, parser, kAwait);
      if (ec) {
        if (ec == beast::error::timeout) {
          count([](HttpCounters& k) { ++k.timeouts; });
          log_limited("connection from " + c->remote + " (client " + c->client +
                      ") closed: the request head did not arrive in time");
          co_return Next::abort;
        }
        if (is_disconnect(ec)) co_return Next::abort;
        count([](HttpCounters& k) { ++k.requests; });
        const Problem p = ec == http::error::header_limit || ec == http::error::buffer_overflow
                              ? Problem::header_too_large
                              : Problem::bad_request;
        Response res = problem(11, p);
        res.keep_alive(false);
        res.prepare_payload();
        const bool written = co_await write(c, std::move(res), rl);
        log_request(*c, rl, std::to_string(spec(p).status));
        co_return written ? Next::linger : Next::abort;
      }
    }
    count([](HttpCounters& k) { ++k.requests; });

    auto& req = parser.get();
    const unsigned version = req.version();
    rl.method = method_text(req.method());
    const Route route = parse_route(std::string_view(req.target().data(), req.target().size()));
    rl.route = route.pattern();

    std::optional<Response> res;
    if (reserved_client_identity(c->client)) {
      res = problem(version, Problem::reserved_client);
    } else if (is_stopping()) {
      res = problem(version, Problem::unavailable);
    } else if (route.problem) {
      res = problem(version, *route.problem);
    } else if (route.kind == RouteKind::unknown) {
      res = problem(version, Problem::not_found);
    } else if (req.method() != route.method()) {
      res = problem(version, Problem::method_not_allowed);
      res->set(http::field::allow, route.method() == http::verb::put ? "PUT" : "GET");
    } else if (route.kind == RouteKind::health) {
      if (!live()) co_return Next::abort;
      res = from_reply(version, backend.health());
    } else if (route.kind == RouteKind::status) {
      if (!protocol::valid_extract_id(route.id)) {
        res = problem(version, Problem::invalid_id);
      } else {
        if (!live()) co_return Next::abort;
        ApiReply fallback = problem_reply(500, "internal_error", "Internal error");
        ApiReply reply = co_await await_answer<ApiReply>(std::move(fallback), [&](std::function<void(ApiReply)> cb) {
          backend.status(route.id, c->client, std::move(cb));
        });
        res = from_reply(version, std::move(reply));
      }
    } else {
      res = co_await handle_upload(c, route, rl);
    }

    if (!res) {
      log_request(*c, rl, "aborted");
      co_return Next::abort;
    }
    const bool body_read = parser.is_done();
    const bool keep = body_read && req.keep_alive() && !is_stopping();
    res->keep_alive(keep);
    res->prepare_payload();
    const int status = static_cast<int>(res->result_int());
    const bool written = co_await write(c, std::move(*res), rl);
    log_request(*c, rl, written ? std::to_string(status) : std::to_string(status) + " (reply not delivered)");
    if (!written) co_return Next::abort;
    if (keep) co_return Next::keep_alive;
    co_return body_read ? Next::close : Next::linger;
  }

  // nullopt: the client went away or timed out (nothing to answer).
  asio::awaitable<std::optional<Response>> handle_upload(std::shared_ptr<Conn> c, Route route, RequestLog& rl) {
    Parser& parser = *c->parser;
    auto& req = parser.get();
    const unsigned version = req.version();
    const bool nothing = route.kind == RouteKind::nothing_upload;

    if (!valid_identity(route.feed)) co_return problem(version, Problem::invalid_feed);
    if (nothing && !protocol::valid_period(route.name)) co_return problem(version, Problem::invalid_period);
    if (!nothing && !protocol::valid_extract_name(route.name)) co_return problem(version, Problem::invalid_name);
    // Exactly `chunked` or none: with another coding before it ("gzip, chunked") the parser
    // would still decode the chunks and the coded bytes would be taken for the extract.
    if (const auto te = req.count(http::field::transfer_encoding);
        te > 1 || (te == 1 && !beast::iequals(req[http::field::transfer_encoding], "chunked")))
      co_return problem(version, Problem::unsupported_transfer_coding);
    if (auto ce = req.find(http::field::content_encoding);
        ce != req.end() && !beast::iequals(ce->value(), "identity"))
      co_return problem(version, Problem::unsupported_content_encoding);

    std::optional<std::uint64_t> length;
    if (!parser.chunked()) length = parser.content_length().value_or(0);
    const std::uint64_t limit = nothing ? 0 : opt.max_body_bytes;
    if (length && *length > limit) co_return problem(version, nothing ? Problem::body_not_empty : Problem::too_large);

    std::array<unsigned char, 32> expected{};
    const DigestHeader digest = content_digest(req, expected);
    if (digest == DigestHeader::malformed) co_return problem(version, Problem::bad_content_digest);

    bool expect_continue = false;
    if (auto ex = req.find(http::field::expect); ex != req.end()) {
      if (!beast::iequals(ex->value(), "100-continue")) co_return problem(version, Problem::expectation_failed);
      expect_continue = true;
    }

    Upload upload{route.kind == RouteKind::nothing_upload ? UploadKind::nothing_to_share : UploadKind::extract,
                  route.feed, route.name, c->client};
    if (!live()) co_return std::nullopt;
    Admitted admitted = backend.admit(upload, length);
    switch (admitted.admission) {
      case Admission::ok: break;
      case Admission::unknown_feed: co_return problem(version, Problem::unknown_feed);
      case Admission::forbidden: co_return problem(version, Problem::forbidden);
      case Admission::storage_full: co_return problem(version, Problem::storage_full);
      case Admission::unavailable: co_return problem(version, Problem::unavailable);
    }

    result<fs::path> file = co_await await_answer<result<fs::path>>(
        result<fs::path>(errc::io_error),
        [&](std::function<void(result<fs::path>)> cb) { backend.incoming_file(std::move(cb)); });
    if (!file) {
      co_return problem(version, file.error() == errc::storage_full ? Problem::storage_full : Problem::internal_error);
    }
    RemoveUnlessReleased incoming(*file);
    if (!live()) co_return std::nullopt;

    UniqueFd fd(::open(incoming.path().c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (!fd) {
      log("cannot open an incoming file: " + std::generic_category().message(errno));
      co_return problem(version, Problem::internal_error);
    }

    // RFC 9110 10.1.1: no 1xx to an HTTP/1.0 client.
    if (expect_continue && version >= 11 && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      c->tcp().expires_after(opt.idle_timeout);
      auto [ec, n] = co_await http::async_write(c->stream, cont, kAwait);
      if (ec) co_return std::nullopt;
    }

    // Set once the head is parsed and before any body byte is: a chunked body (or one longer than
    // its Content-Length claims, which the parser cannot produce) stops at the limit.
    parser.body_limit(limit);
    crypto::Sha256 hash;
    std::vector<char> chunk(kBodyChunk);
    std::size_t filled = 0;
    std::optional<Problem> failure;
    const auto body_start = SteadyClock::now();
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data() + filled;
      parser.get().body().size = chunk.size() - filled;
      c->tcp().expires_after(opt.idle_timeout);
      auto [ec, n] = co_await http::async_read_some(c->stream, c->buffer, parser, kAwait);
      if (ec == http::error::need_buffer) ec = {};
      filled = chunk.size() - parser.get().body().size;
      if (filled > 0 && (filled == chunk.size() || parser.is_done() || ec)) {
        if (admitted.room && !admitted.room->grow_to(rl.in + filled)) {
          failure = Problem::storage_full;
          break;
        }
        hash.update(std::string_view(chunk.data(), filled));
        if (const int err = write_all(fd.get(), chunk.data(), filled); err != 0) {
          log("writing an incoming file failed: " + std::generic_category().message(err));
          failure = err == ENOSPC || err == EDQUOT ? Problem::storage_full : Problem::internal_error;
          break;
        }
        rl.in += filled;
        filled = 0;
      }
      if (ec) {
        if (ec == http::error::body_limit) {
          failure = nothing ? Problem::body_not_empty : Problem::too_large;
          break;
        }
        if (ec == beast::error::timeout) {
          count([](HttpCounters& k) { ++k.timeouts; });
          log_limited("upload from " + c->remote + " (client " + c->client + ") timed out reading the body");
          co_return std::nullopt;
        }
        if (is_disconnect(ec)) co_return std::nullopt;
        failure = Problem::bad_request;  // a malformed chunked body
        break;
      }
      if (below_min_rate(body_start, rl.in + filled)) {
        count([](HttpCounters& k) { ++k.timeouts; });
        const auto took = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - body_start);
        log_limited("upload from " + c->remote + " (client " + c->client + ") too slow: " +
                    std::to_string(rl.in + filled) + " bytes in " + std::to_string(took.count()) +
                    " s (min_upload_bytes_per_second)");
        failure = Problem::too_slow;
        break;
      }
    }
    if (failure) co_return problem(version, *failure);
    if (!fd.close()) {
      log("closing an incoming file failed: " + std::generic_category().message(errno));
      co_return problem(version, Problem::internal_error);
    }
    const auto sha256 = hash.finish();
    if (digest == DigestHeader::sha256 && sha256 != expected) co_return problem(version, Problem::digest_mismatch);

    if (!live()) co_return std::nullopt;
    incoming.release();  // the backend's from here on, whatever it answers
    result<AcceptResult> accepted = co_await await_answer<result<AcceptResult>>(
        result<AcceptResult>(errc::io_error), [&](std::function<void(result<AcceptResult>)> cb) {
          backend.accept(upload, incoming.path(), to_hex(sha256), rl.in,
                         std::move(cb));
        });
    if (!accepted) {
      co_return problem(version,
                        accepted.error() == errc::storage_full ? Problem::storage_full : Problem::internal_error);
    }
    if (accepted->outcome == AcceptResult::Outcome::conflict) co_return problem(version, Problem::conflict);
    const bool created = accepted->outcome == AcceptResult::Outcome::created;
    count([created](HttpCounters& k) { ++(created ? k.uploads_created : k.uploads_same); });
    Response res = make_response(version, created ? 201 : 200);
    res.set(http::field::content_type, "application/json");
    if (protocol::valid_extract_id(accepted->extract_id)) res.set(http::field::location, protocol::extract_status_path(accepted->extract_id));
    res.body() = std::move(accepted->receipt_json);
    co_return res;
  }
};

// ---- HttpServer ---------------------------------------------------------------------------------

result<std::unique_ptr<HttpServer>> HttpServer::open(boost::asio::io_context& io,
                                                     std::shared_ptr<boost::asio::ssl::context> tls,
                                                     HttpServerOptions options, ApiBackend& backend, Log log) {
  auto impl = std::make_shared<Impl>(io, std::move(tls), std::move(options), backend, std::move(log));
  auto fail = [&](const std::string& what, const beast::error_code& ec) -> result<std::unique_ptr<HttpServer>> {
    if (impl->log_) impl->log_("cannot listen on " + impl->opt.address + ":" + std::to_string(impl->opt.port) +
                               ": " + what + ": " + ec.message());
    return errc::io_error;
  };
  if (!impl->tls) return fail("no TLS context", asio::error::invalid_argument);
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl->opt.address, ec);
  if (ec) return fail("not an IP address", ec);
  const tcp::endpoint endpoint(address, impl->opt.port);
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
    if (e) impl->log_exception(e);
  });
  impl->log("listening on " + endpoint_text(tcp::endpoint(address, impl->port)));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { impl_->destroy(); }

unsigned short HttpServer::port() const { return impl_->port; }

void HttpServer::set_tls(std::shared_ptr<boost::asio::ssl::context> tls) {
  if (!tls) return;
  std::lock_guard lock(impl_->mu);
  impl_->tls = std::move(tls);
}

void HttpServer::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  impl_->stop(grace, std::move(done));
}

HttpCounters HttpServer::counters() const {
  std::lock_guard lock(impl_->mu);
  HttpCounters k = impl_->counters;
  k.open_connections = impl_->conns.size();
  return k;
}

}  // namespace svd::ingest
