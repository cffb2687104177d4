#include "crypto/tls_client.h"

#include <cerrno>
#include <ctime>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/unique_fd.h"
#include "crypto/detail/tls_common.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using detail::format_utc;
using detail::kTls12Ciphers;
using detail::openssl_reason;
TlsConfigError fail(const fs::path& file, const std::string& problem) { return detail::tls_file_error(file, problem); }

// Opens the file as OpenSSL will, so "permission denied" or "is a directory" is reported as
// such rather than as a PEM error; with `key`, also reports whether others may read it.
tls_result<bool> check_readable(const fs::path& file, bool key) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail(file, "cannot open: " + std::generic_category().message(errno));
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(file, "cannot stat: " + std::generic_category().message(errno));
  if (!S_ISREG(st.st_mode)) return fail(file, "not a regular file");
  return key && (st.st_mode & 077) != 0;
}

}  // namespace

tls_result<TlsClientContext> make_tls_client_context(const TlsClientFiles& files) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return TlsConfigError{"OpenSSL cannot create a TLS client context" + openssl_reason()};
  // asio's context takes ownership of the SSL_CTX from here on.
  auto context = std::make_shared<boost::asio::ssl::context>(raw);
  SSL_CTX* ctx = context->native_handle();

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1)
    return TlsConfigError{"OpenSSL refused the TLS settings" + openssl_reason()};
  SSL_CTX_set_security_level(ctx, 2);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(ctx, 4);
  // An encrypted key fails to load instead of OpenSSL prompting on the terminal (this runs
  // from partners' scheduled jobs too).
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });

  TlsClientContext out;

  if (auto r = check_readable(files.ca, false); !r) return r.error();
  if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1)
    return fail(files.ca, "no usable PEM CA certificate" + openssl_reason());

  if (auto r = check_readable(files.cert_chain, false); !r) return r.error();
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_chain.c_str()) != 1)
    return fail(files.cert_chain, "no usable PEM certificate" + openssl_reason());
  if (const X509* leaf = SSL_CTX_get0_certificate(ctx)) {
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
      return fail(files.cert_chain,
                  "client certificate expired (notAfter " + format_utc(X509_get0_notAfter(leaf)) + ")");
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
      return fail(files.cert_chain,
                  "client certificate not valid yet (notBefore " + format_utc(X509_get0_notBefore(leaf)) + ")");
  }

  auto exposed = check_readable(files.key, true);
  if (!exposed) return exposed.error();
  if (*exposed)
    out.warnings.push_back(files.key.string() +
                           ": private key is readable by group or others; restrict it with chmod 600");
  const std::string mismatch = "private key does not match the certificate in " + files.cert_chain.string();
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Loading checks the key against the certificate already.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(files.key, mismatch);
    }
    return fail(files.key, "not a PEM private key, or one protected by a passphrase" + openssl_reason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail(files.key, mismatch);
  }

  out.context = std::move(context);
  return out;
}

bool set_server_name_indication(ssl_st* ssl, const std::string& host) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  if (!ec) return true;
  // SSL_set_tlsext_host_name is a macro that casts away const on the name.
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

TlsFailure classify_tls_failure(const boost::system::error_code& ec) {
  if (ec.category() != boost::asio::error::get_ssl_category()) return TlsFailure::other;
  // asio stores ERR_get_error()'s packed code in the error_code's int.
  const auto packed = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
  if (ERR_GET_LIB(packed) != ERR_LIB_SSL) return TlsFailure::other;
  switch (ERR_GET_REASON(packed)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsFailure::server_not_trusted;
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return TlsFailure::client_refused;
    default:
      return TlsFailure::other;
  }
}

}  // namespace svd::crypto
