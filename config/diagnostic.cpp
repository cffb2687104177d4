#include "config/diagnostic.h"

namespace svd::config {
namespace {

std::string summary(const std::vector<Diagnostic>& ds) {
  std::string s = ds.empty() ? "configuration error" : ds.front().to_string();
  if (ds.size() > 1) s += " (and " + std::to_string(ds.size() - 1) + " more)";
  return s;
}

}  // namespace

std::string Diagnostic::to_string() const {
  std::string s = file;
  if (line) s += ":" + std::to_string(line);
  if (line && column) s += ":" + std::to_string(column);
  s += ": " + message;
  if (!hint.empty()) s += " (" + hint + ")";
  return s;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(summary(diagnostics)), diagnostics_(std::move(diagnostics)) {}

}  // namespace svd::config
