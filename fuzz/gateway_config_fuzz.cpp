// The gateway's TOML config (config/gateway_config.h), loaded from a file as `svdgw run` and
// check-config load it (scratch_dir.h says why a file), with the example feed schemas beside it.
// The loader may refuse anything, but only with ConfigError: any other exception would stop the
// daemon, at start or on a SIGHUP reload, without telling the operator which line is wrong.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config/diagnostic.h"
#include "config/gateway_config.h"
#include "fuzz/scratch_dir.h"

namespace {
std::unique_ptr<svd::fuzz::ScratchDir> scratch;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  scratch = std::make_unique<svd::fuzz::ScratchDir>(SVD_FUZZ_SCHEMAS);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = scratch->write("svdgw.toml", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const svd::config::GatewayConfig cfg = svd::config::load_gateway_config(file);
    for (const auto& f : cfg.feeds) (void)cfg.find_feed(f.id);
  } catch (const svd::config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) (void)d.to_string();
  }
  return 0;
}
