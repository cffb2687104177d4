#pragma once
// A real PostgreSQL server (15, Debian's) for one test, in a temporary directory of its own and
// on loopback only: initdb with SCRAM passwords and a random superuser password, then `postgres`
// as a child process on a free 127.0.0.1 port, its Unix socket in the temporary directory. It
// neither uses nor disturbs a cluster the distribution runs (5432, /var/run/postgresql).
//
//   PostgresServer pg;                                   // initdb + start; throws when it cannot
//   pg.create_database("hub");
//   auto conn = pg::Connection::open({pg.conninfo("hub"), pg.password_file(), "test"});
//   pg.stop();  ...  pg.start();                          // same data, same port
//   pg.kill();  ...  pg.start();                          // a crash, then crash recovery
//
// A test executable whose tests all need a server shares one (use_shared_server() below): a
// server start (initdb included) takes seconds, a database milliseconds.
//
// initdb and postgres refuse to run as root. When the test runs as root (CI), both run as
// `nobody` through `setpriv --reuid --regid --clear-groups` (which execs, so the PID kept is
// the server's), and the temporary directory is chown'ed to it; otherwise they run as we are.
// The server is started with process.h and stopped by the PID it started (kill() also ends the
// processes that PID started, found by their parent PID). Every wait is on state (the server's
// postmaster.pid, a libpq ping, /proc), bounded by eventually()'s timeout.
//
// Tests that include this link libpq (PkgConfig::LIBPQ). Errors throw std::runtime_error with the
// server's log; nothing here prints a password.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::test_support {

class PostgresServer {
 public:
  explicit PostgresServer(std::string superuser = "svd_super") : superuser_(std::move(superuser)) {
    namespace fs = std::filesystem;
    bindir_ = find_bindir();
    if (::geteuid() == 0) {
      // `nobody` owns nothing else on the machine, so the server can touch nothing but its
      // directory. 65534 where the name is missing (minimal images).
      const passwd* pw = ::getpwnam("nobody");
      run_as_ = {pw ? pw->pw_uid : 65534, pw ? pw->pw_gid : 65534};
      setpriv_ = find_program("setpriv", {"/usr/bin/setpriv", "/bin/setpriv"});
      if (setpriv_.empty()) throw std::runtime_error("PostgresServer: running as root needs setpriv (util-linux)");
      require_traversable(dir_.path());
    }
    fs::create_directory(socket_dir());
    password_file_ = dir_ / "superuser.password";
    write_private(password_file_, random_password() + "\n");
    if (run_as_) {
      for (const fs::path& p : {dir_.path(), socket_dir(), password_file_})
        if (::chown(p.c_str(), run_as_->uid, run_as_->gid) != 0)
          throw std::system_error(errno, std::generic_category(), "PostgresServer: chown " + p.string());
    }
    // --no-sync: like fsync=off below, the cluster is thrown away after the test.
    // --locale=C: English server messages, which libpq's connect errors are classified by.
    const RunResult init = run(as_server({(bindir_ / "initdb").string(), "-D", data_dir().string(), "-U", superuser_,
                                          "--pwfile=" + password_file_.string(), "--auth=scram-sha-256",
                                          "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"}),
                               {.env = server_environment()});
    if (init.exit_code != 0)
      throw std::runtime_error("PostgresServer: initdb failed (" + Process::describe(init.exit_code) + "):\n" +
                               init.out + init.err);
    port_ = free_port();
    first_start_ = true;
    start();
    first_start_ = false;
  }
  ~PostgresServer() {
    try {
      stop();
    } catch (...) {  // a destructor must not throw; the directory goes anyway
    }
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  const std::string& superuser() const { return superuser_; }
  // The superuser's password, one line (libpq's password file form as pg::Connection reads it).
  const std::filesystem::path& password_file() const { return password_file_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The postmaster's PID, -1 when stopped.
  pid_t pid() const { return server_ ? server_->pid() : -1; }
  bool running() { return server_ && server_->running(); }
  std::string log() const { return read_output(dir_ / "postgres.log"); }

  // "host=127.0.0.1 port=... user=... dbname=... sslmode=disable": no password in it.
  std::string conninfo(const std::string& dbname = "postgres", const std::string& user = {}) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=" + conninfo_value(user.empty() ? superuser_ : user) + " dbname=" + conninfo_value(dbname) +
           " sslmode=disable";
  }

  // Starts the server on the data directory and port it had; returns once it accepts
  // connections. A no-op while it runs. The first start moves to another free port if one
  // taken meanwhile is refused; a restart keeps the port (clients reconnect to it).
  void start() {
    if (running()) return;
    const auto deadline = std::chrono::steady_clock::now() + kEventuallyTimeout;
    for (;;) {
      const std::size_t log_from = log().size();
      // fsync=off: the data directory lives only as long as the test, and what the tests
      // stop or kill is the server, not the machine: committed data is in the page cache and
      // survives a killed server just the same. It saves seconds per test on a loaded disk.
      server_ = std::make_unique<Process>(
          as_server({(bindir_ / "postgres").string(), "-D", data_dir().string(), "-p", std::to_string(port_), "-c",
                     "listen_addresses=127.0.0.1", "-k", socket_dir().string(), "-c", "fsync=off"}),
          dir_ / "postgres.log", std::filesystem::path{}, ProcessOptions{.env = server_environment()});
      eventually([&] { return ready() || !server_->running(); },
                 std::max<std::chrono::milliseconds>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
                     std::chrono::milliseconds(1)));
      if (ready()) return;
      const bool exited = !server_->running();
      const std::string why = log().substr(log_from);
      // Another process took the port between free_port() and the bind: another port, if no
      // client knows this one yet.
      const bool port_taken = why.find("could not bind") != std::string::npos ||
                              why.find("could not create any TCP/IP sockets") != std::string::npos;
      // Backends of a killed server still hold its shared memory for the moment they take to
      // notice their postmaster is gone.
      const bool old_server_leaving = why.find("pre-existing shared memory block") != std::string::npos ||
                                      why.find("lock file") != std::string::npos;
      if (exited && std::chrono::steady_clock::now() < deadline &&
          ((port_taken && first_start_) || old_server_leaving)) {
        if (port_taken) port_ = free_port();
        continue;
      }
      server_->stop();
      server_.reset();
      throw std::runtime_error(std::string("PostgresServer: the server ") +
                               (exited ? "exited" : "did not accept connections in time") + ":\n" + tail(why));
    }
  }

  // Fast shutdown (SIGINT: sessions are ended, then a checkpoint), bounded; SIGKILL if it does
  // not end. SIGTERM would be postgres's "smart" shutdown, which waits for every client to
  // disconnect. Returns the exit status (0 after a clean shutdown); 0 when not running.
  int stop() {
    if (!server_) return 0;
    server_->signal(SIGINT);
    const std::optional<int> status = server_->wait(kEventuallyTimeout);
    const int result = status ? *status : server_->stop(std::chrono::seconds(1));
    server_.reset();
    return result;
  }

  // The whole server dies at once, as in a crash or an out-of-memory kill of its cgroup:
  // SIGKILL to the postmaster and to every process it started, and returns once none of them
  // runs, so that no session survives it. (Killing the postmaster alone leaves each backend
  // answering its client until it notices, which is a race, not a test.) The next start() runs
  // crash recovery.
  void kill() {
    if (!server_) return;
    const pid_t postmaster = server_->pid();
    server_->signal(SIGSTOP);  // it starts no backend while we look for them
    const std::vector<pid_t> children = children_of(postmaster);
    for (const pid_t child : children) ::kill(child, SIGKILL);
    server_->signal(SIGKILL);
    server_->wait(kEventuallyTimeout);
    server_.reset();
    // Orphans are reaped by init; where init does not reap (some containers), they stay zombies.
    const bool all_gone = eventually([&] {
      return std::all_of(children.begin(), children.end(), [](pid_t p) { return !process_runs(p); });
    });
    if (!all_gone) throw std::runtime_error("PostgresServer: the killed server's processes did not end");
  }

  // --- SQL as the superuser, over libpq (no psql) ---------------------------------------

  void create_database(const std::string& name) { execute("CREATE DATABASE " + quote_name(name)); }

  // Creates a role that can log in, with a random password, and returns the file holding it.
  // `attributes` are more role options ("CREATEDB", "NOINHERIT", ...). The password reaches the
  // server only as its SCRAM verifier, so no statement or log line holds it.
  std::filesystem::path create_role(const std::string& name, const std::string& attributes = {}) {
    const std::string password = random_password();
    Conn c = connect_superuser("postgres");
    std::unique_ptr<char, decltype(&PQfreemem)> verifier(
        PQencryptPasswordConn(c.get(), password.c_str(), name.c_str(), "scram-sha-256"), &PQfreemem);
    if (!verifier) throw std::runtime_error("PostgresServer: PQencryptPasswordConn failed");
    run_sql(c.get(), "CREATE ROLE " + quote_name(name) + " LOGIN " + attributes + " PASSWORD '" + verifier.get() + "'");
    const std::filesystem::path file = dir_ / (name + ".password");
    write_private(file, password + "\n");
    return file;
  }

  // Runs `sql` (one or more statements) in `dbname`; throws when the server refuses it.
  void execute(const std::string& sql, const std::string& dbname = "postgres") {
    Conn c = connect_superuser(dbname);
    run_sql(c.get(), sql);
  }

  // The first column of the first row, nullopt for NULL; throws when there is no row.
  std::optional<std::string> query_value(const std::string& sql, const std::string& dbname = "postgres") {
    Conn c = connect_superuser(dbname);
    Res r = run_sql(c.get(), sql);
    if (PQntuples(r.get()) < 1 || PQnfields(r.get()) < 1)
      throw std::runtime_error("PostgresServer: no row from a query");
    if (PQgetisnull(r.get(), 0, 0)) return std::nullopt;
    return std::string(PQgetvalue(r.get(), 0, 0), static_cast<std::size_t>(PQgetlength(r.get(), 0, 0)));
  }

 private:
  struct Ids {
    uid_t uid;
    gid_t gid;
  };
  using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
  using Res = std::unique_ptr<PGresult, decltype(&PQclear)>;

  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path socket_dir() const { return dir_ / "sock"; }

  // pg_config's bindir when it holds the server (pg_config comes with libpq-dev, the server
  // with postgresql-15), else Debian's path.
  static std::filesystem::path find_bindir() {
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    if (const fs::path pg_config = find_program("pg_config"); !pg_config.empty()) {
      const RunResult r = run({pg_config.string(), "--bindir"}, {.timeout = std::chrono::seconds(30)});
      std::string dir = r.out;
      while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
      if (r.exit_code == 0 && !dir.empty()) candidates.emplace_back(dir);
    }
    candidates.emplace_back("/usr/lib/postgresql/15/bin");
    for (const fs::path& d : candidates)
      if (::access((d / "initdb").c_str(), X_OK) == 0 && ::access((d / "postgres").c_str(), X_OK) == 0) return d;
    throw std::runtime_error("PostgresServer: no initdb and postgres (pg_config --bindir, /usr/lib/postgresql/15/bin); "
                             "install postgresql-15");
  }

  // `nobody` must reach the directory: every directory above it must let others through.
  static void require_traversable(const std::filesystem::path& dir) {
    for (std::filesystem::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        throw std::runtime_error("PostgresServer: " + p.string() +
                                 " is not searchable by others, so the server's user cannot reach its directory; "
                                 "set TMPDIR to a directory that is (e.g. /tmp)");
      if (p == p.root_path()) break;
    }
  }

  // argv as the server's user: through setpriv when we are root. --pdeathsig here, after the
  // uid change, because the kernel clears the parent-death signal when the uid changes, so the
  // one process.h sets before this setpriv runs would be lost.
  std::vector<std::string> as_server(std::vector<std::string> argv) const {
    if (!run_as_) return argv;
    std::vector<std::string> wrapped{setpriv_.string(), "--reuid=" + std::to_string(run_as_->uid),
                                     "--regid=" + std::to_string(run_as_->gid), "--clear-groups", "--pdeathsig",
                                     "KILL", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }

  // The C locale (English messages) and none of the caller's PG* variables (PGDATA, PGPORT...).
  static std::vector<std::string> server_environment() {
    return environment_with({"LC_ALL=C", "LANG=C"}, {"PG", "LC_", "LANG"});
  }

  // Ready when our postmaster wrote "ready" in postmaster.pid (so it is ours that listens, not
  // a stranger on the port) and a libpq ping on the port gets an answer.
  bool ready() {
    if (!server_ || !server_->running()) return false;
    std::ifstream in(data_dir() / "postmaster.pid");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.size() < 8 || lines[0] != std::to_string(server_->pid()) || lines[7].find("ready") != 0) return false;
    const std::string port = std::to_string(port_);
    const char* keys[] = {"host", "port", "dbname", "connect_timeout", "sslmode", nullptr};
    const char* values[] = {"127.0.0.1", port.c_str(), "postgres", "5", "disable", nullptr};
    return PQpingParams(keys, values, 0) == PQPING_OK;
  }

  // The state letter of /proc/<pid>/stat, which follows the command name in parentheses (a name
  // that may itself hold spaces and parentheses); 0 when there is no such process.
  static char process_state(pid_t pid, pid_t* parent = nullptr) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return 0;
    if (parent) *parent = static_cast<pid_t>(std::atol(stat.c_str() + close + 4));
    return stat[close + 2];
  }
  static bool process_runs(pid_t pid) {
    const char state = process_state(pid);
    return state != 0 && state != 'Z' && state != 'X';
  }
  static std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      const auto pid = static_cast<pid_t>(std::atol(name.c_str()));
      pid_t ppid = 0;
      if (process_state(pid, &ppid) != 0 && ppid == parent) out.push_back(pid);
    }
    return out;
  }

  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "PostgresServer: socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) throw std::system_error(err, std::generic_category(), "PostgresServer: bind 127.0.0.1:0");
    return ntohs(addr.sin_port);
  }

  static std::string random_password() {
    std::ifstream in("/dev/urandom", std::ios::binary);
    unsigned char bytes[18];
    if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes))
      throw std::runtime_error("PostgresServer: cannot read /dev/urandom");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : bytes) {
      out += hex[b >> 4];
      out += hex[b & 15];
    }
    return out;
  }

  static void write_private(const std::filesystem::path& file, const std::string& text) {
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out) throw std::runtime_error("PostgresServer: cannot write " + file.string());
    }
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }

  static std::string conninfo_value(const std::string& v) {
    std::string out = "'";
    for (const char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  }

  static std::string quote_name(const std::string& name) {
    std::string out = "\"";
    for (const char c : name) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }

  static std::string tail(const std::string& text, std::size_t n = 4000) {
    return text.size() > n ? "..." + text.substr(text.size() - n) : text;
  }

  static void ignore_notice(void*, const char*) {}

  Conn connect_superuser(const std::string& dbname) const {
    std::string password;
    {
      std::ifstream in(password_file_);
      std::getline(in, password);
    }
    const std::string port = std::to_string(port_);
    const char* keys[] = {"host", "port", "user", "dbname", "password", "sslmode", "connect_timeout", "client_encoding",
                          nullptr};
    const char* values[] = {"127.0.0.1", port.c_str(), superuser_.c_str(), dbname.c_str(), password.c_str(),
                            "disable",   "10",         "UTF8",            nullptr};
    Conn c(PQconnectdbParams(keys, values, 0), &PQfinish);
    if (!c || PQstatus(c.get()) != CONNECTION_OK)
      throw std::runtime_error(std::string("PostgresServer: cannot connect as the superuser: ") +
                               (c ? PQerrorMessage(c.get()) : "out of memory"));
    PQsetNoticeProcessor(c.get(), &ignore_notice, nullptr);
    return c;
  }

  // Throws with the SQLSTATE and the server's primary message; not for a data error (class 22),
  // whose message may quote a value.
  static Res run_sql(PGconn* c, const std::string& sql) {
    Res r(PQexec(c, sql.c_str()), &PQclear);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const std::string code = state ? state : "";
    throw std::runtime_error("PostgresServer: SQL refused, SQLSTATE " + (code.empty() ? "none" : code) +
                             (code.rfind("22", 0) == 0 ? std::string()
                                                       : ": " + std::string(primary ? primary : PQerrorMessage(c))));
  }

  // The directory first, so that it is removed after the server has stopped.
  TempDir dir_{"svd-pg"};
  std::string superuser_;
  std::filesystem::path bindir_;
  std::filesystem::path setpriv_;
  std::optional<Ids> run_as_;
  std::filesystem::path password_file_;
  int port_ = 0;
  bool first_start_ = false;
  std::unique_ptr<Process> server_;
};

// --- One server for a whole test executable ---------------------------------------------------

// Started before the first test and stopped after the last; each test works in a database of its
// own, and a test that stops or kills the server starts it again before it ends. A server that
// cannot start fails the set-up, and no test runs.
class SharedServerEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      server_ = std::make_unique<PostgresServer>();
      current() = server_.get();
    } catch (const std::exception& e) {
      FAIL() << "cannot start PostgreSQL: " << e.what();
    }
  }
  void TearDown() override {
    current() = nullptr;
    server_.reset();
  }
  static PostgresServer*& current() {
    static PostgresServer* server = nullptr;
    return server;
  }

 private:
  std::unique_ptr<PostgresServer> server_;
};

// Registers the shared server with GoogleTest, once however often it is called. Call it at
// namespace scope, so that it runs before RUN_ALL_TESTS:
//   [[maybe_unused]] ::testing::Environment* const g_environment = test_support::use_shared_server();
inline ::testing::Environment* use_shared_server() {
  static ::testing::Environment* const environment = ::testing::AddGlobalTestEnvironment(new SharedServerEnvironment);
  return environment;
}

// The shared server while the tests run; null before the first and after the last, and when it
// could not start.
inline PostgresServer* shared_server() { return SharedServerEnvironment::current(); }

// The first line of `file`, without its newline: a password file's password, which a test looks
// for in messages and logs to show that it is not there.
inline std::string read_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace svd::test_support
