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

}  // namespace svd::crypto::detail
