#pragma once
// Test helpers for integration tests against a real mosquitto broker over mutual TLS.
//
//   TestPki     a throw-away PKI made by deploy/pki/make-pki.sh in a fresh temp directory.
//   TestBroker  mosquitto started (tests/support/process.h, by PID) with deploy/mosquitto/hub-broker.conf.in +
//               deploy/mosquitto/acl on a free port of 127.0.0.1 chosen at run time; stop(),
//               restart() on the same port; stopped in the destructor (SIGTERM, bounded wait,
//               SIGKILL) — only ever the process it started.
//   TestClient  a Paho C++ mqtt::async_client connected with mTLS (persistence NONE, client id =
//               certificate CN, MQTT 3.1.1 or 5), with bounded waits on every token and a
//               consumer queue for received messages.
//
// Typical use: one TestPki per test binary (PKI generation is the slow part), one TestBroker
// per test (mosquitto starts in ~50 ms), see broker_test.cpp.
//
// Paho C 1.3.11 quirks these helpers work around (see connect_all and broker_test.cpp):
// a connect started while another client of the process is connected takes ~2 s (connect
// concurrently instead), and a connect right after another client's refused handshake can
// fail spuriously (do positive controls first).
//
// If the test process dies without running destructors, the broker gets SIGKILL from the
// kernel (spawned through `setpriv --pdeathsig KILL` when setpriv exists).
//
// Environment: SVD_KEEP_TEST_DIRS=1 keeps the temp directories (PKI, broker config and log) for
// inspection. Nothing here prints private keys; the broker log never contains them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include <mqtt/async_client.h>

#include "tests/support/process.h"

namespace svd::testing {

// Upper bound for any single wait in these helpers (connect, subscribe, publish, broker start).
inline constexpr std::chrono::seconds kWait{10};

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// SVD_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "svd-int");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Test output helpers: the last `max_chars` of a log; every `from` in `text` replaced.
std::string tail(const std::string& text, std::size_t max_chars);
std::string replace_all(std::string text, const std::string& from, const std::string& to);

// A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close), never the same
// one twice in a process.
std::uint16_t pick_free_port();
// Whether something accepts TCP connections on 127.0.0.1:port now.
bool port_accepts(std::uint16_t port);

struct PkiOptions {
  std::vector<std::string> gateways{};        // --gateway ID...
  std::string hub = "svdhub";                 // --hub ID
  std::vector<std::string> broker_names{};    // --broker-name NAME...
  bool no_ip_san = false;                     // --no-ip-san
  bool other_ca = false;                      // --other-ca
  std::vector<std::string> servers{};         // --server NAME... (e.g. the gateway's upload API)
};

class TestPki {
 public:
  // Runs deploy/pki/make-pki.sh into a new temp directory; throws std::runtime_error (with the
  // script's output, which never contains key material) on failure.
  explicit TestPki(PkiOptions options);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& hub_id() const { return options_.hub; }
  std::filesystem::path ca_cert() const { return dir_ / "ca.crt"; }
  std::filesystem::path crl() const { return dir_ / "crl.pem"; }
  std::filesystem::path client_cert(std::string_view id) const;
  std::filesystem::path client_key(std::string_view id) const;
  std::filesystem::path server_cert(std::string_view name) const;
  std::filesystem::path server_key(std::string_view name) const;
  std::filesystem::path other_ca_cert() const { return dir_ / "other-ca" / "ca.crt"; }
  std::filesystem::path rogue_cert() const { return dir_ / "other-ca" / "rogue.crt"; }
  std::filesystem::path rogue_key() const { return dir_ / "other-ca" / "rogue.key"; }

  // make-pki.sh DIR --revoke ID (regenerates crl.pem). A running broker picks it up on restart.
  void revoke(const std::string& id);

 private:
  void run_make_pki(const std::vector<std::string>& args);

  PkiOptions options_;
  TempDir tmp_;
  std::filesystem::path dir_;
};

// Runs deploy/pki/make-pki.sh with `args` (bounded: 60 s); returns its exit code (-1 when killed)
// and, if asked, what it printed (file names and errors, never key material).
int run_make_pki(const std::vector<std::string>& args, std::string* output = nullptr);

// Everything a client needs to present: its id (= certificate CN) and the files to use.
// Empty cert/key = connect without a client certificate.
struct ClientIdentity {
  std::string client_id;
  std::filesystem::path ca;
  std::filesystem::path cert;
  std::filesystem::path key;
};

class TestBroker {
 public:
  // A broker using an existing PKI (shared between tests; not modified by the broker).
  explicit TestBroker(std::shared_ptr<const TestPki> pki);
  // A broker with a PKI of its own, made by make-pki.sh in a fresh temp directory.
  explicit TestBroker(PkiOptions options);
  TestBroker(const TestBroker&) = delete;
  TestBroker& operator=(const TestBroker&) = delete;
  ~TestBroker();

  std::uint16_t port() const { return port_; }
  // The secure WebSocket listener (MQTT over wss, the same TLS and client certificates).
  std::uint16_t ws_port() const { return ws_port_; }
  // "ssl://127.0.0.1:<port>" (or another host name, e.g. "localhost").
  std::string uri(std::string_view host = "127.0.0.1") const;
  const TestPki& pki() const { return *pki_; }
  ClientIdentity identity(std::string_view id) const;  // CA + clients/<id>.crt/.key, id = CN
  std::filesystem::path ca_cert() const { return pki_->ca_cert(); }
  std::filesystem::path client_cert(std::string_view id) const { return pki_->client_cert(id); }
  std::filesystem::path client_key(std::string_view id) const { return pki_->client_key(id); }

  bool running() const { return process_ != nullptr; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // SIGTERM to the PID we started, bounded wait, then SIGKILL. Idempotent.
  void stop();
  // stop() if running, then start again on the same port with the same config (re-reading the
  // PKI files, e.g. a CRL changed by TestPki::revoke).
  void restart();
  // Everything mosquitto logged so far (for diagnostics when a test fails).
  std::string log() const;
  std::size_t log_size() const;
  // Waits (bounded, polling) until the log after byte `from` contains `needle`: mosquitto may
  // log a refusal a moment after the client saw it.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout,
                    std::size_t from = 0) const;
  const std::filesystem::path& config_path() const { return config_; }

 private:
  void write_config();
  // Starts mosquitto and waits until it runs and accepts connections; returns false when the
  // port turned out to be taken (so start() can pick another), throws on any other failure.
  bool spawn_and_wait_ready();

  std::shared_ptr<const TestPki> pki_;
  TempDir tmp_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  std::uint16_t port_ = 0, ws_port_ = 0;
  std::unique_ptr<test_support::Process> process_;
};

struct ClientOptions {
  int mqtt_version = MQTTVERSION_3_1_1;  // or MQTTVERSION_5
  bool clean_session = true;             // clean session (3.1.1) / clean start (5)
  bool verify_host = true;               // ssl_options verify(): check the broker's name
  std::chrono::seconds connect_timeout{5};
};

// The mTLS options: trust_store(ca) [+ key_store(cert) + private_key(key)], verify(host check),
// enable_server_cert_auth(true). Never ca_path() or an error handler (broken by copies in Paho
// C++ 1.2).
mqtt::ssl_options make_ssl_options(const ClientIdentity& identity, bool verify_host);
// Connect options with the MQTT version set (needed here AND in create_options for v5).
mqtt::connect_options make_connect_options(const ClientIdentity& identity,
                                           const ClientOptions& options);
// An async_client with persistence NONE, created for options.mqtt_version.
std::unique_ptr<mqtt::async_client> make_async_client(const std::string& uri,
                                                       const ClientIdentity& identity,
                                                       const ClientOptions& options);

struct PublishResult {
  bool completed = false;  // the delivery token completed within kWait
  bool ok = false;         // ... and successfully (PUBACK without a failure reason code)
  int return_code = 0;     // Paho return code when !ok
  int reason_code = 0;     // MQTT 5 reason code (0 with 3.1.1)
  std::string error;
};

struct SubscribeResult {
  bool completed = false;
  bool granted = false;  // SUBACK granted a QoS (not 0x80 / not a v5 failure reason code)
  int reason_code = 0;   // granted QoS or failure reason code
  std::string error;
};

// A connected (or refused) test client. Received messages are queued (Paho's consumer API,
// started before connecting) and read with receive(timeout).
class TestClient {
 public:
  TestClient(std::string uri, ClientIdentity identity, ClientOptions options = {});
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;
  ~TestClient();

  // True when CONNACK arrived within kWait; otherwise false with the reason in *error.
  bool connect(std::string* error = nullptr);
  // connect() in two halves, for connect_all().
  mqtt::token_ptr start_connect(std::string* error);
  bool finish_connect(const mqtt::token_ptr& token, std::string* error);
  bool is_connected() const { return client_->is_connected(); }
  // The MQTT version the broker accepted in CONNACK (0 before a successful connect).
  int connected_mqtt_version() const { return connected_version_; }
  void disconnect();
  mqtt::token_ptr start_disconnect();  // nullptr when not connected

  SubscribeResult subscribe(const std::string& topic_filter, int qos = 1);
  PublishResult publish(const std::string& topic, const std::string& payload, int qos = 1);
  // The next received message, or nullptr after the timeout (or when the connection was lost).
  mqtt::const_message_ptr receive(std::chrono::milliseconds timeout);
  // A message already queued, without waiting.
  mqtt::const_message_ptr try_receive();

  const std::string& client_id() const { return identity_.client_id; }
  mqtt::async_client& client() { return *client_; }

 private:
  ClientIdentity identity_;
  ClientOptions options_;
  std::unique_ptr<mqtt::async_client> client_;
  int connected_version_ = 0;
};

// Connects several clients concurrently; true when all connected (else *error names the first
// failure). Paho C 1.3.12 needs about 2 s for each connect started while another client of the
// same process is already connected (its receive thread polls its sockets with a 1 s timeout and
// only picks up a new socket between polls; paho.mqtt.c #1430): connects started together overlap.
bool connect_all(std::initializer_list<TestClient*> clients, std::string* error = nullptr);
// Disconnects several clients concurrently (bounded), e.g. before destroying them: destroying a
// client while others stay connected can block ~1 s in Paho C for the same reason.
void disconnect_all(const std::vector<TestClient*>& clients);

}  // namespace svd::testing
