#include "adapters/byte_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace svd::adapters {
namespace {

class FileSource final : public ByteSource {
 public:
  explicit FileSource(int fd) : fd_(fd) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  result<std::size_t> read(std::span<char> buf) override {
    if (buf.empty()) return std::size_t{0};
    for (;;) {
      const ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      // A signal landing mid-read is not a failure of the extract.
      if (errno != EINTR) return errc::io_error;
    }
  }

 private:
  int fd_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}

  result<std::size_t> read(std::span<char> buf) override {
    const std::size_t n = std::min(buf.size(), data_.size() - pos_);
    if (n != 0) std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace

result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errc::io_error;
  return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(fd));
}

std::unique_ptr<ByteSource> memory_source(std::string_view data) {
  return std::make_unique<MemorySource>(data);
}

}  // namespace svd::adapters
