#pragma once
// Owns a POSIX file descriptor: closed on every path out of a scope. For the few places that
// work with descriptors directly (key files, the spool's directory handles, durable writes).

#include <unistd.h>

#include <utility>

namespace svd {

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes now and reports whether close succeeded (a late write error can surface here).
  bool close() {
    const int fd = std::exchange(fd_, -1);
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

}  // namespace svd
