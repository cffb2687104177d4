#include "crypto/detail/tls_common.h"

#include <ctime>

#include <openssl/err.h>

namespace svd::crypto::detail {

TlsConfigError tls_file_error(const std::filesystem::path& file, const std::string& problem) {
  return TlsConfigError{file.string() + ": " + problem};
}

std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    out = reason ? std::string(" (OpenSSL: ") + reason + ")" : std::string();
  }
  ERR_clear_error();
  return out;
}

std::string format_utc(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "unknown time";
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(buf, n);
}

}  // namespace svd::crypto::detail
