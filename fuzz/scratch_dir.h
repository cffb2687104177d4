#pragma once
// For the config targets: the TOML loaders read only a named file (they resolve the schema
// files a config names against its folder), and the product has no entry point from text that
// they could use instead. So each process makes one directory under /tmp, copies the example
// schemas into it once, so that configs naming "schemas/<feed>.json" load real schemas, and
// rewrites one config file there for every input. Removed at a normal exit; a crash leaves it
// behind for the crash to be reproduced.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace svd::fuzz {

class ScratchDir {
 public:
  // `schemas`: a folder whose files are copied to <dir>/schemas/.
  explicit ScratchDir(const std::filesystem::path& schemas) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "svd-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    std::filesystem::copy(schemas, dir_ / "schemas");
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Replaces <dir>/<name> with `bytes` and returns its path.
  std::filesystem::path write(std::string_view name, std::string_view bytes) const {
    const std::filesystem::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) std::abort();
    return p;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace svd::fuzz
