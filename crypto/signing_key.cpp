#include "crypto/signing_key.h"

#include "base/hex.h"
#include "base/unique_fd.h"
#include "crypto/detail/fatal.h"
#include "crypto/detail/file_io.h"
#include "crypto/detail/openssl.h"

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace svd::crypto {
using detail::die;

namespace {

constexpr std::size_t kRawKeyBytes = 32;
// An Ed25519 key file is about 120 bytes. The bound is far above that so that the larger keys
// other tools write (RSA, with explanatory text) are read and refused as the wrong kind of key,
// which says more than "too large".
constexpr std::size_t kMaxKeyFileBytes = std::size_t{16} << 10;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using detail::BioPtr;
using detail::PkeyPtr;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// OpenSSL's error queue is per thread and the TLS code reads it (SSL_get_error): a refused key
// file or a failed verification here must not leave entries that a later TLS call on the same
// thread would take for its own.
struct ClearOpensslErrors {
  ClearOpensslErrors() { ERR_clear_error(); }
  ~ClearOpensslErrors() { ERR_clear_error(); }
  ClearOpensslErrors(const ClearOpensslErrors&) = delete;
  ClearOpensslErrors& operator=(const ClearOpensslErrors&) = delete;
};

// A key file's contents, wiped on destruction (it may be a private key). Sized once, so no
// reallocation leaves an unwiped copy behind.
class KeyFileBytes {
 public:
  KeyFileBytes() : bytes_(kMaxKeyFileBytes + 1, 0) {}
  KeyFileBytes(KeyFileBytes&& o) noexcept : bytes_(std::move(o.bytes_)), size_(std::exchange(o.size_, 0)) {}
  KeyFileBytes& operator=(KeyFileBytes&&) = delete;
  KeyFileBytes(const KeyFileBytes&) = delete;
  KeyFileBytes& operator=(const KeyFileBytes&) = delete;
  ~KeyFileBytes() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }

  unsigned char* data() { return bytes_.data(); }
  std::size_t capacity() const { return bytes_.size(); }
  std::size_t size() const { return size_; }
  void set_size(std::size_t n) { size_ = n; }

  // A read-only BIO over the bytes, without a copy.
  BioPtr bio() const {
    BioPtr b(BIO_new_mem_buf(bytes_.data(), static_cast<int>(size_)));
    if (!b) die("out of memory (OpenSSL BIO)");
    return b;
  }

 private:
  std::vector<unsigned char> bytes_;
  std::size_t size_ = 0;
};

// Reads a key file of at most kMaxKeyFileBytes. With `private_key`, refuses one that group or
// others have any permission on, as the linkage key does.
result<KeyFileBytes> read_key_file(const std::filesystem::path& file, bool private_key) {
  // O_NOFOLLOW: a symlink in the last component is refused (ELOOP). O_NONBLOCK: opening a FIFO
  // must not hang waiting for a writer; it has no effect on the regular file we accept.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return errc::key_file_unreadable;
  UniqueFd guard(fd);

  // Checks on the descriptor, not the path: no window between check and use.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errc::key_file_unreadable;
  if (!S_ISREG(st.st_mode)) return errc::key_file_unreadable;
  if (private_key && (st.st_mode & 077) != 0) return errc::key_file_permissions;

  // Reads one byte more than the bound so an over-long file is recognised without reading it all.
  KeyFileBytes buf;
  std::size_t size = 0;
  while (size < buf.capacity()) {
    const ssize_t n = ::read(fd, buf.data() + size, buf.capacity() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errc::key_file_unreadable;
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > kMaxKeyFileBytes) return errc::key_file_unreadable;
  buf.set_size(size);
  return buf;
}

bool raw_public_key(const EVP_PKEY* pkey, PublicKey& out) {
  std::size_t len = out.bytes.size();
  return EVP_PKEY_get_raw_public_key(pkey, out.bytes.data(), &len) == 1 && len == out.bytes.size();
}

// Asks only for the length, so the private key bytes are never copied out of OpenSSL. False for a
// key that has no private part.
bool has_private_key(const EVP_PKEY* pkey) {
  std::size_t len = 0;
  return EVP_PKEY_get_raw_private_key(pkey, nullptr, &len) == 1 && len == kRawKeyBytes;
}

PkeyPtr pkey_from_public(const PublicKey& key) {
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size()));
}

using detail::fsync_directory;
using detail::write_all;

std::filesystem::path parent_or_dot(const std::filesystem::path& file) {
  std::filesystem::path parent = file.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// A file this call created (O_EXCL), removed again unless keep() is called: an error must leave
// no file behind, and above all no partial or orphaned private key.
class NewFile {
 public:
  NewFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;
  ~NewFile() {
    if (keep_) return;
    fd_.close();
    ::unlink(path_.c_str());
  }

  // mode explicitly (not through the umask), the bytes, then fsync and close.
  bool write(mode_t mode, const unsigned char* data, std::size_t size) {
    return ::fchmod(fd_.get(), mode) == 0 && write_all(fd_.get(), data, size) && ::fsync(fd_.get()) == 0 &&
           fd_.close();
  }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  bool keep_ = false;
};

int create_exclusive(const std::filesystem::path& file, mode_t mode) {
  return ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
}

errc create_error() { return errno == EEXIST ? errc::key_file_exists : errc::key_file_unreadable; }

// No passphrase is ever supplied: an encrypted key file is refused instead of OpenSSL prompting
// on the terminal (its default callback does that).
int no_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

struct SigningKey::Impl {
  PkeyPtr pkey;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl, PublicKey pub) : impl_(std::move(impl)), public_key_(pub) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
// EVP_PKEY_free wipes the private key (OpenSSL clears ECX key material when it frees it).
SigningKey::~SigningKey() = default;

Signature SigningKey::sign(std::string_view message) const {
  assert(impl_ && "sign() on a moved-from SigningKey");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  Signature sig{};
  std::size_t len = sig.size();
  // Ed25519 is PureEdDSA: the digest must be NULL and the message is passed whole (one-shot).
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != sig.size()) {
    die("OpenSSL cannot make an Ed25519 signature (broken installation)");
  }
  return sig;
}

result<SigningKey> load_signing_key(const std::filesystem::path& file) {
  auto bytes = read_key_file(file, true);
  if (!bytes) return bytes.error();
  ClearOpensslErrors clear;
  BioPtr bio = bytes->bio();
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  // The type check matters: an RSA or X25519 key would load here, and a key that is not Ed25519
  // would make signatures nobody can check against the device's public key.
  if (!pkey || !EVP_PKEY_is_a(pkey.get(), "ED25519") || !has_private_key(pkey.get()))
    return errc::key_file_malformed;
  PublicKey pub;
  if (!raw_public_key(pkey.get(), pub)) return errc::key_file_malformed;
  auto impl = std::make_unique<SigningKey::Impl>();
  impl->pkey = std::move(pkey);
  return SigningKey(std::move(impl), pub);
}

result<PublicKey> load_public_key(const std::filesystem::path& file) {
  auto bytes = read_key_file(file, false);
  if (!bytes) return bytes.error();
  ClearOpensslErrors clear;
  BioPtr bio = bytes->bio();
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || !EVP_PKEY_is_a(pkey.get(), "ED25519")) return errc::key_file_malformed;
  PublicKey pub;
  if (!raw_public_key(pkey.get(), pub)) return errc::key_file_malformed;
  return pub;
}

result<PublicKey> generate_signing_key(const std::filesystem::path& private_file,
                                       const std::filesystem::path& public_file) {
  ClearOpensslErrors clear;
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return errc::crypto_failure;
  PublicKey pub;
  if (!raw_public_key(pkey.get(), pub)) return errc::crypto_failure;

  // The PKCS#8 PEM goes to a secure-memory BIO: its buffer is wiped when freed, and when it grows
  // the old one is wiped too.
  BioPtr private_pem(BIO_new(BIO_s_secmem()));
  if (!private_pem ||
      PEM_write_bio_PrivateKey(private_pem.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return errc::crypto_failure;
  char* private_data = nullptr;
  const long private_size = BIO_get_mem_data(private_pem.get(), &private_data);
  if (private_size <= 0 || private_data == nullptr) return errc::crypto_failure;
  const std::string public_pem = public_key_pem(pub);

  // Both names are claimed (O_EXCL) before anything is written, so when either exists neither
  // file gets content; the NewFile guards remove what was claimed on any failure.
  const int public_fd = create_exclusive(public_file, 0644);
  if (public_fd < 0) return create_error();
  NewFile public_out(public_file, public_fd);
  const int private_fd = create_exclusive(private_file, 0600);
  if (private_fd < 0) return create_error();
  NewFile private_out(private_file, private_fd);

  if (!private_out.write(0600, reinterpret_cast<const unsigned char*>(private_data),
                         static_cast<std::size_t>(private_size)) ||
      !public_out.write(0644, reinterpret_cast<const unsigned char*>(public_pem.data()), public_pem.size()))
    return errc::key_file_unreadable;

  // The new names are durable only once their directories are synced.
  const std::filesystem::path private_dir = parent_or_dot(private_file), public_dir = parent_or_dot(public_file);
  if (!fsync_directory(private_dir) || (public_dir != private_dir && !fsync_directory(public_dir)))
    return errc::key_file_unreadable;
  private_out.keep();
  public_out.keep();
  return pub;
}

bool verify_signature(const PublicKey& key, std::string_view message, std::span<const unsigned char> signature) {
  if (signature.size() != std::tuple_size_v<Signature>) return false;
  ClearOpensslErrors clear;
  PkeyPtr pkey = pkey_from_public(key);
  if (!pkey) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) die("out of memory (OpenSSL digest context)");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

std::string public_key_pem(const PublicKey& key) {
  ClearOpensslErrors clear;
  PkeyPtr pkey = pkey_from_public(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!pkey || !bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1)
    die("OpenSSL cannot encode an Ed25519 public key (broken installation)");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) die("OpenSSL cannot encode an Ed25519 public key (broken installation)");
  return std::string(data, static_cast<std::size_t>(size));
}

std::string fingerprint(const PublicKey& key) {
  static constexpr char kLabel[] = "svd-gateway signing key fingerprint v1";
  constexpr std::size_t kLabelSize = sizeof kLabel;  // includes the 0x00 separator
  static_assert(kLabel[kLabelSize - 1] == '\0');

  unsigned char message[kLabelSize + kRawKeyBytes];
  for (std::size_t i = 0; i < kLabelSize; ++i) message[i] = static_cast<unsigned char>(kLabel[i]);
  for (std::size_t i = 0; i < kRawKeyBytes; ++i) message[kLabelSize + i] = key.bytes[i];

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(message, sizeof message, digest, &digest_size, EVP_sha256(), nullptr) != 1 || digest_size != 32)
    die("OpenSSL cannot compute SHA-256 (broken installation)");

  // 16 bytes -> 8 groups of 4 hex digits separated by single spaces, as the linkage key's.
  char hex[32];
  hex_into(digest, 16, hex);
  std::string out;
  for (std::size_t group = 0; group < 8; ++group) {
    if (group > 0) out.push_back(' ');
    out.append(hex + 4 * group, 4);
  }
  return out;
}

result<PublicKey> load_public_half(const std::filesystem::path& file) {
  std::filesystem::path pub = file;
  pub.replace_extension(".pub");
  std::error_code ec;
  if (pub != file && std::filesystem::exists(pub, ec)) return load_public_key(pub);
  if (auto p = load_public_key(file)) return p;
  auto k = load_signing_key(file);
  if (!k) return k.error();
  return k->public_key();
}

}  // namespace svd::crypto
