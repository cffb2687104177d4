// The checks a renewed certificate must pass before the daemon uses it (crypto/credentials.h):
// real certificates made with OpenSSL in a temp directory, one per way of being wrong.

#include "crypto/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/certificate_info.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::CertUse;
using test_support::Issued;
using test_support::IssueOptions;
using test_support::TestCa;

constexpr const char* kPartner = "northgate-ed";

class CredentialsTest : public ::testing::Test {
 protected:
  CredentialsTest() : ca_("svd test CA"), other_ca_("svd test CA") {}  // same name, other key

  // Writes cert, key (0600) and the CA into the temp dir under `name`; returns the paths.
  ClientCredentialFiles write(const std::string& name, const Issued& issued, const std::string& ca_pem) {
    ClientCredentialFiles f{dir_ / (name + ".crt"), dir_ / (name + ".key"), dir_ / (name + "-ca.crt")};
    test_support::write_file_atomically(f.cert_chain, issued.cert_pem);
    test_support::write_file_atomically(f.key, issued.key_pem, 0600);
    test_support::write_file_atomically(f.ca, ca_pem);
    return f;
  }
  ClientCredentialFiles write(const std::string& name, const Issued& issued) {
    return write(name, issued, ca_.cert_pem());
  }

  static Issued client(const TestCa& ca, IssueOptions o = {}) {
    if (o.cn.empty()) o.cn = kPartner;
    return ca.issue(o);
  }

  // The refusal `files` get, or a failure when they pass.
  static CredentialError refusal(const ClientCredentialFiles& files,
                                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
    auto r = load_client_credentials(files, kPartner, now);
    if (r) {
      ADD_FAILURE() << "accepted " << files.cert_chain;
      return {};
    }
    // A refusal names the file and the problem, never what the files hold.
    EXPECT_EQ(r.error().message.find("BEGIN"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("MII"), std::string::npos) << r.error().message;
    return r.error();
  }

  test_support::TempDir dir_{"svd-credentials"};
  TestCa ca_, other_ca_;
};

TEST_F(CredentialsTest, AcceptsAGoodCertificateAndReportsWhatWasChecked) {
  const auto files = write("good", client(ca_));
  auto c = load_client_credentials(files, kPartner);
  ASSERT_TRUE(c) << c.error().message;
  // Exactly the bytes of the files, and the fingerprint certificate.loaded records.
  EXPECT_EQ(c->cert_chain_pem, test_support::read_text(files.cert_chain));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c->key_pem.data()), c->key_pem.size()),
            test_support::read_text(files.key));
  EXPECT_EQ(c->ca_pem, test_support::read_text(files.ca));
  const auto info = read_certificate_info(files.cert_chain);
  ASSERT_TRUE(info);
  EXPECT_EQ(c->sha256, info->sha256);
  EXPECT_EQ(c->not_after, info->not_after);
  const auto left = c->not_after_time - std::chrono::system_clock::now();
  EXPECT_GT(left, std::chrono::hours(24 * 29));
  EXPECT_LT(left, std::chrono::hours(24 * 31));
  EXPECT_EQ(c->digest.size(), 64u);
}

TEST_F(CredentialsTest, TheDigestChangesWithAnyOfTheThreeFiles) {
  const auto files = write("a", client(ca_));
  const auto first = load_client_credentials(files, kPartner);
  ASSERT_TRUE(first);
  EXPECT_EQ(load_client_credentials(files, kPartner)->digest, first->digest);
  // The same certificate and key with a CA bundle that also holds another CA.
  test_support::write_file_atomically(files.ca, ca_.cert_pem() + other_ca_.cert_pem());
  const auto bundle = load_client_credentials(files, kPartner);
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_NE(bundle->digest, first->digest);
  EXPECT_EQ(bundle->sha256, first->sha256);
}

TEST_F(CredentialsTest, RefusesAnExpiredCertificate) {
  const auto e = refusal(write("expired", client(ca_, {.not_before = -48h, .not_after = -24h})));
  EXPECT_EQ(e.problem, CredentialProblem::expired);
  EXPECT_EQ(e.file, CredentialFile::certificate);
  EXPECT_NE(e.message.find("certificate expired (notAfter "), std::string::npos) << e.message;
  EXPECT_EQ(to_string(e.problem), "expired");
}

TEST_F(CredentialsTest, RefusesACertificateNotValidYet) {
  const auto e = refusal(write("future", client(ca_, {.not_before = 24h, .not_after = 48h})));
  EXPECT_EQ(e.problem, CredentialProblem::not_yet_valid);
  EXPECT_NE(e.message.find("not valid yet"), std::string::npos) << e.message;
}

TEST_F(CredentialsTest, ValidityIsJudgedAtTheTimeGiven) {
  const auto files = write("month", client(ca_));
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(load_client_credentials(files, kPartner, now + 24h * 29));
  EXPECT_EQ(refusal(files, now + 24h * 31).problem, CredentialProblem::expired);
  EXPECT_EQ(refusal(files, now - 2h).problem, CredentialProblem::not_yet_valid);
}

TEST_F(CredentialsTest, RefusesAKeyThatIsNotTheCertificates) {
  auto issued = client(ca_);
  issued.key_pem = client(ca_).key_pem;  // another certificate's key
  const auto e = refusal(write("mismatch", issued));
  EXPECT_EQ(e.problem, CredentialProblem::key_mismatch);
  EXPECT_EQ(e.file, CredentialFile::key);
  EXPECT_NE(e.message.find("does not match the certificate"), std::string::npos) << e.message;
}

TEST_F(CredentialsTest, RefusesACertificateFromAnotherCa) {
  // Signed by a CA with the same name as the configured one, but another key.
  const auto e = refusal(write("other", client(other_ca_)));
  EXPECT_EQ(e.problem, CredentialProblem::untrusted);
  EXPECT_NE(e.message.find("does not chain to the CA in"), std::string::npos) << e.message;
}

TEST_F(CredentialsTest, RefusesAnotherPartnersCertificate) {
  const auto e = refusal(write("cn", client(ca_, {.cn = "southgate-ed"})));
  EXPECT_EQ(e.problem, CredentialProblem::wrong_name);
  EXPECT_NE(e.message.find("CN is not \"northgate-ed\""), std::string::npos) << e.message;
}

TEST_F(CredentialsTest, RefusesAServerCertificateForTheClientRole) {
  const auto e = refusal(write("server", client(ca_, {.use = CertUse::server})));
  EXPECT_EQ(e.problem, CredentialProblem::wrong_purpose);
}

TEST_F(CredentialsTest, RefusesGarbageAndDamagedFiles) {
  const auto good = client(ca_);
  auto garbage = good;
  garbage.cert_pem = "this is not a certificate\n";
  EXPECT_EQ(refusal(write("garbage", garbage)).problem, CredentialProblem::not_pem);

  auto damaged = good;
  damaged.cert_pem = good.cert_pem.substr(0, good.cert_pem.size() / 2) + "\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(refusal(write("damaged", damaged)).problem, CredentialProblem::not_pem);

  auto bad_key = good;
  bad_key.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  const auto k = refusal(write("badkey", bad_key));
  EXPECT_EQ(k.problem, CredentialProblem::key_unreadable);
  EXPECT_EQ(k.file, CredentialFile::key);

  EXPECT_EQ(refusal(write("garbage-ca", good, "not a CA\n")).problem, CredentialProblem::ca_unusable);
  // A leaf where the CA should be.
  EXPECT_EQ(refusal(write("leaf-ca", good, good.cert_pem)).problem, CredentialProblem::ca_unusable);

  auto empty = write("empty", good);
  test_support::write_file_atomically(empty.cert_chain, "");
  EXPECT_EQ(refusal(empty).problem, CredentialProblem::unreadable);
}

TEST_F(CredentialsTest, RefusesMissingFilesAndAnExposedKey) {
  auto files = write("missing", client(ca_));
  fs::remove(files.key);
  auto e = refusal(files);
  EXPECT_EQ(e.problem, CredentialProblem::unreadable);
  EXPECT_EQ(e.file, CredentialFile::key);
  EXPECT_NE(e.message.find(files.key.string() + ": cannot open"), std::string::npos) << e.message;

  files = write("exposed", client(ca_));
  ASSERT_EQ(::chmod(files.key.c_str(), 0640), 0);
  e = refusal(files);
  EXPECT_EQ(e.problem, CredentialProblem::key_exposed);
  EXPECT_NE(e.message.find("chmod 600"), std::string::npos) << e.message;

  files = write("no-ca", client(ca_));
  fs::remove(files.ca);
  e = refusal(files);
  EXPECT_EQ(e.problem, CredentialProblem::ca_unusable);
  EXPECT_EQ(e.file, CredentialFile::ca);
}

TEST_F(CredentialsTest, UsesIntermediatesFromTheCertificateFile) {
  const TestCa intermediate(ca_.issue({.cn = "svd test intermediate", .use = CertUse::intermediate_ca}));
  const Issued leaf = client(intermediate);
  // The leaf alone does not reach the root ...
  EXPECT_EQ(refusal(write("alone", leaf)).problem, CredentialProblem::untrusted);
  // ... the leaf followed by its intermediate does.
  Issued chained = leaf;
  chained.cert_pem += intermediate.cert_pem();
  const auto files = write("chained", chained);
  auto c = load_client_credentials(files, kPartner);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->sha256, read_certificate_info(files.cert_chain)->sha256);  // the leaf's
}

TEST_F(CredentialsTest, PrivateCopiesAreExactlyWhatWasCheckedAndOnlyOursToRead) {
  const auto files = write("source", client(ca_));
  auto c = load_client_credentials(files, kPartner);
  ASSERT_TRUE(c);
  const fs::path tls = dir_.path() / "state" / "tls";
  fs::create_directories(tls.parent_path());
  auto copies = write_private_copies(*c, tls, "hub-client");
  ASSERT_TRUE(copies) << copies.error().message;
  EXPECT_EQ(copies->cert_chain, tls / "hub-client.crt");
  EXPECT_EQ(copies->key, tls / "hub-client.key");
  EXPECT_EQ(copies->ca, tls / "hub-client-ca.crt");
  EXPECT_EQ(test_support::read_text(copies->cert_chain), test_support::read_text(files.cert_chain));
  EXPECT_EQ(test_support::read_text(copies->key), test_support::read_text(files.key));
  EXPECT_EQ(test_support::read_text(copies->ca), test_support::read_text(files.ca));
  struct stat st {};
  ASSERT_EQ(::stat(tls.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& p : {copies->cert_chain, copies->key, copies->ca}) {
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
  }
  // The copies pass the same checks.
  EXPECT_TRUE(load_client_credentials(*copies, kPartner));

  // A renewal replaces them, leaving no temporary file behind.
  auto renewed = load_client_credentials(write("renewed", client(ca_)), kPartner);
  ASSERT_TRUE(renewed);
  ASSERT_TRUE(write_private_copies(*renewed, tls, "hub-client"));
  EXPECT_EQ(test_support::read_text(copies->cert_chain), renewed->cert_chain_pem);
  EXPECT_EQ(std::distance(fs::directory_iterator(tls), fs::directory_iterator()), 3);
}

class ServerCredentialsTest : public CredentialsTest {
 protected:
  TlsServerFiles write_server(const Issued& issued, const std::string& client_ca_pem, const std::string& crl_pem) {
    TlsServerFiles f{dir_ / "server.crt", dir_ / "server.key", dir_ / "clients-ca.crt", {}};
    test_support::write_file_atomically(f.cert_chain, issued.cert_pem);
    test_support::write_file_atomically(f.key, issued.key_pem, 0600);
    test_support::write_file_atomically(f.client_ca, client_ca_pem);
    if (!crl_pem.empty()) {
      f.crl = dir_ / "clients.crl";
      test_support::write_file_atomically(f.crl, crl_pem);
    }
    return f;
  }
  Issued server(IssueOptions o = {}) const {
    o.cn = "gateway.test";
    o.use = CertUse::server;
    return ca_.issue(o);
  }
  CredentialError server_refusal(const TlsServerFiles& f) {
    auto r = load_server_credentials(f);
    if (r) {
      ADD_FAILURE() << "accepted " << f.cert_chain;
      return {};
    }
    return r.error();
  }
};

TEST_F(ServerCredentialsTest, BuildsTheContextAndReportsBothCertificates) {
  const auto files = write_server(server(), ca_.cert_pem(), ca_.crl_pem());
  auto s = load_server_credentials(files);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->tls.context);
  EXPECT_EQ(s->sha256, read_certificate_info(files.cert_chain)->sha256);
  EXPECT_EQ(s->client_ca_sha256, read_certificate_info(files.client_ca)->sha256);
  EXPECT_GT(s->client_ca_not_after_time - std::chrono::system_clock::now(), std::chrono::hours(24 * 365 * 9));
  EXPECT_TRUE(s->tls.crl_next_update);
}

TEST_F(ServerCredentialsTest, SaysWhichFileWasRefusedAndWhy) {
  EXPECT_EQ(server_refusal(write_server(server({.not_before = -48h, .not_after = -1h}), ca_.cert_pem(), {})).problem,
            CredentialProblem::expired);
  auto mismatch = server();
  mismatch.key_pem = server().key_pem;
  EXPECT_EQ(server_refusal(write_server(mismatch, ca_.cert_pem(), {})).problem, CredentialProblem::key_mismatch);
  EXPECT_EQ(server_refusal(write_server(client(ca_), ca_.cert_pem(), {})).problem, CredentialProblem::wrong_purpose);
  EXPECT_EQ(server_refusal(write_server(server(), "garbage\n", {})).problem, CredentialProblem::ca_unusable);

  // A CRL that would lock every client out, and one from another CA.
  auto e = server_refusal(write_server(server(), ca_.cert_pem(), ca_.crl_pem(-60s)));
  EXPECT_EQ(e.problem, CredentialProblem::crl_unusable);
  EXPECT_EQ(e.file, CredentialFile::crl);
  EXPECT_NE(e.message.find("CRL expired"), std::string::npos) << e.message;
  EXPECT_EQ(server_refusal(write_server(server(), ca_.cert_pem(), other_ca_.crl_pem())).problem,
            CredentialProblem::crl_unusable);
}

}  // namespace
}  // namespace svd::crypto
