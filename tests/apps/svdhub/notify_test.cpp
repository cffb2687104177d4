// `svdhub run` as systemd starts it (Type=notify, WatchdogSec=): the real binary, a real
// AF_UNIX datagram socket as NOTIFY_SOCKET, and a broker port nobody listens on (READY=1 must not
// wait for the broker). Stopped by its PID.

#include <gtest/gtest.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <memory>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

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
                                        << "/schemas/ed-assaults.json\"\n"
                                        << "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed-assaults\"]\n";
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
    hub_.reset();  // stopped by its PID
    if (sock_ >= 0) ::close(sock_);
  }

  // Starts `svdhub run` with NOTIFY_SOCKET, and WATCHDOG_USEC if `watchdog_usec` is not empty.
  void start(const std::string& watchdog_usec) {
    std::vector<std::string> add{"NOTIFY_SOCKET=" + (dir_ / "notify.sock").string()};
    if (!watchdog_usec.empty()) add.push_back("WATCHDOG_USEC=" + watchdog_usec);
    hub_ = std::make_unique<test_support::Process>(
        std::vector<std::string>{SVD_SVDHUB, "run", "--config", (dir_ / "svdhub.toml").string()}, dir_ / "svdhub.out",
        dir_ / "svdhub.log",
        test_support::ProcessOptions{.env = test_support::environment_with(add, {"NOTIFY_SOCKET=", "WATCHDOG_"})});
  }

  // The next datagram within `timeout` (a blocking receive, not a sleep), or "" if none came.
  std::string receive(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = ::recv(sock_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

  // A datagram already queued, without waiting, or "". Once svdhub has exited, everything it
  // sent is queued: this sees all of it.
  std::string queued() {
    char buf[4096];
    const ssize_t n = ::recv(sock_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

  // Every datagram until one contains `wanted` (included), or until `timeout` passes.
  std::vector<std::string> receive_until(const std::string& wanted, std::chrono::milliseconds timeout) {
    std::vector<std::string> got;
    test_support::eventually(
        [&] {
          std::string m = receive(100ms);
          if (!m.empty()) got.push_back(m);
          return !got.empty() && got.back().find(wanted) != std::string::npos;
        },
        timeout);
    return got;
  }

  // How many times svdhub has tried the broker (and failed: nothing listens there).
  std::size_t connect_attempts() const {
    const std::string text = log();
    std::size_t n = 0;
    for (auto at = text.find("broker: cannot connect"); at != std::string::npos;
         at = text.find("broker: cannot connect", at + 1))
      ++n;
    return n;
  }

  int stop() { return hub_->stop(); }

  std::string log() const { return read_file(dir_ / "svdhub.log"); }

  test_support::TempDir tmp_{"svd-hubnotify"};
  const fs::path& dir_ = tmp_.path();
  int sock_ = -1;
  std::unique_ptr<test_support::Process> hub_;
};

TEST_F(SvdhubNotifyTest, ReadyWithoutABrokerThenWatchdogPingsThenStopping) {
  start("400000");  // WatchdogSec=0.4
  const std::string first = receive(10s);
  EXPECT_EQ(first, "READY=1\nSTATUS=receiving batches") << log();
  // Pings every quarter of the timeout while the loop reconnects to a broker that is not there:
  // each one well within the 0.4 s after which systemd would kill it (a receive bounded by the
  // watchdog timeout measures the gap; it is the behaviour under test).
  for (int i = 0; i < 5; ++i) EXPECT_EQ(receive(400ms), "WATCHDOG=1") << "ping " << i << log();
  EXPECT_TRUE(test_support::eventually([&] { return connect_attempts() >= 1; })) << log();
  // The pings come from the receive loop: none once it has ended with STOPPING=1.
  hub_->signal(SIGTERM);
  const auto rest = receive_until("STOPPING=1", 10s);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), "STOPPING=1");
  EXPECT_EQ(stop(), 0) << log();
  EXPECT_EQ(queued(), "") << "notified after STOPPING=1";
}

TEST_F(SvdhubNotifyTest, NoWatchdogPingsUnlessSystemdAsks) {
  start("");
  EXPECT_EQ(receive(10s), "READY=1\nSTATUS=receiving batches") << log();
  // Proof that the receive loop (where pings come from) has run for a while: three attempts on
  // the broker, with backoff between them. Then the only notification left is STOPPING=1.
  ASSERT_TRUE(test_support::eventually([&] { return connect_attempts() >= 3; })) << log();
  hub_->signal(SIGTERM);
  EXPECT_EQ(receive(10s), "STOPPING=1") << "pinged without WatchdogSec";
  EXPECT_EQ(stop(), 0) << log();
  EXPECT_EQ(queued(), "");
}

// SIGHUP (systemctl reload) does not end svdhub, which systemd would not restart: it checks the
// config, says RELOADING=1, starts again on it in the same process (the same PID systemd
// watches) and says READY=1 again, then goes on pinging the watchdog.
TEST_F(SvdhubNotifyTest, SighupReloadsInTheSameProcess) {
  start("400000");
  EXPECT_EQ(receive(10s), "READY=1\nSTATUS=receiving batches") << log();
  while (!queued().empty()) {
  }
  const pid_t pid = hub_->pid();
  hub_->signal(SIGHUP);
  const auto reload = receive_until("READY=1\nSTATUS=receiving batches", 30s);
  ASSERT_FALSE(reload.empty()) << log();
  EXPECT_NE(reload.back().find("READY=1"), std::string::npos) << "not ready again: " << log();
  EXPECT_NE(std::find(reload.begin(), reload.end(), "RELOADING=1\nSTATUS=reloading the config"), reload.end()) << log();
  EXPECT_EQ(std::find(reload.begin(), reload.end(), "STOPPING=1"), reload.end()) << "a reload is not a stop";
  EXPECT_EQ(receive(10s), "WATCHDOG=1") << log();
  EXPECT_TRUE(hub_->running()) << "svdhub ended on SIGHUP";
  EXPECT_EQ(hub_->pid(), pid);
  EXPECT_NE(log().find("starting again with the new config"), std::string::npos) << log();
  hub_->signal(SIGTERM);
  const auto rest = receive_until("STOPPING=1", 10s);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), "STOPPING=1");
  EXPECT_EQ(stop(), 0) << log();
}

TEST_F(SvdhubNotifyTest, NeverReadyWhenTheStoreCannotBeOpened) {
  fs::create_directory(dir_ / "hub.db");  // a directory where the database file should be
  start("400000");
  EXPECT_EQ(hub_->wait(30s), 1) << log();
  EXPECT_NE(log().find("cannot open the store"), std::string::npos) << log();
  EXPECT_EQ(queued(), "") << "told systemd it was ready (or alive) without a store";
}

}  // namespace
}  // namespace svd::hub
