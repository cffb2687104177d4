#pragma once
// Reading and writing the small files key tests handle, with modes set explicitly (independent of
// the umask): the key loaders refuse a file group or others can reach, so the mode is under test.
// Header-only so any test target can use it without linking.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace svd::test_support {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `content` and sets `mode` with chmod.
inline void write_file(const std::filesystem::path& p, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << p;
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;
}

// The permission bits (and setuid/setgid/sticky) of `p` itself, not of what a link points at.
inline mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

}  // namespace svd::test_support
