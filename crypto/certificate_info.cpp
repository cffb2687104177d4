#include "crypto/certificate_info.h"

#include <cstdio>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/detail/openssl.h"
#include "crypto/detail/tls_common.h"

namespace svd::crypto {

std::optional<CertificateInfo> read_certificate_info(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) return std::nullopt;
  const detail::X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return std::nullopt;
  CertificateInfo info;
  info.sha256 = detail::der_sha256(cert.get());
  if (info.sha256.empty()) return std::nullopt;
  info.not_after = detail::format_utc(X509_get0_notAfter(cert.get()));
  return info;
}

}  // namespace svd::crypto
