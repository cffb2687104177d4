#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "adapters/byte_source.h"

namespace svd::adapters {
namespace {

std::string read_all(ByteSource& src, std::size_t chunk) {
  std::string out;
  std::vector<char> buf(chunk);
  for (;;) {
    auto n = src.read(buf);
    EXPECT_TRUE(n);
    if (!n || *n == 0) break;
    EXPECT_LE(*n, chunk);
    out.append(buf.data(), *n);
  }
  return out;
}

TEST(ByteSource, MemorySourceHandsOutEverythingThenZero) {
  const std::string data = "nhs_number\n9990000018\n";
  auto src = memory_source(data);
  EXPECT_EQ(read_all(*src, 3), data);
  std::array<char, 4> buf{};
  EXPECT_EQ(src->read(buf).value(), 0u);
  EXPECT_EQ(read_all(*memory_source(""), 8), "");
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("svd_adapters_bs_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f != nullptr) {
      std::fwrite(content.data(), 1, content.size(), f);
      std::fclose(f);
    }
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ByteSource, FileSourceReadsTheWholeFile) {
  std::string content;
  for (int i = 0; i < 20000; ++i) content += "9990000018,Testperson\n";
  TempFile f(content);
  auto src = open_file_source(f.path());
  ASSERT_TRUE(src);
  EXPECT_EQ(read_all(**src, 4096), content);
}

TEST(ByteSource, EmptyFile) {
  TempFile f("");
  auto src = open_file_source(f.path());
  ASSERT_TRUE(src);
  EXPECT_EQ(read_all(**src, 16), "");
}

TEST(ByteSource, MissingFileIsAnIoError) {
  auto src = open_file_source("/nonexistent/svd/extract.csv");
  ASSERT_FALSE(src);
  EXPECT_EQ(src.error(), make_error_code(errc::io_error));
}

TEST(ByteSource, ASymbolicLinkIsNotFollowed) {
  TempFile f("9990000018,Testperson\n");
  const auto link = f.path().string() + ".link";
  std::filesystem::create_symlink(f.path(), link);
  auto src = open_file_source(link);
  std::filesystem::remove(link);
  ASSERT_FALSE(src);
  EXPECT_EQ(src.error(), make_error_code(errc::io_error));
  EXPECT_TRUE(open_file_source(f.path())) << "the file itself opens";
}

TEST(ByteSource, ReadingADirectoryIsAnIoError) {
  auto src = open_file_source(std::filesystem::temp_directory_path());
  if (!src) {
    EXPECT_EQ(src.error(), make_error_code(errc::io_error));
    return;
  }
  std::array<char, 16> buf{};
  auto n = (*src)->read(buf);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), make_error_code(errc::io_error));
}

}  // namespace
}  // namespace svd::adapters
