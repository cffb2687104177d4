#pragma once
// Keyed tokens (DESIGN 3.3):
//   token = key_id ":" lowercase hex of the first 16 bytes of HMAC-SHA256(key, kind || 0x00 || value)
// where `value` is already normalised (see normalise.h). The HMAC context is keyed once and
// re-initialised per token, so a token costs two SHA-256 compressions plus the message.
//
// Thread-safety: none; one Tokeniser per thread. The Tokeniser copies what it needs from the
// key, so the LinkageKey may be destroyed afterwards.

#include <memory>
#include <string>
#include <string_view>

#include "crypto/linkage_key.h"

namespace svd::crypto {

class Tokeniser {
 public:
  explicit Tokeniser(const LinkageKey& key);  // aborts if OpenSSL cannot provide HMAC-SHA256
  ~Tokeniser();
  Tokeniser(const Tokeniser&) = delete;
  Tokeniser& operator=(const Tokeniser&) = delete;

  const std::string& key_id() const { return key_id_; }

  // Appends the token to `out` (no allocation once `out` has capacity).
  void append_token(std::string_view kind, std::string_view normalised_value, std::string& out);
  std::string token(std::string_view kind, std::string_view normalised_value);

 private:
  struct Impl;
  std::string key_id_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svd::crypto
