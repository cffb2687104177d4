#include "process/record_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace svd::process {
namespace {

result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errc::io_error;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

class JsonlFileSink final : public RecordSink {
 public:
  JsonlFileSink(std::filesystem::path path, std::filesystem::path part, int fd)
      : path_(std::move(path)), part_(std::move(part)), fd_(fd) {}
  ~JsonlFileSink() override {
    if (fd_ >= 0) discard();
  }

  result<void> add_lines(std::string_view lines) override { return write_all(fd_, lines); }

  result<void> commit() override {
    result<void> r;
    if (::fsync(fd_) != 0) r = errc::io_error;
    ::close(fd_);
    fd_ = -1;
    if (r) {
      std::error_code ec;
      std::filesystem::rename(part_, path_, ec);
      if (ec) r = errc::io_error;
    }
    if (!r) {
      std::error_code ec;
      std::filesystem::remove(part_, ec);
    }
    return r;
  }

  void discard() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(part_, ec);
  }

 private:
  std::filesystem::path path_, part_;
  int fd_;
};

}  // namespace

result<std::unique_ptr<RecordSink>> open_jsonl_file_sink(const std::filesystem::path& path) {
  std::filesystem::path part = path;
  part += ".part";
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errc::io_error;
  return std::unique_ptr<RecordSink>(std::make_unique<JsonlFileSink>(path, std::move(part), fd));
}

}  // namespace svd::process
