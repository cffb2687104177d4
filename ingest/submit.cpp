#include "ingest/submit.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "base/base64.h"
#include "base/hex.h"
#include "base/identity.h"
#include "base/progress.h"
#include "base/unique_fd.h"
#include "config/gateway_config.h"
#include "crypto/sha256.h"
#include "crypto/tls_client.h"
#include "crypto/tls_server.h"
#include "protocol/upload_api.h"

namespace svd::ingest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

using Stream = ssl::stream<tcp::socket>;
using Request = http::request<http::buffer_body>;
using Serializer = http::request_serializer<http::buffer_body>;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kChunk = std::size_t{64} << 10;
constexpr std::uint32_t kMaxResponseHeader = 16 << 10;
constexpr std::uint64_t kMaxResponseBody = 1 << 20;  // a receipt or a problem is a few hundred bytes
// How long to wait for "100 Continue" before sending the body anyway (what curl does): the
// gateway answers at once, but something in between might not understand Expect.
constexpr std::chrono::seconds kContinueWait{2};
constexpr std::size_t kMaxShownText = 300;

const char* const kPrefix = "svdgw submit: ";

// Text from the server is shown on the partner's terminal: no control characters (escape
// sequences), and bounded.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, kMaxShownText)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > kMaxShownText) out += "...";
  return out;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.2g" : "%.0f", s);
  return buf;
}

// ---- the body ---------------------------------------------------------------------------------

// The extract: hashed once, then read from the start for every attempt. Reads block, which is
// fine here: this process has one connection and nothing else to serve.
class ExtractFile {
 public:
  ExtractFile(std::unique_ptr<UniqueFd> fd, std::uint64_t size, std::string sha256)
      : fd_(std::move(fd)), size_(size), sha256_(std::move(sha256)) {}
  std::uint64_t size() const { return size_; }
  const std::string& sha256() const { return sha256_; }

  // Up to `max` bytes at `offset`; 0 only at the end. nullopt on a read error or when the file
  // ends before `size()` (it shrank since it was hashed): `why` says which.
  std::optional<std::size_t> read(char* buf, std::size_t max, std::uint64_t offset, std::string& why) const {
    const std::uint64_t left = size_ - offset;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(max, left));
    if (want == 0) return 0;
    for (;;) {
      const ssize_t n = ::pread(fd_->get(), buf, want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = "cannot read: " + std::generic_category().message(errno);
        return std::nullopt;
      }
      if (n == 0) {
        why = "the file changed while it was being sent: it is now shorter than when its SHA-256 was computed";
        return std::nullopt;
      }
      return static_cast<std::size_t>(n);
    }
  }

 private:
  std::unique_ptr<UniqueFd> fd_;
  std::uint64_t size_;
  std::string sha256_;
};

// ---- deadlines ----------------------------------------------------------------------------------

// Closes the connection when neither direction has made progress for `timeout`: a slow upload
// of a large file is fine, a stalled one is not (the server's idle timeout works the same way).
// The state is shared with the pending wait, which may complete after this object is gone.
class IdleTimer {
 public:
  IdleTimer(const asio::any_io_executor& ex, SteadyClock::duration timeout, std::function<void()> on_idle)
      : state_(std::make_shared<State>(ex, timeout, std::move(on_idle))) {
    arm(state_);
  }
  ~IdleTimer() {
    state_->stopped = true;
    state_->timer.cancel();
  }
  IdleTimer(const IdleTimer&) = delete;
  IdleTimer& operator=(const IdleTimer&) = delete;

  void kick() { state_->last = SteadyClock::now(); }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    State(const asio::any_io_executor& ex, SteadyClock::duration t, std::function<void()> f)
        : timer(ex), timeout(t), on_idle(std::move(f)), last(SteadyClock::now()) {}
    asio::steady_timer timer;
    SteadyClock::duration timeout;
    std::function<void()> on_idle;
    SteadyClock::time_point last;
    bool stopped = false, fired = false;
  };

  static void arm(std::shared_ptr<State> s) {
    s->timer.expires_at(s->last + s->timeout);
    s->timer.async_wait([s](boost::system::error_code) {
      if (s->stopped) return;
      if (SteadyClock::now() >= s->last + s->timeout) {
        s->fired = true;
        s->on_idle();
        return;
      }
      arm(s);
    });
  }

  std::shared_ptr<State> state_;
};

// ---- one attempt ----------------------------------------------------------------------------------

enum class Verdict {
  accepted,   // 200 or 201
  refused,    // final answer from the gateway: exit 2
  transient,  // may pass on another attempt
  fatal,      // local or configuration problem: exit 1
};

struct Attempt {
  Verdict verdict = Verdict::transient;
  std::string why;  // for people, without the "svdgw submit: " prefix
  int status = 0;
  std::string body;
  std::optional<std::uint64_t> retry_after;
};

Attempt make_attempt(Verdict v, std::string why) {
  Attempt a;
  a.verdict = v;
  a.why = std::move(why);
  return a;
}

// What the body writer reports back to the attempt that spawned it.
struct SendState {
  explicit SendState(const asio::any_io_executor& ex) : continue_timer(ex), done_timer(ex) {}
  asio::steady_timer continue_timer;  // cancelled when "100 Continue" (or a final answer) arrives
  asio::steady_timer done_timer;      // cancelled when the writer has finished
  bool go = false;                    // "100 Continue" seen
  bool stop = false;                  // the reader is done (an answer, or a broken connection)
  bool finished = false;
  boost::system::error_code ec;
  std::string local_error;  // the file could not be read or changed
  std::uint64_t sent = 0;   // body bytes
};

// The problem+json of a refusal, or nothing when the body is not one.
struct ProblemText {
  std::string code, title, detail;
};

std::optional<ProblemText> parse_problem(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  auto text = [&](const char* key) -> std::string {
    const json::value* f = o.if_contains(key);
    return f && f->is_string() ? std::string(f->get_string().data(), f->get_string().size()) : std::string();
  };
  ProblemText p{text("type"), text("title"), text("detail")};
  if (p.code.rfind(protocol::kProblemTypePrefix, 0) == 0) p.code.erase(0, protocol::kProblemTypePrefix.size());
  if (p.title.empty() && p.detail.empty()) return std::nullopt;
  return p;
}

class Uploader {
 public:
  Uploader(const SubmitOptions& options, SubmitUrl url, std::shared_ptr<ssl::context> tls,
           std::optional<ExtractFile> file, std::string target, std::ostream& out, std::ostream& err)
      : options_(options),
        url_(std::move(url)),
        tls_(std::move(tls)),
        file_(std::move(file)),
        target_(std::move(target)),
        out_(out),
        err_(err),
        rng_(std::random_device{}()) {}

  asio::awaitable<int> run() {
    const unsigned attempts = options_.retries + 1;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer pause(ex);
    for (unsigned n = 1;; ++n) {
      Attempt a = co_await attempt();
      switch (a.verdict) {
        case Verdict::accepted:
          print_receipt(a);
          if (options_.wait == SubmitOptions::Wait::none) co_return kSubmitOk;
          co_return co_await wait_until_done(receipt_text(a.body, "extract_id"));
        case Verdict::refused:
          print_refusal(a);
          co_return kSubmitRefused;
        case Verdict::fatal:
          err_ << kPrefix << a.why << '\n';
          co_return kSubmitUsage;
        case Verdict::transient:
          break;
      }
      if (n >= attempts) {
        err_ << kPrefix << "gave up after " << n << (n == 1 ? " attempt: " : " attempts: ") << a.why << '\n';
        co_return kSubmitGaveUp;
      }
      double wait = 0;
      if (a.retry_after) {
        wait = std::min(static_cast<double>(*a.retry_after), options_.max_backoff_seconds);
      } else {
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        wait = backoff_seconds(n, options_.max_backoff_seconds, jitter(rng_));
      }
      if (!options_.quiet)
        err_ << kPrefix << "attempt " << n << " of " << attempts << " failed: " << a.why << "; trying again in "
             << seconds_text(wait) << " s\n";
      pause.expires_after(std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(wait)));
      co_await pause.async_wait(kAwait);
    }
  }

 private:
  std::string where() const { return url_.origin; }

  std::string timed_out() const { return "no progress for " + seconds_text(options_.timeout_seconds) + " s"; }

  // The idle timer of one connection: cuts it when nothing moves for --timeout.
  std::unique_ptr<IdleTimer> idle_timer(const asio::any_io_executor& ex, tcp::resolver& resolver, Stream& stream) const {
    return std::make_unique<IdleTimer>(ex,
                                       std::chrono::duration_cast<SteadyClock::duration>(
                                           std::chrono::duration<double>(options_.timeout_seconds)),
                                       [&resolver, &stream] {
                                         resolver.cancel();
                                         boost::system::error_code ignored;
                                         stream.lowest_layer().close(ignored);
                                       });
  }

  // Resolves, connects and completes the TLS handshake, the server checked against --ca and the
  // host name: nothing, or the failed attempt. `name_mismatch` must outlive the handshake (the
  // verify callback sets it).
  asio::awaitable<std::optional<Attempt>> open(tcp::resolver& resolver, Stream& stream, IdleTimer& idle,
                                               bool& name_mismatch) {
    auto [rec, endpoints] = co_await resolver.async_resolve(url_.host, std::to_string(url_.port), kAwait);
    if (rec)
      co_return make_attempt(Verdict::transient,
                             "cannot resolve " + url_.host + ": " + (idle.fired() ? timed_out() : rec.message()));
    auto [cec, endpoint] = co_await asio::async_connect(stream.lowest_layer(), endpoints, kAwait);
    if (cec)
      co_return make_attempt(Verdict::transient,
                             "cannot connect to " + where() + ": " + (idle.fired() ? timed_out() : cec.message()));
    idle.kick();

    if (!crypto::set_server_name_indication(stream.native_handle(), url_.host))
      co_return make_attempt(Verdict::fatal, "OpenSSL refused the host name '" + url_.host + "' for SNI");
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(
        [&name_mismatch, check = ssl::host_name_verification(url_.host)](bool preverified, ssl::verify_context& ctx) {
          const bool ok = check(preverified, ctx);
          // A chain that verified can only fail here on the name (checked on the leaf alone).
          if (preverified && !ok) name_mismatch = true;
          return ok;
        });
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kAwait);
    if (hec) co_return handshake_failure(hec, stream, name_mismatch, idle.fired() ? timed_out() : std::string());
    idle.kick();
    co_return std::nullopt;
  }

  asio::awaitable<Attempt> attempt() {
    auto ex = co_await asio::this_coro::executor;
    bool name_mismatch = false;
    tcp::resolver resolver(ex);
    Stream stream(ex, *tls_);
    const auto idle_owner = idle_timer(ex, resolver, stream);
    IdleTimer& idle = *idle_owner;
    if (auto failed = co_await open(resolver, stream, idle, name_mismatch)) co_return std::move(*failed);

    Request req{http::verb::put, target_, 11};
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, "svdgw-submit");
    req.set(http::field::accept, "application/json, application/problem+json");
    const std::uint64_t size = file_ ? file_->size() : 0;
    if (file_) {
      req.set(http::field::content_type, "application/octet-stream");
      req.set("Content-Digest", content_digest_header(file_->sha256()));
    }
    const bool expect_continue = size > 0;
    if (expect_continue) req.set(http::field::expect, "100-continue");
    req.keep_alive(false);
    req.content_length(size);
    req.body().data = nullptr;
    req.body().more = size > 0;
    Serializer sr{req};

    Progress progress(size, file_ && options_.progress && !options_.quiet && Progress::stderr_is_terminal());
    SendState st(ex);
    st.done_timer.expires_at(SteadyClock::time_point::max());
    asio::co_spawn(ex, send_body(&stream, &req, &sr, file_ ? &*file_ : nullptr, &idle, &progress, &st, expect_continue),
                   [&st](std::exception_ptr e) {
                     if (e) st.local_error = "internal error while sending";
                     st.finished = true;
                     st.done_timer.cancel();
                   });

    // The answer is read while the body goes out: the gateway refuses early (403, 404, 507,
    // 503) before reading the body, and then stops reading it.
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    boost::system::error_code read_ec;
    for (;;) {
      parser.emplace();
      parser->header_limit(kMaxResponseHeader);
      parser->body_limit(kMaxResponseBody);
      auto [ec, n] = co_await http::async_read(stream, buffer, *parser, kAwait);
      read_ec = ec;
      if (ec || parser->get().result_int() >= 200) break;
      if (parser->get().result() == http::status::continue_) {
        st.go = true;
        st.continue_timer.cancel();
      }
      idle.kick();
    }
    // An early answer ends the upload; so does a connection the answer can no longer come on.
    st.stop = true;
    st.continue_timer.cancel();
    if (!st.finished) {
      boost::system::error_code ignored;
      stream.lowest_layer().cancel(ignored);  // the connection is not used again
      co_await st.done_timer.async_wait(kAwait);
    }
    if (file_) progress.update(st.sent, std::nullopt, true);

    if (!st.local_error.empty()) co_return make_attempt(Verdict::fatal, options_.file.string() + ": " + st.local_error);
    if (read_ec) {
      for (const auto& ec : {read_ec, st.ec}) {
        if (ec && crypto::classify_tls_failure(ec) == crypto::TlsFailure::client_refused)
          co_return make_attempt(Verdict::fatal, client_refused_text(ec));
      }
      if (idle.fired())
        co_return make_attempt(Verdict::transient, "the connection to " + where() + " stalled: " + timed_out());
      const bool sending = !sr.is_done();
      const auto& ec = st.ec && st.ec != asio::error::operation_aborted ? st.ec : read_ec;
      co_return make_attempt(Verdict::transient, std::string(sending ? "the connection failed while sending: "
                                                                     : "the connection failed before the answer: ") +
                                                     ec.message());
    }
    // The answer is complete (Content-Length framed), so nothing can be lost by closing without
    // a TLS close_notify; the server closes too (Connection: close).
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    co_return classify(parser->release());
  }

  static asio::awaitable<void> send_body(Stream* stream, Request* req, Serializer* sr, const ExtractFile* file,
                                         IdleTimer* idle, Progress* progress, SendState* st, bool expect_continue) {
    auto [hec, hn] = co_await http::async_write_header(*stream, *sr, kAwait);
    if (hec) {
      st->ec = hec;
      co_return;
    }
    idle->kick();
    if (expect_continue && !st->go && !st->stop) {
      st->continue_timer.expires_after(kContinueWait);
      co_await st->continue_timer.async_wait(kAwait);
    }
    std::vector<char> buf(file ? kChunk : 0);
    while (!sr->is_done() && !st->stop) {
      std::size_t n = 0;
      if (file) {
        auto got = file->read(buf.data(), buf.size(), st->sent, st->local_error);
        if (!got) {
          // Wakes the reader: the request cannot be completed, so no answer is coming.
          boost::system::error_code ignored;
          stream->lowest_layer().close(ignored);
          co_return;
        }
        n = *got;
      }
      req->body().data = n ? buf.data() : nullptr;
      req->body().size = n;
      req->body().more = file && st->sent + n < file->size();
      auto [ec, written] = co_await http::async_write(*stream, *sr, kAwait);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        st->ec = ec;
        co_return;
      }
      st->sent += n;
      idle->kick();
      progress->update(st->sent, std::nullopt, false);
    }
  }

  Attempt handshake_failure(const boost::system::error_code& ec, Stream& stream, bool name_mismatch,
                            const std::string& timed_out) const {
    if (name_mismatch)
      return make_attempt(Verdict::fatal, "the server's certificate is not issued for '" + url_.host +
                                              "' (check the host in --url)");
    const std::string verify = crypto::peer_verify_error(stream.native_handle());
    const crypto::TlsFailure kind = crypto::classify_tls_failure(ec);
    if (!verify.empty() || kind == crypto::TlsFailure::server_not_trusted)
      return make_attempt(Verdict::fatal, "the server at " + where() +
                                              " is not trusted: its certificate does not verify against --ca " +
                                              options_.ca.string() + " (" + (verify.empty() ? ec.message() : verify) +
                                              ")");
    if (kind == crypto::TlsFailure::client_refused) return make_attempt(Verdict::fatal, client_refused_text(ec));
    if (!timed_out.empty()) return make_attempt(Verdict::transient, "TLS handshake with " + where() + ": " + timed_out);
    return make_attempt(Verdict::transient, "TLS handshake with " + where() + " failed: " + ec.message());
  }

  std::string client_refused_text(const boost::system::error_code& ec) const {
    return "the gateway refused this client certificate (--cert " + options_.cert.string() + "): " + ec.message() +
           "; ask the gateway's operator whether it is issued by the CA they trust, and not revoked or expired";
  }

  static Attempt classify(http::response<http::string_body> res) {
    Attempt a;
    a.status = static_cast<int>(res.result_int());
    a.body = std::move(res.body());
    if (a.status == 200 || a.status == 201) {
      a.verdict = Verdict::accepted;
      return a;
    }
    // 501 and 505 cannot change from one attempt to the next; every other 5xx may.
    if (a.status >= 500 && a.status != 501 && a.status != 505) {
      a.verdict = Verdict::transient;
      if (auto ra = res.find(http::field::retry_after); ra != res.end()) a.retry_after = parse_retry_after(ra->value());
      std::string why = "HTTP " + std::to_string(a.status);
      if (a.status == 503) why = "the gateway is unavailable (HTTP 503)";
      if (a.status == 507) why = "the gateway's storage is full (HTTP 507)";
      if (auto p = parse_problem(a.body); p && !p->title.empty()) why += ": " + printable(p->title);
      a.why = std::move(why);
      return a;
    }
    a.verdict = Verdict::refused;
    return a;
  }

  void print_refusal(const Attempt& a) const {
    err_ << kPrefix << "refused by the gateway (HTTP " << a.status << ")";
    const auto p = parse_problem(a.body);
    if (p) {
      if (!p->title.empty()) err_ << ": " << printable(p->title);
      if (!p->detail.empty()) err_ << ": " << printable(p->detail);
    } else if (a.status >= 300 && a.status < 400) {
      err_ << ": a redirect, which is not followed (check --url)";
    } else if (a.status < 400) {
      err_ << ": an answer this client does not understand";
    }
    err_ << '\n';
    const std::string code = p ? p->code : std::string();
    if (code == "digest_mismatch")
      err_ << "  The file changed while it was being sent (or after its SHA-256 was computed). Let the export job "
              "finish writing it, then send it again.\n";
    else if (code == "conflict")
      err_ << "  An extract with this name and different content was already received. A corrected extract needs "
              "a new name (--name).\n";
  }

  // A string field of a JSON object, or "".
  static std::string receipt_text(const std::string& body, const char* key) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const json::value* f = v.get_object().if_contains(key);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  }

  // GET of one status document; 200 is `accepted`, a 4xx `refused`, the rest as for the upload.
  asio::awaitable<Attempt> get_status(const std::string& id) {
    auto ex = co_await asio::this_coro::executor;
    bool name_mismatch = false;
    tcp::resolver resolver(ex);
    Stream stream(ex, *tls_);
    const auto idle_owner = idle_timer(ex, resolver, stream);
    if (auto failed = co_await open(resolver, stream, *idle_owner, name_mismatch)) co_return std::move(*failed);
    http::request<http::empty_body> req{http::verb::get, url_.prefix + protocol::extract_status_path(id), 11};
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, "svdgw-submit");
    req.set(http::field::accept, "application/json, application/problem+json");
    req.keep_alive(false);
    auto [wec, written] = co_await http::async_write(stream, req, kAwait);
    if (wec) co_return make_attempt(Verdict::transient, "asking " + where() + " for the status failed: " + wec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxResponseHeader);
    parser.body_limit(kMaxResponseBody);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, kAwait);
    if (rec)
      co_return make_attempt(Verdict::transient, "no status from " + where() + ": " +
                                                     (idle_owner->fired() ? timed_out() : rec.message()));
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    co_return classify(parser.release());
  }

  // --wait: polls the extract's status until it is processed (and, waiting for the hub, until
  // every batch is answered), then says how it went. A gateway restarting meanwhile only delays
  // the answer.
  asio::awaitable<int> wait_until_done(const std::string& id) {
    if (!protocol::valid_extract_id(id)) {
      err_ << kPrefix << "the receipt names no extract to wait for\n";
      co_return kSubmitUsage;
    }
    const bool hub = options_.wait == SubmitOptions::Wait::acknowledged;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer pause(ex);
    const auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                   std::chrono::duration<double>(options_.wait_timeout_seconds));
    std::string state = "unknown", last_problem;
    for (;;) {
      Attempt a = co_await get_status(id);
      if (a.verdict == Verdict::fatal) {
        err_ << kPrefix << a.why << '\n';
        co_return kSubmitUsage;
      }
      if (a.verdict == Verdict::refused) {
        err_ << kPrefix << "the gateway answered HTTP " << a.status << " for the extract's status\n";
        co_return kSubmitUsage;
      }
      if (a.verdict == Verdict::transient) last_problem = a.why;
      if (a.verdict == Verdict::accepted) {
        boost::system::error_code ec;
        const json::value v = json::parse(a.body, ec);
        if (!ec && v.is_object()) {
          const json::object& s = v.get_object();
          state = receipt_text(a.body, "state");
          if (state == "refused") {
            print_outcome(s, "refused as a whole: nothing was shared");
            co_return kSubmitNotShared;
          }
          if (state == "processed") {
            const auto count = [&](const char* key) {
              const json::value* b = s.if_contains("batches");
              const json::value* n = b && b->is_object() ? b->get_object().if_contains(key) : nullptr;
              if (n && n->is_uint64()) return n->get_uint64();
              return n && n->is_int64() && n->get_int64() >= 0 ? static_cast<std::uint64_t>(n->get_int64())
                                                                : std::uint64_t{0};
            };
            const std::uint64_t total = count("total"), acked = count("acknowledged"), rejected = count("rejected");
            if (!hub) {
              print_outcome(s, "processed");
              co_return kSubmitOk;
            }
            if (acked + rejected >= total) {
              if (rejected > 0) {
                print_outcome(s, "the hub rejected " + std::to_string(rejected) + " of " + std::to_string(total) +
                                     " batch(es): their records did not reach the force; the gateway's operator "
                                     "can send them again once the hub takes them (svdgw requeue)");
                co_return kSubmitNotShared;
              }
              print_outcome(s, "processed, and every batch acknowledged by the hub");
              co_return kSubmitOk;
            }
          }
        }
      }
      if (SteadyClock::now() >= deadline) {
        err_ << kPrefix << "still " << printable(state) << " after waiting " << seconds_text(options_.wait_timeout_seconds)
             << " s" << (last_problem.empty() ? std::string() : " (last: " + last_problem + ")") << '\n';
        co_return kSubmitWaitTimedOut;
      }
      pause.expires_after(std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double>(options_.poll_seconds)));
      co_await pause.async_wait(kAwait);
    }
  }

  // The outcome of --wait: the rows and batches, and the refusal's reason when there is one.
  void print_outcome(const json::object& s, const std::string& verdict) const {
    const json::value* r = s.if_contains("report");
    const json::object* report = r && r->is_object() ? &r->get_object() : nullptr;
    const auto number = [](const json::object* o, const char* key) -> std::string {
      const json::value* n = o ? o->if_contains(key) : nullptr;
      return n && n->is_number() ? json::serialize(*n) : "?";
    };
    const json::value* rows = report ? report->if_contains("rows") : nullptr;
    const json::object* rows_o = rows && rows->is_object() ? &rows->get_object() : nullptr;
    const json::value* b = s.if_contains("batches");
    const json::object* batches = b && b->is_object() ? &b->get_object() : nullptr;
    out_ << "outcome:     " << verdict << '\n'
         << "rows:        " << number(rows_o, "total") << " total, " << number(rows_o, "valid") << " valid, "
         << number(rows_o, "rejected") << " rejected\n"
         << "batches:     " << number(batches, "total") << ", acknowledged by the hub " << number(batches, "acknowledged")
         << ", rejected by the hub " << number(batches, "rejected") << '\n';
    if (const json::value* c = report ? report->if_contains("rejections_by_code") : nullptr; c && c->is_object())
      for (const auto& [code, n] : c->get_object())
        out_ << "  rejected rows, " << printable(std::string_view(code.data(), code.size())) << ": "
             << (n.is_number() ? json::serialize(n) : "?") << '\n';
    if (const json::value* f = report ? report->if_contains("refusal") : nullptr; f && f->is_object()) {
      const auto text = [&](const char* key) {
        const json::value* t = f->get_object().if_contains(key);
        return t && t->is_string() ? printable(std::string_view(t->get_string().data(), t->get_string().size()))
                                   : std::string();
      };
      err_ << kPrefix << "refused: " << text("code") << " — " << text("message") << '\n';
    }
  }

  void print_receipt(const Attempt& a) const {
    const bool created = a.status == 201;
    boost::system::error_code ec;
    const json::value v = json::parse(a.body, ec);
    if (ec || !v.is_object()) {
      out_ << "status:      " << (created ? "created" : "already received") << " (HTTP " << a.status << ")\n";
      err_ << kPrefix << "accepted, but the receipt could not be read\n";
      return;
    }
    const json::object& o = v.get_object();
    auto field = [&](const char* key) -> std::string {
      const json::value* f = o.if_contains(key);
      if (f == nullptr) return {};
      if (f->is_string()) return printable(std::string_view(f->get_string().data(), f->get_string().size()));
      if (f->is_int64() || f->is_uint64()) return json::serialize(*f);
      return {};
    };
    out_ << "extract_id:  " << field("extract_id") << '\n'
         << "status:      " << (created ? "created" : "already received (identical re-send; this is the first receipt)")
         << '\n'
         << "sha256:      " << field("sha256") << '\n'
         << "bytes:       " << field("bytes") << '\n'
         << "received_at: " << field("received_at") << '\n';
    const std::string status_url = field("status_url");
    if (!status_url.empty() && status_url.front() == '/')
      out_ << "status_url:  " << url_.origin << url_.prefix << status_url << '\n';
    // A nothing-to-share return is stored as a document of the gateway's own, with its own digest.
    if (file_ && field("sha256") != file_->sha256())
      err_ << kPrefix << "warning: the receipt's sha256 is not the file's (" << file_->sha256()
           << "); ask the gateway's operator to check this extract\n";
  }

  const SubmitOptions& options_;
  SubmitUrl url_;
  std::shared_ptr<ssl::context> tls_;
  std::optional<ExtractFile> file_;
  std::string target_;
  std::ostream& out_;
  std::ostream& err_;
  std::mt19937_64 rng_;
};

std::string name_rule() { return "1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.'"; }

}  // namespace

// ---- pieces ----------------------------------------------------------------------------------------

std::optional<SubmitUrl> parse_submit_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(boost::core::string_view(text.data(), text.size()));
  if (!parsed) return std::nullopt;
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::https || u.has_userinfo() || u.has_query() || u.has_fragment())
    return std::nullopt;
  SubmitUrl out;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      out.host = std::string(u.host_address());
      break;
    case boost::urls::host_type::name: {
      const std::string_view h(u.encoded_host_address().data(), u.encoded_host_address().size());
      const bool ok = !h.empty() && h.size() <= 253 && h.front() != '.' && h.front() != '-' &&
                      std::all_of(h.begin(), h.end(), [](char c) {
                        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                               c == '.' || c == '-';
                      });
      if (!ok) return std::nullopt;
      out.host = std::string(h);
      break;
    }
    default:
      return std::nullopt;
  }
  if (u.has_port()) {
    const std::string_view p(u.port().data(), u.port().size());
    if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const unsigned long n = std::stoul(std::string(p));
    if (n == 0 || n > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(n);
  }
  std::string path(u.encoded_path().data(), u.encoded_path().size());
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (const auto& seg : u.encoded_segments()) {
    if (seg == "." || seg == "..") return std::nullopt;
  }
  out.prefix = std::move(path);
  const std::string bracketed = u.host_type() == boost::urls::host_type::ipv6 ? "[" + out.host + "]" : out.host;
  out.host_header = out.port == 443 ? bracketed : bracketed + ":" + std::to_string(out.port);
  out.origin = "https://" + out.host_header;
  return out;
}

std::string content_digest_header(std::string_view hex) {
  std::array<unsigned char, 32> bytes{};
  if (!from_hex(hex, bytes)) return {};
  return "sha-256=:" + base64_encode(bytes) + ":";
}

std::optional<std::uint64_t> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

double backoff_seconds(unsigned attempt, double max_seconds, double jitter) {
  const double base = std::ldexp(1.0, static_cast<int>(std::min(attempt, 30u)) - 1);
  return std::min(base, max_seconds) * std::clamp(jitter, 0.5, 1.0);
}

// ---- run_submit -------------------------------------------------------------------------------------

int run_submit(const SubmitOptions& options) { return run_submit(options, std::cout, std::cerr); }

int run_submit(const SubmitOptions& o, std::ostream& out, std::ostream& err) {
  auto usage = [&](const std::string& why) {
    err << kPrefix << why << '\n';
    return kSubmitUsage;
  };

  const auto url = parse_submit_url(o.url);
  if (!url) return usage("--url must be https://HOST[:PORT][/PATH] (no user, query or fragment)");
  if (!valid_identity(o.feed)) return usage("--feed must be 1-64 characters of a-z, 0-9 and '-'");
  if (!(o.timeout_seconds > 0)) return usage("--timeout must be more than 0 seconds");
  if (!(o.max_backoff_seconds >= 0)) return usage("--max-backoff must not be negative");
  if (!(o.wait_timeout_seconds > 0)) return usage("--wait-timeout must be more than 0 seconds");
  if (!(o.poll_seconds > 0)) return usage("the poll interval must be more than 0 seconds");

  std::string target = url->prefix;
  if (o.nothing_to_share) {
    if (!o.file.empty()) return usage("give either FILE or --nothing-to-share, not both");
    if (!o.name.empty()) return usage("--name does not go with --nothing-to-share (the period is the name)");
    if (!protocol::valid_period(*o.nothing_to_share))
      return usage("--nothing-to-share: the period must be an ISO week YYYY-Www, a month YYYY-MM or a day YYYY-MM-DD, "
                   "e.g. 2026-W03");
    target += protocol::nothing_to_share_path(o.feed, *o.nothing_to_share);
  } else {
    if (o.file.empty()) return usage("give the FILE to send, or --nothing-to-share PERIOD");
    const std::string name = o.name.empty() ? o.file.filename().string() : o.name;
    if (!protocol::valid_extract_name(name)) {
      if (o.name.empty())
        return usage("the file's name is not a valid extract name (" + name_rule() + "); give one with --name");
      return usage("--name must be " + name_rule());
    }
    target += protocol::extract_path(o.feed, name);
  }

  auto tls = crypto::make_tls_client_context({o.cert, o.key, o.ca});
  if (!tls) return usage(tls.error().message);
  for (const std::string& w : tls->warnings) err << kPrefix << "warning: " << w << '\n';

  std::optional<ExtractFile> file;
  if (!o.nothing_to_share) {
    std::error_code fec;
    if (!fs::is_regular_file(o.file, fec)) return usage(o.file.string() + ": not a regular file");
    auto fd = std::make_unique<UniqueFd>(::open(o.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!*fd) return usage(o.file.string() + ": cannot open: " + std::generic_category().message(errno));
    const auto digest = crypto::sha256_file(o.file);
    if (!digest) return usage(o.file.string() + ": cannot read");
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != digest->bytes)
      return usage(o.file.string() + ": the file changed while its SHA-256 was computed; send it once the export "
                                     "has finished writing it");
    file.emplace(std::move(fd), digest->bytes, digest->sha256);
  }

  asio::io_context io;
  Uploader uploader(o, *url, std::move(tls->context), std::move(file), std::move(target), out, err);
  int code = kSubmitUsage;
  asio::co_spawn(io, uploader.run(), [&](std::exception_ptr e, int rc) {
    if (!e) {
      code = rc;
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      err << kPrefix << "internal error: " << ex.what() << '\n';
    } catch (...) {
      err << kPrefix << "internal error\n";
    }
  });
  io.run();
  return code;
}

}  // namespace svd::ingest
