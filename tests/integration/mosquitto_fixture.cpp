#include "mosquitto_fixture.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/eventually.h"
#include "tests/support/process.h"

#ifndef SVD_SOURCE_DIR
#error "SVD_SOURCE_DIR must be defined (the project's source directory)"
#endif

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStopGrace = 5s;          // SIGTERM -> SIGKILL
constexpr auto kMakePkiTimeout = 60s;    // make-pki.sh

fs::path source_dir() { return fs::path(SVD_SOURCE_DIR); }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

// mosquitto's config parser splits on spaces: refuse paths it would misread.
const fs::path& config_safe(const fs::path& p) {
  const std::string s = p.string();
  if (s.find_first_of(" \t\r\n#") != std::string::npos) {
    throw std::runtime_error("path unusable in a mosquitto config (whitespace or '#'): " + s);
  }
  return p;
}

std::string current_user_for_config() {
  // Started as root, mosquitto switches to `user` (default: mosquitto), which could not read the
  // 0600 root-owned PKI files make-pki.sh writes: in tests run as root, stay root. As any other
  // user mosquitto cannot switch and ignores the line.
  if (::geteuid() == 0) return "root";
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return "mosquitto";
}

std::uint16_t bind_any_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

std::uint16_t pick_free_port() {
  // The kernel may hand the port it just gave back again at the next bind: a fixture that picks
  // two (the upload API's and the operations port) got the same one twice and its daemon failed
  // to listen on the second. A port is given out once per process.
  static std::mutex mutex;
  static std::set<std::uint16_t> given;
  const std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::uint16_t port = bind_any_port();
    if (given.insert(port).second) return port;
  }
  throw std::runtime_error("pick_free_port: no port not given out before");
}

bool port_accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string tail(const std::string& text, std::size_t max_chars) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// ---- TempDir ------------------------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string templ = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
  }
  path_ = templ;
}

TempDir::~TempDir() {
  if (std::getenv("SVD_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- TestPki ------------------------------------------------------------------------------------

TestPki::TestPki(PkiOptions options) : options_(std::move(options)), tmp_("svd-pki") {
  dir_ = tmp_.path() / "pki";
  std::vector<std::string> args;
  for (const auto& g : options_.gateways) {
    args.insert(args.end(), {"--gateway", g});
  }
  args.insert(args.end(), {"--hub", options_.hub});
  for (const auto& n : options_.broker_names) {
    args.insert(args.end(), {"--broker-name", n});
  }
  if (options_.no_ip_san) args.emplace_back("--no-ip-san");
  if (options_.other_ca) args.emplace_back("--other-ca");
  for (const auto& s : options_.servers) args.insert(args.end(), {"--server", s});
  run_make_pki(args);
}

fs::path TestPki::client_cert(std::string_view id) const {
  return dir_ / "clients" / (std::string(id) + ".crt");
}

fs::path TestPki::client_key(std::string_view id) const {
  return dir_ / "clients" / (std::string(id) + ".key");
}

fs::path TestPki::server_cert(std::string_view name) const {
  return dir_ / "servers" / (std::string(name) + ".crt");
}

fs::path TestPki::server_key(std::string_view name) const {
  return dir_ / "servers" / (std::string(name) + ".key");
}

void TestPki::revoke(const std::string& id) { run_make_pki({"--revoke", id}); }

void TestPki::run_make_pki(const std::vector<std::string>& args) {
  std::vector<std::string> argv{dir_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output;
  const int rc = svd::testing::run_make_pki(argv, &output);
  if (rc != 0) {
    // The script prints file names and errors only, never key material.
    throw std::runtime_error("make-pki.sh failed (exit code " + std::to_string(rc) + "):\n" +
                             tail(output, 4000));
  }
}

int run_make_pki(const std::vector<std::string>& args, std::string* output) {
  const fs::path script = source_dir() / "deploy" / "pki" / "make-pki.sh";
  std::vector<std::string> argv{"/bin/sh", script.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const test_support::RunResult r = test_support::run(argv, {.timeout = kMakePkiTimeout});
  if (output) *output = r.out + r.err;
  return r.exit_code > 128 ? -1 : r.exit_code;
}

// ---- TestBroker ---------------------------------------------------------------------------------

TestBroker::TestBroker(std::shared_ptr<const TestPki> pki)
    : pki_(std::move(pki)), tmp_("svd-broker") {
  if (!pki_) throw std::invalid_argument("TestBroker needs a PKI");
  config_ = tmp_.path() / "mosquitto.conf";
  log_ = tmp_.path() / "mosquitto.log";
  fs::create_directory(tmp_.path() / "data");
  fs::permissions(tmp_.path() / "data", fs::perms::owner_all, fs::perm_options::replace);
  fs::copy_file(source_dir() / "deploy" / "mosquitto" / "acl", tmp_.path() / "acl");

  // The port is free when picked but could be taken before mosquitto binds it (another test
  // process, an outgoing connection's ephemeral port): then pick another.
  for (int attempt = 0;; ++attempt) {
    port_ = pick_free_port();
    ws_port_ = pick_free_port();
    write_config();
    if (spawn_and_wait_ready()) return;
    if (attempt == 4) throw std::runtime_error("mosquitto could not bind a free port 5 times");
  }
}

TestBroker::TestBroker(PkiOptions options)
    : TestBroker(std::make_shared<const TestPki>(std::move(options))) {}

TestBroker::~TestBroker() {
  try {
    stop();
  } catch (...) {
  }
}

std::string TestBroker::uri(std::string_view host) const {
  return "ssl://" + std::string(host) + ":" + std::to_string(port_);
}

ClientIdentity TestBroker::identity(std::string_view id) const {
  return ClientIdentity{std::string(id), pki_->ca_cert(), pki_->client_cert(id),
                        pki_->client_key(id)};
}

void TestBroker::write_config() {
  const fs::path templ = source_dir() / "deploy" / "mosquitto" / "hub-broker.conf.in";
  std::string conf = read_file(templ);
  if (conf.empty()) throw std::runtime_error("cannot read " + templ.string());
  conf = replace_all(conf, "@PORT@", std::to_string(port_));
  conf = replace_all(conf, "@WS_PORT@", std::to_string(ws_port_));
  conf = replace_all(conf, "@BIND_ADDRESS@", "127.0.0.1");
  conf = replace_all(conf, "@PKI_DIR@", config_safe(pki_->dir()).string());
  conf = replace_all(conf, "@ACL_FILE@", config_safe(tmp_.path() / "acl").string());
  conf = replace_all(conf, "@DATA_DIR@", config_safe(tmp_.path() / "data").string());
  conf = replace_all(conf, "@USER@", current_user_for_config());
  std::smatch left;
  if (std::regex_search(conf, left, std::regex("@[A-Z_]+@"))) {
    throw std::runtime_error("unreplaced placeholder " + left.str() + " in " + templ.string());
  }
  write_file(config_, conf);
}

bool TestBroker::spawn_and_wait_ready() {
  static const fs::path mosquitto =
      test_support::find_program("mosquitto", {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"});
  if (mosquitto.empty()) {
    throw std::runtime_error("mosquitto not found in PATH, /usr/sbin or /usr/local/sbin "
                             "(deploy/install-deps.sh installs it)");
  }
  // If this test process dies without running destructors (crash, ctest timeout), the kernel
  // sends the broker SIGKILL (setpriv --pdeathsig) so no mosquitto outlives its test. setpriv
  // execs mosquitto, so the PID we get is the broker's.
  const auto log_offset = fs::exists(log_) ? fs::file_size(log_) : 0;
  process_ = std::make_unique<test_support::Process>(std::vector<std::string>{mosquitto.string(), "-c", config_.string()},
                                                     log_);
  bool exited = false;
  // "running" is logged once every listener is open: a connectable port alone could be someone
  // else's socket.
  const bool ready = test_support::eventually(
      [&] {
        exited = !process_->running();
        return exited || (read_file(log_).substr(log_offset).find(" running") != std::string::npos &&
                          port_accepts(port_) && port_accepts(ws_port_));
      },
      kWait);
  const std::string out = read_file(log_).substr(log_offset);
  if (exited) {
    const int status = process_->stop();
    process_.reset();
    if (out.find("Address already in use") != std::string::npos) return false;
    throw std::runtime_error("mosquitto exited during start-up (" + test_support::Process::describe(status) +
                             "):\n" + tail(out, 4000));
  }
  if (!ready) {
    stop();
    throw std::runtime_error("mosquitto not accepting connections on 127.0.0.1:" + std::to_string(port_) +
                             " within 10 s:\n" + tail(out, 4000));
  }
  return true;
}

void TestBroker::stop() {
  if (!process_) return;
  process_->stop(kStopGrace);
  process_.reset();
}

void TestBroker::restart() {
  stop();
  if (!spawn_and_wait_ready()) {
    throw std::runtime_error("port " + std::to_string(port_) + " was taken during restart");
  }
}

std::string TestBroker::log() const { return read_file(log_); }

std::size_t TestBroker::log_size() const {
  std::error_code ec;
  const auto size = fs::file_size(log_, ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

bool TestBroker::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout,
                              std::size_t from) const {
  return test_support::eventually(
      [&] {
        const std::string text = read_file(log_);
        return text.size() > from && text.find(needle, from) != std::string::npos;
      },
      timeout);
}

// ---- Paho helpers -------------------------------------------------------------------------------

mqtt::ssl_options make_ssl_options(const ClientIdentity& identity, bool verify_host) {
  mqtt::ssl_options_builder b;
  // trust_store pins the hub's CA (no system CAs); verify(true) makes Paho C check the broker's
  // host name against the certificate (it does not otherwise).
  b.trust_store(identity.ca.string()).enable_server_cert_auth(true).verify(verify_host);
  if (!identity.cert.empty()) {
    b.key_store(identity.cert.string()).private_key(identity.key.string());
  }
  return b.finalize();
}

mqtt::connect_options make_connect_options(const ClientIdentity& identity,
                                           const ClientOptions& options) {
  mqtt::connect_options_builder b;
  b.mqtt_version(options.mqtt_version);
  if (options.mqtt_version >= MQTTVERSION_5) {
    // Paho C refuses cleansession with v5: clean start instead.
    b.clean_session(false).clean_start(options.clean_session);
  } else {
    b.clean_session(options.clean_session);
  }
  b.connect_timeout(options.connect_timeout)
      .keep_alive_interval(std::chrono::seconds(30))
      .automatic_reconnect(false)
      .ssl(make_ssl_options(identity, options.verify_host));
  return b.finalize();
}

std::unique_ptr<mqtt::async_client> make_async_client(const std::string& uri,
                                                       const ClientIdentity& identity,
                                                       const ClientOptions& options) {
  const mqtt::create_options create(options.mqtt_version);
  // No persistence: the gateway's outbox is the only source of truth (docs/forwarding.md, "The outbox").
  return std::make_unique<mqtt::async_client>(uri, identity.client_id, create,
                                              static_cast<mqtt::iclient_persistence*>(nullptr));
}

// ---- TestClient ---------------------------------------------------------------------------------

TestClient::TestClient(std::string uri, ClientIdentity identity, ClientOptions options)
    : identity_(std::move(identity)),
      options_(options),
      client_(make_async_client(uri, identity_, options_)) {
  client_->start_consuming();
}

TestClient::~TestClient() {
  try {
    disconnect();
  } catch (...) {
  }
}

bool TestClient::connect(std::string* error) {
  const auto token = start_connect(error);
  return token && finish_connect(token, error);
}

mqtt::token_ptr TestClient::start_connect(std::string* error) {
  try {
    return client_->connect(make_connect_options(identity_, options_));
  } catch (const mqtt::exception& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}

bool TestClient::finish_connect(const mqtt::token_ptr& token, std::string* error) {
  try {
    if (!token->wait_for(kWait)) {
      if (error) *error = "no CONNACK within 10 s";
      return false;
    }
    connected_version_ = token->get_connect_response().get_mqtt_version();
    return true;
  } catch (const mqtt::exception& e) {
    if (error) *error = e.what();
    return false;
  }
}

mqtt::token_ptr TestClient::start_disconnect() {
  if (!client_->is_connected()) return nullptr;
  try {
    return client_->disconnect();
  } catch (const mqtt::exception&) {
    return nullptr;  // already gone (e.g. the broker was stopped)
  }
}

void TestClient::disconnect() {
  if (const auto token = start_disconnect()) {
    try {
      token->wait_for(kWait);
    } catch (const mqtt::exception&) {
    }
  }
}

bool connect_all(std::initializer_list<TestClient*> clients, std::string* error) {
  std::vector<std::pair<TestClient*, mqtt::token_ptr>> started;
  bool all = true;
  for (TestClient* c : clients) {
    std::string e;
    auto token = c->start_connect(&e);
    if (!token && all) {
      all = false;
      if (error) *error = c->client_id() + ": " + e;
    }
    started.emplace_back(c, std::move(token));
  }
  for (auto& [c, token] : started) {
    std::string e;
    if (token && !c->finish_connect(token, &e) && all) {
      all = false;
      if (error) *error = c->client_id() + ": " + e;
    }
  }
  return all;
}

void disconnect_all(const std::vector<TestClient*>& clients) {
  std::vector<mqtt::token_ptr> tokens;
  for (TestClient* c : clients) {
    if (auto t = c->start_disconnect()) tokens.push_back(std::move(t));
  }
  for (const auto& t : tokens) {
    try {
      t->wait_for(kWait);
    } catch (const mqtt::exception&) {
    }
  }
}

SubscribeResult TestClient::subscribe(const std::string& topic_filter, int qos) {
  SubscribeResult r;
  try {
    auto tok = client_->subscribe(topic_filter, qos);
    if (!tok->wait_for(kWait)) {
      r.error = "no SUBACK within 10 s";
      return r;
    }
    r.completed = true;
    const auto codes = tok->get_subscribe_response().get_reason_codes();
    r.reason_code = codes.empty() ? 0 : static_cast<int>(codes.front());
    r.granted = !codes.empty() && r.reason_code <= 2;
  } catch (const mqtt::exception& e) {
    r.completed = true;
    r.granted = false;
    r.reason_code = e.get_reason_code();
    r.error = e.what();
  }
  return r;
}

PublishResult TestClient::publish(const std::string& topic, const std::string& payload, int qos) {
  PublishResult r;
  try {
    auto tok = client_->publish(mqtt::make_message(topic, payload, qos, false));
    if (!tok->wait_for(kWait)) {
      r.error = "delivery not confirmed within 10 s";
      return r;
    }
    r.completed = true;
    r.ok = true;
    r.reason_code = static_cast<int>(tok->get_reason_code());
  } catch (const mqtt::exception& e) {
    r.completed = true;
    r.ok = false;
    r.return_code = e.get_return_code();
    r.reason_code = e.get_reason_code();
    r.error = e.what();
  }
  return r;
}

mqtt::const_message_ptr TestClient::receive(std::chrono::milliseconds timeout) {
  mqtt::const_message_ptr msg;
  if (!client_->try_consume_message_for(&msg, timeout)) return nullptr;
  return msg;  // nullptr when Paho signalled a lost connection
}

mqtt::const_message_ptr TestClient::try_receive() {
  mqtt::const_message_ptr msg;
  if (!client_->try_consume_message(&msg)) return nullptr;
  return msg;
}

}  // namespace svd::testing
