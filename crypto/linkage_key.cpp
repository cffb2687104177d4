#include "crypto/linkage_key.h"

#include "base/hex.h"
#include "base/unique_fd.h"
#include "crypto/detail/fatal.h"
#include "crypto/detail/file_io.h"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace svd::crypto {
using detail::die;

namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kKeyHexDigits = 2 * kKeyBytes;
// A valid key file is at most 66 bytes (64 hex digits and "\r\n"); anything that does not fit
// in this bound is malformed without reading the rest.
constexpr std::size_t kMaxKeyFileBytes = 256;


// Wipes a buffer of key material when the scope ends.
template <std::size_t N>
struct Wiped {
  unsigned char data[N]{};
  Wiped() = default;
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { OPENSSL_cleanse(data, N); }
};

// -1 for anything that is not a hex digit (either case).
int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using detail::fsync_directory;
using detail::write_all;

}  // namespace

LinkageKey::LinkageKey(std::string id, const std::array<unsigned char, 32>& bytes)
    : id_(std::move(id)), bytes_(bytes) {}

LinkageKey::LinkageKey(LinkageKey&& other) noexcept
    : id_(std::move(other.id_)), bytes_(other.bytes_) {
  OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
  other.id_.clear();
}

LinkageKey& LinkageKey::operator=(LinkageKey&& other) noexcept {
  if (this != &other) {
    id_ = std::move(other.id_);
    bytes_ = other.bytes_;
    OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
    other.id_.clear();
  }
  return *this;
}

LinkageKey::~LinkageKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

result<LinkageKey> load_linkage_key(const std::filesystem::path& file, std::string id) {
  // O_NOFOLLOW: a symlink in the last component is refused (ELOOP). O_NONBLOCK: opening a FIFO
  // must not hang waiting for a writer; it has no effect on the regular file we accept.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return errc::key_file_unreadable;
  UniqueFd guard(fd);

  // Checks on the descriptor, not the path: no window between check and use.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errc::key_file_unreadable;
  if (!S_ISREG(st.st_mode)) return errc::key_file_unreadable;
  if ((st.st_mode & 077) != 0) return errc::key_file_permissions;

  // Read one byte more than the bound so an over-long file is recognised.
  Wiped<kMaxKeyFileBytes + 1> buf;
  std::size_t size = 0;
  while (size < sizeof buf.data) {
    const ssize_t n = ::read(fd, buf.data + size, sizeof buf.data - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errc::key_file_unreadable;
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > kMaxKeyFileBytes) return errc::key_file_malformed;

  // Exactly 64 hex digits, then nothing, "\n" or "\r\n".
  if (size < kKeyHexDigits) return errc::key_file_malformed;
  const unsigned char* tail = buf.data + kKeyHexDigits;
  const std::size_t tail_size = size - kKeyHexDigits;
  const bool tail_ok = tail_size == 0 || (tail_size == 1 && tail[0] == '\n') ||
                       (tail_size == 2 && tail[0] == '\r' && tail[1] == '\n');
  if (!tail_ok) return errc::key_file_malformed;

  Wiped<kKeyBytes> bytes;
  for (std::size_t i = 0; i < kKeyBytes; ++i) {
    const int hi = hex_value(buf.data[2 * i]);
    const int lo = hex_value(buf.data[2 * i + 1]);
    if (hi < 0 || lo < 0) return errc::key_file_malformed;
    bytes.data[i] = static_cast<unsigned char>((hi << 4) | lo);
  }

  std::array<unsigned char, 32> key_bytes{};
  for (std::size_t i = 0; i < kKeyBytes; ++i) key_bytes[i] = bytes.data[i];
  result<LinkageKey> key{LinkageKey(std::move(id), key_bytes)};
  OPENSSL_cleanse(key_bytes.data(), key_bytes.size());
  return key;
}

result<void> generate_linkage_key(const std::filesystem::path& file) {
  Wiped<kKeyBytes> bytes;
  if (RAND_priv_bytes(bytes.data, static_cast<int>(kKeyBytes)) != 1) return errc::crypto_failure;

  Wiped<kKeyHexDigits + 1> text;
  hex_into(bytes.data, kKeyBytes, reinterpret_cast<char*>(text.data));
  text.data[kKeyHexDigits] = '\n';

  const int fd =
      ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0) return errno == EEXIST ? errc::key_file_exists : errc::key_file_unreadable;
  UniqueFd guard(fd);

  // From here on the file is ours (O_EXCL): any failure removes it, so an error means no file.
  const bool written = ::fchmod(fd, 0600) == 0 && write_all(fd, text.data, sizeof text.data) &&
                       ::fsync(fd) == 0 && guard.close();
  if (!written) {
    guard.close();
    ::unlink(file.c_str());
    return errc::key_file_unreadable;
  }

  std::filesystem::path parent = file.parent_path();
  if (parent.empty()) parent = ".";
  if (!fsync_directory(parent)) {
    ::unlink(file.c_str());
    return errc::key_file_unreadable;
  }
  return {};
}

std::string fingerprint(const LinkageKey& key) {
  static constexpr char kLabel[] = "svd-gateway key fingerprint v1";
  constexpr std::size_t kLabelSize = sizeof kLabel;  // includes the 0x00 separator
  static_assert(kLabel[kLabelSize - 1] == '\0');

  Wiped<kLabelSize + kKeyBytes> message;
  for (std::size_t i = 0; i < kLabelSize; ++i) message.data[i] = static_cast<unsigned char>(kLabel[i]);
  for (std::size_t i = 0; i < kKeyBytes; ++i) message.data[kLabelSize + i] = key.bytes()[i];

  Wiped<EVP_MAX_MD_SIZE> digest;
  unsigned int digest_size = 0;
  if (EVP_Digest(message.data, sizeof message.data, digest.data, &digest_size, EVP_sha256(),
                 nullptr) != 1 ||
      digest_size != 32) {
    die("OpenSSL cannot compute SHA-256 (broken installation)");
  }

  // 16 bytes -> 8 groups of 4 hex digits separated by single spaces.
  char hex[32];
  hex_into(digest.data, 16, hex);
  std::string out;
  for (std::size_t group = 0; group < 8; ++group) {
    if (group > 0) out.push_back(' ');
    out.append(hex + 4 * group, 4);
  }
  return out;
}

}  // namespace svd::crypto
