#pragma once
// Runs the real svdgw binary against the shipped example config in a fresh temporary
// directory, with the published test key (bytes 0x00..0x1f) so tokens are reproducible.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::svdgw::testing {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

using test_support::RunResult;

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(SVD_EXAMPLES_DIR, dir_ / "etc", fs::copy_options::recursive);
    std::string hex;
    for (int i = 0; i < 32; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", i);
      hex += b;
    }
    write_file(dir_ / "etc" / "linkage.key", hex + "\n");
    fs::permissions(dir_ / "etc" / "linkage.key", fs::perms::owner_read | fs::perms::owner_write);
  }

  fs::path config() const { return dir_ / "etc" / "svdgw.toml"; }

  // Runs svdgw with `args` (no shell: split into words as a shell would, quotes included),
  // capturing both streams.
  RunResult svdgw(const std::string& args) { return svdgw(test_support::split_words(args)); }
  RunResult svdgw(std::vector<std::string> args) {
    args.insert(args.begin(), SVD_SVDGW);
    return test_support::run(args);
  }

  RunResult process(const std::string& feed, const fs::path& input, const fs::path& out_dir) {
    return svdgw("process --quiet --config '" + config().string() + "' --feed " + feed + " '" + input.string() +
                 "' --out '" + out_dir.string() + "'");
  }

  test_support::TempDir tmp_{"svd-cli"};
  const fs::path& dir_ = tmp_.path();
};

}  // namespace svd::svdgw::testing
