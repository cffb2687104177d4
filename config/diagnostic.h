#pragma once
// Problems found while loading configuration or schemas. Loading collects every problem it
// can find before giving up, so an operator fixes a file in one pass, not one error per run.
// Plain values; ConfigError is what the loaders throw.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace svd::config {

struct Diagnostic {
  std::string file;
  std::size_t line = 0;    // 1-based; 0 when unknown
  std::size_t column = 0;  // 1-based; 0 when unknown
  std::string message;     // what is wrong
  std::string hint;        // what to do about it (may be empty)

  // "file:line:column: message (hint)" — the form editors and grep understand.
  std::string to_string() const;
};

// Thrown by the loaders (config loading is one of the two places exceptions are allowed:
// the daemon exits non-zero and the operator reads every diagnostic).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace svd::config
