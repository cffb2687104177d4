#pragma once
// A fresh directory under the system temp directory for one test, removed (with everything in
// it) when the TempDir is destroyed. Header-only so any test target can use it without linking.

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace svd::test_support {

class TempDir {
 public:
  // Creates <temp>/<prefix>-XXXXXX; a distinct prefix per fixture tells leftovers apart.
  explicit TempDir(std::string_view prefix = "svd-test") {
    std::string templ = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace svd::test_support
