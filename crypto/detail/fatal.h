#pragma once
// Shared by the crypto sources. A cryptographic library that cannot do what it did at start-up
// (OpenSSL without SHA-256, ICU without its normalisation data) is a broken installation, not an
// expected error: there is no safe way to go on, and no recovery code worth testing.

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace svd::crypto::detail {

[[noreturn]] inline void die(const char* what) {
  std::fputs("svd-gateway: fatal: ", stderr);
  std::fputs(what, stderr);
  std::fputs("\n", stderr);
  std::abort();
}

// Writes 2 * size lowercase hex digits to out (no terminator).
inline void hex_into(const unsigned char* data, std::size_t size, char* out) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
}

}  // namespace svd::crypto::detail
