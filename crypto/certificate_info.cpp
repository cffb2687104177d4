#include "crypto/certificate_info.h"

#include <cstdio>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/detail/tls_common.h"
#include "crypto/sha256.h"

namespace svd::crypto {

std::optional<CertificateInfo> read_certificate_info(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) return std::nullopt;
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
  ERR_clear_error();
  if (!cert) return std::nullopt;
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  if (n <= 0) return std::nullopt;
  std::unique_ptr<unsigned char, void (*)(void*)> owned(der, [](void* p) { OPENSSL_free(p); });
  CertificateInfo info;
  info.sha256 = sha256_hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
  info.not_after = detail::format_utc(X509_get0_notAfter(cert.get()));
  return info;
}

}  // namespace svd::crypto
