// The hub's TOML config (config/hub_config.h), loaded from a file as svdhub's commands load it
// (scratch_dir.h says why a file), with the example feed schemas beside it. The loader may
// refuse anything, but only with ConfigError: any other exception would stop svdhub at start
// without telling the operator which line is wrong.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config/diagnostic.h"
#include "config/hub_config.h"
#include "fuzz/scratch_dir.h"

namespace {
std::unique_ptr<svd::fuzz::ScratchDir> scratch;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  scratch = std::make_unique<svd::fuzz::ScratchDir>(SVD_FUZZ_SCHEMAS);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = scratch->write("svdhub.toml", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const svd::config::HubReceiverConfig cfg = svd::config::load_hub_config(file);
    for (const auto& p : cfg.partners) (void)cfg.partner(p.id);
  } catch (const svd::config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) (void)d.to_string();
  }
  return 0;
}
