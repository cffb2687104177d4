#pragma once
// Runs the real svdgw binary against the shipped example config in a fresh temporary
// directory, with the published test key (bytes 0x00..0x1f) so tokens are reproducible.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

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

  // Runs svdgw with `args` (already shell-quoted where needed), capturing both streams.
  RunResult svdgw(const std::string& args) {
    RunResult r;
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    std::string cmd = std::string("'") + SVD_SVDGW + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    int status = std::system(cmd.c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
  }

  RunResult process(const std::string& feed, const fs::path& input, const fs::path& out_dir) {
    return svdgw("process --quiet --config '" + config().string() + "' --feed " + feed + " '" + input.string() +
                 "' --out '" + out_dir.string() + "'");
  }

  test_support::TempDir tmp_{"svd-cli"};
  const fs::path& dir_ = tmp_.path();
};

}  // namespace svd::svdgw::testing
