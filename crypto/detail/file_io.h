#pragma once
// Writing key files durably (crypto/linkage_key.cpp, crypto/signing_key.cpp). Private to crypto/.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <filesystem>

#include "base/unique_fd.h"

namespace svd::crypto::detail {

inline bool write_all(int fd, const unsigned char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// So that a new key file's name survives a power cut, not only its bytes.
inline bool fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd guard(fd);
  if (::fsync(fd) != 0) return false;
  return guard.close();
}

}  // namespace svd::crypto::detail
