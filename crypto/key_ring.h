#pragma once
// The linkage keys a gateway holds during a rotation (docs/configuration.md, "Linkage keys"),
// each with the window in which it is in force, so that every instant has one key, or two during
// an overlap, when records carry tokens under both. Which keys tokenise an extract is decided
// by the extract's received time, never by the time it is processed: processing it again after
// a crash gives the same records and the same batch ids.
//
// Immutable once made; any thread may read it. The daemon swaps a whole new ring on SIGHUP and
// never changes one in place.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "base/errc.h"
#include "config/gateway_config.h"
#include "crypto/linkage_key.h"

namespace svd::crypto {

// Why a ring could not be made, for an operator: "<file>: <problem> [code]" for a key file, or
// what is wrong with the set of keys.
struct KeyRingError {
  std::string message;
  std::string key_id;              // the key concerned, when it is one
  std::filesystem::path file;      // its file, when the problem is the file
  errc code = errc::ok;            // the file's problem (key_file_*), else ok
};
// Lets key_ring_result<T>::value() throw (std::runtime_error with the message).
[[noreturn]] void throw_exception_from_error(const KeyRingError& e, const boost::source_location& loc);

template <class T>
using key_ring_result = boost::system::result<T, KeyRingError>;

class KeyRing {
 public:
  struct Entry {
    LinkageKey key;
    config::KeyWindow window;
  };

  // Reads every key file (load_linkage_key's rules) and checks the set as the config loader
  // does (config::check_linkage_keys), and that no two ids name the same key bytes: a rotation
  // needs a new key. The first problem is returned; nothing is kept of a ring that fails.
  static key_ring_result<KeyRing> load(const std::vector<config::LinkageKeyConfig>& keys);
  // The same checks for keys already in memory (tests, tools).
  static key_ring_result<KeyRing> make(std::vector<Entry> entries);

  KeyRing(KeyRing&&) noexcept = default;
  KeyRing& operator=(KeyRing&&) noexcept = default;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // The keys in force at `unix_seconds` (UTC), in config order: one, or two during an overlap
  // (never none: the checks guarantee every instant is covered). Valid while the ring lives.
  std::vector<const LinkageKey*> in_force(std::int64_t unix_seconds) const;
  std::vector<std::string> ids_in_force(std::int64_t unix_seconds) const;

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  explicit KeyRing(std::vector<Entry> entries) : entries_(std::move(entries)) {}
  std::vector<Entry> entries_;
};

}  // namespace svd::crypto
