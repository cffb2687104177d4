#include "crypto/tokeniser.h"

#include "base/hex.h"
#include "crypto/detail/fatal.h"

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace svd::crypto {
using detail::die;

namespace {

// HMAC-SHA256 (RFC 2104) from two precomputed SHA-256 states:
//   inner = SHA-256 state after absorbing (key ^ ipad), outer = after (key ^ opad).
// Per token: copy inner, absorb the message, finish; copy outer, absorb the inner digest,
// finish. Measured faster than EVP_MAC re-initialisation (which does the same copies behind a
// more general interface); the published test vector pins it to real HMAC.
constexpr std::size_t kBlockSize = 64;   // SHA-256 block
constexpr std::size_t kDigestSize = 32;  // SHA-256 output
constexpr std::size_t kTokenBytes = 16;  // truncated HMAC in a token

}  // namespace

struct Tokeniser::Impl {
  // One key's precomputed pad states.
  struct Keyed {
    EVP_MD_CTX* inner = nullptr;
    EVP_MD_CTX* outer = nullptr;
  };
  EVP_MD* sha256 = nullptr;
  EVP_MD_CTX* work = nullptr;
  std::vector<Keyed> keyed;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    // Freeing a digest context cleanses its state (the keyed pad states are secret).
    EVP_MD_CTX_free(work);
    for (auto& k : keyed) {
      EVP_MD_CTX_free(k.outer);
      EVP_MD_CTX_free(k.inner);
    }
    EVP_MD_free(sha256);
  }

  void add_key(const LinkageKey& key) {
    Keyed& k = keyed.emplace_back();
    k.inner = EVP_MD_CTX_new();
    k.outer = EVP_MD_CTX_new();
    if (k.inner == nullptr || k.outer == nullptr) die("OpenSSL cannot provide HMAC-SHA256 (broken installation)");
    // The 32-byte key is shorter than the block, so it is used as is, zero-padded (RFC 2104).
    unsigned char ipad[kBlockSize];
    unsigned char opad[kBlockSize];
    static_assert(sizeof key.bytes() <= kBlockSize);
    for (std::size_t i = 0; i < kBlockSize; ++i) {
      const unsigned char b = i < key.bytes().size() ? key.bytes()[i] : 0;
      ipad[i] = static_cast<unsigned char>(b ^ 0x36);
      opad[i] = static_cast<unsigned char>(b ^ 0x5c);
    }
    const bool ok = EVP_DigestInit_ex2(k.inner, sha256, nullptr) == 1 &&
                    EVP_DigestUpdate(k.inner, ipad, kBlockSize) == 1 &&
                    EVP_DigestInit_ex2(k.outer, sha256, nullptr) == 1 &&
                    EVP_DigestUpdate(k.outer, opad, kBlockSize) == 1;
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    if (!ok) die("OpenSSL cannot provide HMAC-SHA256 (broken installation)");
  }

  // Appends "<id>:<32 hex>" for one key.
  void append_one(const Keyed& k, const std::string& id, std::string_view kind, std::string_view value,
                  std::string& out) {
    static constexpr unsigned char kSeparator = 0x00;
    unsigned char digest[kDigestSize];
    unsigned int digest_size = 0;
    const bool ok = EVP_MD_CTX_copy_ex(work, k.inner) == 1 && EVP_DigestUpdate(work, kind.data(), kind.size()) == 1 &&
                    EVP_DigestUpdate(work, &kSeparator, 1) == 1 &&
                    EVP_DigestUpdate(work, value.data(), value.size()) == 1 &&
                    EVP_DigestFinal_ex(work, digest, &digest_size) == 1 && digest_size == kDigestSize &&
                    EVP_MD_CTX_copy_ex(work, k.outer) == 1 && EVP_DigestUpdate(work, digest, kDigestSize) == 1 &&
                    EVP_DigestFinal_ex(work, digest, &digest_size) == 1 && digest_size == kDigestSize;
    // Only an allocation failure inside OpenSSL can get here; a token cannot be skipped silently.
    if (!ok) die("HMAC-SHA256 failed while computing a token");

    const std::size_t start = out.size() + id.size() + 1;
    out.append(id);
    out.push_back(':');
    out.resize(start + 2 * kTokenBytes);
    hex_into(digest, kTokenBytes, out.data() + start);
  }
};

Tokeniser::Tokeniser(const LinkageKey& key) : Tokeniser(std::span<const LinkageKey* const>(std::array{&key})) {}

Tokeniser::Tokeniser(std::span<const LinkageKey* const> keys) : impl_(std::make_unique<Impl>()) {
  if (keys.empty()) die("a Tokeniser needs at least one key");
  Impl& m = *impl_;
  m.sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  m.work = EVP_MD_CTX_new();
  if (m.sha256 == nullptr || m.work == nullptr ||
      static_cast<std::size_t>(EVP_MD_get_block_size(m.sha256)) != kBlockSize ||
      static_cast<std::size_t>(EVP_MD_get_size(m.sha256)) != kDigestSize) {
    die("OpenSSL cannot provide HMAC-SHA256 (broken installation)");
  }
  m.keyed.reserve(keys.size());
  for (const LinkageKey* key : keys) {
    m.add_key(*key);
    key_ids_.push_back(key->id());
  }
}

Tokeniser::~Tokeniser() = default;

void Tokeniser::append_token(std::string_view kind, std::string_view normalised_value, std::string& out) {
  Impl& m = *impl_;
  m.append_one(m.keyed[0], key_ids_[0], kind, normalised_value, out);
  // Only during a rotation's overlap: the other key's token, after one space.
  for (std::size_t i = 1; i < m.keyed.size(); ++i) {
    out.push_back(' ');
    m.append_one(m.keyed[i], key_ids_[i], kind, normalised_value, out);
  }
}

std::string Tokeniser::token(std::string_view kind, std::string_view normalised_value) {
  std::string out;
  std::size_t size = 0;
  for (const auto& id : key_ids_) size += id.size() + 2 + 2 * kTokenBytes;
  out.reserve(size);
  append_token(kind, normalised_value, out);
  return out;
}

}  // namespace svd::crypto
