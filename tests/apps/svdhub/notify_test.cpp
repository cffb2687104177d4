// `svdhub run` as systemd starts it (Type=notify, WatchdogSec=): the real binary, a real
// AF_UNIX datagram socket as NOTIFY_SOCKET, and a broker port nobody listens on (READY=1 must not
// wait for the broker). Stopped by its PID.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

extern char** environ;

namespace svd::hub {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A loopback TCP port nothing listens on (bound, then released).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  ::close(fd);
  return ntohs(a.sin_port);
}

class SvdhubNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int port = unused_port();
    ASSERT_NE(port, 0);
    std::ofstream(dir_ / "svdhub.toml") << "[store]\ndatabase = \"hub.db\"\n"
                                        << "[broker]\nhost = \"127.0.0.1\"\nport = " << port
                                        << "\nca = \"ca.crt\"\ncert = \"svdhub.crt\"\nkey = \"svdhub.key\"\n"
                                        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                                        << "/schemas/ed-assaults.json\"\n";
    sock_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = (dir_ / "notify.sock").string();
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (sock_ >= 0) ::close(sock_);
  }

  // Starts `svdhub run` with NOTIFY_SOCKET, and WATCHDOG_USEC if `watchdog_usec` is not empty.
  void start(const std::string& watchdog_usec) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string v = *e;
      if (v.rfind("NOTIFY_SOCKET=", 0) != 0 && v.rfind("WATCHDOG_", 0) != 0) env.push_back(v);
    }
    env.push_back("NOTIFY_SOCKET=" + (dir_ / "notify.sock").string());
    if (!watchdog_usec.empty()) env.push_back("WATCHDOG_USEC=" + watchdog_usec);
    std::vector<char*> envp;
    for (auto& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string bin = SVD_SVDHUB, run = "run", opt = "--config", cfg = (dir_ / "svdhub.toml").string();
    char* argv[] = {bin.data(), run.data(), opt.data(), cfg.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, (dir_ / "svdhub.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    const int rc = ::posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_EQ(rc, 0) << std::strerror(rc);
  }

  // The next datagram within `timeout`, or "" if none came.
  std::string receive(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = ::recv(sock_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

  // Every datagram until one contains `wanted` (included), or until `timeout` passes.
  std::vector<std::string> receive_until(const std::string& wanted, std::chrono::milliseconds timeout) {
    std::vector<std::string> got;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      std::string m = receive(100ms);
      if (m.empty()) continue;
      got.push_back(m);
      if (m.find(wanted) != std::string::npos) break;
    }
    return got;
  }

  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string log() const { return read_file(dir_ / "svdhub.log"); }

  test_support::TempDir tmp_{"svd-hubnotify"};
  const fs::path& dir_ = tmp_.path();
  int sock_ = -1;
  pid_t pid_ = -1;
};

TEST_F(SvdhubNotifyTest, ReadyWithoutABrokerThenWatchdogPingsThenStopping) {
  start("400000");  // WatchdogSec=0.4
  const std::string first = receive(10s);
  EXPECT_EQ(first, "READY=1\nSTATUS=receiving batches") << log();
  // Pings every quarter of the timeout while the loop reconnects to a broker that is not there.
  int pings = 0;
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    const std::string m = receive(200ms);
    if (m == "WATCHDOG=1") ++pings;
    else EXPECT_EQ(m, "") << "unexpected notification";
  }
  EXPECT_GE(pings, 5) << log();
  EXPECT_NE(log().find("broker: cannot connect"), std::string::npos) << log();
  // The pings come from the receive loop: none once it has ended with STOPPING=1.
  ::kill(pid_, SIGTERM);
  const auto rest = receive_until("STOPPING=1", 10s);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), "STOPPING=1");
  EXPECT_EQ(stop(), 0) << log();
  EXPECT_EQ(receive(300ms), "");
}

TEST_F(SvdhubNotifyTest, NoWatchdogPingsUnlessSystemdAsks) {
  start("");
  EXPECT_EQ(receive(10s), "READY=1\nSTATUS=receiving batches") << log();
  EXPECT_EQ(receive(800ms), "") << "pinged without WatchdogSec";
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(receive(10s), "STOPPING=1");
  EXPECT_EQ(stop(), 0) << log();
}

// A stray `kill -HUP` (meant for svdgw) must not end svdhub: systemd would not restart it.
TEST_F(SvdhubNotifyTest, SighupDoesNotEndIt) {
  start("");
  EXPECT_EQ(receive(10s), "READY=1\nSTATUS=receiving batches") << log();
  ::kill(pid_, SIGHUP);
  EXPECT_EQ(receive(500ms), "");
  int status = 0;
  EXPECT_EQ(::waitpid(pid_, &status, WNOHANG), 0) << "svdhub ended on SIGHUP";
  ::kill(pid_, SIGTERM);
  EXPECT_EQ(receive(10s), "STOPPING=1");
  EXPECT_EQ(stop(), 0) << log();
}

TEST_F(SvdhubNotifyTest, NeverReadyWhenTheStoreCannotBeOpened) {
  fs::create_directory(dir_ / "hub.db");  // a directory where the database file should be
  start("400000");
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << log();
  EXPECT_NE(log().find("cannot open the store"), std::string::npos) << log();
  EXPECT_EQ(receive(200ms), "") << "told systemd it was ready (or alive) without a store";
}

}  // namespace
}  // namespace svd::hub
