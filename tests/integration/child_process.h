#pragma once
// A program the test starts (svdhub, svdgw) with posix_spawn, its stdout and stderr appended to
// files, and stopped only by the PID it got: SIGTERM, a bounded wait, then SIGKILL. If the test
// process dies first, the child is killed by the kernel (setpriv --pdeathsig, when present).

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace svd::testing {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& out, const std::filesystem::path& err);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The exit status once the child has exited within `timeout` (128 + n when killed by signal
  // n), nullopt while it still runs.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int sig);
  // SIGTERM, up to 10 s, then SIGKILL; returns the exit status. Idempotent.
  int stop();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::string read_file(const std::filesystem::path& path);

}  // namespace svd::testing
