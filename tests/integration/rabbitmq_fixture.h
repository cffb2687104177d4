#pragma once
// A real RabbitMQ 3.10 node with its MQTT plugin as the hub broker, configured from
// deploy/rabbitmq/ (rabbitmq.conf.in, advanced.config.in, enabled_plugins, setup-users.sh):
// MQTT over mutual TLS only, the client certificate's CN as the user, each user's topic
// permissions, the CRL checked at each handshake.
//
// Everything the node uses is private to the fixture: a temp directory (config, Mnesia, logs,
// HOME with its own Erlang cookie), a node name unique to the process, and free ports of
// 127.0.0.1 chosen at run time for epmd, Erlang distribution and the MQTT TLS listener (no AMQP
// listener: the config has none). The fixture starts epmd itself (`epmd -port P`, in the
// foreground) and tells the node not to start one, so that both processes it must stop are ones
// it started and knows by PID; the node is exec'd (not run under the wrapper shell) so its PID is
// the Erlang VM's. Both are stopped in the destructor: SIGTERM, a bounded wait, SIGKILL — only
// ever those two PIDs. If the test process dies first, the kernel kills both (setpriv
// --pdeathsig KILL, when setpriv exists).
//
// The node takes about 11 s to start on a 2-core machine, 15-26 s while the machine also
// compiles: start one per test that needs it, and keep such tests few.
//
// Environment: SVD_KEEP_TEST_DIRS=1 keeps the temp directory (configs, definitions, the node's
// log) for inspection.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "mosquitto_fixture.h"  // TempDir, TestPki, ClientIdentity, pick_free_port

namespace svd::testing {

class TestRabbitMq {
 public:
  // The virtual host the MQTT plugin uses (rabbitmq.conf.in @VHOST@, setup-users.sh --vhost).
  static constexpr const char* kVhost = "svd";

  // A node whose users are `partners` (gateway certificate CNs) and the PKI's hub id, loaded at
  // boot from the definitions setup-users.sh writes. Throws std::runtime_error (with the node's
  // log) when RabbitMQ is missing or does not come up within kStartTimeout.
  TestRabbitMq(std::shared_ptr<const TestPki> pki, std::vector<std::string> partners);
  // With a PKI of its own; its gateways are the partners.
  explicit TestRabbitMq(PkiOptions options);
  TestRabbitMq(const TestRabbitMq&) = delete;
  TestRabbitMq& operator=(const TestRabbitMq&) = delete;
  ~TestRabbitMq();

  static constexpr std::chrono::seconds kStartTimeout{120};

  std::uint16_t port() const { return mqtt_port_; }
  // "ssl://127.0.0.1:<port>" (or another host name, e.g. "localhost").
  std::string uri(std::string_view host = "127.0.0.1") const;
  const TestPki& pki() const { return *pki_; }
  ClientIdentity identity(std::string_view id) const;  // CA + clients/<id>.crt/.key, id = CN

  pid_t pid() const { return node_ ? node_->pid() : -1; }
  bool running() const { return node_ != nullptr; }
  // From spawning the node to its "Server startup complete" (with the MQTT listener open).
  std::chrono::milliseconds startup_time() const { return startup_time_; }
  // Stops the node, then epmd (SIGTERM, bounded wait, SIGKILL; by PID). Idempotent.
  void stop();

  // Runs `argv` with this node's environment (HOME with its cookie, node name, epmd port,
  // RABBITMQCTL = the real rabbitmqctl, not Debian's wrapper that switches user), bounded by
  // `timeout`. Returns the exit code (-1 when killed at the timeout) and, if asked, the output.
  int run_with_node_env(const std::vector<std::string>& argv, std::string* output = nullptr,
                        std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  // rabbitmqctl ARGS against this node.
  int ctl(const std::vector<std::string>& args, std::string* output = nullptr) const;

  std::string log() const;
  std::size_t log_size() const;
  // Waits (bounded, polling) until the log after byte `from` contains `needle`.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from = 0) const;

 private:
  void write_files(const std::vector<std::string>& partners);
  void write_configs();
  // Starts epmd and the node on the current ports; false when a port turned out to be taken (so
  // the caller picks others), throws on any other failure.
  bool start_once();
  std::vector<std::string> node_env() const;

  std::shared_ptr<const TestPki> pki_;
  TempDir tmp_;
  std::string node_name_;
  std::filesystem::path server_, ctl_;  // rabbitmq-server and rabbitmqctl (the real scripts)
  std::uint16_t mqtt_port_ = 0, epmd_port_ = 0, dist_port_ = 0;
  std::unique_ptr<test_support::Process> epmd_, node_;
  std::chrono::milliseconds startup_time_{0};
};

}  // namespace svd::testing
