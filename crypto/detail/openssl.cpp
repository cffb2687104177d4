#include "crypto/detail/openssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <ctime>
#include <string_view>

#include "crypto/sha256.h"

namespace svd::crypto::detail {

bool pem_at_end() {
  const unsigned long e = ERR_peek_last_error();
  const bool end = e != 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  if (end) ERR_clear_error();
  return end;
}

std::optional<std::vector<X509Ptr>> read_pem_certificates(BIO* bio) {
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.emplace_back(x);
  if (!pem_at_end()) return std::nullopt;
  return certs;
}

std::string der_sha256(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) return {};
  struct OpensslFree {
    void operator()(unsigned char* p) const { OPENSSL_free(p); }
  };
  const std::unique_ptr<unsigned char, OpensslFree> owned(der);
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

}  // namespace svd::crypto::detail
