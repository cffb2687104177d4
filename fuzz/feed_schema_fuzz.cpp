// A feed schema (config/schema.h) from JSON text, as check-config and the daemon load it. The
// loader may refuse anything, but only with ConfigError: any other exception escaping here
// would stop svdgw at start or on a SIGHUP reload with no file:line for the operator. Every
// diagnostic is formatted as check-config prints it.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/diagnostic.h"
#include "config/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const svd::config::Schema schema = svd::config::parse_schema(text, "fuzz.schema.json");
    for (const auto& f : schema.fields) (void)schema.index_of(f.name);
  } catch (const svd::config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) (void)d.to_string();
  }
  return 0;
}
