#include "rabbitmq_fixture.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <signal.h>
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

// The node flushes its queues and message stores on SIGTERM (2-3 s here).
constexpr auto kNodeStopGrace = 20s;
constexpr auto kEpmdStopGrace = 5s;
constexpr auto kEpmdStart = 10s;

fs::path source_dir() { return fs::path(SVD_SOURCE_DIR); }

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content, fs::perms mode = fs::perms::owner_read |
                                                                                  fs::perms::owner_write) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  fs::permissions(path, mode, fs::perm_options::replace);
}

// Refuses what neither config format could hold unquoted (rabbitmq.conf values end at
// whitespace; advanced.config paths sit inside an Erlang string).
const fs::path& config_safe(const fs::path& p) {
  if (p.string().find_first_of(" \t\r\n#\"\\") != std::string::npos) {
    throw std::runtime_error("path unusable in a RabbitMQ config (whitespace, '#', '\"' or '\\'): " + p.string());
  }
  return p;
}

std::string fill(std::string text, const std::vector<std::pair<std::string, std::string>>& values,
                 const fs::path& templ) {
  for (const auto& [key, value] : values) text = replace_all(std::move(text), key, value);
  std::smatch left;
  if (std::regex_search(text, left, std::regex("@[A-Z_]+@"))) {
    throw std::runtime_error("unreplaced placeholder " + left.str() + " in " + templ.string());
  }
  return text;
}

// The first of `candidates` that is executable (the real programs, not /usr/sbin's wrappers that
// switch user), else `name` from $PATH; empty when none.
fs::path find_preferring(std::initializer_list<const char*> candidates, const std::string& name) {
  for (const char* c : candidates) {
    if (::access(c, X_OK) == 0) return c;
  }
  return test_support::find_program(name);
}

// A random Erlang cookie: whoever can read it can run code in the node, so it is the node's own
// (HOME is private to the fixture), never the machine's ~/.erlang.cookie.
std::string random_cookie() {
  std::random_device rd;
  std::uniform_int_distribution<int> letter(0, 25);
  std::string s(32, 'A');
  for (auto& c : s) c = static_cast<char>('A' + letter(rd));
  return s;
}

std::string unique_node_name() {
  static std::atomic<int> counter{0};
  return "svdtest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "@localhost";
}

// Runs argv (bounded) in the environment `env`; exit code, -1 when stopped at the timeout.
test_support::RunResult run_bounded(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                    std::chrono::seconds timeout) {
  auto r = test_support::run(argv, {.timeout = timeout, .env = env});
  if (r.timed_out) r.exit_code = -1;
  return r;
}

}  // namespace

TestRabbitMq::TestRabbitMq(std::shared_ptr<const TestPki> pki, std::vector<std::string> partners)
    : pki_(std::move(pki)), tmp_("svd-rabbitmq"), node_name_(unique_node_name()) {
  if (!pki_) throw std::invalid_argument("TestRabbitMq needs a PKI");
  // Debian's /usr/sbin/rabbitmq-server and rabbitmqctl are wrappers that switch to the rabbitmq
  // user (another HOME, so another cookie); the scripts they wrap run as whoever calls them.
  server_ = find_preferring({"/usr/lib/rabbitmq/bin/rabbitmq-server"}, "rabbitmq-server");
  ctl_ = find_preferring({"/usr/lib/rabbitmq/bin/rabbitmqctl"}, "rabbitmqctl");
  if (server_.empty() || ctl_.empty()) {
    throw std::runtime_error("rabbitmq-server/rabbitmqctl not found in /usr/lib/rabbitmq/bin or PATH "
                             "(deploy/install-deps.sh installs the rabbitmq-server package)");
  }
  write_files(partners);
  // A port is free when picked but may be taken before the node binds it: then pick others.
  for (int attempt = 0;; ++attempt) {
    epmd_port_ = pick_free_port();
    dist_port_ = pick_free_port();
    mqtt_port_ = pick_free_port();
    if (epmd_port_ != dist_port_ && dist_port_ != mqtt_port_ && epmd_port_ != mqtt_port_) {
      write_configs();
      if (start_once()) return;
    }
    if (attempt == 4) throw std::runtime_error("RabbitMQ could not bind free ports 5 times");
  }
}

TestRabbitMq::TestRabbitMq(PkiOptions options)
    : TestRabbitMq(std::make_shared<const TestPki>(options), options.gateways) {}

TestRabbitMq::~TestRabbitMq() {
  try {
    stop();
  } catch (...) {
  }
}

std::string TestRabbitMq::uri(std::string_view host) const {
  return "ssl://" + std::string(host) + ":" + std::to_string(mqtt_port_);
}

ClientIdentity TestRabbitMq::identity(std::string_view id) const {
  return ClientIdentity{std::string(id), pki_->ca_cert(), pki_->client_cert(id), pki_->client_key(id)};
}

void TestRabbitMq::write_files(const std::vector<std::string>& partners) {
  const fs::path& t = tmp_.path();
  for (const char* d : {"home", "mnesia", "log", "crl"}) {
    fs::create_directory(t / d);
    fs::permissions(t / d, fs::perms::owner_all, fs::perm_options::replace);
  }
  write_file(t / "home" / ".erlang.cookie", random_cookie(), fs::perms::owner_read);
  // The system's /etc/rabbitmq/rabbitmq-env.conf must not reach the test node.
  write_file(t / "rabbitmq-env.conf", "");
  fs::copy_file(source_dir() / "deploy" / "rabbitmq" / "enabled_plugins", t / "enabled_plugins");

  // The CRL under its OpenSSL hash name, as a link to the PKI's crl.pem: the node reads it at each
  // handshake, so TestPki::revoke takes effect without a restart.
  const auto openssl = run_bounded({"/usr/bin/openssl", "crl", "-hash", "-noout", "-in", pki_->crl().string()},
                                   {"PATH=/usr/bin:/bin"}, 10s);
  const int rc = openssl.exit_code;
  std::string hash = openssl.out;
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  if (rc != 0 || !std::regex_match(hash, std::regex("[0-9a-f]{8}"))) {
    throw std::runtime_error("openssl crl -hash failed on " + pki_->crl().string() + ": " + hash + openssl.err);
  }
  fs::create_symlink(fs::absolute(pki_->crl()), t / "crl" / (hash + ".r0"));

  // The users and permissions, exactly as an operator would create them.
  std::vector<std::string> argv{"/bin/sh",  (source_dir() / "deploy" / "rabbitmq" / "setup-users.sh").string(),
                                "--vhost",  kVhost,
                                "--hub",    pki_->hub_id(),
                                "--out",    (t / "definitions.json").string()};
  argv.insert(argv.end(), partners.begin(), partners.end());
  std::vector<std::string> env{"PATH=/usr/bin:/bin"};
  if (const auto setup = run_bounded(argv, env, 30s); setup.exit_code != 0) {
    throw std::runtime_error("setup-users.sh failed:\n" + setup.out + setup.err);
  }
}

void TestRabbitMq::write_configs() {
  const fs::path& t = tmp_.path();
  const fs::path conf_in = source_dir() / "deploy" / "rabbitmq" / "rabbitmq.conf.in";
  std::string conf =
      fill(slurp(conf_in),
           {{"@BIND_ADDRESS@", "127.0.0.1"}, {"@PORT@", std::to_string(mqtt_port_)}, {"@VHOST@", kVhost}}, conf_in);
  conf +=
      "\n# ---- Test only (tests/integration/rabbitmq_fixture.cpp): users from setup-users.sh --out, loaded\n"
      "# at boot (one boot, no rabbitmqctl round trips); the log on stdout, which the fixture keeps.\n"
      "load_definitions = " +
      config_safe(t / "definitions.json").string() +
      "\n"
      "log.file = false\n"
      "log.console = true\n"
      "log.console.level = info\n"
      "log.console.use_colors = off\n";
  write_file(t / "rabbitmq.conf", conf);

  const fs::path adv_in = source_dir() / "deploy" / "rabbitmq" / "advanced.config.in";
  write_file(t / "advanced.config",
             fill(slurp(adv_in),
                  {{"@PKI_DIR@", config_safe(fs::absolute(pki_->dir())).string()},
                   {"@CRL_DIR@", config_safe(t / "crl").string()}},
                  adv_in));
}

std::vector<std::string> TestRabbitMq::node_env() const {
  const fs::path& t = tmp_.path();
  std::vector<std::string> env;
  // Keep the caller's environment (PATH, locale) minus anything that would point the node, epmd
  // or the CLI elsewhere.
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (v.starts_with("RABBITMQ_") || v.starts_with("ERL_") || v.starts_with("HOME=") ||
        v.starts_with("NOTIFY_SOCKET=")) {
      continue;
    }
    env.emplace_back(v);
  }
  const std::vector<std::pair<std::string, std::string>> ours{
      {"HOME", (t / "home").string()},
      {"RABBITMQ_CONF_ENV_FILE", (t / "rabbitmq-env.conf").string()},
      {"RABBITMQ_CONFIG_FILE", (t / "rabbitmq.conf").string()},
      {"RABBITMQ_ADVANCED_CONFIG_FILE", (t / "advanced.config").string()},
      {"RABBITMQ_ENABLED_PLUGINS_FILE", (t / "enabled_plugins").string()},
      {"RABBITMQ_MNESIA_BASE", (t / "mnesia").string()},
      {"RABBITMQ_LOG_BASE", (t / "log").string()},
      {"RABBITMQ_PID_FILE", (t / "rabbitmq.pid").string()},
      {"RABBITMQ_NODENAME", node_name_},
      {"RABBITMQ_DIST_PORT", std::to_string(dist_port_)},
      {"ERL_EPMD_PORT", std::to_string(epmd_port_)},
      // Set, the start script execs the Erlang VM instead of running it as a child of a shell
      // that relays signals: the PID we get is then the VM's, and setpriv's --pdeathsig reaches
      // it. -noshell keeps the VM from reading stdin.
      {"RABBITMQ_ALLOW_INPUT", "1"},
      {"RABBITMQ_SERVER_START_ARGS", "-noshell"},
      // Never start an epmd of our own making (a daemon nobody could stop by PID), and keep
      // Erlang distribution on loopback.
      {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"},
      {"RABBITMQ_CTL_ERL_ARGS", "-start_epmd false"},
      {"ERL_CRASH_DUMP", (t / "erl_crash.dump").string()},  // not into the test's working directory
      {"RABBITMQCTL", ctl_.string()},
  };
  for (const auto& [k, v] : ours) env.push_back(k + "=" + v);
  return env;
}

bool TestRabbitMq::start_once() {
  static const fs::path epmd = find_preferring({"/usr/bin/epmd"}, "epmd");
  if (epmd.empty()) throw std::runtime_error("epmd not found (the erlang-base package, a rabbitmq-server dependency)");
  const fs::path& t = tmp_.path();
  const auto env = node_env();

  // epmd first, in the foreground on its own port and on loopback only.
  const fs::path epmd_log = t / "epmd.log";
  epmd_ = std::make_unique<test_support::Process>(
      std::vector<std::string>{epmd.string(), "-port", std::to_string(epmd_port_), "-address", "127.0.0.1"}, epmd_log,
      epmd_log, test_support::ProcessOptions{.env = env});
  bool exited = false;
  const bool listening = test_support::eventually(
      [&] {
        exited = !epmd_->running();
        return exited || port_accepts(epmd_port_);
      },
      kEpmdStart);
  if (exited) {
    epmd_.reset();
    return false;  // most likely the port was taken meanwhile
  }
  if (!listening) {
    stop();
    throw std::runtime_error("epmd not listening on 127.0.0.1:" + std::to_string(epmd_port_) + " within 10 s:\n" +
                             slurp(epmd_log));
  }

  const fs::path log = t / "rabbitmq.log";
  const auto offset = fs::exists(log) ? fs::file_size(log) : 0;
  const auto started = Clock::now();
  node_ = std::make_unique<test_support::Process>(std::vector<std::string>{server_.string()}, log, log,
                                                  test_support::ProcessOptions{.env = env});
  // "Server startup complete" is logged once every plugin (the MQTT listener with it) has started
  // and the definitions are loaded: the same condition `rabbitmqctl await_startup` waits for,
  // without its 1-2 s of CLI start-up per poll.
  const bool ready = test_support::eventually(
      [&] {
        exited = !node_->running();
        return exited || (slurp(log).substr(offset).find("Server startup complete") != std::string::npos &&
                          port_accepts(mqtt_port_));
      },
      kStartTimeout);
  const std::string out = slurp(log).substr(offset);
  if (exited) {
    const int status = node_->stop();
    node_.reset();
    stop();
    if (out.find("eaddrinuse") != std::string::npos) return false;
    throw std::runtime_error("rabbitmq-server exited during start-up (" + test_support::Process::describe(status) +
                             "):\n" + tail(out, 6000));
  }
  if (!ready) {
    stop();
    throw std::runtime_error("RabbitMQ not ready within " + std::to_string(kStartTimeout.count()) + " s:\n" +
                             tail(out, 6000));
  }
  startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return true;
}

void TestRabbitMq::stop() {
  if (node_) node_->stop(kNodeStopGrace);
  node_.reset();
  if (epmd_) epmd_->stop(kEpmdStopGrace);
  epmd_.reset();
}

int TestRabbitMq::run_with_node_env(const std::vector<std::string>& argv, std::string* output,
                                    std::chrono::seconds timeout) const {
  const auto r = run_bounded(argv, node_env(), timeout);
  if (output) *output = r.out + r.err;
  return r.exit_code;
}

int TestRabbitMq::ctl(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv{ctl_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_with_node_env(argv, output);
}

std::string TestRabbitMq::log() const { return slurp(tmp_.path() / "rabbitmq.log"); }

std::size_t TestRabbitMq::log_size() const {
  std::error_code ec;
  const auto size = fs::file_size(tmp_.path() / "rabbitmq.log", ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

bool TestRabbitMq::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from) const {
  return test_support::eventually(
      [&] {
        const std::string text = log();
        return text.size() > from && text.find(needle, from) != std::string::npos;
      },
      timeout);
}

}  // namespace svd::testing
