#include "crypto/csr.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/support/key_files.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using svd::test_support::TempDir;

using test_support::mode_of;
using test_support::read_file;
using test_support::write_file;

struct Command {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// A command line (no shell: split into words as a shell would, quotes included), both streams.
Command run(const std::string& command) {
  const auto r = test_support::run(test_support::split_words(command));
  return {r.exit_code, r.out + r.err};
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// The request as OpenSSL itself reads it, independently of read_csr.
struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
std::unique_ptr<X509_REQ, ReqFree> openssl_read_req(const fs::path& p) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  if (!f) return nullptr;
  return std::unique_ptr<X509_REQ, ReqFree>(PEM_read_X509_REQ(f.get(), nullptr, nullptr, nullptr));
}
std::unique_ptr<EVP_PKEY, PkeyFree> openssl_read_key(const fs::path& p) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  if (!f) return nullptr;
  return std::unique_ptr<EVP_PKEY, PkeyFree>(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
}

// The extendedKeyUsage NIDs a request asks for.
std::vector<int> requested_key_usage(X509_REQ* req) {
  std::vector<int> nids;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* usage = static_cast<EXTENDED_KEY_USAGE*>(X509V3_get_d2i(exts, NID_ext_key_usage, nullptr, nullptr));
  if (usage) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(usage); ++i) nids.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(usage, i)));
    sk_ASN1_OBJECT_pop_free(usage, ASN1_OBJECT_free);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return nids;
}

class CsrTest : public ::testing::Test {
 protected:
  fs::path key() const { return dir_ / "gateway.key"; }
  fs::path csr() const { return dir_ / "gateway.csr"; }

  TempDir dir_{"svd-csr"};
};

TEST_F(CsrTest, GeneratesAnEcP256KeyInPkcs8WithMode0600) {
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the umask
  auto info = generate_tls_key(key());
  ::umask(old_umask);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->algorithm, "EC P-256");
  EXPECT_EQ(info->public_key_sha256.size(), 64u);
  EXPECT_EQ(mode_of(key()), 0600u);
  EXPECT_TRUE(read_file(key()).starts_with("-----BEGIN PRIVATE KEY-----\n"));

  auto pkey = openssl_read_key(key());
  ASSERT_NE(pkey, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(pkey.get(), "EC"));
  char group[32] = {};
  std::size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(pkey.get(), "group", group, sizeof group, &len), 1);
  EXPECT_EQ(std::string(group, len), "prime256v1");

  auto again = read_tls_key(key());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->public_key_sha256, info->public_key_sha256);
  // Two keys are two keys.
  auto other = generate_tls_key(dir_ / "other.key");
  ASSERT_TRUE(other);
  EXPECT_NE(other->public_key_sha256, info->public_key_sha256);
}

TEST_F(CsrTest, RefusesToOverwriteAnExistingFile) {
  write_file(key(), "not mine to replace\n", 0600);
  auto info = generate_tls_key(key());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error(), errc::key_file_exists);
  EXPECT_EQ(read_file(key()), "not mine to replace\n");

  // Nor through a symbolic link to somewhere else.
  const fs::path target = dir_ / "elsewhere";
  fs::create_symlink(target, dir_ / "link.key");
  EXPECT_FALSE(generate_tls_key(dir_ / "link.key"));
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(CsrTest, ServerRequestCarriesCnSansAndUseAndVerifiesWithItsKey) {
  auto info = generate_tls_key(key());
  ASSERT_TRUE(info);
  const CsrRequest request{
      "gw.northgate.example", {"gw.northgate.example", "upload.northgate.example"}, CertificateUse::server};
  auto written = write_csr(key(), request, csr());
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(mode_of(csr()), 0644u);
  EXPECT_TRUE(read_file(csr()).starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
  EXPECT_FALSE(fs::exists(dir_ / "gateway.csr.part"));

  auto parsed = read_csr(csr());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(parsed->signature_valid);
  EXPECT_EQ(parsed->common_name, "gw.northgate.example");
  EXPECT_EQ(parsed->dns_names, (std::vector<std::string>{"gw.northgate.example", "upload.northgate.example"}));
  EXPECT_EQ(parsed->public_key_sha256, info->public_key_sha256);

  // OpenSSL's own reading: signed by the key in the key file, SHA-256, serverAuth asked for.
  auto req = openssl_read_req(csr());
  auto pkey = openssl_read_key(key());
  ASSERT_NE(req, nullptr);
  ASSERT_NE(pkey, nullptr);
  EXPECT_EQ(X509_REQ_verify(req.get(), pkey.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), pkey.get()), 1);
  EXPECT_EQ(X509_REQ_get_signature_nid(req.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(requested_key_usage(req.get()), std::vector<int>{NID_server_auth});

  const Command verify = run("openssl req -verify -noout -in " + quoted(csr()));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

TEST_F(CsrTest, ClientRequestHasNoSanAndAsksForClientAuth) {
  ASSERT_TRUE(generate_tls_key(key()));
  ASSERT_TRUE(write_csr(key(), {"northgate-ed", {}, CertificateUse::client}, csr()));
  auto parsed = read_csr(csr());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->common_name, "northgate-ed");
  EXPECT_TRUE(parsed->dns_names.empty());
  auto req = openssl_read_req(csr());
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(requested_key_usage(req.get()), std::vector<int>{NID_client_auth});
  const Command text = run("openssl req -noout -text -in " + quoted(csr()));
  EXPECT_EQ(text.output.find("Subject Alternative Name"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("CN = northgate-ed"), std::string::npos) << text.output;
}

TEST_F(CsrTest, ARequestIsReplacedWholeAndATamperedOneDoesNotVerify) {
  ASSERT_TRUE(generate_tls_key(key()));
  ASSERT_TRUE(write_csr(key(), {"first.example", {"first.example"}, CertificateUse::server}, csr()));
  ASSERT_TRUE(write_csr(key(), {"second.example", {"second.example"}, CertificateUse::server}, csr()));
  auto parsed = read_csr(csr());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->common_name, "second.example");
  EXPECT_TRUE(parsed->signature_valid);

  // The subject changed after signing: the signature no longer covers what is there.
  auto req = openssl_read_req(csr());
  ASSERT_NE(req, nullptr);
  X509_NAME* name = X509_NAME_new();
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>("intruder.example"), -1, -1, 0),
            1);
  ASSERT_EQ(X509_REQ_set_subject_name(req.get(), name), 1);
  X509_NAME_free(name);
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen((dir_ / "tampered.csr").c_str(), "wb"), &std::fclose);
    ASSERT_TRUE(f);
    ASSERT_EQ(PEM_write_X509_REQ(f.get(), req.get()), 1);
  }
  auto tampered = read_csr(dir_ / "tampered.csr");
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->common_name, "intruder.example");
  EXPECT_FALSE(tampered->signature_valid);
}

TEST_F(CsrTest, ReadTlsKeyRefusesLooseModesOtherFilesAndEncryptedKeys) {
  ASSERT_TRUE(generate_tls_key(key()));
  ASSERT_EQ(::chmod(key().c_str(), 0640), 0);
  EXPECT_EQ(read_tls_key(key()).error(), errc::key_file_permissions);
  // write_csr reads the key under the same rules.
  EXPECT_EQ(write_csr(key(), {"x", {}, CertificateUse::client}, csr()).error(), errc::key_file_permissions);
  EXPECT_FALSE(fs::exists(csr()));

  EXPECT_EQ(read_tls_key(dir_ / "missing.key").error(), errc::key_file_unreadable);
  EXPECT_EQ(read_tls_key(dir_.path()).error(), errc::key_file_unreadable);
  write_file(dir_ / "garbage.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", 0600);
  EXPECT_EQ(read_tls_key(dir_ / "garbage.key").error(), errc::key_file_malformed);

  // An encrypted key is refused, never prompted for.
  const fs::path encrypted = dir_ / "encrypted.key";
  const Command made =  // stdin is /dev/null (tests/support/process.h): nothing to prompt on
      run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret -out " +
          quoted(encrypted));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  ASSERT_EQ(::chmod(encrypted.c_str(), 0600), 0);
  EXPECT_EQ(read_tls_key(encrypted).error(), errc::key_file_malformed);

  // An Ed25519 key is a key, but not one for these certificates.
  const fs::path ed = dir_ / "ed25519.key";
  ASSERT_EQ(run("openssl genpkey -algorithm ED25519 -out " + quoted(ed)).exit_code, 0);
  ASSERT_EQ(::chmod(ed.c_str(), 0600), 0);
  EXPECT_EQ(read_tls_key(ed).error(), errc::key_file_malformed);
}

TEST_F(CsrTest, AnRsaKeyMadeElsewhereIsAcceptedAndSignsItsRequest) {
  const fs::path rsa = dir_ / "rsa.key";
  const Command made = run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + quoted(rsa));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  ASSERT_EQ(::chmod(rsa.c_str(), 0600), 0);
  auto info = read_tls_key(rsa);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->algorithm, "RSA 2048");
  ASSERT_TRUE(write_csr(rsa, {"northgate-ed", {}, CertificateUse::client}, csr()));
  auto parsed = read_csr(csr());
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->signature_valid);
  EXPECT_EQ(parsed->public_key_sha256, info->public_key_sha256);
  auto req = openssl_read_req(csr());
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_get_signature_nid(req.get()), NID_sha256WithRSAEncryption);
}

TEST_F(CsrTest, ReadCsrRefusesWhatIsNotARequest) {
  EXPECT_EQ(read_csr(dir_ / "missing.csr").error(), errc::key_file_unreadable);
  write_file(csr(), "hello\n", 0644);
  EXPECT_EQ(read_csr(csr()).error(), errc::key_file_malformed);
  ASSERT_TRUE(generate_tls_key(key()));
  // A private key is not a request either (and is not echoed anywhere).
  EXPECT_EQ(read_csr(key()).error(), errc::key_file_malformed);
}

TEST_F(CsrTest, CertificateSummaryMatchesTheKeyItWasIssuedFor) {
  auto info = generate_tls_key(key());
  ASSERT_TRUE(info);
  ASSERT_TRUE(write_csr(key(), {"northgate-ed", {}, CertificateUse::client}, csr()));
  const fs::path cert = dir_ / "gateway.crt";
  const Command signed_cert =
      run("openssl x509 -req -in " + quoted(csr()) + " -signkey " + quoted(key()) + " -days 2 -out " + quoted(cert));
  ASSERT_EQ(signed_cert.exit_code, 0) << signed_cert.output;
  auto summary = read_certificate_summary(cert);
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(summary->common_name, "northgate-ed");
  EXPECT_EQ(summary->public_key_sha256, info->public_key_sha256);
  EXPECT_TRUE(summary->valid_now);
  EXPECT_TRUE(summary->not_after.ends_with(" UTC")) << summary->not_after;

  auto other = generate_tls_key(dir_ / "other.key");
  ASSERT_TRUE(other);
  EXPECT_NE(summary->public_key_sha256, other->public_key_sha256);
  EXPECT_EQ(read_certificate_summary(csr()).error(), errc::key_file_malformed);
}

TEST_F(CsrTest, WriteNewFileSetsTheModeAndNeverReplaces) {
  const mode_t old_umask = ::umask(077);
  auto written = write_new_file(dir_ / "public.pem", "text\n", 0644);
  ::umask(old_umask);
  ASSERT_TRUE(written);
  EXPECT_EQ(mode_of(dir_ / "public.pem"), 0644u);
  EXPECT_EQ(write_new_file(dir_ / "public.pem", "other\n", 0644).error(), errc::key_file_exists);
  EXPECT_EQ(read_file(dir_ / "public.pem"), "text\n");
  EXPECT_EQ(write_new_file(dir_ / "no-such-dir" / "x", "x", 0600).error(), errc::key_file_unreadable);
}

}  // namespace
}  // namespace svd::crypto
