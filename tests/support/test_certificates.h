#pragma once
// Certificates made on the spot for tests of certificate checks and renewal: a CA (new, or the
// test PKI's from deploy/pki/make-pki.sh, loaded from its files) issues EC P-256 leaves with any
// CN, use and validity window, including ones that expired long ago or start next year, which
// `openssl x509 -req` cannot make. Header-only; link OpenSSL::Crypto. Test data only: the keys
// are unencrypted and live as long as the test.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace svd::test_support {

struct Issued {
  std::string cert_pem;  // the leaf only
  std::string key_pem;   // PKCS#8, unencrypted
};

enum class CertUse { client, server, intermediate_ca };

struct IssueOptions {
  std::string cn{};
  CertUse use = CertUse::client;
  // The validity window relative to now.
  std::chrono::seconds not_before{-std::chrono::hours(1)};
  std::chrono::seconds not_after{std::chrono::hours(24 * 30)};
  std::vector<std::string> dns_names{};  // servers: subjectAltName DNS entries (plus IP 127.0.0.1)
  // Signs with this key instead of a new one (a renewal that keeps its key).
  std::string key_pem{};
};

// Writes `text` to `file` (replacing it) with `mode`, through a temporary file and a rename as a
// careful operator or certificate manager would.
inline void write_file_atomically(const std::filesystem::path& file, const std::string& text, mode_t mode = 0644) {
  const std::filesystem::path temp = file.parent_path() / ("." + file.filename().string() + ".new");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temp.string());
  }
  if (::chmod(temp.c_str(), mode) != 0) throw std::runtime_error("cannot chmod " + temp.string());
  std::filesystem::rename(temp, file);
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class TestCa {
 public:
  // A new self-signed CA, valid from a day ago for ten years.
  explicit TestCa(const std::string& cn) : key_(new_key()) {
    cert_.reset(X509_new());
    X509_set_version(cert_.get(), 2);
    set_serial(cert_.get());
    X509_gmtime_adj(X509_getm_notBefore(cert_.get()), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert_.get()), 3650L * 86400);
    set_cn(X509_get_subject_name(cert_.get()), cn);
    X509_set_issuer_name(cert_.get(), X509_get_subject_name(cert_.get()));
    X509_set_pubkey(cert_.get(), key_.get());
    add_ext(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:true");
    add_ext(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    sign(cert_.get(), key_.get());
  }

  // The CA of an existing PKI (make-pki.sh's ca.crt and ca.key).
  TestCa(const std::filesystem::path& cert_file, const std::filesystem::path& key_file) {
    const std::string cert = read_text(cert_file), key = read_text(key_file);
    cert_.reset(PEM_read_bio_X509(bio_of(cert).get(), nullptr, nullptr, nullptr));
    key_.reset(PEM_read_bio_PrivateKey(bio_of(key).get(), nullptr, nullptr, nullptr));
    if (!cert_ || !key_) throw std::runtime_error("cannot read the CA " + cert_file.string());
  }

  // An intermediate CA issued by another TestCa (issue() with CertUse::intermediate_ca).
  explicit TestCa(const Issued& intermediate) {
    cert_.reset(PEM_read_bio_X509(bio_of(intermediate.cert_pem).get(), nullptr, nullptr, nullptr));
    key_.reset(PEM_read_bio_PrivateKey(bio_of(intermediate.key_pem).get(), nullptr, nullptr, nullptr));
    if (!cert_ || !key_) throw std::runtime_error("cannot read the intermediate CA");
  }

  std::string cert_pem() const { return pem_of(cert_.get()); }

  // An empty CRL signed by this CA, issued an hour ago, next update after `next_update` from now.
  std::string crl_pem(std::chrono::seconds next_update = std::chrono::hours(24 * 30)) const {
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), &X509_CRL_free);
    X509_CRL_set_version(crl.get(), 1);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.get()));
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> last(X509_gmtime_adj(nullptr, -3600), &ASN1_TIME_free);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(
        X509_gmtime_adj(nullptr, static_cast<long>(next_update.count())), &ASN1_TIME_free);
    X509_CRL_set1_lastUpdate(crl.get(), last.get());
    X509_CRL_set1_nextUpdate(crl.get(), next.get());
    if (X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()) <= 0) throw std::runtime_error("cannot sign a CRL");
    Bio b(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_X509_CRL(b.get(), crl.get());
    return text_of(b.get());
  }

  Issued issue(const IssueOptions& o) const {
    Issued out;
    Key key = o.key_pem.empty() ? new_key() : Key(PEM_read_bio_PrivateKey(bio_of(o.key_pem).get(), nullptr, nullptr, nullptr));
    if (!key) throw std::runtime_error("cannot read the given key");
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);
    set_serial(cert.get());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(o.not_before.count()));
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(o.not_after.count()));
    set_cn(X509_get_subject_name(cert.get()), o.cn);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    X509_set_pubkey(cert.get(), key.get());
    if (o.use == CertUse::intermediate_ca) {
      add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:true,pathlen:0");
      add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:false");
      add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature");
      add_ext(cert.get(), cert_.get(), NID_ext_key_usage, o.use == CertUse::client ? "clientAuth" : "serverAuth");
    }
    add_ext(cert.get(), cert_.get(), NID_subject_key_identifier, "hash");
    add_ext(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid");
    if (o.use == CertUse::server) {
      std::string san = "IP:127.0.0.1";
      for (const auto& n : o.dns_names) san += ",DNS:" + n;
      add_ext(cert.get(), cert_.get(), NID_subject_alt_name, san);
    }
    sign(cert.get(), key_.get());
    out.cert_pem = pem_of(cert.get());
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PrivateKey(b.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    out.key_pem = text_of(b.get());
    return out;
  }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct CertFree {
    void operator()(X509* x) const { X509_free(x); }
  };
  using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
  using Cert = std::unique_ptr<X509, CertFree>;
  using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

  static Key new_key() {
    Key k(EVP_EC_gen("P-256"));
    if (!k) throw std::runtime_error("cannot generate an EC key");
    return k;
  }
  static Bio bio_of(const std::string& text) {
    return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  }
  static std::string text_of(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
  static std::string pem_of(X509* x) {
    Bio b(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_X509(b.get(), x);
    return text_of(b.get());
  }
  static void set_serial(X509* x) {
    unsigned char bytes[16];
    RAND_bytes(bytes, sizeof bytes);
    bytes[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
  }
  static void set_cn(X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  static void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("cannot make extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  static void sign(X509* cert, EVP_PKEY* key) {
    if (X509_sign(cert, key, EVP_sha256()) <= 0) throw std::runtime_error("cannot sign a certificate");
  }

  Cert cert_;
  Key key_;
};

}  // namespace svd::test_support
