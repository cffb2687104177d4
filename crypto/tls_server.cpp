#include "crypto/tls_server.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "base/unique_fd.h"
#include "crypto/detail/openssl.h"
#include "crypto/detail/tls_common.h"

namespace svd::crypto {

void throw_exception_from_error(const TlsConfigError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

namespace fs = std::filesystem;
using detail::format_utc;
using detail::kTls12Ciphers;
using detail::openssl_reason;
TlsConfigError fail(const fs::path& file, const std::string& problem) { return detail::tls_file_error(file, problem); }
using Clock = std::chrono::system_clock;

// Bounds on what we read: a chain or CA bundle is a few KiB; a CRL of a partner CA stays far
// below 16 MiB even with many revocations.
constexpr std::size_t kMaxPemBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxCrlBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxKeyBytes = std::size_t{64} << 10;

constexpr unsigned char kSessionIdContext[] = "svdgw-http";

using detail::BioPtr;
using detail::PkeyPtr;
using detail::X509Ptr;
using CrlPtr = std::unique_ptr<X509_CRL, detail::Free<X509_CRL_free>>;

// File contents; wiped on destruction (the same type carries the private key). The buffer is
// sized once so no unwiped copy is left behind by a reallocation.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  FileBytes(FileBytes&& o) noexcept : bytes_(std::move(o.bytes_)), size_(std::exchange(o.size_, 0)) {}
  FileBytes& operator=(FileBytes&&) = delete;
  ~FileBytes() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }
  void reserve_exact(std::size_t n) { bytes_.assign(n, 0); }
  unsigned char* data() { return bytes_.data(); }
  std::size_t capacity() const { return bytes_.size(); }
  std::size_t size() const { return size_; }
  void set_size(std::size_t n) { size_ = n; }

  BioPtr bio() const {
    return BioPtr(BIO_new_mem_buf(bytes_.data(), static_cast<int>(size_)));
  }

 private:
  std::vector<unsigned char> bytes_;
  std::size_t size_ = 0;
};

std::string errno_text(int err) { return std::generic_category().message(err); }

// Reads a regular file of at most `max` bytes; with `private_key`, refuses a file that group or
// others may read. Checks are on the descriptor, so there is no window between check and use.
tls_result<FileBytes> read_file(const fs::path& file, std::size_t max, bool private_key) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail(file, "cannot open: " + errno_text(errno));
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(file, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return fail(file, "not a regular file");
  if (private_key && (st.st_mode & 077) != 0)
    return fail(file, "private key is readable by group or others (chmod 600 it)");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max)
    return fail(file, "larger than " + std::to_string(max) + " bytes");

  FileBytes out;
  // One byte more than stat said shows a file that grew meanwhile.
  out.reserve_exact(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t size = 0;
  while (size < out.capacity()) {
    const ssize_t n = ::read(fd, out.data() + size, out.capacity() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(file, "cannot read: " + errno_text(errno));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size == out.capacity()) return fail(file, "changed while being read");
  if (size == 0) return fail(file, "empty file");
  out.set_size(size);
  return out;
}

tls_result<std::vector<X509Ptr>> read_certificates(const fs::path& file, const char* what) {
  auto bytes = read_file(file, kMaxPemBytes, false);
  if (!bytes) return bytes.error();
  BioPtr bio = bytes->bio();
  if (!bio) return fail(file, "out of memory");
  auto certs = detail::read_pem_certificates(bio.get());
  if (!certs) return fail(file, std::string("damaged PEM block in ") + what + openssl_reason());
  if (certs->empty()) return fail(file, std::string("no PEM certificate found (expected ") + what + ")");
  return std::move(*certs);
}

tls_result<Clock::time_point> use_certificate_chain(SSL_CTX* ctx, const fs::path& file) {
  auto certs = read_certificates(file, "the server certificate chain");
  if (!certs) return certs.error();
  X509* leaf = (*certs)[0].get();
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
    return fail(file, "server certificate expired (notAfter " + format_utc(X509_get0_notAfter(leaf)) + ")");
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
    return fail(file, "server certificate not valid yet (notBefore " + format_utc(X509_get0_notBefore(leaf)) + ")");
  if (SSL_CTX_use_certificate(ctx, leaf) != 1)
    return fail(file, "server certificate refused" + openssl_reason());
  for (std::size_t i = 1; i < certs->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*certs)[i].get()) != 1)
      return fail(file, "intermediate certificate refused" + openssl_reason());
  }
  return detail::to_time_point(X509_get0_notAfter(leaf));
}

tls_result<void> use_private_key(SSL_CTX* ctx, const fs::path& key_file, const fs::path& cert_file) {
  auto bytes = read_file(key_file, kMaxKeyBytes, true);
  if (!bytes) return bytes.error();
  BioPtr bio = bytes->bio();
  if (!bio) return fail(key_file, "out of memory");
  ERR_clear_error();
  // No passphrase callback answer: an encrypted key fails here instead of prompting on a tty.
  PkeyPtr key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) return fail(key_file, "not a PEM private key, or one protected by a passphrase" + openssl_reason());
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
        (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
      ERR_clear_error();
      return fail(key_file, "private key does not match the certificate in " + cert_file.string());
    }
    return fail(key_file, "private key refused" + openssl_reason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail(key_file, "private key does not match the certificate in " + cert_file.string());
  }
  return {};
}

tls_result<std::vector<X509Ptr>> use_client_ca(SSL_CTX* ctx, const fs::path& file) {
  auto certs = read_certificates(file, "the client CA certificate");
  if (!certs) return certs.error();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& ca : *certs) {
    if (X509_check_ca(ca.get()) == 0) return fail(file, "holds a certificate that is not a CA certificate");
    if (X509_STORE_add_cert(store, ca.get()) != 1) return fail(file, "CA certificate refused" + openssl_reason());
    // Names the CA in the CertificateRequest, so a client holding several certificates picks ours.
    if (SSL_CTX_add_client_CA(ctx, ca.get()) != 1) return fail(file, "CA certificate refused" + openssl_reason());
  }
  return certs;
}

tls_result<std::optional<Clock::time_point>> use_crl(SSL_CTX* ctx, const fs::path& file,
                                                     const std::vector<X509Ptr>& cas, const fs::path& ca_file) {
  auto bytes = read_file(file, kMaxCrlBytes, false);
  if (!bytes) return bytes.error();
  BioPtr bio = bytes->bio();
  if (!bio) return fail(file, "out of memory");
  std::vector<CrlPtr> crls;
  ERR_clear_error();
  while (X509_CRL* c = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) crls.emplace_back(c);
  if (!detail::pem_at_end()) return fail(file, "damaged PEM block in the CRL" + openssl_reason());
  if (crls.empty()) return fail(file, "no PEM CRL found");

  std::optional<Clock::time_point> earliest_next;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const CrlPtr& crl : crls) {
    // A CRL OpenSSL cannot use makes every verification fail, i.e. locks every client out:
    // refuse it here, where the operator sees why.
    const X509* issuer = nullptr;
    for (const X509Ptr& ca : cas) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) == 0) {
        issuer = ca.get();
        break;
      }
    }
    if (issuer == nullptr) return fail(file, "CRL not issued by a CA in " + ca_file.string());
    if (X509_CRL_verify(crl.get(), X509_get0_pubkey(issuer)) != 1) {
      ERR_clear_error();
      return fail(file, "CRL signature does not verify against the CA in " + ca_file.string());
    }
    const ASN1_TIME* last = X509_CRL_get0_lastUpdate(crl.get());
    if (last == nullptr || X509_cmp_current_time(last) > 0)
      return fail(file, "CRL not valid yet (lastUpdate " + format_utc(last) + ")");
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
    if (next != nullptr) {
      if (X509_cmp_current_time(next) <= 0)
        return fail(file, "CRL expired (nextUpdate " + format_utc(next) +
                              "); every client would be refused: install a fresh CRL");
      const Clock::time_point t = detail::to_time_point(next);
      if (!earliest_next || t < *earliest_next) earliest_next = t;
    }
    if (X509_STORE_add_crl(store, crl.get()) != 1) return fail(file, "CRL refused" + openssl_reason());
  }
  // Only the leaf's CRL: CRL_CHECK_ALL would also need one for every CA in the chain.
  if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) return fail(file, "cannot enable CRL checks");
  return earliest_next;
}

}  // namespace

tls_result<TlsServerContext> make_tls_server_context(const TlsServerFiles& files) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) return TlsConfigError{"OpenSSL cannot create a TLS server context" + openssl_reason()};
  // asio's context takes ownership of the SSL_CTX from here on.
  auto context = std::make_shared<boost::asio::ssl::context>(raw);
  SSL_CTX* ctx = context->native_handle();

  const bool settings_ok =
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 && SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1 &&
      SSL_CTX_set_num_tickets(ctx, 0) == 1 &&
      SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1) == 1;
  if (!settings_ok) return TlsConfigError{"OpenSSL refused the TLS settings" + openssl_reason()};
  SSL_CTX_set_security_level(ctx, 2);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
                               SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(ctx, 4);

  TlsServerContext out;
  auto not_after = use_certificate_chain(ctx, files.cert_chain);
  if (!not_after) return not_after.error();
  out.certificate_not_after = *not_after;
  if (auto r = use_private_key(ctx, files.key, files.cert_chain); !r) return r.error();
  auto cas = use_client_ca(ctx, files.client_ca);
  if (!cas) return cas.error();
  if (!files.crl.empty()) {
    auto next = use_crl(ctx, files.crl, *cas, files.client_ca);
    if (!next) return next.error();
    out.crl_next_update = *next;
  }
  out.context = std::move(context);
  return out;
}

std::optional<std::string> verified_peer_common_name(const ssl_st* ssl) {
  if (ssl == nullptr) return std::nullopt;
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  auto cn = detail::common_name(cert);
  if (!cn || cn->size() > 64) return std::nullopt;
  for (const char c : *cn) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return std::nullopt;
  }
  return cn;
}

std::string peer_verify_error(const ssl_st* ssl) {
  if (ssl == nullptr) return {};
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return {};
  const char* text = X509_verify_cert_error_string(result);
  return text ? text : "certificate verification failed";
}

}  // namespace svd::crypto
