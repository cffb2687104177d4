// `svdgw submit` against the real HttpServer on 127.0.0.1 (an ephemeral port), a test PKI made by
// make-pki.sh at test time, and a fake ApiBackend at the seam. Exit codes and what the partner
// sees are checked on the real binary; the rest through run_submit().
//
// The PKI, backend and server helpers here overlap with tests/ingest/http_api_test.cpp's (which
// keeps its own in an anonymous namespace); they belong in a shared tests/support header.

#include "ingest/submit.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "base/unique_fd.h"
#include "crypto/sha256.h"
#include "crypto/tls_server.h"
#include "gateway/api_documents.h"
#include "ingest/http_api.h"
#include "tests/apps/svdgw/cli_fixture.h"
#include "tests/support/io_thread.h"

namespace svd::ingest {
namespace {

using namespace svdgw::testing;  // CliFixture: the svdgw binary on a temporary config

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kClient = "northgate-ed-export";
constexpr const char* kFeed = "ed-assaults";
// Content that must never be echoed to the terminal.
constexpr const char* kSecretRow = "9434765919,Jane Example,1980-02-29,LS1 4AP\n";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// ---- the test PKI (one per test program: make-pki.sh takes a second) ------------------------------

class SubmitPki {
 public:
  SubmitPki() {
    const auto r = test_support::run({"/bin/sh", SVD_MAKE_PKI, dir().string(), "--gateway", kClient, "--server",
                                      "localhost", "--other-ca", "--no-ip-san"});
    if (r.exit_code != 0) throw std::runtime_error("make-pki.sh failed:\n" + r.out + r.err);
  }
  fs::path dir() const { return tmp_ / "pki"; }
  fs::path ca() const { return dir() / "ca.crt"; }
  fs::path cert() const { return dir() / "clients" / (std::string(kClient) + ".crt"); }
  fs::path key() const { return dir() / "clients" / (std::string(kClient) + ".key"); }
  fs::path other_ca() const { return dir() / "other-ca" / "ca.crt"; }
  // The server certificate names DNS:localhost and IP:127.0.0.1.
  crypto::TlsServerFiles server() const {
    return {dir() / "servers" / "localhost.crt", dir() / "servers" / "localhost.key", ca(), dir() / "crl.pem"};
  }
  // --no-ip-san: names DNS:localhost only, so https://127.0.0.1 does not match it.
  crypto::TlsServerFiles server_without_ip() const {
    return {dir() / "broker.crt", dir() / "broker.key", ca(), dir() / "crl.pem"};
  }

 private:
  test_support::TempDir tmp_{"svd-submit-pki"};
};

// ---- the fake backend ----------------------------------------------------------------------------------

class FakeBackend : public ApiBackend {
 public:
  explicit FakeBackend(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

  // Answers of admit(), one per call; when they run out, `admission`.
  std::deque<Admission> admissions;
  Admission admission = Admission::ok;
  // Runs in admit(), i.e. after the request head and before the client sends the body.
  std::function<void()> on_admit;

  Admitted admit(const Upload& upload, std::optional<std::uint64_t>) override {
    if (on_admit) on_admit();
    std::lock_guard lock(mu_);
    admits_.push_back(upload);
    if (admissions.empty()) return admission;
    const Admission a = admissions.front();
    admissions.pop_front();
    return a;
  }

  void incoming_file(std::function<void(result<fs::path>)> done) override {
    fs::path p;
    {
      std::lock_guard lock(mu_);
      p = dir_ / ("incoming-" + std::to_string(next_++));
    }
    write_file(p, "");
    done(p);
  }

  void accept(const Upload& upload, const fs::path& file, const std::string& sha256, std::uint64_t bytes,
              std::function<void(result<AcceptResult>)> done) override {
    std::unique_lock lock(mu_);
    accepts_.push_back({upload, file, sha256, bytes});
    const std::string key = upload.feed + "/" + to_string(upload.kind) + "/" + upload.name;
    AcceptResult r;
    auto it = stored_.find(key);
    if (it == stored_.end()) {
      StoredExtract e;
      e.id = upload.feed + "-" + sha256.substr(0, 16);
      e.kind = upload.kind == UploadKind::extract ? ExtractKind::extract : ExtractKind::nothing_to_share;
      e.feed = upload.feed;
      e.name = upload.name;
      e.client = upload.client;
      e.sha256 = sha256;
      e.bytes = bytes;
      e.received_at = "2026-01-19T08:30:00Z";
      it = stored_.emplace(key, e).first;
      r.outcome = AcceptResult::Outcome::created;
    } else {
      r.outcome = it->second.sha256 == sha256 ? AcceptResult::Outcome::same : AcceptResult::Outcome::conflict;
    }
    r.extract_id = it->second.id;
    r.receipt_json = gateway::receipt_json(it->second);
    lock.unlock();
    done(r);
  }

  // Status documents answered in turn, the last one for ever after; none: 404.
  std::deque<std::string> status_documents;

  void status(const std::string& id, const std::string&, std::function<void(ApiReply)> done) override {
    std::unique_lock lock(mu_);
    status_ids_.push_back(id);
    if (status_documents.empty()) {
      lock.unlock();
      done(problem_reply(404, "not_found", "Not found"));
      return;
    }
    std::string doc = status_documents.front();
    if (status_documents.size() > 1) status_documents.pop_front();
    lock.unlock();
    done(ApiReply{200, "application/json", std::move(doc)});
  }
  std::vector<std::string> status_ids() {
    std::lock_guard lock(mu_);
    return status_ids_;
  }
  ApiReply health() override { return {200, "application/json", R"({"status":"ok"})"}; }

  struct AcceptCall {
    Upload upload;
    fs::path file;
    std::string sha256;
    std::uint64_t bytes = 0;
  };
  std::vector<Upload> admits() {
    std::lock_guard lock(mu_);
    return admits_;
  }
  std::vector<AcceptCall> accepts() {
    std::lock_guard lock(mu_);
    return accepts_;
  }

  static const char* to_string(UploadKind k) { return k == UploadKind::extract ? "extract" : "nothing"; }

 private:
  fs::path dir_;
  std::mutex mu_;
  std::size_t next_ = 0;
  std::vector<Upload> admits_;
  std::vector<AcceptCall> accepts_;
  std::map<std::string, StoredExtract> stored_;
  std::vector<std::string> status_ids_;
};

// ---- fixture ---------------------------------------------------------------------------------------------

class SubmitTest : public svdgw::testing::CliFixture {
 protected:
  static void SetUpTestSuite() {
    if (!pki_) pki_ = std::make_unique<SubmitPki>();
  }

  void SetUp() override {
    CliFixture::SetUp();
    backend_ = std::make_unique<FakeBackend>(dir_ / "incoming");
    io_thread_ = std::make_unique<test_support::IoThread>();
  }

  void TearDown() override {
    on_io([&] { server_.reset(); });
    io_thread_->stop();
  }

  template <class F>
  void on_io(F f) {
    io_thread_->run(std::move(f));
  }

  void start(const crypto::TlsServerFiles& files = pki_->server()) {
    auto ctx = crypto::make_tls_server_context(files);
    ASSERT_TRUE(ctx) << ctx.error().message;
    HttpServerOptions o;
    o.max_body_bytes = 64 << 20;
    o.idle_timeout = 10s;
    o.header_timeout = 10s;
    on_io([&] {
      auto s = HttpServer::open(io_thread_->io(), ctx->context, o, *backend_, [](const std::string&) {});
      ASSERT_TRUE(s.has_value());
      server_ = std::move(*s);
      port_ = server_->port();
    });
    ASSERT_NE(port_, 0);
  }

  std::string url(const std::string& host = "localhost") const {
    return "https://" + host + ":" + std::to_string(port_);
  }

  SubmitOptions options(const fs::path& file) const {
    SubmitOptions o;
    o.url = url();
    o.feed = kFeed;
    o.file = file;
    o.cert = pki_->cert();
    o.key = pki_->key();
    o.ca = pki_->ca();
    o.retries = 4;
    o.timeout_seconds = 10;
    o.max_backoff_seconds = 0.05;
    o.progress = false;
    return o;
  }

  struct Direct {
    int code = -1;
    std::string out, err;
  };
  Direct submit(const SubmitOptions& o) {
    std::ostringstream out, err;
    Direct d;
    d.code = run_submit(o, out, err);
    d.out = out.str();
    d.err = err.str();
    return d;
  }

  // The real binary; `extra` is already shell-quoted where needed.
  RunResult svdgw_submit(const std::string& extra, const std::string& url_override = "") {
    return svdgw("submit --url '" + (url_override.empty() ? url() : url_override) + "' --feed " + kFeed + " --cert '" +
                 pki_->cert().string() + "' --key '" + pki_->key().string() + "' --ca '" + pki_->ca().string() +
                 "' --max-backoff 0.05 --timeout 10 " + extra);
  }

  fs::path extract(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    write_file(p, content);
    return p;
  }

  static std::unique_ptr<SubmitPki> pki_;
  std::unique_ptr<test_support::IoThread> io_thread_;
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<HttpServer> server_;
  unsigned short port_ = 0;
};

std::unique_ptr<SubmitPki> SubmitTest::pki_;

void expect_no_content(const RunResult& r) {
  EXPECT_EQ(r.out.find("Jane Example"), std::string::npos);
  EXPECT_EQ(r.err.find("Jane Example"), std::string::npos);
  EXPECT_EQ(r.out.find("9434765919"), std::string::npos);
  EXPECT_EQ(r.err.find("9434765919"), std::string::npos);
}

// ---- pieces ---------------------------------------------------------------------------------------------

TEST(SubmitPieces, ParsesHttpsUrlsOnly) {
  auto u = parse_submit_url("https://gateway.example.org:8443");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "gateway.example.org");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->prefix, "");
  EXPECT_EQ(u->host_header, "gateway.example.org:8443");
  EXPECT_EQ(u->origin, "https://gateway.example.org:8443");

  u = parse_submit_url("https://gw.example/upload/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->prefix, "/upload");
  EXPECT_EQ(u->host_header, "gw.example");

  u = parse_submit_url("https://[::1]:8443/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->host_header, "[::1]:8443");

  u = parse_submit_url("https://127.0.0.1:1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");

  EXPECT_FALSE(parse_submit_url("http://gw.example"));
  EXPECT_FALSE(parse_submit_url("gw.example:8443"));
  EXPECT_FALSE(parse_submit_url("https://user:pw@gw.example"));
  EXPECT_FALSE(parse_submit_url("https://gw.example/?x=1"));
  EXPECT_FALSE(parse_submit_url("https://gw.example/#f"));
  EXPECT_FALSE(parse_submit_url("https://gw.example:0"));
  EXPECT_FALSE(parse_submit_url("https://gw.example:65536"));
  EXPECT_FALSE(parse_submit_url("https://gw.example:"));
  EXPECT_FALSE(parse_submit_url("https://gw%2eexample"));
  EXPECT_FALSE(parse_submit_url("https://gw.example/a/../b"));
  EXPECT_FALSE(parse_submit_url("https:///path"));
}

TEST(SubmitPieces, ContentDigestIsRfc9530Base64) {
  // SHA-256 of the empty string, as RFC 9530's examples spell digests.
  EXPECT_EQ(content_digest_header("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  EXPECT_EQ(content_digest_header(crypto::sha256_hex("hello")),
            "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:");
  EXPECT_EQ(content_digest_header("abc"), "");
  EXPECT_EQ(content_digest_header(std::string(64, 'g')), "");
}

TEST(SubmitPieces, RetryAfterInSecondsOnly) {
  EXPECT_EQ(parse_retry_after("30"), 30u);
  EXPECT_EQ(parse_retry_after(" 0 "), 0u);
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  EXPECT_FALSE(parse_retry_after("-1"));
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("9999999999"));
}

TEST(SubmitPieces, BackoffDoublesWithJitterUpToTheCap) {
  EXPECT_DOUBLE_EQ(backoff_seconds(1, 60, 1.0), 1);
  EXPECT_DOUBLE_EQ(backoff_seconds(2, 60, 1.0), 2);
  EXPECT_DOUBLE_EQ(backoff_seconds(4, 60, 1.0), 8);
  EXPECT_DOUBLE_EQ(backoff_seconds(7, 60, 1.0), 60);
  EXPECT_DOUBLE_EQ(backoff_seconds(1000, 60, 1.0), 60);
  EXPECT_DOUBLE_EQ(backoff_seconds(3, 60, 0.5), 2);
  EXPECT_DOUBLE_EQ(backoff_seconds(3, 60, 0.1), 2);  // jitter is kept within [0.5, 1]
  EXPECT_DOUBLE_EQ(backoff_seconds(3, 0.05, 1.0), 0.05);
}

// ---- against the server -----------------------------------------------------------------------------------

TEST_F(SubmitTest, CreatedPrintsTheReceipt) {
  start();
  const fs::path f = extract("week-03.csv", std::string("nhs_number,name,dob,postcode\n") + kSecretRow);
  const RunResult r = svdgw_submit("'" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string sha = crypto::sha256_hex(read_file(f));
  const std::string id = std::string(kFeed) + "-" + sha.substr(0, 16);
  EXPECT_NE(r.out.find("extract_id:  " + id + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status:      created\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256:      " + sha + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes:       " + std::to_string(fs::file_size(f)) + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("received_at: 2026-01-19T08:30:00Z\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status_url:  " + url() + "/v1/extracts/" + id + "\n"), std::string::npos) << r.out;
  expect_no_content(r);

  const auto admits = backend_->admits();
  ASSERT_EQ(admits.size(), 1u);
  EXPECT_EQ(admits[0].kind, UploadKind::extract);
  EXPECT_EQ(admits[0].feed, kFeed);
  EXPECT_EQ(admits[0].name, "week-03.csv");
  EXPECT_EQ(admits[0].client, kClient);
}

// ---- --wait ---------------------------------------------------------------------------------------------

// A status document as the gateway writes it (gateway/api_documents.h), cut to what --wait reads.
std::string status_doc(const std::string& state, std::uint64_t total, std::uint64_t acked, std::uint64_t rejected,
                       const std::string& report_extra = "") {
  const std::string report =
      state == "received" || state == "processing"
          ? "null"
          : R"({"rows":{"total":10,"valid":8,"rejected":2},"rejections_by_code":{"invalid_nhs_number":2})" +
                report_extra + "}";
  return R"({"extract_id":"x","state":")" + state + R"(","report":)" + report + R"(,"batches":{"total":)" +
         std::to_string(total) + R"(,"sent":)" + std::to_string(total) + R"(,"acknowledged":)" +
         std::to_string(acked) + R"(,"rejected":)" + std::to_string(rejected) + "}}";
}

TEST_F(SubmitTest, WaitPollsUntilProcessedAndPrintsTheOutcome) {
  start();
  backend_->status_documents = {status_doc("received", 0, 0, 0), status_doc("processing", 0, 0, 0),
                                status_doc("processed", 2, 0, 0)};
  auto o = options(extract("week-03.csv", "a\n1\n"));
  o.wait = SubmitOptions::Wait::processed;
  o.poll_seconds = 0.01;
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitOk) << d.err;
  EXPECT_EQ(backend_->status_ids().size(), 3u) << "polled until processed, and no further";
  EXPECT_EQ(backend_->status_ids().at(0), std::string(kFeed) + "-" + backend_->accepts().at(0).sha256.substr(0, 16))
      << "the extract of the receipt";
  EXPECT_NE(d.out.find("outcome:     processed\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("rows:        10 total, 8 valid, 2 rejected\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("rejected rows, invalid_nhs_number: 2\n"), std::string::npos) << d.out;
}

TEST_F(SubmitTest, WaitForHubWaitsForEveryBatchAndFailsWhenTheHubRejectsOne) {
  start();
  backend_->status_documents = {status_doc("processed", 2, 0, 0), status_doc("processed", 2, 1, 0),
                                status_doc("processed", 2, 1, 1)};
  auto o = options(extract("week-03.csv", "a\n1\n"));
  o.wait = SubmitOptions::Wait::acknowledged;
  o.poll_seconds = 0.01;
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitNotShared) << d.out << d.err;
  EXPECT_EQ(backend_->status_ids().size(), 3u);
  EXPECT_NE(d.out.find("the hub rejected 1 of 2 batch(es)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("batches:     2, acknowledged by the hub 1, rejected by the hub 1\n"), std::string::npos) << d.out;

  backend_->status_documents = {status_doc("processed", 2, 2, 0)};
  const auto ok = submit(o);  // the same file again: the first receipt, then the hub's answer
  EXPECT_EQ(ok.code, kSubmitOk) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("outcome:     processed, and every batch acknowledged by the hub\n"), std::string::npos)
      << ok.out;
}

TEST_F(SubmitTest, WaitOnAnExtractRefusedAsAWholeExits4WithTheReason) {
  start();
  backend_->status_documents = {status_doc(
      "refused", 0, 0, 0,
      R"(,"refusal":{"code":"reject_threshold_exceeded","message":"too many rows were rejected"})")};
  const fs::path f = extract("week-03.csv", "a\n1\n");
  const RunResult r = svdgw_submit("--wait '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, kSubmitNotShared) << r.out << r.err;
  EXPECT_NE(r.out.find("outcome:     refused as a whole: nothing was shared\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("refused: reject_threshold_exceeded — too many rows were rejected"), std::string::npos)
      << r.err;
}

TEST_F(SubmitTest, WaitGivesUpAtItsTimeoutSayingWhereTheExtractStands) {
  start();
  backend_->status_documents = {status_doc("processing", 0, 0, 0)};
  auto o = options(extract("week-03.csv", "a\n1\n"));
  o.wait = SubmitOptions::Wait::processed;
  o.poll_seconds = 0.01;
  o.wait_timeout_seconds = 0.2;
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitWaitTimedOut) << d.err;
  EXPECT_NE(d.err.find("still processing after waiting"), std::string::npos) << d.err;
  EXPECT_GE(backend_->status_ids().size(), 2u);
}

TEST_F(SubmitTest, ResendIsAcceptedWithTheFirstReceipt) {
  start();
  const fs::path f = extract("week-03.csv", "a,b\n1,2\n");
  auto o = options(f);
  o.name = "renamed-on-the-gateway.csv";
  const auto first = submit(o);
  ASSERT_EQ(first.code, kSubmitOk) << first.err;
  const RunResult again = svdgw_submit("--name renamed-on-the-gateway.csv '" + f.string() + "'");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("status:      already received"), std::string::npos) << again.out;
  // The same receipt both times, apart from the status line.
  auto without_status = [](const std::string& s) { return s.substr(s.find("sha256:")); };
  EXPECT_EQ(without_status(first.out), without_status(again.out));
  ASSERT_EQ(backend_->accepts().size(), 2u);
  EXPECT_EQ(backend_->accepts()[1].upload.name, "renamed-on-the-gateway.csv");
}

TEST_F(SubmitTest, MultiMebibyteBodyArrivesIntactWithItsDigest) {
  start();
  // Not a multiple of the chunk size, so the last chunk is a short one.
  const std::string content = random_bytes((std::size_t{6} << 20) + 12345, 7);
  const fs::path f = extract("big.bin", content);
  const auto d = submit(options(f));
  ASSERT_EQ(d.code, kSubmitOk) << d.err;
  const auto accepts = backend_->accepts();
  ASSERT_EQ(accepts.size(), 1u);
  EXPECT_EQ(accepts[0].bytes, content.size());
  // The server checked Content-Digest against what it received (else 400 digest_mismatch).
  EXPECT_EQ(accepts[0].sha256, crypto::sha256_hex(content));
  EXPECT_TRUE(read_file(accepts[0].file) == content);
  EXPECT_EQ(d.err, "");
}

TEST_F(SubmitTest, ForbiddenIsFinalAndExplained) {
  start();
  backend_->admission = Admission::forbidden;
  const fs::path f = extract("week-03.csv", kSecretRow);
  const RunResult r = svdgw_submit("'" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("refused by the gateway (HTTP 403): Not allowed: This client certificate may not send"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(backend_->admits().size(), 1u);  // not retried
  EXPECT_TRUE(backend_->accepts().empty());
  expect_no_content(r);
}

TEST_F(SubmitTest, NameReusedForOtherContentIsAFinalConflict) {
  start();
  ASSERT_EQ(submit(options(extract("week-03.csv", "a\n1\n"))).code, kSubmitOk);
  const fs::path changed = extract("week-03.csv", "a\n2\n");
  const RunResult r = svdgw_submit("'" + changed.string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("(HTTP 409): Name already used"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--name"), std::string::npos) << r.err;
  EXPECT_EQ(backend_->accepts().size(), 2u);  // once each: the conflict is not retried
}

TEST_F(SubmitTest, UnavailableIsRetriedThenCreated) {
  start();
  backend_->admissions = {Admission::unavailable};
  const fs::path f = extract("week-03.csv", "a\n1\n");
  const auto d = submit(options(f));
  EXPECT_EQ(d.code, kSubmitOk) << d.err;
  EXPECT_NE(d.err.find("attempt 1 of 5 failed: the gateway is unavailable (HTTP 503)"), std::string::npos) << d.err;
  EXPECT_NE(d.out.find("status:      created"), std::string::npos);
  EXPECT_EQ(backend_->admits().size(), 2u);
  EXPECT_EQ(backend_->accepts().size(), 1u);
}

TEST_F(SubmitTest, RetryAfterIsHonouredUpToTheCap) {
  start();
  backend_->admissions = {Admission::unavailable};  // the server sends Retry-After: 30
  auto o = options(extract("week-03.csv", "a\n1\n"));
  o.max_backoff_seconds = 0.3;
  const auto begin = std::chrono::steady_clock::now();
  const auto d = submit(o);
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(d.code, kSubmitOk) << d.err;
  // The full cap, not a jittered exponential (which could be as short as half of it).
  EXPECT_NE(d.err.find("trying again in 0.3 s"), std::string::npos) << d.err;
  EXPECT_GE(took, 300ms);
}

TEST_F(SubmitTest, StorageFullIsRetriedThenGivenUp) {
  start();
  backend_->admission = Admission::storage_full;
  const fs::path f = extract("week-03.csv", kSecretRow);
  const RunResult r = svdgw_submit("--retries 2 '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("attempt 1 of 3 failed: the gateway's storage is full (HTTP 507)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gave up after 3 attempts: the gateway's storage is full (HTTP 507)"), std::string::npos)
      << r.err;
  EXPECT_EQ(backend_->admits().size(), 3u);
  EXPECT_EQ(r.out, "");
  expect_no_content(r);
}

TEST_F(SubmitTest, QuietLeavesOutRetryNotesButNotTheOutcome) {
  start();
  backend_->admission = Admission::storage_full;
  const RunResult r = svdgw_submit("--quiet --retries 1 '" + extract("week-03.csv", "a\n").string() + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err.find("attempt 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gave up after 2 attempts"), std::string::npos) << r.err;
}

TEST_F(SubmitTest, NothingListeningIsRetriedThenGivenUp) {
  // A port that was free a moment ago: bound, never listened on, closed.
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  port_ = ntohs(a.sin_port);
  s.close();

  const RunResult r = svdgw_submit("--retries 2 '" + extract("week-03.csv", "a\n").string() + "'");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("attempt 2 of 3 failed: cannot connect to " + url()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gave up after 3 attempts: cannot connect"), std::string::npos) << r.err;
}

TEST_F(SubmitTest, ServerNotTrustedByTheGivenCaIsAClearConfigError) {
  start();
  auto o = options(extract("week-03.csv", "a\n"));
  o.ca = pki_->other_ca();  // same subject name as the real CA, different key
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitUsage);
  EXPECT_NE(d.err.find("the server at " + url() + " is not trusted: its certificate does not verify against --ca " +
                       pki_->other_ca().string()),
            std::string::npos)
      << d.err;
  EXPECT_EQ(d.err.find("attempt"), std::string::npos) << "not retried: " << d.err;
  EXPECT_TRUE(backend_->admits().empty());
}

TEST_F(SubmitTest, ServerCertificateForAnotherHostIsRefused) {
  start(pki_->server_without_ip());
  auto o = options(extract("week-03.csv", "a\n"));
  o.url = url("127.0.0.1");
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitUsage);
  EXPECT_NE(d.err.find("the server's certificate is not issued for '127.0.0.1'"), std::string::npos) << d.err;
  EXPECT_TRUE(backend_->admits().empty());

  // The same server by the name it holds.
  o.url = url("localhost");
  EXPECT_EQ(submit(o).code, kSubmitOk);
}

TEST_F(SubmitTest, ClientCertificateFromAnotherCaIsRefusedByTheGateway) {
  start();
  auto o = options(extract("week-03.csv", "a\n"));
  o.cert = pki_->dir() / "other-ca" / "rogue.crt";
  o.key = pki_->dir() / "other-ca" / "rogue.key";
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitUsage) << d.err;
  EXPECT_NE(d.err.find("the gateway refused this client certificate"), std::string::npos) << d.err;
  EXPECT_TRUE(backend_->admits().empty());
}

TEST_F(SubmitTest, NothingToShareSendsAnEmptyReturn) {
  start();
  const RunResult r = svdgw_submit("--nothing-to-share 2026-W03");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status:      created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes:       0\n"), std::string::npos) << r.out;
  const auto accepts = backend_->accepts();
  ASSERT_EQ(accepts.size(), 1u);
  EXPECT_EQ(accepts[0].upload.kind, UploadKind::nothing_to_share);
  EXPECT_EQ(accepts[0].upload.name, "2026-W03");
  EXPECT_EQ(accepts[0].bytes, 0u);

  const RunResult again = svdgw_submit("--nothing-to-share 2026-W03");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("status:      already received"), std::string::npos) << again.out;
}

TEST_F(SubmitTest, BadNamesAreRefusedBeforeConnecting) {
  start();
  const fs::path spaced = extract("week 03.csv", "a\n");
  RunResult r = svdgw_submit("'" + spaced.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give one with --name"), std::string::npos) << r.err;

  r = svdgw_submit("--name .hidden '" + spaced.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--name must be 1-128 characters"), std::string::npos) << r.err;

  r = svdgw_submit("--nothing-to-share 'week 3'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--nothing-to-share: the period must be"), std::string::npos) << r.err;
  // A valid name but no period (an NHS number from the range kept for tests): refused before sending.
  r = svdgw_submit("--nothing-to-share 9990000018");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--nothing-to-share: the period must be"), std::string::npos) << r.err;

  r = svdgw_submit("--name ok.csv '" + spaced.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(backend_->admits().size(), 1u);  // only the last one reached the gateway
}

TEST_F(SubmitTest, UsageErrors) {
  start();
  const fs::path f = extract("week-03.csv", "a\n");
  RunResult r = svdgw_submit("");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("FILE or --nothing-to-share"), std::string::npos) << r.err;

  r = svdgw_submit("--nothing-to-share 2026-W03 '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;

  r = svdgw_submit("'" + (dir_ / "missing.csv").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;

  r = svdgw_submit("'" + f.string() + "'", "http://localhost:" + std::to_string(port_));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--url must be https://"), std::string::npos) << r.err;

  auto o = options(f);
  o.feed = "ED_Assaults";
  EXPECT_EQ(submit(o).code, kSubmitUsage);
  EXPECT_TRUE(backend_->admits().empty());
}

TEST_F(SubmitTest, KeyOthersCanReadIsAWarningNotARefusal) {
  start();
  const fs::path key = dir_ / "client.key";
  fs::copy_file(pki_->key(), key);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  auto o = options(extract("week-03.csv", "a\n"));
  o.key = key;
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitOk) << d.err;
  EXPECT_NE(d.err.find("warning: " + key.string() + ": private key is readable by group or others"),
            std::string::npos)
      << d.err;
}

TEST_F(SubmitTest, UnreadableOrMismatchedKeyIsAConfigError) {
  start();
  auto o = options(extract("week-03.csv", "a\n"));
  o.key = pki_->dir() / "other-ca" / "rogue.key";
  auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitUsage);
  EXPECT_NE(d.err.find("private key does not match the certificate"), std::string::npos) << d.err;

  o.key = extract("not-a-key.pem", "hello\n");
  d = submit(o);
  EXPECT_EQ(d.code, kSubmitUsage);
  EXPECT_NE(d.err.find("not a PEM private key"), std::string::npos) << d.err;
  EXPECT_TRUE(backend_->admits().empty());
}

TEST_F(SubmitTest, FileRewrittenWhileBeingSentFailsTheDigestCheck) {
  start();
  const std::string content = random_bytes(std::size_t{1} << 20, 3);
  const fs::path f = extract("week-03.csv", content);
  // Same size, other bytes: only the digest can tell.
  backend_->on_admit = [&] { write_file(f, random_bytes(content.size(), 4)); };
  const RunResult r = svdgw_submit("'" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("(HTTP 400): Content-Digest mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("The file changed while it was being sent"), std::string::npos) << r.err;
  EXPECT_TRUE(backend_->accepts().empty());
}

TEST_F(SubmitTest, FileTruncatedWhileBeingSentIsNoticedHere) {
  start();
  const fs::path f = extract("week-03.csv", random_bytes(std::size_t{1} << 20, 5));
  backend_->on_admit = [&] { fs::resize_file(f, 1000); };
  const auto d = submit(options(f));
  EXPECT_EQ(d.code, kSubmitUsage) << d.err;
  EXPECT_NE(d.err.find(f.string() + ": the file changed while it was being sent: it is now shorter"),
            std::string::npos)
      << d.err;
  EXPECT_EQ(d.err.find("attempt"), std::string::npos) << "not retried: " << d.err;
  EXPECT_EQ(backend_->admits().size(), 1u);
  EXPECT_TRUE(backend_->accepts().empty());
}

TEST_F(SubmitTest, StalledServerTimesOutAndIsRetried) {
  // Accepts TCP connections (the kernel's backlog) but never speaks TLS.
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s.get(), 8), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  port_ = ntohs(a.sin_port);

  auto o = options(extract("week-03.csv", "a\n"));
  o.timeout_seconds = 0.2;
  o.retries = 1;
  const auto begin = std::chrono::steady_clock::now();
  const auto d = submit(o);
  EXPECT_EQ(d.code, kSubmitGaveUp) << d.err;
  EXPECT_NE(d.err.find("attempt 1 of 2 failed: TLS handshake with " + url() + ": no progress for 0.2 s"),
            std::string::npos)
      << d.err;
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 400ms);
}

TEST_F(SubmitTest, HelpListsTheOptionsAndExitCodes) {
  const RunResult r = svdgw("submit --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--url", "--feed", "--cert", "--key", "--ca", "--name", "--nothing-to-share", "--retries",
                        "--timeout", "--quiet", "Exit status"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace svd::ingest
