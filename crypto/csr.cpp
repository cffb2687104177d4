#include "crypto/csr.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <memory>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/unique_fd.h"
#include "crypto/detail/file_io.h"
#include "crypto/detail/openssl.h"
#include "crypto/detail/tls_common.h"
#include "crypto/sha256.h"

namespace svd::crypto {
namespace {

// A PEM key, request or certificate chain is a few KiB; a larger file is not one of them.
constexpr std::size_t kMaxPemBytes = std::size_t{64} << 10;

struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct ExtensionsFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};
struct KeyUsageFree {
  void operator()(EXTENDED_KEY_USAGE* e) const { sk_ASN1_OBJECT_pop_free(e, ASN1_OBJECT_free); }
};
using detail::BioPtr;
using detail::PkeyPtr;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;
using detail::X509Ptr;
using ExtensionsPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using KeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, KeyUsageFree>;

// OpenSSL's error queue is per thread and the TLS code reads it (SSL_get_error): a refused file
// here must not leave entries that a later TLS call on the same thread would take for its own.
struct ClearOpensslErrors {
  ClearOpensslErrors() { ERR_clear_error(); }
  ~ClearOpensslErrors() { ERR_clear_error(); }
  ClearOpensslErrors(const ClearOpensslErrors&) = delete;
  ClearOpensslErrors& operator=(const ClearOpensslErrors&) = delete;
};

// No passphrase is ever supplied: an encrypted key is refused instead of OpenSSL prompting on the
// terminal (its default callback does that).
int no_passphrase(char*, int, int, void*) { return 0; }

std::filesystem::path parent_or_dot(const std::filesystem::path& file) {
  std::filesystem::path parent = file.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// A PEM file's bytes in a BIO. A private key's go to a secure-memory BIO (wiped when freed) through
// a stack buffer that is wiped too, and its mode is checked on the descriptor (no window between
// check and use) before a byte is read.
result<BioPtr> read_pem(const std::filesystem::path& file, bool private_key) {
  // O_NOFOLLOW: a symlink in the last component is refused (ELOOP). O_NONBLOCK: opening a FIFO
  // must not hang waiting for a writer; it has no effect on the regular file we accept.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return errc::key_file_unreadable;
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return errc::key_file_unreadable;
  if (private_key && (st.st_mode & 077) != 0) return errc::key_file_permissions;

  BioPtr bio(BIO_new(private_key ? BIO_s_secmem() : BIO_s_mem()));
  if (!bio) return errc::crypto_failure;
  unsigned char chunk[4096];
  std::size_t total = 0;
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    total += static_cast<std::size_t>(n);
    if (total > kMaxPemBytes || BIO_write(bio.get(), chunk, static_cast<int>(n)) != n) {
      ok = false;
      break;
    }
  }
  OPENSSL_cleanse(chunk, sizeof chunk);
  if (!ok) return errc::key_file_unreadable;
  return bio;
}

std::string public_key_sha256(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(pkey, &der);
  if (n <= 0) return {};
  std::string digest = sha256_hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return digest;
}

// "EC P-256", "RSA 3072"; empty for a kind of key the TLS code does not take.
std::string algorithm_of(const EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[80] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return {};
    const std::string name(group, len);
    if (name == "prime256v1" || name == "P-256") return "EC P-256";
    if (name == "secp384r1" || name == "P-384") return "EC P-384";
    if (name == "secp521r1" || name == "P-521") return "EC P-521";
    return "EC " + name;
  }
  if (EVP_PKEY_is_a(pkey, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(pkey));
  return {};
}

result<PkeyPtr> load_tls_key(const std::filesystem::path& key_file) {
  auto bio = read_pem(key_file, true);
  if (!bio) return bio.error();
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio->get(), nullptr, no_passphrase, nullptr));
  if (!pkey || algorithm_of(pkey.get()).empty()) return errc::key_file_malformed;
  return pkey;
}

TlsKeyInfo info_of(EVP_PKEY* pkey) { return {algorithm_of(pkey), public_key_sha256(pkey)}; }

std::string utf8_of(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::string text(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return text;
}

std::string common_name_of(const X509_NAME* name) {
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return {};
  return utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
}

// A request's contents as a string (PEM text is not secret).
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 && data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

bool add_extensions(X509_REQ* req, const CsrRequest& request) {
  STACK_OF(X509_EXTENSION)* raw = nullptr;
  if (!request.dns_names.empty()) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    if (!names) return false;
    for (const auto& dns : request.dns_names) {
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_IA5STRING* text = ASN1_IA5STRING_new();
      if (!gn || !text || ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(text);
        return false;
      }
      GENERAL_NAME_set0_value(gn, GEN_DNS, text);
      if (sk_GENERAL_NAME_push(names.get(), gn) <= 0) {
        GENERAL_NAME_free(gn);
        return false;
      }
    }
    if (X509V3_add1_i2d(&raw, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) return false;
  }
  ExtensionsPtr extensions(raw);
  // The use is asked for so a CA that copies request extensions issues the right kind of
  // certificate; a CA with its own profile ignores it.
  KeyUsagePtr usage(sk_ASN1_OBJECT_new_null());
  if (!usage ||
      sk_ASN1_OBJECT_push(usage.get(),
                          OBJ_nid2obj(request.use == CertificateUse::server ? NID_server_auth : NID_client_auth)) <= 0)
    return false;
  raw = extensions.release();
  const bool added = X509V3_add1_i2d(&raw, NID_ext_key_usage, usage.get(), 0, X509V3_ADD_DEFAULT) == 1;
  extensions.reset(raw);
  return added && X509_REQ_add_extensions(req, extensions.get()) == 1;
}

}  // namespace

result<void> write_new_file(const std::filesystem::path& file, std::string_view content, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
  if (fd < 0) return errno == EEXIST ? errc::key_file_exists : errc::key_file_unreadable;
  UniqueFd guard(fd);
  // From here on the file is ours (O_EXCL): any failure removes it, so an error means no file.
  const bool written = ::fchmod(fd, mode) == 0 &&
                       detail::write_all(fd, reinterpret_cast<const unsigned char*>(content.data()), content.size()) &&
                       ::fsync(fd) == 0 && guard.close() && detail::fsync_directory(parent_or_dot(file));
  if (!written) {
    guard.close();
    ::unlink(file.c_str());
    return errc::key_file_unreadable;
  }
  return {};
}

result<TlsKeyInfo> generate_tls_key(const std::filesystem::path& key_file) {
  ClearOpensslErrors clear;
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return errc::crypto_failure;
  // The PKCS#8 PEM goes to a secure-memory BIO: its buffer is wiped when freed.
  BioPtr pem(BIO_new(BIO_s_secmem()));
  if (!pem || PEM_write_bio_PrivateKey(pem.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return errc::crypto_failure;
  char* data = nullptr;
  const long size = BIO_get_mem_data(pem.get(), &data);
  if (size <= 0 || data == nullptr) return errc::crypto_failure;
  auto written = write_new_file(key_file, std::string_view(data, static_cast<std::size_t>(size)), 0600);
  if (!written) return written.error();
  return info_of(pkey.get());
}

result<TlsKeyInfo> read_tls_key(const std::filesystem::path& key_file) {
  ClearOpensslErrors clear;
  auto pkey = load_tls_key(key_file);
  if (!pkey) return pkey.error();
  return info_of(pkey->get());
}

result<void> write_csr(const std::filesystem::path& key_file, const CsrRequest& request,
                       const std::filesystem::path& csr_file) {
  ClearOpensslErrors clear;
  auto pkey = load_tls_key(key_file);
  if (!pkey) return pkey.error();

  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) return errc::crypto_failure;
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (request.common_name.empty() ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(request.common_name.data()),
                                 static_cast<int>(request.common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), pkey->get()) != 1 || !add_extensions(req.get(), request) ||
      X509_REQ_sign(req.get(), pkey->get(), EVP_sha256()) <= 0)
    return errc::crypto_failure;

  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) return errc::crypto_failure;
  const std::string pem = bio_text(out.get());

  // A leftover from an interrupted run is only ever a request, never a key.
  std::filesystem::path part = csr_file;
  part += ".part";
  ::unlink(part.c_str());
  auto written = write_new_file(part, pem, 0644);
  if (!written) return written.error();
  if (::rename(part.c_str(), csr_file.c_str()) != 0 || !detail::fsync_directory(parent_or_dot(csr_file))) {
    ::unlink(part.c_str());
    return errc::key_file_unreadable;
  }
  return {};
}

result<CsrInfo> read_csr(const std::filesystem::path& csr_file) {
  ClearOpensslErrors clear;
  auto bio = read_pem(csr_file, false);
  if (!bio) return bio.error();
  ReqPtr req(PEM_read_bio_X509_REQ(bio->get(), nullptr, nullptr, nullptr));
  if (!req) return errc::key_file_malformed;
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (!pkey) return errc::key_file_malformed;
  CsrInfo info;
  info.common_name = common_name_of(X509_REQ_get_subject_name(req.get()));
  info.public_key_sha256 = public_key_sha256(pkey);
  info.signature_valid = X509_REQ_verify(req.get(), pkey) == 1;
  ExtensionsPtr extensions(X509_REQ_get_extensions(req.get()));
  if (extensions) {
    GeneralNamesPtr names(
        static_cast<GENERAL_NAMES*>(X509V3_get_d2i(extensions.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (names) {
      for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        if (gn->type != GEN_DNS) continue;
        const ASN1_STRING* dns = gn->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                    static_cast<std::size_t>(ASN1_STRING_length(dns)));
      }
    }
  }
  return info;
}

result<CertificateSummary> read_certificate_summary(const std::filesystem::path& cert_file) {
  ClearOpensslErrors clear;
  auto bio = read_pem(cert_file, false);
  if (!bio) return bio.error();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!cert) return errc::key_file_malformed;
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
  if (!pkey) return errc::key_file_malformed;
  CertificateSummary summary;
  summary.common_name = common_name_of(X509_get_subject_name(cert.get()));
  summary.public_key_sha256 = public_key_sha256(pkey);
  summary.not_after = detail::format_utc(X509_get0_notAfter(cert.get()));
  summary.valid_now = X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0 &&
                      X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0;
  return summary;
}

}  // namespace svd::crypto
