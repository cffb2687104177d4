#include "crypto/key_ring.h"

#include <stdexcept>

#include <openssl/crypto.h>

namespace svd::crypto {

void throw_exception_from_error(const KeyRingError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

key_ring_result<KeyRing> KeyRing::load(const std::vector<config::LinkageKeyConfig>& keys) {
  std::vector<Entry> entries;
  entries.reserve(keys.size());
  for (const auto& k : keys) {
    auto key = load_linkage_key(k.file, k.id);
    if (!key) {
      const auto code = static_cast<errc>(key.error().value());
      return KeyRingError{k.file.string() + ": " + std::string(errc_message(code)) + " [" +
                              std::string(errc_name(code)) + "]",
                          k.id, k.file, code};
    }
    entries.push_back({std::move(*key), k.window});
  }
  return make(std::move(entries));
}

key_ring_result<KeyRing> KeyRing::make(std::vector<Entry> entries) {
  std::vector<config::LinkageKeyConfig> windows;
  for (const auto& e : entries) windows.push_back({e.key.id(), {}, e.window});
  if (auto problems = config::check_linkage_keys(windows); !problems.empty()) {
    const auto& p = problems.front();
    return KeyRingError{"linkage keys: " + p.message, p.key < entries.size() ? entries[p.key].key.id() : "", {},
                        errc::ok};
  }
  for (std::size_t i = 0; i < entries.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const auto& a = entries[j].key.bytes();
      const auto& b = entries[i].key.bytes();
      // Constant time, though both keys are ours: a habit for secrets.
      if (CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0)
        return KeyRingError{"linkage keys " + entries[j].key.id() + " and " + entries[i].key.id() +
                                " are the same key (fingerprint " + fingerprint(entries[i].key) +
                                "); a rotation needs a new key: svdgw keys generate",
                            entries[i].key.id(), {}, errc::ok};
    }
  return KeyRing(std::move(entries));
}

std::vector<const LinkageKey*> KeyRing::in_force(std::int64_t unix_seconds) const {
  std::vector<const LinkageKey*> out;
  for (const auto& e : entries_)
    if (e.window.contains(unix_seconds)) out.push_back(&e.key);
  return out;
}

std::vector<std::string> KeyRing::ids_in_force(std::int64_t unix_seconds) const {
  std::vector<std::string> out;
  for (const auto* k : in_force(unix_seconds)) out.push_back(k->id());
  return out;
}

}  // namespace svd::crypto
