// base/service.h against what systemd would see: sd_notify datagrams on a real AF_UNIX socket
// named by NOTIFY_SOCKET, the watchdog interval from WATCHDOG_USEC, and the log lines on stderr.

#include "base/service.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tests/support/temp_dir.h"

namespace svd::service {
namespace {

using namespace std::chrono_literals;

// A datagram socket as systemd binds it for a Type=notify service.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.string().size() >= sizeof addr.sun_path) return;
    std::strcpy(addr.sun_path, path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    timeval tv{0, 200'000};  // a datagram sent before recv() is already queued
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bound_ = true;
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" when none is waiting.
  std::string receive() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

// Sets an environment variable for one test and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Service, NotifySendsOneDatagramToTheServiceManager) {
  test_support::TempDir dir("svd-service");
  NotifySocket sock(dir / "notify.sock");
  ASSERT_TRUE(sock.bound());
  ScopedEnv env("NOTIFY_SOCKET", (dir / "notify.sock").c_str());
  notify("READY=1\nSTATUS=accepting extracts");
  notify("STOPPING=1");
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=accepting extracts");
  EXPECT_EQ(sock.receive(), "STOPPING=1");
  EXPECT_EQ(sock.receive(), "");
}

TEST(Service, NotifyOutsideSystemdDoesNothing) {
  test_support::TempDir dir("svd-service");
  NotifySocket sock(dir / "notify.sock");
  ASSERT_TRUE(sock.bound());
  {
    ScopedEnv env("NOTIFY_SOCKET", nullptr);
    notify("READY=1");  // neither fails nor blocks
  }
  EXPECT_EQ(sock.receive(), "");
}

TEST(Service, WatchdogIntervalIsHalfWhatSystemdAsked) {
  ScopedEnv pid("WATCHDOG_PID", nullptr);
  {
    ScopedEnv env("WATCHDOG_USEC", "60000000");  // WatchdogSec=60
    auto interval = watchdog_interval();
    ASSERT_TRUE(interval);
    EXPECT_EQ(*interval, 30s);
  }
  {
    ScopedEnv env("WATCHDOG_USEC", nullptr);
    EXPECT_FALSE(watchdog_interval());
  }
  {
    ScopedEnv env("WATCHDOG_USEC", "not a number");
    EXPECT_FALSE(watchdog_interval());
  }
}

TEST(Service, WatchdogMeantForAnotherProcessIsIgnored) {
  // systemd names the main process; a child that inherited the environment must not ping.
  ScopedEnv usec("WATCHDOG_USEC", "60000000");
  ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str());
  EXPECT_FALSE(watchdog_interval());
}

// One event, one line, in a single write: stderr is pointed at a file for the test.
TEST(Service, LogWritesOneLinePerEvent) {
  test_support::TempDir dir("svd-service");
  const auto file = dir / "stderr.txt";
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    ::dup2(::fileno(f), STDERR_FILENO);
    log(Level::warning, "broker unreachable\nerror fake line");
    log(Level::info, "reloaded: 3 feed(s)");
    std::fclose(f);
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::ifstream in(file);
  std::string first, second, third;
  ASSERT_TRUE(std::getline(in, first));
  ASSERT_TRUE(std::getline(in, second));
  EXPECT_FALSE(std::getline(in, third)) << "a newline in a message made a second line: " << third;
  if (std::getenv("JOURNAL_STREAM")) {  // run under systemd: the sd-daemon priority prefix
    EXPECT_EQ(first, "<4>broker unreachable error fake line");
    EXPECT_EQ(second, "<6>reloaded: 3 feed(s)");
  } else {  // "2026-11-23T09:15:20Z warning ..."
    ASSERT_GE(first.size(), 21u);
    EXPECT_EQ(first[4], '-');
    EXPECT_EQ(first[10], 'T');
    EXPECT_EQ(first.substr(19), "Z warning broker unreachable error fake line");
    EXPECT_EQ(second.substr(19), "Z info reloaded: 3 feed(s)");
  }
}

}  // namespace
}  // namespace svd::service
