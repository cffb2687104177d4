// The upload API's TLS (docs/architecture.md, "Security model"), probed with real clients against
// the real `svdgw run`:
// curl and `openssl s_client` with no client certificate, one from another CA, a revoked one,
// and TLS 1.1 are all refused, while a valid client gets through; and testssl.sh finds nothing
// of MEDIUM severity or worse (tests/integration/testssl_check.sh).

#include <gtest/gtest.h>

#include "daemon_fixture.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRevoked = "northgate-old-export";

class TlsSecurityTest : public DaemonHarness {
 protected:
  TlsSecurityTest() : DaemonHarness({kRevoked}, true) {}

  void SetUp() override {
    DaemonHarness::SetUp();
    if (HasFatalFailure()) return;
    // Revoked before the daemon starts, so the CRL it loads lists it. It is even allowed for the
    // feed: the refusal must come from the CRL, not from the feed's list.
    std::string out;
    ASSERT_EQ(run_make_pki({broker_->pki().dir().string(), "--revoke", kRevoked}, &out), 0) << out;
    std::string text = config_text();
    text = std::regex_replace(text, std::regex("allowed_clients = \\[\"northgate-ed-export\"\\]"),
                              "allowed_clients = [\"northgate-ed-export\", \"northgate-old-export\"]");
    write_config(text);
    start_daemon();
  }

  struct Run {
    int status = -1;
    std::string out;
  };

  // openssl s_client with `args`, stdin closed at once; output and exit status.
  Run s_client(std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(http_port_),
                                  "-servername", "localhost", "-CAfile", broker_->pki().ca_cert().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    // s_client reads stdin; /dev/null (the process helper's default) makes it send nothing and
    // quit after the handshake. Both streams, as a terminal would show them.
    const auto run = test_support::run(argv, {.timeout = 30s});
    return {run.timed_out ? -1 : run.exit_code, run.out + run.err};
  }

};

TEST_F(TlsSecurityTest, AValidClientCertificateGetsThrough) {
  auto ok = upload(extract(20, 1), "ed-assaults", "control.csv");
  EXPECT_EQ(ok.status, 201) << ok.body << ok.err << logs();
}

TEST_F(TlsSecurityTest, NoClientCertificateIsRefused) {
  auto r = curl({"-T", extract(20, 2).string(), url("/v1/feeds/ed-assaults/extracts/a.csv")}, "");
  EXPECT_EQ(r.status, -1) << r.body;
  EXPECT_NE(r.curl_exit, 0);
  // openssl s_client over TLS 1.2, where the refusal is an alert inside the handshake (in TLS
  // 1.3 it follows the handshake, and s_client may quit before reading it; curl covers 1.3).
  auto s = s_client({"-tls1_2"});
  EXPECT_TRUE(s.out.find("alert certificate required") != std::string::npos ||
              s.out.find("alert handshake failure") != std::string::npos ||
              s.out.find("peer did not return a certificate") != std::string::npos)
      << s.out;
  EXPECT_NE(read_file(daemon_log()).find("handshake"), std::string::npos) << logs();
}

TEST_F(TlsSecurityTest, ACertificateFromAnotherCaIsRefused) {
  const auto& pki = broker_->pki();
  auto r = curl_with(pki.rogue_cert(), pki.rogue_key(),
                     {"-T", extract(20, 3).string(), url("/v1/feeds/ed-assaults/extracts/b.csv")});
  EXPECT_EQ(r.status, -1) << r.body;
  // TLS 1.2, where the server's verdict on the certificate is an alert inside the handshake (in
  // TLS 1.3 it comes after; curl above covers that).
  auto s = s_client({"-tls1_2", "-cert", pki.rogue_cert().string(), "-key", pki.rogue_key().string()});
  EXPECT_TRUE(s.out.find("alert unknown ca") != std::string::npos ||
              s.out.find("alert bad certificate") != std::string::npos ||
              s.out.find("alert decrypt error") != std::string::npos)
      << s.out;
}

TEST_F(TlsSecurityTest, ARevokedCertificateIsRefused) {
  auto r = upload(extract(20, 4), "ed-assaults", "c.csv", kRevoked);
  EXPECT_EQ(r.status, -1) << r.body << logs();
  auto s = s_client({"-tls1_2", "-cert", broker_->pki().client_cert(kRevoked).string(), "-key",
                     broker_->pki().client_key(kRevoked).string()});
  EXPECT_NE(s.out.find("alert certificate revoked"), std::string::npos) << s.out;
  EXPECT_NE(read_file(daemon_log()).find("certificate revoked"), std::string::npos) << logs();
}

TEST_F(TlsSecurityTest, Tls11IsRefused) {
  // OpenSSL 3 refuses TLS 1.1 on the client side too unless the security level is lowered:
  // lowered here, so the refusal seen is the server's.
  auto s = s_client({"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-cert",
                     broker_->pki().client_cert(kEdClient).string(), "-key",
                     broker_->pki().client_key(kEdClient).string()});
  EXPECT_NE(s.status, 0) << s.out;
  EXPECT_TRUE(s.out.find("alert protocol version") != std::string::npos ||
              s.out.find("unsupported protocol") != std::string::npos)
      << s.out;
  auto r = curl({"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", "-T", extract(20, 5).string(),
                 url("/v1/feeds/ed-assaults/extracts/d.csv")});
  EXPECT_EQ(r.status, -1) << r.body;
  EXPECT_NE(r.curl_exit, 0);
}

TEST_F(TlsSecurityTest, AClientAllowedForOneFeedCannotUploadAnother) {
  auto r = upload(extract(20, 6, "death-reports"), "death-reports", "e.csv", kEdClient);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("/problems/forbidden"), std::string::npos) << r.body;
}

// testssl.sh (Debian's `testssl`) against the live endpoint: protocols, ciphers, forward secrecy
// and the known vulnerabilities; no finding of MEDIUM or worse.
TEST_F(TlsSecurityTest, TestsslFindsNothingOfMediumSeverityOrWorse) {
  const fs::path report = dir() / "testssl.json";
  const auto r = test_support::run({"/bin/sh", std::string(SVD_SOURCE_DIR) + "/tests/integration/testssl_check.sh",
                                    "127.0.0.1:" + std::to_string(http_port_), report.string()},
                                   {.timeout = 300s});
  ASSERT_FALSE(r.timed_out) << "testssl did not finish in time";
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace svd::testing
