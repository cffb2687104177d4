// The HTTPS upload API against real sockets on 127.0.0.1: a test PKI made by make-pki.sh at test
// time, a fake ApiBackend at the seam, and real TLS clients (a Beast client here; curl for what
// a client library should be forced into, such as TLS 1.1).

#include "ingest/http_api.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "base/base64.h"
#include "crypto/sha256.h"
#include "crypto/tls_server.h"
#include "tests/support/eventually.h"
#include "tests/support/io_thread.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace svd::ingest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using test_support::eventually;
using test_support::TempDir;

constexpr auto kClientTimeout = 20s;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

std::array<unsigned char, 32> sha256(const std::string& s) {
  crypto::Sha256 h;
  h.update(s);
  return h.finish();
}

// ---- child processes (make-pki.sh, curl, openssl), stopped only by the PID we started ----------

using ProcessResult = test_support::RunResult;

// `args` (a program by path or by name from PATH) to completion within `limit`, stdin from `in`
// (/dev/null when empty).
ProcessResult run_process(const std::vector<std::string>& args, std::chrono::seconds limit, const fs::path& in = {}) {
  return test_support::run(args, {.timeout = limit, .in = in});
}

// ---- the test PKI ---------------------------------------------------------------------------------

class TestPki {
 public:
  TestPki() : tmp_("svd-http-pki"), dir_(tmp_ / "pki") {
    const auto r = run_process({"/bin/sh", std::string(SVD_MAKE_PKI), dir_.string(), "--server", "gw-api", "--server",
                                "gw-api-2", "--gateway", "export-a", "--gateway", "export-b", "--gateway",
                                "spool", "--gateway", "revoked-one", "--revoke", "revoked-one", "--other-ca"},
                               120s);
    if (r.exit_code != 0) throw std::runtime_error("make-pki.sh failed: " + r.err);
  }
  const fs::path& dir() const { return dir_; }
  fs::path ca() const { return dir_ / "ca.crt"; }
  fs::path crl() const { return dir_ / "crl.pem"; }
  fs::path server_cert(const std::string& n = "gw-api") const { return dir_ / "servers" / (n + ".crt"); }
  fs::path server_key(const std::string& n = "gw-api") const { return dir_ / "servers" / (n + ".key"); }
  fs::path client_cert(const std::string& id) const { return dir_ / "clients" / (id + ".crt"); }
  fs::path client_key(const std::string& id) const { return dir_ / "clients" / (id + ".key"); }
  fs::path other_ca() const { return dir_ / "other-ca" / "ca.crt"; }
  fs::path rogue_cert() const { return dir_ / "other-ca" / "rogue.crt"; }
  fs::path rogue_key() const { return dir_ / "other-ca" / "rogue.key"; }

  crypto::TlsServerFiles files(const std::string& server = "gw-api") const {
    return {server_cert(server), server_key(server), ca(), crl()};
  }
  fs::path scratch(const std::string& name) const { return tmp_ / name; }

 private:
  TempDir tmp_;
  fs::path dir_;
};

// ---- a TLS client ---------------------------------------------------------------------------------

struct Reply {
  beast::error_code ec;
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  bool keep_alive = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class TlsClient {
 public:
  struct Identity {
    fs::path cert, key;
  };
  TlsClient(const fs::path& ca, std::optional<Identity> id) : ctx_(ssl::context::tls_client) {
    ctx_.load_verify_file(ca.string());
    ctx_.set_verify_mode(ssl::verify_peer);
    if (id) {
      ctx_.use_certificate_chain_file(id->cert.string());
      ctx_.use_private_key_file(id->key.string(), ssl::context::pem);
    }
  }
  // Pins TLS 1.2, where a refused client certificate fails the handshake itself (in TLS 1.3 the
  // client's handshake completes before the server has checked its certificate).
  void tls12_only() { SSL_CTX_set_max_proto_version(ctx_.native_handle(), TLS1_2_VERSION); }

  beast::error_code connect(unsigned short port) {
    stream_.emplace(io_, ctx_);
    buffer_.clear();
    stream_->set_verify_callback(ssl::host_name_verification("localhost"));
    tcp_layer().expires_after(kClientTimeout);
    const tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
    auto ec = run([&](auto h) { tcp_layer().async_connect(server, h); });
    if (ec) return ec;
    tcp_layer().socket().set_option(tcp::no_delay(true), ec);  // no 40 ms Nagle/delayed-ACK stalls
    tcp_layer().expires_after(kClientTimeout);
    return run([&](auto h) { stream_->async_handshake(ssl::stream_base::client, h); });
  }

  beast::error_code write(const std::string& bytes) {
    tcp_layer().expires_after(kClientTimeout);
    return run([&](auto h) { asio::async_write(*stream_, asio::buffer(bytes), h); });
  }

  Reply read_reply() {
    Reply r;
    http::response_parser<http::string_body> p;
    p.body_limit(std::uint64_t{64} << 20);
    tcp_layer().expires_after(kClientTimeout);
    r.ec = run([&](auto h) { http::async_read(*stream_, buffer_, p, h); });
    if (r.ec) return r;
    const auto& res = p.get();
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    r.keep_alive = res.keep_alive();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.headers[name] = std::string(f.value());
    }
    return r;
  }

  // Reads until the server closes (or `limit`); returns how it ended.
  beast::error_code read_until_closed(std::chrono::seconds limit = kClientTimeout) {
    std::array<char, 4096> buf{};
    tcp_layer().expires_after(limit);
    for (;;) {
      auto ec = run([&](auto h) { stream_->async_read_some(asio::buffer(buf), h); });
      if (ec) return ec;
    }
  }

  Reply request(const std::string& raw) {
    if (auto ec = write(raw)) {
      Reply r;
      r.ec = ec;
      return r;
    }
    return read_reply();
  }

  void close() {
    if (stream_) tcp_layer().close();
  }

 private:
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(*stream_); }

  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  asio::io_context io_;
  ssl::context ctx_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

std::string put_head(const std::string& target, std::optional<std::size_t> length,
                     const std::string& extra_headers = "") {
  std::string h = "PUT " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  h += length ? "Content-Length: " + std::to_string(*length) + "\r\n" : "Transfer-Encoding: chunked\r\n";
  return h + extra_headers + "\r\n";
}

std::string chunked(const std::string& body, std::size_t piece) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); i += piece) {
    const std::size_t n = std::min(piece, body.size() - i);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out.append(body, i, n);
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::string get(const std::string& target, const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

// ---- the fake backend -----------------------------------------------------------------------------

class FakeBackend : public ApiBackend {
 public:
  struct AcceptCall {
    Upload upload;
    fs::path file;
    std::string sha256;
    std::uint64_t bytes = 0;
  };

  explicit FakeBackend(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  ~FakeBackend() override { join_threads(); }

  // Configuration (set before the request).
  Admission admission = Admission::ok;
  std::optional<errc> incoming_error, accept_error;
  bool answer_from_thread = false;
  bool drop_incoming_callback = false;
  bool incoming_is_full_device = false;  // hand out a /dev/full node: every write fails with ENOSPC
  bool hold_accept = false;  // keep accept()'s callback until release_accept()
  ApiReply health_reply{200, "application/json", R"({"status":"ok"})"};
  std::function<void()> on_health;

  // Room for this many body bytes per upload (grow_to() beyond it: false); none: no room at all.
  std::optional<std::uint64_t> room_bytes;

  Admitted admit(const Upload& upload, std::optional<std::uint64_t> content_length) override {
    {
      std::lock_guard lock(mu_);
      admits_.push_back({upload, content_length});
      cv_.notify_all();
    }
    if (!room_bytes) return admission;
    return {admission, std::make_unique<Room>(*this, *room_bytes)};  // the room takes mu_ itself
  }

  void incoming_file(std::function<void(result<fs::path>)> done) override {
    std::unique_lock lock(mu_);
    if (drop_incoming_callback) return;  // destroyed unanswered
    result<fs::path> answer = errc::io_error;
    if (incoming_error) {
      answer = *incoming_error;
    } else {
      const fs::path p = dir_ / ("incoming-" + std::to_string(files_.size()));
      if (incoming_is_full_device) {
        if (::mknod(p.c_str(), S_IFCHR | 0600, makedev(1, 7)) == 0) {
          files_.push_back(p);
          answer = p;
        }
      } else if (const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); fd >= 0) {
        ::close(fd);
        files_.push_back(p);
        answer = p;
      }
    }
    cv_.notify_all();
    lock.unlock();
    answer_with(std::move(done), std::move(answer));
  }

  void accept(const Upload& upload, const fs::path& file, const std::string& sha, std::uint64_t bytes,
              std::function<void(result<AcceptResult>)> done) override {
    std::unique_lock lock(mu_);
    accepts_.push_back({upload, file, sha, bytes});
    cv_.notify_all();
    result<AcceptResult> answer = errc::io_error;
    if (accept_error) {
      answer = *accept_error;
    } else {
      AcceptResult a;
      const auto key = upload.feed + "/" + upload.name;
      auto it = stored_.find(key);
      if (it == stored_.end()) {
        stored_[key] = sha;
        a.outcome = AcceptResult::Outcome::created;
      } else {
        a.outcome = it->second == sha ? AcceptResult::Outcome::same : AcceptResult::Outcome::conflict;
      }
      a.extract_id = upload.feed + "-" + sha.substr(0, 16);
      a.receipt_json = R"({"extract_id":")" + a.extract_id + R"(","sha256":")" + stored_[key] + "\"}";
      answer = a;
    }
    if (hold_accept) {
      held_ = [done = std::move(done), answer]() { done(answer); };
      return;
    }
    lock.unlock();
    answer_with(std::move(done), std::move(answer));
  }

  void status(const std::string& id, const std::string& client, std::function<void(ApiReply)> done) override {
    {
      std::lock_guard lock(mu_);
      statuses_.emplace_back(id, client);
    }
    if (id == "ed-assaults-0123456789abcdef") {
      answer_with(std::move(done), ApiReply{200, "application/json", R"({"state":"processed"})"});
    } else {
      answer_with(std::move(done), problem_reply(404, "not_found", "Not found"));
    }
  }

  ApiReply health() override {
    if (on_health) on_health();
    return health_reply;
  }

  void release_accept() {
    std::function<void()> f;
    {
      std::lock_guard lock(mu_);
      f = std::move(held_);
      held_ = nullptr;
    }
    if (f) f();
  }

  // Observations.
  // What the rooms were asked for, in order; how many rooms are still held.
  std::vector<std::uint64_t> room_requests() {
    std::lock_guard lock(mu_);
    return room_requests_;
  }
  int rooms_held() {
    std::lock_guard lock(mu_);
    return rooms_held_;
  }
  std::vector<std::pair<Upload, std::optional<std::uint64_t>>> admits() {
    std::lock_guard lock(mu_);
    return admits_;
  }
  std::vector<fs::path> files() {
    std::lock_guard lock(mu_);
    return files_;
  }
  std::vector<AcceptCall> accepts() {
    std::lock_guard lock(mu_);
    return accepts_;
  }
  std::vector<std::pair<std::string, std::string>> statuses() {
    std::lock_guard lock(mu_);
    return statuses_;
  }
  bool wait_for_admits(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kClientTimeout, [&] { return admits_.size() >= n; });
  }
  bool wait_for_accepts(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kClientTimeout, [&] { return accepts_.size() >= n; });
  }
  void join_threads() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  class Room final : public BodyRoom {
   public:
    Room(FakeBackend& backend, std::uint64_t bytes) : backend_(backend), bytes_(bytes) {
      std::lock_guard lock(backend_.mu_);
      ++backend_.rooms_held_;
    }
    ~Room() override {
      std::lock_guard lock(backend_.mu_);
      --backend_.rooms_held_;
    }
    bool grow_to(std::uint64_t bytes) override {
      std::lock_guard lock(backend_.mu_);
      backend_.room_requests_.push_back(bytes);
      return bytes <= bytes_;
    }

   private:
    FakeBackend& backend_;
    const std::uint64_t bytes_;
  };

  template <class F, class T>
  void answer_with(F done, T answer) {
    if (!answer_from_thread) {
      done(std::move(answer));
      return;
    }
    std::lock_guard lock(mu_);
    threads_.emplace_back([done = std::move(done), answer = std::move(answer)]() mutable { done(std::move(answer)); });
  }

  fs::path dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Upload, std::optional<std::uint64_t>>> admits_;
  std::vector<fs::path> files_;
  std::vector<AcceptCall> accepts_;
  std::vector<std::pair<std::string, std::string>> statuses_;
  std::map<std::string, std::string> stored_;
  std::function<void()> held_;
  std::vector<std::thread> threads_;
  std::vector<std::uint64_t> room_requests_;
  int rooms_held_ = 0;
};

// ---- fixture --------------------------------------------------------------------------------------

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!pki_) pki_ = std::make_unique<TestPki>();
  }

  void SetUp() override {
    backend_ = std::make_unique<FakeBackend>(tmp_ / "incoming");
    io_thread_ = std::make_unique<test_support::IoThread>();
  }

  void TearDown() override {
    on_io([&] {
      server_.reset();
      backend_->release_accept();
    });
    backend_->join_threads();
    io_thread_.reset();
    backend_.reset();
  }

  static HttpServerOptions options() {
    HttpServerOptions o;
    o.max_body_bytes = 8 << 20;
    o.idle_timeout = 5s;
    o.header_timeout = 5s;
    o.max_connections = 32;
    return o;
  }

  static std::shared_ptr<ssl::context> context(const crypto::TlsServerFiles& files) {
    auto made = crypto::make_tls_server_context(files);
    if (!made) throw std::runtime_error(made.error().message);
    return made->context;
  }

  template <class F>
  void on_io(F f) {
    io_thread_->run(std::move(f));
  }

  void start(HttpServerOptions o = options(), std::shared_ptr<ssl::context> ctx = nullptr) {
    if (!ctx) ctx = context(pki_->files());
    on_io([&] {
      auto s = HttpServer::open(io_thread_->io(), ctx, o, *backend_, [this](const std::string& line) {
        std::lock_guard lock(log_mu_);
        log_.push_back(line);
      });
      ASSERT_TRUE(s.has_value());
      server_ = std::move(*s);
      port_ = server_->port();
    });
    ASSERT_NE(port_, 0);
  }

  HttpCounters counters() {
    HttpCounters k;
    on_io([&] { k = server_->counters(); });
    return k;
  }

  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mu_);
    return log_;
  }
  std::string log_text() {
    std::string all;
    for (const auto& l : log_lines()) all += l + "\n";
    return all;
  }

  std::unique_ptr<TlsClient> client(const std::string& id = "export-a") {
    auto c = std::make_unique<TlsClient>(pki_->ca(), TlsClient::Identity{pki_->client_cert(id), pki_->client_key(id)});
    return c;
  }
  std::unique_ptr<TlsClient> connected(const std::string& id = "export-a") {
    auto c = client(id);
    EXPECT_FALSE(c->connect(port_)) << "connect as " << id;
    return c;
  }

  Reply upload(TlsClient& c, const std::string& target, const std::string& body, const std::string& extra = "") {
    return c.request(put_head(target, body.size(), extra) + body);
  }

  static void expect_problem(const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.body, ec);
    ASSERT_FALSE(ec) << r.body;
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("type").as_string(), "https://svd-gateway.example/problems/" + code);
    EXPECT_EQ(o.at("status").as_int64(), status);
    EXPECT_FALSE(o.at("title").as_string().empty());
    EXPECT_FALSE(o.at("detail").as_string().empty());
    EXPECT_EQ(o.size(), 4u);
  }

  // Every file handed out by incoming_file() and not passed to accept() is gone (removed by the
  // server); accepted ones are the backend's.
  void expect_files_removed() {
    const auto accepts = backend_->accepts();
    for (const auto& f : backend_->files()) {
      const bool accepted =
          std::any_of(accepts.begin(), accepts.end(), [&](const FakeBackend::AcceptCall& a) { return a.file == f; });
      if (!accepted) {
        EXPECT_FALSE(fs::exists(f)) << "incoming file left behind";
      }
    }
  }

  static std::unique_ptr<TestPki> pki_;
  TempDir tmp_{"svd-http-test"};
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<test_support::IoThread> io_thread_;
  std::unique_ptr<HttpServer> server_;
  unsigned short port_ = 0;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

std::unique_ptr<TestPki> HttpApiTest::pki_;

const std::string kTarget = "/v1/feeds/ed-assaults/extracts/week-01.csv";

// ---- uploads --------------------------------------------------------------------------------------

TEST_F(HttpApiTest, UploadIsCreatedThenAnIdenticalResendIsTheSame) {
  start();
  auto c = connected();
  const std::string body = "id,date\n1,2026-01-05\n2,2026-01-06\n";
  const Reply first = upload(*c, kTarget, body);
  ASSERT_FALSE(first.ec) << first.ec.message();
  EXPECT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.header("content-type"), "application/json");
  const std::string hex = crypto::sha256_hex(body);
  EXPECT_EQ(first.header("location"), "/v1/extracts/ed-assaults-" + hex.substr(0, 16));
  EXPECT_NE(first.body.find(hex), std::string::npos);
  EXPECT_TRUE(first.keep_alive);

  ASSERT_EQ(backend_->accepts().size(), 1u);
  const auto a = backend_->accepts()[0];
  EXPECT_EQ(a.upload.kind, UploadKind::extract);
  EXPECT_EQ(a.upload.feed, "ed-assaults");
  EXPECT_EQ(a.upload.name, "week-01.csv");
  EXPECT_EQ(a.upload.client, "export-a");
  EXPECT_EQ(a.sha256, hex);
  EXPECT_EQ(a.bytes, body.size());
  EXPECT_EQ(read_file(a.file), body);
  ASSERT_EQ(backend_->admits().size(), 1u);
  EXPECT_EQ(backend_->admits()[0].second, std::optional<std::uint64_t>(body.size()));

  // Same connection (keep-alive), same bytes: 200 with the first receipt.
  const Reply again = upload(*c, kTarget, body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("location"), first.header("location"));
  const auto k = counters();
  EXPECT_EQ(k.uploads_created, 1u);
  EXPECT_EQ(k.uploads_same, 1u);
  EXPECT_EQ(k.requests, 2u);
  EXPECT_EQ(k.connections, 1u);
}

TEST_F(HttpApiTest, ConflictingContentUnderTheSameNameIs409) {
  start();
  auto c = connected();
  ASSERT_EQ(upload(*c, kTarget, "a,b\n1,2\n").status, 201);
  const Reply r = upload(*c, kTarget, "a,b\n3,4\n");
  expect_problem(r, 409, "conflict");
}

TEST_F(HttpApiTest, MultiMiBBodyIsStreamedToTheFileNotHeldInMemory) {
  start();
  auto c = connected();
  const std::string body = random_bytes(std::size_t{6} << 20, 1);
  // The head and the first 2 MiB; the server must have written most of it to the file before the
  // rest is sent, i.e. it writes as it reads.
  ASSERT_FALSE(c->write(put_head(kTarget, body.size()) + body.substr(0, std::size_t{2} << 20)));
  ASSERT_TRUE(eventually([&] {
    const auto files = backend_->files();
    std::error_code ec;
    return files.size() == 1 && fs::file_size(files[0], ec) >= (std::size_t{1} << 20) && !ec;
  })) << "nothing reached the incoming file while the body was still being sent";
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_FALSE(c->write(body.substr(std::size_t{2} << 20)));
  const Reply r = c->read_reply();
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(backend_->accepts().size(), 1u);
  const auto a = backend_->accepts()[0];
  EXPECT_EQ(a.bytes, body.size());
  EXPECT_EQ(a.sha256, crypto::sha256_hex(body));
  EXPECT_TRUE(read_file(a.file) == body);
}

TEST_F(HttpApiTest, ChunkedUploadLandsByteIdentical) {
  start();
  auto c = connected();
  const std::string body = random_bytes(300000, 2);
  const Reply r = c->request(put_head(kTarget, std::nullopt) + chunked(body, 7000));
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(backend_->admits().size(), 1u);
  EXPECT_FALSE(backend_->admits()[0].second.has_value()) << "a chunked body has no Content-Length to admit";
  const auto a = backend_->accepts().at(0);
  EXPECT_EQ(a.bytes, body.size());
  EXPECT_EQ(a.sha256, crypto::sha256_hex(body));
  EXPECT_TRUE(read_file(a.file) == body);
  // The connection stays usable after a chunked body.
  EXPECT_EQ(c->request(get("/healthz")).status, 200);
}

TEST_F(HttpApiTest, ExpectContinueGetsA100OnlyAfterAdmission) {
  start();
  auto c = connected();
  const std::string body = "x,y\n1,2\n";
  ASSERT_FALSE(c->write(put_head(kTarget, body.size(), "Expect: 100-continue\r\n")));
  const Reply cont = c->read_reply();
  ASSERT_EQ(cont.status, 100);
  ASSERT_FALSE(c->write(body));
  EXPECT_EQ(c->read_reply().status, 201);

  backend_->admission = Admission::forbidden;
  ASSERT_FALSE(c->write(put_head("/v1/feeds/ed-assaults/extracts/other.csv", body.size(), "Expect: 100-continue\r\n")));
  const Reply refused = c->read_reply();  // no 100 first: the final answer straight away
  expect_problem(refused, 403, "forbidden");
  EXPECT_FALSE(refused.keep_alive);
  EXPECT_EQ(backend_->files().size(), 1u) << "a refused upload got a file";
}

TEST_F(HttpApiTest, OtherExpectationsAre417) {
  start();
  auto c = connected();
  expect_problem(c->request(put_head(kTarget, 3, "Expect: something-else\r\n") + "abc"), 417, "expectation_failed");
}

TEST_F(HttpApiTest, ContentDigestThatMatchesIsAccepted) {
  start();
  auto c = connected();
  const std::string body = "a,b\n1,2\n";
  const std::string digest = "Content-Digest: sha-512=:AAAA:, sha-256=:" + base64_encode(sha256(body)) + ":\r\n";
  const Reply r = upload(*c, kTarget, body, digest);
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(HttpApiTest, ContentDigestMismatchIs400AndRemovesTheFile) {
  start();
  auto c = connected();
  const std::string body = "a,b\n1,2\n";
  const Reply r = upload(*c, kTarget, body, "Content-Digest: sha-256=:" + base64_encode(sha256("other")) + ":\r\n");
  expect_problem(r, 400, "digest_mismatch");
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_EQ(backend_->files().size(), 1u);
  expect_files_removed();
  // The body was read to its end: the connection may stay open.
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(c->request(get("/healthz")).status, 200);
}

TEST_F(HttpApiTest, MalformedContentDigestIs400BeforeAdmission) {
  start();
  const std::vector<std::string> values = {"sha-256=:not base64!:", "sha-256=:" + base64_encode(sha256("x")).substr(4) + ":",
                                           "sha-256=abc", "sha-256=:" + base64_encode(sha256("x")) + ":,", "SHA-256=:AAAA:"};
  for (const auto& value : values) {
    auto c = connected();
    const Reply r = upload(*c, kTarget, "a", "Content-Digest: " + value + "\r\n");
    expect_problem(r, 400, "bad_content_digest");
  }
  EXPECT_TRUE(backend_->admits().empty());
  EXPECT_TRUE(backend_->files().empty());
}

TEST_F(HttpApiTest, ContentLengthOverTheLimitIs413WithoutReadingOrAdmitting) {
  auto o = options();
  o.max_body_bytes = 1000;
  start(o);
  auto c = connected();
  const Reply r = c->request(put_head(kTarget, 1001));  // the body never comes
  expect_problem(r, 413, "too_large");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(backend_->admits().empty());
  EXPECT_TRUE(backend_->files().empty());
  // Exactly the limit is fine.
  auto c2 = connected();
  EXPECT_EQ(upload(*c2, kTarget, std::string(1000, 'x')).status, 201);
}

TEST_F(HttpApiTest, ChunkedBodyOverTheLimitIs413AndRemovesTheFile) {
  auto o = options();
  o.max_body_bytes = 100000;
  start(o);
  auto c = connected();
  // Sent whole, without waiting: the server answers mid-body and drains the rest so this client
  // still gets to read the answer.
  const Reply r = c->request(put_head(kTarget, std::nullopt) + chunked(random_bytes(300000, 3), 10000));
  expect_problem(r, 413, "too_large");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_EQ(backend_->files().size(), 1u);
  expect_files_removed();
}

TEST_F(HttpApiTest, AChunkedBodyTakesRoomAsItArrivesAndGives507WhenItOutgrowsIt) {
  start();
  backend_->room_bytes = 200000;
  auto c = connected();
  const std::string fits = random_bytes(150000, 5);
  ASSERT_EQ(c->request(put_head(kTarget, std::nullopt) + chunked(fits, 10000)).status, 201);
  auto asked = backend_->room_requests();
  ASSERT_FALSE(asked.empty());
  EXPECT_TRUE(std::is_sorted(asked.begin(), asked.end())) << "room is asked for the body so far, growing";
  EXPECT_EQ(asked.back(), fits.size()) << "the last request covers the whole body";

  const Reply r = connected()->request(put_head("/v1/feeds/ed-assaults/extracts/b.csv", std::nullopt) +
                                       chunked(random_bytes(300000, 6), 10000));
  expect_problem(r, 507, "storage_full");
  EXPECT_FALSE(r.keep_alive);
  asked = backend_->room_requests();
  EXPECT_GT(asked.back(), 200000u);
  EXPECT_LT(asked.back(), 300000u) << "refused before the body ended, not after it was all written";
  EXPECT_EQ(backend_->accepts().size(), 1u) << "only the first body was accepted";
  ASSERT_EQ(backend_->files().size(), 2u);
  EXPECT_FALSE(fs::exists(backend_->files()[1])) << "the refused body's file is removed";
  EXPECT_TRUE(eventually([&] { return backend_->rooms_held() == 0; })) << "every room is given back";
}

class AdmissionTest : public HttpApiTest,
                      public ::testing::WithParamInterface<std::tuple<Admission, int, std::string>> {};

TEST_P(AdmissionTest, RefusedBeforeAnyBodyByteOrFile) {
  const auto [admission, status, code] = GetParam();
  start();
  backend_->admission = admission;
  auto c = connected();
  const std::string body = random_bytes(200000, 4);
  const Reply r = upload(*c, kTarget, body);
  expect_problem(r, status, code);
  EXPECT_FALSE(r.keep_alive) << "the body was not read: the connection must close";
  EXPECT_EQ(r.header("retry-after").empty(), status != 503);
  EXPECT_TRUE(backend_->files().empty());
  EXPECT_TRUE(backend_->accepts().empty());
  EXPECT_EQ(c->read_until_closed(), asio::error::eof) << "expected a clean TLS close after the reply";
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, AdmissionTest,
    ::testing::Values(std::make_tuple(Admission::forbidden, 403, "forbidden"),
                      std::make_tuple(Admission::unknown_feed, 404, "unknown_feed"),
                      std::make_tuple(Admission::storage_full, 507, "storage_full"),
                      std::make_tuple(Admission::unavailable, 503, "unavailable")));

TEST_F(HttpApiTest, BackendErrorsMapToProblems) {
  start();
  {
    backend_->incoming_error = errc::storage_full;
    auto c = connected();
    expect_problem(upload(*c, kTarget, "abc"), 507, "storage_full");
    backend_->incoming_error = errc::io_error;
    auto c2 = connected();
    expect_problem(upload(*c2, kTarget, "abc"), 500, "internal_error");
    backend_->incoming_error.reset();
  }
  backend_->accept_error = errc::storage_full;
  auto c = connected();
  expect_problem(upload(*c, kTarget, "abc"), 507, "storage_full");
  backend_->accept_error = errc::io_error;
  expect_problem(upload(*c, kTarget, "abc"), 500, "internal_error");
  const auto k = counters();
  EXPECT_EQ(k.responses_5xx, 4u);
}

TEST_F(HttpApiTest, DiskFullWhileWritingIs507AndRemovesTheFile) {
  // A node with /dev/full's numbers (1, 7) in the test's directory: every write fails with ENOSPC.
  const fs::path probe = tmp_ / "probe-full";
  if (::mknod(probe.c_str(), S_IFCHR | 0600, makedev(1, 7)) != 0) GTEST_SKIP() << "cannot make a device node";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "device nodes are not usable here (nodev)";
  ::close(fd);
  start();
  backend_->incoming_is_full_device = true;
  auto c = connected();
  const Reply r = upload(*c, kTarget, random_bytes(200000, 6));
  expect_problem(r, 507, "storage_full");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_EQ(backend_->files().size(), 1u);
  expect_files_removed();
}

TEST_F(HttpApiTest, AnswersFromAnotherThreadWork) {
  start();
  backend_->answer_from_thread = true;
  auto c = connected();
  EXPECT_EQ(upload(*c, kTarget, "a,b\n").status, 201);
  EXPECT_EQ(c->request(get("/v1/extracts/ed-assaults-0123456789abcdef")).status, 200);
}

TEST_F(HttpApiTest, ACallbackDroppedUnansweredIs500NotAHang) {
  start();
  backend_->drop_incoming_callback = true;
  auto c = connected();
  expect_problem(upload(*c, kTarget, "a,b\n"), 500, "internal_error");
}

TEST_F(HttpApiTest, NothingToShareNeedsAnEmptyBody) {
  start();
  auto c = connected();
  const std::string nts = "/v1/feeds/ed-assaults/nothing-to-share/2026-W01";
  const Reply ok = c->request(put_head(nts, 0));
  EXPECT_EQ(ok.status, 201) << ok.body;
  ASSERT_EQ(backend_->accepts().size(), 1u);
  EXPECT_EQ(backend_->accepts()[0].upload.kind, UploadKind::nothing_to_share);
  EXPECT_EQ(backend_->accepts()[0].bytes, 0u);
  EXPECT_EQ(backend_->accepts()[0].sha256, crypto::sha256_hex(""));

  auto c2 = connected();
  expect_problem(upload(*c2, "/v1/feeds/ed-assaults/nothing-to-share/2026-W02", "hello"), 400, "body_not_empty");
  EXPECT_EQ(backend_->admits().size(), 1u) << "refused before admission";

  auto c3 = connected();
  const Reply r = c3->request(put_head("/v1/feeds/ed-assaults/nothing-to-share/2026-W03", std::nullopt) +
                              chunked("not empty", 4));
  expect_problem(r, 400, "body_not_empty");
  EXPECT_EQ(backend_->accepts().size(), 1u);
  expect_files_removed();
  // An empty chunked body is an empty body.
  auto c4 = connected();
  EXPECT_EQ(c4->request(put_head("/v1/feeds/ed-assaults/nothing-to-share/2026-W04", std::nullopt) + "0\r\n\r\n").status,
            201);
}

// The period is recorded (audit log, the hub): only a week, a month or a day is taken, so nothing
// else sent in its place, such as an identifier, gets that far.
TEST_F(HttpApiTest, ANothingToSharePeriodIsAWeekAMonthOrADay) {
  start();
  const std::vector<std::string> refused{"9990000018", "2026-W00", "2026-W54", "2027-W53", "2026-00", "2026-13",
                                         "2026-02-29", "2026-04-31", "2026-w01", "26-W01", "2026-W1", "2026-1-01",
                                         "2026-01-01x", "x2026-01", "2026", "week-01"};
  auto c = connected();
  for (std::size_t i = 0; i < refused.size(); ++i) {
    SCOPED_TRACE(i);  // by index: the value may look like an identifier
    const Reply r = c->request(put_head("/v1/feeds/ed-assaults/nothing-to-share/" + refused[i], 0));
    expect_problem(r, 400, "invalid_period");
    EXPECT_EQ(r.body.find(refused[i]), std::string::npos) << "the reply echoes it";
    if (!r.keep_alive) c = connected();
  }
  EXPECT_TRUE(backend_->admits().empty());
  for (const char* period : {"2026-W53", "2020-W53", "2026-W01", "2026-01", "2026-12", "2024-02-29", "2026-12-31"}) {
    EXPECT_EQ(c->request(put_head("/v1/feeds/ed-assaults/nothing-to-share/" + std::string(period), 0)).status, 201)
        << period;
  }
  EXPECT_EQ(log_text().find("9990000018"), std::string::npos);
}

TEST_F(HttpApiTest, BadNamesAndPathTraversalAre400WithoutReachingTheBackend) {
  start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/feeds/ed-assaults/extracts/..", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/.", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/%2E%2E", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/..%2F..%2Fetc%2Fpasswd", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/a%2Fb", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/a%5Cb", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/a%00b", "invalid_path"},
      {"/v1/feeds/../extracts/x.csv", "invalid_path"},
      {"/v1/feeds/ed-assaults/extracts/.hidden", "invalid_name"},
      {"/v1/feeds/ed-assaults/extracts/a%20b.csv", "invalid_name"},
      {"/v1/feeds/ed-assaults/extracts/" + std::string(129, 'a'), "invalid_name"},
      {"/v1/feeds/ed-assaults/extracts/caf%C3%A9.csv", "invalid_name"},
      {"/v1/feeds/ED-Assaults/extracts/x.csv", "invalid_feed"},
      {"/v1/feeds/-ed/extracts/x.csv", "invalid_feed"},
      {"/v1/feeds/" + std::string(65, 'a') + "/extracts/x.csv", "invalid_feed"},
      {"/v1/feeds/ed-assaults/extracts/%zz", "bad_request"},
  };
  auto c = connected();
  for (const auto& [target, code] : cases) {
    const Reply r = upload(*c, target, "abc");
    SCOPED_TRACE(target);
    expect_problem(r, 400, code);
    if (!r.keep_alive) c = connected();
  }
  EXPECT_TRUE(backend_->admits().empty());
  EXPECT_TRUE(backend_->files().empty());
  // Connections closed after a reply do close (the client's close ends the server's drain).
  EXPECT_TRUE(eventually([&] { return counters().open_connections == 1; }, 3s)) << counters().open_connections;
  // Longer paths are no route at all.
  expect_problem(upload(*c, "/v1/feeds/ed-assaults/extracts/a/b", "abc"), 404, "not_found");
  c = connected();
  // The longest valid name is fine.
  EXPECT_EQ(upload(*c, "/v1/feeds/ed-assaults/extracts/" + std::string(128, 'a'), "abc").status, 201);
}

TEST_F(HttpApiTest, HugeHeaderIs431) {
  auto o = options();
  o.max_header_bytes = 4096;
  start(o);
  auto c = connected();
  const Reply r =
      c->request("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Filler: " + std::string(8000, 'a') + "\r\n\r\n");
  expect_problem(r, 431, "header_too_large");
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(HttpApiTest, MalformedRequestIs400) {
  start();
  auto c = connected();
  expect_problem(c->request("PUT /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12x\r\n\r\n"), 400,
                 "bad_request");
}

TEST_F(HttpApiTest, UnsupportedCodingsAreRefused) {
  start();
  auto c = connected();
  expect_problem(c->request(put_head(kTarget, 3, "Content-Encoding: gzip\r\n") + "abc"), 415,
                 "unsupported_content_encoding");
  // Beast decodes the chunks whatever codings come before `chunked`; their bytes would be taken
  // for the extract.
  const std::string head = "PUT " + std::string(kTarget) + " HTTP/1.1\r\nHost: localhost\r\n";
  expect_problem(connected()->request(head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked("a,b\n1,2\n", 4)),
                 501, "unsupported_transfer_coding");
  // Beast's parser refuses a second Transfer-Encoding itself.
  expect_problem(connected()->request(head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                      chunked("a,b\n1,2\n", 4)),
                 400, "bad_request");
  EXPECT_TRUE(backend_->admits().empty());
}

// "spool" is who sent every spool-taken extract (and, like "gateway" and "hub", an actor of the
// audit log): a client certificate with that CN, though from the client CA, is refused every
// request before the backend hears of it.
TEST_F(HttpApiTest, AReservedClientNameIsRefusedEveryRequest) {
  start();
  auto c = connected("spool");
  expect_problem(c->request(get("/v1/extracts/ed-assaults-0123456789abcdef")), 403, "reserved_client");
  expect_problem(c->request(get("/healthz")), 403, "reserved_client");
  expect_problem(c->request(get("/no/such/route")), 403, "reserved_client");
  const Reply nts = c->request(put_head("/v1/feeds/ed-assaults/nothing-to-share/2026-W01", 0));
  expect_problem(nts, 403, "reserved_client");
  if (!nts.keep_alive) c = connected("spool");
  expect_problem(upload(*c, kTarget, "a,b\n"), 403, "reserved_client");
  EXPECT_TRUE(backend_->statuses().empty());
  EXPECT_TRUE(backend_->admits().empty());
  EXPECT_TRUE(backend_->files().empty());
  EXPECT_NE(log_text().find("reserved"), std::string::npos) << log_text();
}

// ---- reads ----------------------------------------------------------------------------------------

TEST_F(HttpApiTest, StatusAndHealthz) {
  start();
  auto c = connected("export-b");
  const Reply s = c->request(get("/v1/extracts/ed-assaults-0123456789abcdef"));
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, R"({"state":"processed"})");
  EXPECT_EQ(s.header("content-type"), "application/json");
  EXPECT_EQ(s.header("cache-control"), "no-store");
  ASSERT_EQ(backend_->statuses().size(), 1u);
  EXPECT_EQ(backend_->statuses()[0].second, "export-b") << "the backend gets the caller's identity";

  expect_problem(c->request(get("/v1/extracts/ed-assaults-ffffffffffffffff")), 404, "not_found");
  expect_problem(c->request(get("/v1/extracts/NOT_AN_ID")), 400, "invalid_id");
  EXPECT_EQ(backend_->statuses().size(), 2u);

  const Reply h = c->request(get("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, R"({"status":"ok"})");
  backend_->health_reply = problem_reply(503, "unavailable", "Unavailable", "not ready");
  const Reply down = c->request(get("/healthz"));
  expect_problem(down, 503, "unavailable");
  EXPECT_EQ(down.header("retry-after"), "30");
}

TEST_F(HttpApiTest, UnknownRoutesAre404AndWrongMethods405) {
  start();
  auto c = connected();
  expect_problem(c->request(get("/")), 404, "not_found");
  expect_problem(c->request(get("/metrics")), 404, "not_found");
  expect_problem(c->request(get("/v1/feeds/ed-assaults")), 404, "not_found");
  const Reply post = c->request("POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  expect_problem(post, 405, "method_not_allowed");
  EXPECT_EQ(post.header("allow"), "GET");
  const Reply get_upload = c->request(get(kTarget));
  expect_problem(get_upload, 405, "method_not_allowed");
  EXPECT_EQ(get_upload.header("allow"), "PUT");
  const Reply del = c->request(get("/v1/extracts/ed-assaults-0123456789abcdef", "DELETE"));
  expect_problem(del, 405, "method_not_allowed");
  EXPECT_EQ(del.header("allow"), "GET");
  const auto k = counters();
  EXPECT_EQ(k.responses_4xx, 6u);
  EXPECT_EQ(k.connections, 1u) << "errors with no body keep the connection";
}

// ---- TLS and identity -----------------------------------------------------------------------------

TEST_F(HttpApiTest, NoClientCertificateIsRefused) {
  start();
  TlsClient c(pki_->ca(), std::nullopt);
  // TLS 1.3: the client's handshake may complete before the server refuses; the first read fails.
  const auto ec = c.connect(port_);
  if (!ec) {
    EXPECT_TRUE(c.request(get("/healthz")).ec);
  }
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("peer did not return a certificate"), std::string::npos) << log_text();
  EXPECT_EQ(counters().requests, 0u);
}

TEST_F(HttpApiTest, CertificateFromAnotherCaIsRefused) {
  start();
  TlsClient c(pki_->ca(), TlsClient::Identity{pki_->rogue_cert(), pki_->rogue_key()});
  c.tls12_only();
  EXPECT_TRUE(c.connect(port_));
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("certificate verify failed"), std::string::npos) << log_text();
  EXPECT_EQ(counters().requests, 0u);
}

TEST_F(HttpApiTest, RevokedCertificateIsRefused) {
  start();
  TlsClient c(pki_->ca(), TlsClient::Identity{pki_->client_cert("revoked-one"), pki_->client_key("revoked-one")});
  const auto ec = c.connect(port_);
  if (!ec) {
    EXPECT_TRUE(c.request(get("/healthz")).ec);
  }
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("certificate revoked"), std::string::npos) << log_text();
  EXPECT_EQ(counters().requests, 0u);
  // The same CA's other clients are fine: the CRL is read, not refusing everyone.
  auto ok = connected("export-b");
  EXPECT_EQ(ok->request(get("/healthz")).status, 200);
}

TEST_F(HttpApiTest, ServerCertificateIsNoClientCertificate) {
  start();
  // Signed by the right CA, but extendedKeyUsage serverAuth only.
  TlsClient c(pki_->ca(), TlsClient::Identity{pki_->server_cert("gw-api-2"), pki_->server_key("gw-api-2")});
  c.tls12_only();
  EXPECT_TRUE(c.connect(port_));
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("unsuitable certificate purpose"), std::string::npos) << log_text();
}

TEST_F(HttpApiTest, Tls11IsRefusedAsAProtocolVersionFailure) {
  start();
  const auto r = run_process({"curl", "-sS", "--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0",
                              "--cacert", pki_->ca().string(), "--cert", pki_->client_cert("export-a").string(),
                              "--key", pki_->client_key("export-a").string(), "-o", "/dev/null",
                              "https://127.0.0.1:" + std::to_string(port_) + "/healthz"},
                             60s);
  EXPECT_EQ(r.exit_code, 35) << r.err;  // CURLE_SSL_CONNECT_ERROR
  EXPECT_NE(r.err.find("protocol version"), std::string::npos) << r.err;
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("unsupported protocol"), std::string::npos) << log_text();
}

TEST_F(HttpApiTest, SessionsAreNeverResumed) {
  // A resumed session skips the client-certificate check: the server must neither cache sessions
  // (TLS 1.2 session ids) nor issue tickets (TLS 1.2 and 1.3).
  start();
  const fs::path session = tmp_ / "session.pem";
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  std::ofstream(tmp_ / "request.txt", std::ios::binary) << request;
  auto s_client = [&](const std::string& version, const std::string& session_flag) {
    auto r = run_process({"openssl", "s_client", "-ign_eof", "-connect", "127.0.0.1:" + std::to_string(port_), version,
                          "-CAfile", pki_->ca().string(), "-cert", pki_->client_cert("export-a").string(), "-key",
                          pki_->client_key("export-a").string(), session_flag, session.string()},
                         60s, tmp_ / "request.txt");
    r.out += r.err;  // both streams, as `2>&1` gave them
    return r;
  };
  const auto first = s_client("-tls1_2", "-sess_out");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_NE(first.out.find("HTTP/1.1 200"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("New, TLSv1.2"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find("TLS session ticket:"), std::string::npos) << "a TLS 1.2 ticket was issued";
  // With no cache and no tickets the server hands out no resumable session (an empty session id),
  // so s_client has nothing to save; if it ever does, offering it must not resume.
  if (fs::exists(session)) {
    const auto second = s_client("-tls1_2", "-sess_in");
    EXPECT_NE(second.out.find("New, TLSv1.2"), std::string::npos) << second.out;
    EXPECT_EQ(second.out.find("Reused"), std::string::npos) << second.out;
  }

  fs::remove(session);
  const auto tls13 = s_client("-tls1_3", "-sess_out");
  ASSERT_EQ(tls13.exit_code, 0) << tls13.out;
  EXPECT_NE(tls13.out.find("HTTP/1.1 200"), std::string::npos) << tls13.out;
  EXPECT_EQ(tls13.out.find("Session Ticket arrived"), std::string::npos) << tls13.out;
  EXPECT_FALSE(fs::exists(session)) << "a TLS 1.3 session (ticket) was written";
}

TEST_F(HttpApiTest, Tls12CbcSuitesAreRefused) {
  start();
  const auto r = run_process({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_), "-tls1_2",
                              "-cipher", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA", "-CAfile",
                              pki_->ca().string(), "-cert", pki_->client_cert("export-a").string(), "-key",
                              pki_->client_key("export-a").string()},
                             60s);
  EXPECT_NE(r.exit_code, 0);
  ASSERT_TRUE(eventually([&] { return counters().handshake_failures == 1; }));
  EXPECT_NE(log_text().find("no shared cipher"), std::string::npos) << log_text();
}

TEST_F(HttpApiTest, RenegotiationIsRefused) {
  start();
  // Interactive s_client (no -ign_eof) renegotiates when it reads "R" on a line of its own.
  std::ofstream(tmp_ / "renegotiate.txt", std::ios::binary) << "R\n";
  auto r = run_process({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_), "-tls1_2", "-CAfile",
                        pki_->ca().string(), "-cert", pki_->client_cert("export-a").string(), "-key",
                        pki_->client_key("export-a").string()},
                       60s, tmp_ / "renegotiate.txt");
  r.out += r.err;  // both streams, as `2>&1` gave them
  EXPECT_NE(r.out.find("RENEGOTIATING"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no renegotiation"), std::string::npos) << r.out;
}

TEST_F(HttpApiTest, CurlUploadWithExpectContinue) {
  start();
  const std::string body = random_bytes(std::size_t{3} << 20, 5);
  const fs::path file = tmp_ / "upload.bin";
  write_file(file, body);
  // curl sends Expect: 100-continue for bodies over 1 MiB.
  const auto r = run_process({"curl", "-sS", "--fail-with-body", "-T", file.string(), "--cacert", pki_->ca().string(),
                              "--cert", pki_->client_cert("export-a").string(), "--key",
                              pki_->client_key("export-a").string(), "-H",
                              "Content-Digest: sha-256=:" + base64_encode(sha256(body)) + ":", "-w", "%{http_code}",
                              "-o", "/dev/null", "https://localhost:" + std::to_string(port_) + kTarget},
                             60s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "201");
  ASSERT_EQ(backend_->accepts().size(), 1u);
  EXPECT_EQ(backend_->accepts()[0].sha256, crypto::sha256_hex(body));
}

TEST_F(HttpApiTest, InvalidIdentityInTheCertificateIsRefused) {
  start();
  // A certificate of the right CA whose CN is not an identity ([a-z0-9-]).
  const fs::path dir = pki_->dir();
  const fs::path key = pki_->scratch("upper.key"), csr = pki_->scratch("upper.csr"), crt = pki_->scratch("upper.crt");
  ASSERT_EQ(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                         key.string()},
                        60s)
                .exit_code,
            0);
  ASSERT_EQ(run_process({"openssl", "req", "-new", "-key", key.string(), "-subj", "/CN=Upper Case", "-out",
                         csr.string(), "-config", (dir / "ca-db" / "openssl.cnf").string()},
                        60s)
                .exit_code,
            0);
  const auto signed_r =
      run_process({"openssl", "x509", "-req", "-in", csr.string(), "-CA", pki_->ca().string(), "-CAkey",
                   (dir / "ca.key").string(), "-set_serial", "4242", "-days", "30", "-extfile",
                   (dir / "ca-db" / "openssl.cnf").string(), "-extensions", "client_ext", "-out", crt.string()},
                  60s);
  ASSERT_EQ(signed_r.exit_code, 0) << signed_r.err;
  TlsClient c(pki_->ca(), TlsClient::Identity{crt, key});
  ASSERT_FALSE(c.connect(port_));
  EXPECT_TRUE(c.request(get("/healthz")).ec);
  EXPECT_EQ(counters().handshake_failures, 1u);
  EXPECT_NE(log_text().find("not a valid identity"), std::string::npos) << log_text();
  EXPECT_EQ(log_text().find("Upper Case"), std::string::npos);
}

// ---- connections and timeouts ---------------------------------------------------------------------

TEST_F(HttpApiTest, SilentConnectionIsClosedByTheHeaderTimeout) {
  auto o = options();
  o.header_timeout = 1s;
  start(o);
  auto c = connected();
  const auto t0 = std::chrono::steady_clock::now();
  const auto ec = c->read_until_closed(10s);
  EXPECT_NE(ec, beast::error::timeout) << "the server did not close the connection";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  EXPECT_TRUE(eventually([&] { return counters().timeouts == 1; }));
}

TEST_F(HttpApiTest, IdleKeptAliveConnectionIsClosedByTheIdleTimeout) {
  auto o = options();
  o.idle_timeout = 1s;
  start(o);
  auto c = connected();
  ASSERT_EQ(c->request(get("/healthz")).status, 200);
  const auto ec = c->read_until_closed(10s);
  EXPECT_NE(ec, beast::error::timeout);
  EXPECT_TRUE(eventually([&] { return counters().timeouts == 1 && counters().open_connections == 0; }));
  EXPECT_NE(log_text().find("idle timeout"), std::string::npos);
}

TEST_F(HttpApiTest, StalledBodyIsClosedByTheIdleTimeoutAndTheFileRemoved) {
  auto o = options();
  o.idle_timeout = 1s;
  start(o);
  auto c = connected();
  ASSERT_FALSE(c->write(put_head(kTarget, 1000) + std::string(100, 'x')));
  EXPECT_NE(c->read_until_closed(10s), beast::error::timeout);
  ASSERT_TRUE(eventually([&] { return counters().open_connections == 0; }));
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_EQ(backend_->files().size(), 1u);
  expect_files_removed();
  EXPECT_NE(log_text().find("aborted"), std::string::npos) << log_text();
}

TEST_F(HttpApiTest, MaxConnectionsIsEnforced) {
  auto o = options();
  o.max_connections = 2;
  start(o);
  auto a = connected();
  auto b = connected("export-b");
  ASSERT_EQ(a->request(get("/healthz")).status, 200);
  ASSERT_EQ(b->request(get("/healthz")).status, 200);
  auto c = client();
  EXPECT_TRUE(c->connect(port_)) << "a third connection must be closed before the handshake";
  EXPECT_EQ(counters().refused_connections, 1u);
  EXPECT_EQ(counters().connections, 2u);
  EXPECT_NE(log_text().find("refused"), std::string::npos);
  // Room again once one closes.
  a->close();
  ASSERT_TRUE(eventually([&] { return counters().open_connections == 1; }));
  auto d = connected();
  EXPECT_EQ(d->request(get("/healthz")).status, 200);
}

// Sockets that connect and never send a ClientHello hold their places only until newer
// connections need them: beyond the per-address cap, or when every place is taken.
TEST_F(HttpApiTest, ConnectionsStillInTheirHandshakeGiveWayToNewerOnes) {
  auto o = options();
  o.max_connections = 3;
  o.max_handshakes_per_address = 2;
  start(o);
  asio::io_context io;
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 5; ++i) {
    idle.emplace_back(io);
    idle.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  }
  ASSERT_TRUE(eventually([&] { return counters().connections == 5; }));
  auto c = connected();
  EXPECT_EQ(upload(*c, kTarget, "a,b\n1,2\n").status, 201);
  // The third, fourth and fifth socket each took the place of the oldest before them (two at
  // most from one address), and the client the fourth's.
  const auto k = counters();
  EXPECT_EQ(k.handshakes_cut, 4u);
  EXPECT_EQ(k.refused_connections, 0u);
  EXPECT_EQ(k.handshake_failures, 0u) << "a cut is not counted as a failed handshake";
  EXPECT_NE(log_text().find("cut: still in its TLS handshake"), std::string::npos) << log_text();
  // Authenticated connections are never cut: with the places held by them, a newcomer is refused.
  auto d = connected("export-b");
  ASSERT_EQ(d->request(get("/healthz")).status, 200);
  ASSERT_TRUE(eventually([&] { return counters().open_connections == 3; }));  // the fifth socket, c, d
  idle.clear();
  ASSERT_TRUE(eventually([&] { return counters().open_connections == 2; }));
  auto e = connected();
  ASSERT_EQ(e->request(get("/healthz")).status, 200);
  EXPECT_TRUE(client()->connect(port_)) << "a fourth connection while three are authenticated is refused";
  EXPECT_EQ(counters().refused_connections, 1u);
  EXPECT_EQ(c->request(get("/healthz")).status, 200) << "the authenticated client kept its place";
}

// An upload that trickles, each read inside the idle timeout, is still ended once it falls
// behind the minimum rate.
TEST_F(HttpApiTest, ABodyBelowTheMinimumRateIs408AndItsFileRemoved) {
  auto o = options();
  o.idle_timeout = 1s;
  o.min_upload_bytes_per_second = 1 << 20;
  start(o);
  auto c = connected();
  ASSERT_FALSE(c->write(put_head(kTarget, 1000) + std::string(10, 'x')));
  // A byte every 300 ms: never idle for a second, far below 1 MiB/s. The writes stop once the
  // server has answered and closed.
  for (int i = 0; i < 8 && !c->write("x"); ++i) std::this_thread::sleep_for(300ms);
  const Reply r = c->read_reply();
  expect_problem(r, 408, "too_slow");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(backend_->accepts().empty());
  ASSERT_EQ(backend_->files().size(), 1u);
  expect_files_removed();
  EXPECT_GE(counters().timeouts, 1u);
  EXPECT_NE(log_text().find("too slow"), std::string::npos) << log_text();
}

// ---- stop and reload ------------------------------------------------------------------------------

TEST_F(HttpApiTest, StopLetsAnUploadInProgressFinishThenCallsDone) {
  start();
  backend_->hold_accept = true;
  auto c = connected();
  const std::string body = "a,b\n1,2\n";
  ASSERT_FALSE(c->write(put_head(kTarget, body.size()) + body));
  ASSERT_TRUE(backend_->wait_for_accepts(1));
  std::atomic<bool> done{false};
  on_io([&] { server_->stop(5s, [&] { done = true; }); });
  // No new connections.
  auto late = client();
  EXPECT_TRUE(late->connect(port_));
  EXPECT_FALSE(done);
  on_io([&] { backend_->release_accept(); });
  const Reply r = c->read_reply();
  EXPECT_EQ(r.status, 201);
  EXPECT_FALSE(r.keep_alive) << "after stop() every reply closes its connection";
  c->read_until_closed();
  c->close();
  EXPECT_TRUE(eventually([&] { return done.load(); }));
}

TEST_F(HttpApiTest, StopAnswersANewRequestOnAKeptAliveConnectionWith503) {
  start();
  auto c = connected();
  ASSERT_EQ(c->request(get("/healthz")).status, 200);
  std::atomic<bool> done{false};
  on_io([&] { server_->stop(5s, [&] { done = true; }); });
  const Reply r = c->request(get("/healthz"));
  expect_problem(r, 503, "unavailable");
  EXPECT_EQ(r.header("retry-after"), "30");
  EXPECT_FALSE(r.keep_alive);
  c->read_until_closed();
  c->close();
  EXPECT_TRUE(eventually([&] { return done.load(); }));
}

TEST_F(HttpApiTest, StopCutsWhatIsLeftAfterTheGrace) {
  start();
  auto c = connected();
  ASSERT_FALSE(c->write(put_head(kTarget, 1000) + std::string(10, 'x')));  // and then nothing
  ASSERT_TRUE(eventually([&] { return backend_->files().size() == 1; }));
  std::atomic<bool> done{false};
  const auto t0 = std::chrono::steady_clock::now();
  on_io([&] { server_->stop(300ms, [&] { done = true; }); });
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_NE(c->read_until_closed(10s), beast::error::timeout);
  ASSERT_TRUE(eventually([&] { return counters().open_connections == 0; }));
  expect_files_removed();
  EXPECT_TRUE(backend_->accepts().empty());
}

TEST_F(HttpApiTest, StopWithNoConnectionsIsDoneAtOnce) {
  start();
  std::atomic<bool> done{false};
  on_io([&] { server_->stop(10s, [&] { done = true; }); });
  EXPECT_TRUE(eventually([&] { return done.load(); }, 2s));
}

TEST_F(HttpApiTest, SetTlsSwapsTheContextForNewConnectionsOnly) {
  start();
  auto before = connected("export-a");
  ASSERT_EQ(before->request(get("/healthz")).status, 200);
  // The new context trusts only the unrelated CA: export-a is refused, rogue accepted.
  auto next = context({pki_->server_cert("gw-api-2"), pki_->server_key("gw-api-2"), pki_->other_ca(), {}});
  on_io([&] { server_->set_tls(next); });

  TlsClient refused(pki_->ca(), TlsClient::Identity{pki_->client_cert("export-a"), pki_->client_key("export-a")});
  refused.tls12_only();
  EXPECT_TRUE(refused.connect(port_));
  TlsClient rogue(pki_->ca(), TlsClient::Identity{pki_->rogue_cert(), pki_->rogue_key()});
  ASSERT_FALSE(rogue.connect(port_));
  const Reply r = rogue.request(get("/healthz"));
  EXPECT_EQ(r.status, 200);
  // The connection made before the swap is untouched.
  EXPECT_EQ(before->request(get("/healthz")).status, 200);
}

TEST_F(HttpApiTest, OpenFailsOnABadAddress) {
  auto o = options();
  o.address = "not-an-address";
  on_io([&] {
    auto s = HttpServer::open(io_thread_->io(), context(pki_->files()), o, *backend_, [](const std::string&) {});
    EXPECT_FALSE(s.has_value());
  });
}

// ---- logs -----------------------------------------------------------------------------------------

TEST_F(HttpApiTest, LogsNeverHoldTheNameOrHeaderValues) {
  auto o = options();
  o.max_body_bytes = 1000;
  start(o);
  const std::string name = "Smith-John-1980-01-01.csv";
  const std::string target = "/v1/feeds/ed-assaults/extracts/" + name;
  auto c = connected();
  const std::string body = "surname,forename\nSmith,John\n";
  EXPECT_EQ(upload(*c, target, body, "Content-Digest: sha-256=:" + base64_encode(sha256(body)) + ":\r\nX-Note: Smith\r\n")
                .status,
            201);
  expect_problem(upload(*c, target, body + "x", "Content-Digest: sha-256=:" + base64_encode(sha256(body)) + ":\r\n"), 400,
                 "digest_mismatch");
  auto c2 = connected();
  expect_problem(c2->request(put_head(target, 5000)), 413, "too_large");
  auto c3 = connected();
  expect_problem(upload(*c3, "/v1/feeds/ed-assaults/extracts/Smith%2FJohn", "x"), 400, "invalid_path");
  auto c4 = connected();
  expect_problem(c4->request(get("/v1/extracts/smith-john")), 404, "not_found");
  expect_problem(c4->request(get("/Smith")), 404, "not_found");
  // The server logs a request once its reply is written, which can be after the client has read it.
  ASSERT_TRUE(eventually([&] { return log_text().find("GET <other> 404") != std::string::npos; })) << log_text();

  const std::string logs = log_text();
  EXPECT_EQ(logs.find("Smith"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("smith"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("incoming-"), std::string::npos) << "a file name in the log: " << logs;
  EXPECT_NE(logs.find("PUT /v1/feeds/ed-assaults/extracts/<name> 201 client=export-a in=" +
                      std::to_string(body.size())),
            std::string::npos)
      << logs;
  EXPECT_NE(logs.find("GET /v1/extracts/<id> 404 client=export-a"), std::string::npos) << logs;
}

// ---- the TLS context ------------------------------------------------------------------------------

class TlsServerContextTest : public HttpApiTest {};

TEST_F(TlsServerContextTest, BuildsFromTheTestPki) {
  auto made = crypto::make_tls_server_context(pki_->files());
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_TRUE(made->context);
  ASSERT_TRUE(made->crl_next_update.has_value());
  EXPECT_GT(*made->crl_next_update, std::chrono::system_clock::now() + std::chrono::hours(24 * 365));
  EXPECT_GT(made->certificate_not_after, std::chrono::system_clock::now());
  auto without_crl = pki_->files();
  without_crl.crl.clear();
  auto made2 = crypto::make_tls_server_context(without_crl);
  ASSERT_TRUE(made2.has_value());
  EXPECT_FALSE(made2->crl_next_update.has_value());
}

TEST_F(TlsServerContextTest, KeyReadableByOthersIsRefusedWithoutShowingIt) {
  const fs::path key = pki_->scratch("group-readable.key");
  fs::copy_file(pki_->server_key(), key, fs::copy_options::overwrite_existing);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                  fs::perm_options::replace);
  auto files = pki_->files();
  files.key = key;
  auto made = crypto::make_tls_server_context(files);
  ASSERT_FALSE(made.has_value());
  const std::string msg = made.error().message;
  EXPECT_NE(msg.find(key.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("readable by group or others"), std::string::npos) << msg;
  const std::string pem = read_file(pki_->server_key());
  EXPECT_EQ(msg.find(pem.substr(pem.find('\n') + 1, 20)), std::string::npos) << "key material in the message";
}

TEST_F(TlsServerContextTest, ErrorsNameTheFileAndTheProblem) {
  struct Case {
    std::function<void(crypto::TlsServerFiles&)> change;
    std::string expect;
  };
  const fs::path garbage = pki_->scratch("garbage.pem");
  write_file(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  const fs::path empty = pki_->scratch("empty.pem");
  write_file(empty, "just text\n");
  const fs::path cert_as_key = pki_->scratch("cert-as.key");
  fs::copy_file(pki_->server_cert(), cert_as_key, fs::copy_options::overwrite_existing);
  fs::permissions(cert_as_key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  const std::vector<Case> cases = {
      {[&](auto& f) { f.cert_chain = pki_->scratch("missing.crt"); }, "missing.crt: cannot open: No such file"},
      {[&](auto& f) { f.cert_chain = garbage; }, "garbage.pem: damaged PEM block"},
      {[&](auto& f) { f.cert_chain = empty; }, "empty.pem: no PEM certificate found"},
      {[&](auto& f) { f.key = pki_->server_key("gw-api-2"); }, "does not match the certificate"},
      {[&](auto& f) { f.key = cert_as_key; }, "not a PEM private key"},
      {[&](auto& f) { f.client_ca = pki_->client_cert("export-a"); }, "not a CA certificate"},
      {[&](auto& f) { f.client_ca = pki_->dir(); }, "not a regular file"},
      {[&](auto& f) { f.crl = pki_->scratch("missing-crl.pem"); }, "missing-crl.pem: cannot open"},
      {[&](auto& f) { f.crl = pki_->ca(); }, "ca.crt: no PEM CRL found"},
      // The impostor CA has the real CA's name: the CRL's signature gives it away.
      {[&](auto& f) { f.client_ca = pki_->other_ca(); }, "CRL signature does not verify"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto files = pki_->files();
    cases[i].change(files);
    auto made = crypto::make_tls_server_context(files);
    SCOPED_TRACE(cases[i].expect);
    ASSERT_FALSE(made.has_value());
    EXPECT_NE(made.error().message.find(cases[i].expect), std::string::npos) << made.error().message;
  }
}

TEST_F(TlsServerContextTest, ExpiredCrlIsRefusedAtLoad) {
  // A CRL whose nextUpdate has passed, signed by the real CA (openssl ca runs inside the PKI dir,
  // where its config's relative paths point).
  const fs::path expired = pki_->scratch("expired-crl.pem");
  const auto r = run_process({"/bin/sh", "-c",
                              "cd \"$0\" && openssl ca -batch -config ca-db/openssl.cnf -gencrl -crl_lastupdate "
                              "200101000000Z -crl_nextupdate 200102000000Z -out \"$1\"",
                              pki_->dir().string(), expired.string()},
                             60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto files = pki_->files();
  files.crl = expired;
  auto made = crypto::make_tls_server_context(files);
  ASSERT_FALSE(made.has_value());
  EXPECT_NE(made.error().message.find("expired-crl.pem: CRL expired (nextUpdate 2020-01-02 00:00:00 UTC)"),
            std::string::npos)
      << made.error().message;
  // value() on an error throws with the same message (config loading at start-up may rely on it).
  EXPECT_THROW(crypto::make_tls_server_context(files).value(), std::runtime_error);
}

}  // namespace
}  // namespace svd::ingest
