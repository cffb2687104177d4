#pragma once
// The area-wide linkage key: 32 random bytes every partner gateway in an area holds and the
// hub never does. Stored as a text file of 64 hex digits (and a newline), mode 0600.
//
// A key file that group or others can read is refused: the key is what stands between a
// token and the NHS number behind it (10^9 candidates are brute-forced in seconds without it).
// A LinkageKey is immutable (any thread may read it) and wipes its bytes when destroyed.

#include <array>
#include <filesystem>
#include <string>

#include "base/errc.h"

namespace svd::crypto {

class LinkageKey {
 public:
  LinkageKey(std::string id, const std::array<unsigned char, 32>& bytes);
  LinkageKey(const LinkageKey&) = delete;
  LinkageKey& operator=(const LinkageKey&) = delete;
  LinkageKey(LinkageKey&&) noexcept;
  LinkageKey& operator=(LinkageKey&&) noexcept;
  ~LinkageKey();  // wipes the bytes (OPENSSL_cleanse)

  const std::string& id() const { return id_; }
  const std::array<unsigned char, 32>& bytes() const { return bytes_; }

 private:
  std::string id_;
  std::array<unsigned char, 32> bytes_{};
};

// Loads a key file. Errors: key_file_unreadable (missing, not a regular file, I/O),
// key_file_permissions (group/other bits set), key_file_malformed (not exactly 64 hex digits,
// optionally followed by one newline).
result<LinkageKey> load_linkage_key(const std::filesystem::path& file, std::string id);

// Writes 32 bytes from the OS CSPRNG (RAND_priv_bytes) as a new file created with O_EXCL and
// mode 0600. Errors: key_file_exists, key_file_unreadable (cannot create/write), crypto_failure.
result<void> generate_linkage_key(const std::filesystem::path& file);

// A value partners compare to confirm they hold the same key without revealing it:
// the first 16 bytes of SHA-256("svd-gateway key fingerprint v1" || 0x00 || key), as 8 groups
// of 4 lowercase hex digits separated by spaces. Independent of the key id.
std::string fingerprint(const LinkageKey& key);

}  // namespace svd::crypto
