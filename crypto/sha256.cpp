#include "crypto/sha256.h"

#include "base/hex.h"
#include "base/unique_fd.h"
#include "crypto/detail/fatal.h"


#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>

namespace svd::crypto {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

using detail::die;

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
    die("OpenSSL cannot compute SHA-256 (broken installation)");
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  if (EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) != 1) die("SHA-256 update failed");
}

std::array<unsigned char, 32> Sha256::finish() {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &n) != 1 || n != out.size()) die("SHA-256 final failed");
  return out;
}

std::string Sha256::finish_hex() {
  auto d = finish();
  return to_hex(d);
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish_hex();
}

std::optional<FileDigest> sha256_file(const std::filesystem::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  Sha256 h;
  FileDigest d;
  std::array<char, 1 << 16> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    d.bytes += static_cast<std::uint64_t>(n);
  }
  d.sha256 = h.finish_hex();
  return d;
}

}  // namespace svd::crypto
