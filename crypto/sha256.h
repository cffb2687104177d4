#pragma once
// Streaming SHA-256 for extract digests (content addressing, reports, Content-Digest).
// Thread-safety: none; one object per stream.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svd::crypto {

class Sha256 {
 public:
  Sha256();  // aborts if OpenSSL cannot provide SHA-256 (a broken install)
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything so far; the object must not be updated afterwards.
  std::array<unsigned char, 32> finish();
  std::string finish_hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view bytes);

struct FileDigest {
  std::string sha256;  // hex
  std::uint64_t bytes = 0;
};
// The digest of a whole file, streamed; nullopt when it cannot be opened or read.
std::optional<FileDigest> sha256_file(const std::filesystem::path& path);

}  // namespace svd::crypto
