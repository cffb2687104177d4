// Certificate renewal without a restart (docs/daemon.md "Certificate renewal"): the real daemon
// with its upload API, a real mosquitto with mutual TLS (and a CRL) and the real svdhub. The
// files the config names are replaced as an operator or a certificate manager would (a temporary
// file and a rename), with certificates issued by the test PKI's own CA, or by another, or
// expired, or for another key. Every wait polls a condition, with a bound.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <functional>
#include <regex>
#include <thread>

#include "crypto/certificate_info.h"
#include "crypto/sha256.h"
#include "crypto/tls_client.h"
#include "daemon_fixture.h"
#include "tests/support/test_certificates.h"

namespace svd::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::CertUse;
using test_support::Issued;
using test_support::TestCa;
using test_support::write_file_atomically;


// A TLS connection to the upload API as an export client, kept open across a renewal. Every
// operation runs with a deadline.
class ApiConnection {
 public:
  ApiConnection(std::uint16_t port, const TestPki& pki, const std::string& client) {
    auto ctx = crypto::make_tls_client_context({pki.client_cert(client), pki.client_key(client), pki.ca_cert()});
    if (!ctx) throw std::runtime_error(ctx.error().message);
    ctx_ = ctx->context;
    stream_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io_, *ctx_);
    const asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
    ok_ = run([&](auto done) { stream_->next_layer().async_connect(at, [done](auto ec) { done(ec); }); }) &&
          run([&](auto done) {
            stream_->async_handshake(asio::ssl::stream_base::client, [done](auto ec) { done(ec); });
          });
  }

  bool ok() const { return ok_; }

  // SHA-256 of the DER of the certificate the server presented on this connection.
  std::string server_sha256() const {
    const X509* cert = SSL_get0_peer_certificate(stream_->native_handle());
    if (!cert) return {};
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert, &der);
    if (n <= 0) return {};
    std::string out = crypto::sha256_hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
    OPENSSL_free(der);
    return out;
  }

  // GET `path` on this connection (kept alive); the response's status line, or "" when it failed.
  // The whole response is read, so the next one starts clean.
  std::string get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if (!run([&](auto done) { asio::async_write(*stream_, asio::buffer(request), [done](auto ec, auto) { done(ec); }); }))
      return {};
    std::size_t head = 0;
    if (!run([&](auto done) {
          asio::async_read_until(*stream_, in_, "\r\n\r\n", [done, &head](auto ec, std::size_t n) {
            head = n;
            done(ec);
          });
        }))
      return {};
    const std::string headers(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + static_cast<long>(head));
    in_.consume(head);
    std::smatch m;
    const std::size_t body =
        std::regex_search(headers, m, std::regex("[Cc]ontent-[Ll]ength: *(\\d+)")) ? std::stoul(m[1].str()) : 0;
    if (in_.size() < body &&
        !run([&](auto done) {
          asio::async_read(*stream_, in_, asio::transfer_exactly(body - in_.size()), [done](auto ec, auto) { done(ec); });
        }))
      return {};
    in_.consume(body);
    return headers.substr(0, headers.find("\r\n"));
  }

 private:
  // Starts `start(done)` and runs the io_context until `done` is called or 10 s have passed.
  template <class Start>
  bool run(Start start) {
    bool finished = false;
    boost::system::error_code result;
    start([&](boost::system::error_code ec) {
      finished = true;
      result = ec;
    });
    io_.restart();
    io_.run_for(10s);
    if (!finished) {
      boost::system::error_code ignored;
      stream_->next_layer().close(ignored);
      io_.restart();
      io_.run_for(1s);
    }
    return finished && !result;
  }

  asio::io_context io_;
  std::shared_ptr<asio::ssl::context> ctx_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> stream_;
  asio::streambuf in_;
  bool ok_ = false;
};

class CertRenewalTest : public DaemonHarness {
 protected:
  void SetUp() override {
    DaemonHarness::SetUp();
    if (HasFatalFailure()) return;
    const auto& pki = broker_->pki();
    ca_ = std::make_unique<TestCa>(pki.ca_cert(), pki.dir() / "ca.key");
    // The daemon's own copies of its certificates, which the tests replace; the PKI's stay as
    // they were (the broker and the other clients use them).
    fs::create_directories(dir() / "tls");
    write_file_atomically(hub_cert(), read_file(pki.client_cert(kGateway)));
    write_file_atomically(hub_key(), read_file(pki.client_key(kGateway)), 0600);
    write_file_atomically(api_cert(), read_file(pki.server_cert(kServer)));
    write_file_atomically(api_key(), read_file(pki.server_key(kServer)), 0600);
    original_hub_sha256_ = sha256_of(hub_cert());
    original_api_sha256_ = sha256_of(api_cert());
    write_config(renewal_config(1));
  }

  fs::path hub_cert() const { return dir() / "tls" / "hub-client.crt"; }
  fs::path hub_key() const { return dir() / "tls" / "hub-client.key"; }
  fs::path api_cert() const { return dir() / "tls" / "upload-api.crt"; }
  fs::path api_key() const { return dir() / "tls" / "upload-api.key"; }
  fs::path private_copy() const { return dir() / "state" / "tls" / "hub-client.crt"; }
  fs::path audit_db() const { return dir() / "state" / "audit.db"; }

  std::string renewal_config(int check_seconds) const {
    const auto& pki = broker_->pki();
    std::string text = config_text();
    auto replace = [&text](const std::string& from, const std::string& to) {
      const auto at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), to);
    };
    replace(pki.client_cert(kGateway).string(), hub_cert().string());
    replace(pki.client_key(kGateway).string(), hub_key().string());
    replace(pki.server_cert(kServer).string(), api_cert().string());
    replace(pki.server_key(kServer).string(), api_key().string());
    replace("[gateway]\n", "[gateway]\ncredentials_check_seconds = " + std::to_string(check_seconds) + "\n");
    return text;
  }

  static std::string sha256_of(const fs::path& cert) {
    auto info = crypto::read_certificate_info(cert);
    return info ? info->sha256 : std::string();
  }

  Issued hub_client(test_support::IssueOptions o = {}) const {
    o.cn = kGateway;
    return ca_->issue(o);
  }
  Issued api_server(test_support::IssueOptions o = {}) const {
    o.cn = kServer;
    o.use = CertUse::server;
    o.dns_names = {"localhost", kServer};
    return ca_->issue(o);
  }

  // The key first, then the certificate, each replaced atomically (a moment apart, as a person
  // copying two files would).
  static void install(const Issued& issued, const fs::path& cert, const fs::path& key) {
    write_file_atomically(key, issued.key_pem, 0600);
    write_file_atomically(cert, issued.cert_pem);
  }

  // The (object, details) of every audit event with this action so far.
  std::vector<std::pair<std::string, std::string>> audit_events(const std::string& action) const {
    std::vector<std::pair<std::string, std::string>> out;
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(audit_db().c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(h, 2000);
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(h, "SELECT object, details FROM events WHERE action = ?1 ORDER BY seq", -1, &s,
                             nullptr) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, action.c_str(), -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW)
          out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)),
                           reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
      }
      sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
  }

  std::size_t count_events(const std::string& action, const std::string& role, const std::string& detail) const {
    std::size_t n = 0;
    for (const auto& [object, details] : audit_events(action))
      n += object == role && details.find(detail) != std::string::npos;
    return n;
  }

  std::string new_connection_sha256() {
    ApiConnection c(http_port_, broker_->pki(), kEdClient);
    return c.ok() ? c.server_sha256() : std::string();
  }

  std::size_t log_count(std::string_view needle) const { return count_of(read_file(daemon_log()), needle); }

  struct Processed {
    std::int64_t valid = -1;  // rows
    int batches = -1;
  };
  // Uploads a synthetic extract and waits until it is processed.
  Processed upload_processed(std::uint64_t rows, std::uint64_t seed, const std::string& name) {
    auto r = upload(extract(rows, seed), "ed-assaults", name);
    EXPECT_EQ(r.status, 201) << r.body << r.err << logs();
    const std::string status = wait_for_status(extract_id_of(r.body), R"("state":"processed")", 60s);
    const std::string batches = find_group(status, R"("batches":\{"total":(\d+))");
    return {valid_rows_of(status), batches.empty() ? -1 : std::stoi(batches)};
  }

  bool hub_holds_exactly(std::int64_t records) {
    if (!wait_for_hub(records, 60s)) return false;
    return hub_counts(hub_db()).records == records;
  }

  std::unique_ptr<TestCa> ca_;
  std::string original_hub_sha256_, original_api_sha256_;
};

TEST_F(CertRenewalTest, UploadApiServesARenewedCertificateToNewConnectionsOnly) {
  start_daemon();
  ApiConnection old_connection(http_port_, broker_->pki(), kEdClient);
  ASSERT_TRUE(old_connection.ok()) << logs();
  // Its first request now (the head of the first must come within header_timeout_seconds).
  ASSERT_EQ(old_connection.get("/v1/extracts/nothing-here"), "HTTP/1.1 404 Not Found");
  ASSERT_EQ(old_connection.server_sha256(), original_api_sha256_);
  ASSERT_EQ(new_connection_sha256(), original_api_sha256_);

  const Issued renewed = api_server();
  install(renewed, api_cert(), api_key());
  const std::string renewed_sha256 = sha256_of(api_cert());
  ASSERT_NE(renewed_sha256, original_api_sha256_);
  ASSERT_TRUE(eventually([&] { return new_connection_sha256() == renewed_sha256; })) << logs();
  EXPECT_TRUE(eventually([&] { return count_events("certificate.loaded", "upload-server", renewed_sha256) == 1; }));
  EXPECT_EQ(log_count("upload API: its TLS files changed and check out"), 1u) << logs();

  // The connection opened before the renewal goes on with the certificate it started with.
  EXPECT_EQ(old_connection.get("/v1/extracts/nothing-here"), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(old_connection.server_sha256(), original_api_sha256_);
  // Uploads work on new connections (curl checks the new certificate against the CA and name).
  EXPECT_GT(upload_processed(40, 1, "after-renewal.csv").valid, 0);

  // An expired certificate is refused: new connections keep getting the renewed one.
  install(api_server({.not_before = -48h, .not_after = -1h}), api_cert(), api_key());
  ASSERT_TRUE(eventually([&] { return count_events("certificate.refused", "upload-server", "expired") == 1; }))
      << logs();
  EXPECT_EQ(new_connection_sha256(), renewed_sha256);
  EXPECT_EQ(log_count("upload API: the changed TLS files were not taken into use"), 1u) << logs();
  EXPECT_NE(read_file(daemon_log()).find("certificate expired (notAfter"), std::string::npos) << logs();
  EXPECT_EQ(read_file(daemon_log()).find("BEGIN"), std::string::npos) << "file contents in the log";
  EXPECT_GT(upload_processed(40, 2, "after-refusal.csv").valid, 0);
}

TEST_F(CertRenewalTest, MqttClientReconnectsWithARenewedCertificateAndLosesNothing) {
  start_daemon();
  const Processed first = upload_processed(300, 31, "first.csv");
  ASSERT_TRUE(hub_holds_exactly(first.valid)) << logs();
  const auto connects_before = log_count("forwarder: connected to");

  // svdhub away: the renewal comes while a whole extract's batches are published and unanswered.
  hub_->stop();
  auto pending = upload(extract(2000, 32), "ed-assaults", "during.csv");
  ASSERT_EQ(pending.status, 201) << pending.body << logs();
  const std::string id = extract_id_of(pending.body);
  const std::string processed = wait_for_status(id, R"("state":"processed")", 60s);
  const std::string total = find_group(processed, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << processed;
  ASSERT_LT(std::stoi(total), 256) << "more batches than the window: some would not be out yet";
  wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":)" + total + R"(,"acknowledged":0,)", 60s);

  const Issued renewed = hub_client();
  install(renewed, hub_cert(), hub_key());
  const std::string renewed_sha256 = sha256_of(hub_cert());
  ASSERT_TRUE(eventually([&] { return count_events("certificate.loaded", "hub-client", renewed_sha256) == 1; }))
      << logs();
  ASSERT_TRUE(eventually([&] { return log_count("forwarder: connected to") > connects_before; })) << logs();
  EXPECT_EQ(log_count("forwarder: reconnecting to present the renewed certificate"), 1u) << logs();
  // The reconnect sends the unanswered batches again (PUBACKed twice; the hub will keep one of
  // each). Waited for while svdhub is still away: once it is back, its receipts for the originals
  // would spare the gateway some of the re-sends.
  const auto published = [&] {
    return std::stod("0" + find_group(ops_get("/metrics").body, R"(svdgw_batches_total\{stage="published"\} (\d+))"));
  };
  EXPECT_TRUE(eventually([&] { return published() >= first.batches + 2.0 * std::stoi(total); }))
      << published();
  start_hub();

  // Every record once: nothing lost, nothing stored twice; every batch acknowledged.
  const std::int64_t during = valid_rows_of(processed);
  ASSERT_GT(during, 1800);
  EXPECT_TRUE(hub_holds_exactly(first.valid + during)) << hub_counts(hub_db()).records << logs();
  wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":\d+,"acknowledged":)" + total + ",", 60s);
  EXPECT_EQ(hub_counts(hub_db()).batches, first.batches + std::stoi(total));

  // Paho gets the renewed certificate through the private copy, and only that.
  EXPECT_EQ(read_file(private_copy()), renewed.cert_pem);
  struct stat st {};
  ASSERT_EQ(::stat((dir() / "state" / "tls" / "hub-client.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto metrics = ops_get("/metrics").body;
  const auto not_after = std::chrono::system_clock::now() + 24h * 30;
  const std::string expiry = find_group(metrics, R"(svdgw_certificate_expiry_timestamp_seconds\{role="hub-client"\} (\d+))");
  ASSERT_FALSE(expiry.empty()) << metrics;
  EXPECT_NEAR(std::stod(expiry), static_cast<double>(std::chrono::system_clock::to_time_t(not_after)), 120);

  // Proof that the connection presents the renewed certificate: the old one is revoked and the
  // broker restarted with the new CRL; the gateway still gets through.
  ASSERT_EQ(run_make_pki({broker_->pki().dir().string(), "--revoke", kGateway}), 0);
  const auto hub_subscriptions = count_of(read_file(dir() / "svdhub.log"), "subscribed to");
  broker_->restart();
  wait_for_hub_to_resubscribe(hub_subscriptions);
  const Processed last = upload_processed(100, 33, "after-revocation.csv");
  EXPECT_TRUE(hub_holds_exactly(first.valid + during + last.valid)) << logs();
  // ... and the broker does refuse the old one (the revocation is in force).
  TestClient old_identity(broker_->uri("localhost"), broker_->identity(kGateway));
  std::string error;
  EXPECT_FALSE(old_identity.connect(&error)) << "the revoked certificate still connects";
}

TEST_F(CertRenewalTest, AnInvalidCertificateIsRefusedAndTheLastGoodOneStays) {
  start_daemon();
  const std::string copy_before = read_file(private_copy());
  ASSERT_EQ(copy_before, read_file(hub_cert()));

  struct Case {
    const char* reason;
    Issued files;
    bool keep_key;  // only the certificate is replaced
  };
  TestCa other_ca("svd-gateway test CA");  // same name as the PKI's CA, another key
  const std::vector<Case> cases{
      {"key_mismatch", hub_client(), true},
      {"expired", hub_client({.not_before = -48h, .not_after = -1h}), false},
      {"untrusted", other_ca.issue({.cn = kGateway}), false},
      {"wrong_name", ca_->issue({.cn = "southgate-ed"}), false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    if (c.keep_key) write_file_atomically(hub_cert(), c.files.cert_pem);
    else install(c.files, hub_cert(), hub_key());
    ASSERT_TRUE(eventually([&] { return count_events("certificate.refused", "hub-client", c.reason) == 1; }))
        << logs();
    EXPECT_EQ(read_file(private_copy()), copy_before);
  }
  EXPECT_EQ(log_count("MQTT client: the certificate files in [hub] were not taken into use"), cases.size()) << logs();
  EXPECT_NE(read_file(daemon_log()).find("still using the last good certificate (sha256 " + original_hub_sha256_),
            std::string::npos)
      << logs();
  EXPECT_EQ(log_count("reconnecting to present the renewed certificate"), 0u);
  EXPECT_EQ(read_file(daemon_log()).find("BEGIN"), std::string::npos) << "file contents in the log";

  // A server certificate for another key is refused the same way.
  Issued mismatched = api_server();
  write_file_atomically(api_cert(), mismatched.cert_pem);
  ASSERT_TRUE(eventually([&] { return count_events("certificate.refused", "upload-server", "key_mismatch") == 1; }))
      << logs();
  EXPECT_EQ(new_connection_sha256(), original_api_sha256_);

  // Uploads still arrive and are delivered with the last good certificates.
  const std::int64_t valid = upload_processed(200, 41, "still-delivered.csv").valid;
  EXPECT_TRUE(hub_holds_exactly(valid)) << logs();
  EXPECT_EQ(count_events("certificate.loaded", "hub-client", ""), 1u);  // the one at start only
}

TEST_F(CertRenewalTest, SighupRenewsWhenPeriodicChecksAreOff) {
  write_config(renewal_config(0));
  start_daemon();
  const Issued client = hub_client();
  install(client, hub_cert(), hub_key());
  install(api_server(), api_cert(), api_key());
  const std::string client_sha256 = sha256_of(hub_cert()), api_sha256 = sha256_of(api_cert());
  // Nothing looks at the files by itself. Proof that the daemon has moved on since they changed:
  // an extract uploaded afterwards is processed and every batch of it acknowledged by the hub (the
  // network thread, where a periodic check would run, has handled the receipts). The MQTT client
  // and the upload API still use the original certificates.
  const Processed meanwhile = upload_processed(60, 50, "before-sighup.csv");
  ASSERT_TRUE(hub_holds_exactly(meanwhile.valid)) << logs();
  EXPECT_EQ(count_events("certificate.loaded", "hub-client", client_sha256), 0u);
  EXPECT_EQ(count_events("certificate.loaded", "upload-server", api_sha256), 0u);
  EXPECT_EQ(new_connection_sha256(), original_api_sha256_);

  daemon_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return count_events("certificate.loaded", "hub-client", client_sha256) == 1; }))
      << logs();
  EXPECT_EQ(new_connection_sha256(), api_sha256);
  EXPECT_TRUE(eventually([&] { return log_count("reconnecting to present the renewed certificate") == 1; })) << logs();
  EXPECT_EQ(read_file(private_copy()), client.cert_pem);
  const std::int64_t valid = upload_processed(150, 51, "after-sighup.csv").valid;
  EXPECT_TRUE(hub_holds_exactly(meanwhile.valid + valid)) << logs();

  // A bad MQTT client certificate on SIGHUP: refused, the renewed one stays.
  install(hub_client({.not_before = -48h, .not_after = -1h}), hub_cert(), hub_key());
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return count_events("certificate.refused", "hub-client", "expired") == 1; })) << logs();
  EXPECT_EQ(read_file(private_copy()), client.cert_pem);
  // A bad upload API certificate on SIGHUP refuses the whole reload, as before.
  write_file_atomically(api_cert(), "not a certificate\n");
  const auto refused_before = log_count("reload refused");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return log_count("reload refused") > refused_before; })) << logs();
  EXPECT_TRUE(eventually([&] { return count_events("certificate.refused", "upload-server", "not_pem") == 1; }));
  EXPECT_EQ(new_connection_sha256(), api_sha256);
  EXPECT_FALSE(daemon_->wait(0ms)) << logs();
}

TEST_F(CertRenewalTest, AtStartTheLastGoodCopyStandsInForABrokenCertificate) {
  start_daemon();
  daemon_->stop();
  // Broken while the gateway was off: it starts with the copy it made last time.
  install(hub_client({.not_before = -48h, .not_after = -1h}), hub_cert(), hub_key());
  start_daemon();
  EXPECT_TRUE(eventually([&] { return count_events("certificate.refused", "hub-client", "expired") == 1; })) << logs();
  EXPECT_NE(read_file(daemon_log()).find("still using the last good certificate (sha256 " + original_hub_sha256_),
            std::string::npos)
      << logs();
  const std::int64_t valid = upload_processed(100, 61, "with-the-copy.csv").valid;
  EXPECT_TRUE(hub_holds_exactly(valid)) << logs();
  daemon_->stop();

  // With no usable copy either, it does not start, and says why.
  fs::remove_all(dir() / "state" / "tls");
  Process refused({SVD_SVDGW, "run", "--config", gateway_config().string()}, dir() / "refused.log",
                       dir() / "refused.log");
  EXPECT_EQ(refused.wait(30s), 1) << read_file(dir() / "refused.log");
  const std::string why = read_file(dir() / "refused.log");
  EXPECT_NE(why.find("[hub]: " + hub_cert().string() + ": certificate expired (notAfter "), std::string::npos) << why;
  EXPECT_NE(why.find("no usable copy of an earlier certificate"), std::string::npos) << why;
}

}  // namespace
}  // namespace svd::testing
