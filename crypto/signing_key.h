#pragma once
// Ed25519 keys (OpenSSL 3) for the audit log (docs/audit.md): the gateway's device key signs its
// audit checkpoints, and the hub's witness key cosigns the checkpoints it accepted. Both are kept
// as PEM files OpenSSL reads too (`openssl pkey -in device.key -pubout`), so an auditor can check
// a signature with standard tools:
//   - private key: PKCS#8 "PRIVATE KEY" PEM, mode 0600, refused if group or others have any
//     permission bit (as the linkage key);
//   - public key: SubjectPublicKeyInfo "PUBLIC KEY" PEM, any mode.
//
// Thread-safety: a SigningKey may sign from several threads at once (each call makes its own
// OpenSSL context); the free functions are thread-safe.

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/errc.h"

namespace svd::crypto {

struct PublicKey {
  std::array<unsigned char, 32> bytes{};  // the raw Ed25519 public key
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

using Signature = std::array<unsigned char, 64>;

class SigningKey {
 public:
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Signature sign(std::string_view message) const;  // aborts only if OpenSSL itself fails
  const PublicKey& public_key() const { return public_key_; }

 private:
  struct Impl;
  SigningKey(std::unique_ptr<Impl> impl, PublicKey pub);
  std::unique_ptr<Impl> impl_;
  PublicKey public_key_;
  friend result<SigningKey> load_signing_key(const std::filesystem::path& file);
};

// Errors: key_file_unreadable (missing, not a regular file, too large, I/O), key_file_permissions,
// key_file_malformed (not a PEM Ed25519 private key).
result<SigningKey> load_signing_key(const std::filesystem::path& file);

// Errors: key_file_unreadable, key_file_malformed (not a PEM Ed25519 public key).
result<PublicKey> load_public_key(const std::filesystem::path& file);

// The public half from a public or a private key file. For a private key "x.key" the public
// "x.pub" beside it (as `svdgw keys generate-device` writes it) is read instead when it exists,
// so an auditor never needs read access to the private key.
result<PublicKey> load_public_half(const std::filesystem::path& file);

// Creates a new key pair: `private_file` with O_EXCL and mode 0600, `public_file` (mode 0644)
// beside it. Neither is written if either exists. Errors: key_file_exists, key_file_unreadable
// (cannot create or write), crypto_failure.
result<PublicKey> generate_signing_key(const std::filesystem::path& private_file,
                                       const std::filesystem::path& public_file);

bool verify_signature(const PublicKey& key, std::string_view message, std::span<const unsigned char> signature);

std::string public_key_pem(const PublicKey& key);

// What people compare to check they hold the right public key: the first 16 bytes of
// SHA-256("svd-gateway signing key fingerprint v1" || 0x00 || raw public key), as 8 groups of
// 4 lowercase hex digits separated by spaces (the linkage key's fingerprint has the same form
// under another label, so the two can never be confused).
std::string fingerprint(const PublicKey& key);

}  // namespace svd::crypto
