#pragma once
// Keyed tokens (docs/architecture.md, "Keyed tokens, and who holds the linkage key"):
//   token = key_id ":" lowercase hex of the first 16 bytes of HMAC-SHA256(key, kind || 0x00 || value)
// where `value` is already normalised (see normalise.h). The HMAC context is keyed once and
// re-initialised per token, so a token costs two SHA-256 compressions plus the message.
//
// During a key rotation a Tokeniser holds two keys and writes both tokens, in the order given,
// separated by one space: "k2026a:<32 hex> k2027a:<32 hex>" (docs/feed-schemas.md). With one key
// the output is exactly the single token.
//
// Thread-safety: none; one Tokeniser per thread. The Tokeniser copies what it needs from the
// keys, so the LinkageKeys may be destroyed afterwards.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/linkage_key.h"

namespace svd::crypto {

class Tokeniser {
 public:
  // Both abort if OpenSSL cannot provide HMAC-SHA256. `keys` must not be empty.
  explicit Tokeniser(const LinkageKey& key);
  explicit Tokeniser(std::span<const LinkageKey* const> keys);
  ~Tokeniser();
  Tokeniser(const Tokeniser&) = delete;
  Tokeniser& operator=(const Tokeniser&) = delete;

  const std::vector<std::string>& key_ids() const { return key_ids_; }

  // Appends the token (each key's, space-separated) to `out` (no allocation once `out` has
  // capacity).
  void append_token(std::string_view kind, std::string_view normalised_value, std::string& out);
  std::string token(std::string_view kind, std::string_view normalised_value);

 private:
  struct Impl;
  std::vector<std::string> key_ids_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::crypto
