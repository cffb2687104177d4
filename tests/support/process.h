#pragma once
// The one way a test runs another program (svdgw, svdhub, mosquitto, RabbitMQ, curl, openssl,
// scripts): started by argv with posix_spawn (no shell), stdin from a file or /dev/null, stdout
// and stderr appended to files, waited for with a deadline, and stopped only by the PID it
// started: SIGTERM, a bounded wait, then SIGKILL. Never by name.
//
//   Process daemon({SVD_SVDGW, "run", "--config", cfg}, dir / "svdgw.log");   // a daemon
//   daemon.signal(SIGHUP);  ...  EXPECT_EQ(daemon.stop(), 0);
//   const RunResult r = run({SVD_SVDGW, "keys", "generate", "--out", key});     // a command
//   EXPECT_EQ(r.exit_code, 0) << r.err;
//
// If the test process dies without running destructors (a crash, a ctest timeout), the kernel
// sends the child SIGKILL (`setpriv --pdeathsig KILL`, when setpriv exists; it execs the program,
// so the PID is the program's). Header-only so any test target can use it without linking.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tests/support/eventually.h"

extern char** environ;

namespace svd::test_support {

// `name` from $PATH, else the first of `fallbacks` that is executable; empty when none.
inline std::filesystem::path find_program(const std::string& name, std::initializer_list<const char*> fallbacks = {}) {
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view dir = rest.substr(0, colon);
      if (!dir.empty()) {
        const std::filesystem::path candidate = std::filesystem::path(std::string(dir)) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  for (const char* f : fallbacks)
    if (::access(f, X_OK) == 0) return f;
  return {};
}

// This process's environment, minus every variable whose name starts with one of `drop`, plus
// `add` ("NAME=value" each).
inline std::vector<std::string> environment_with(const std::vector<std::string>& add,
                                                 std::initializer_list<std::string_view> drop = {}) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view v(*e);
    bool keep = true;
    for (const auto d : drop) keep = keep && v.substr(0, d.size()) != d;
    for (const auto& a : add) keep = keep && v.substr(0, a.find('=') + 1) != std::string_view(a).substr(0, a.find('=') + 1);
    if (keep) env.emplace_back(v);
  }
  env.insert(env.end(), add.begin(), add.end());
  return env;
}

struct ProcessOptions {
  std::filesystem::path in{};  // stdin; empty: /dev/null
  // The environment ("NAME=value" each); nullopt: this process's.
  std::optional<std::vector<std::string>> env{};
  // SIGKILL from the kernel when the test process dies first (see above).
  bool die_with_test = true;
};

class Process {
 public:
  // Starts argv[0] (a path, or a name looked up with find_program()) with stdout appended to `out` and stderr
  // to `err` (both created 0600; `err` empty or equal to `out`: one file for both). Throws
  // std::system_error when it cannot start.
  Process(std::vector<std::string> argv, const std::filesystem::path& out, const std::filesystem::path& err = {},
          const ProcessOptions& options = {}) {
    if (argv.empty()) throw std::invalid_argument("Process: empty argv");
    if (argv[0].find('/') == std::string::npos) {
      const std::filesystem::path found = find_program(argv[0]);
      if (found.empty()) throw std::system_error(ENOENT, std::generic_category(), argv[0] + " not found in PATH");
      argv[0] = found.string();
    }
    if (options.die_with_test) {
      static const std::filesystem::path setpriv = find_program("setpriv", {"/usr/bin/setpriv", "/bin/setpriv"});
      if (!setpriv.empty()) argv.insert(argv.begin(), {setpriv.string(), "--pdeathsig", "KILL", "--"});
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<char*> envp;
    if (options.env) {
      for (const auto& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, options.in.empty() ? "/dev/null" : options.in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (err.empty() || err == out)
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    else
      posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), options.env ? envp.data() : environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { stop(); }

  pid_t pid() const { return pid_; }
  // Whether it still runs (reaps it when it has exited).
  bool running() { return !exited(); }

  // The exit status once it has exited within `timeout` (the exit code, or 128 + n when killed by
  // signal n), nullopt while it still runs.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (!exited() && timeout.count() > 0) eventually([this] { return exited(); }, timeout);
    return status_;
  }
  // Sends `sig` to the PID started, while it runs.
  void signal(int sig) {
    if (!exited()) ::kill(pid_, sig);
  }
  // SIGTERM, up to `grace` for it to exit, then SIGKILL; returns the exit status. Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    if (exited()) return *status_;
    ::kill(pid_, SIGCONT);  // a stopped child cannot act on SIGTERM
    ::kill(pid_, SIGTERM);
    if (auto s = wait(grace)) return *s;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = decode(st);
    return *status_;
  }

  // "exit code 1", "killed by signal 9".
  static std::string describe(int status) {
    return status > 128 ? "killed by signal " + std::to_string(status - 128) : "exit code " + std::to_string(status);
  }

 private:
  static int decode(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
  }
  // Non-blocking reap.
  bool exited() {
    if (status_) return true;
    if (pid_ <= 0) {
      status_ = -1;
      return true;
    }
    int st = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = decode(st);
        return true;
      }
      if (r == 0) return false;
      if (errno == EINTR) continue;
      status_ = -1;  // ECHILD: not ours to wait for
      return true;
    }
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline std::string read_output(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RunResult {
  int exit_code = -1;  // the exit code, 128 + n when killed by signal n; -1 when it timed out
  std::string out, err;
  bool timed_out = false;
};

struct RunOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};  // then stopped (SIGTERM, SIGKILL)
  std::filesystem::path in{};                                    // stdin; empty: /dev/null
  std::optional<std::vector<std::string>> env{};                 // nullopt: this process's
  // Where the captured output goes (kept for a look after a failure); empty: a temporary
  // directory, removed afterwards.
  std::filesystem::path output_dir{};
};

// Runs argv to completion (bounded by options.timeout) and returns its exit code, stdout and
// stderr.
inline RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  namespace fs = std::filesystem;
  static std::atomic<int> runs{0};
  fs::path dir = options.output_dir;
  bool temporary = false;
  if (dir.empty()) {
    std::string templ = (fs::temp_directory_path() / "svd-run-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir = templ;
    temporary = true;
  }
  const std::string tag = "run-" + std::to_string(::getpid()) + "-" + std::to_string(++runs);
  const fs::path out = dir / (tag + ".out"), err = dir / (tag + ".err");
  RunResult r;
  {
    Process p(argv, out, err, {.in = options.in, .env = options.env});
    if (auto s = p.wait(options.timeout)) {
      r.exit_code = *s;
    } else {
      r.timed_out = true;
      p.stop(std::chrono::seconds(2));
    }
  }
  r.out = read_output(out);
  r.err = read_output(err);
  std::error_code ec;
  if (temporary)
    fs::remove_all(dir, ec);
  else {
    fs::remove(out, ec);
    fs::remove(err, ec);
  }
  if (r.timed_out) r.err += "\n[test: stopped after " + std::to_string(options.timeout.count()) + " ms]\n";
  return r;
}

// The words of `command` as a POSIX shell would split them, for tests that spell a command line
// as one string: blanks separate words; '...' and "..." quote (no expansion inside; a backslash
// escapes only a double quote or a backslash in double quotes); a backslash outside quotes
// escapes the next character. Anything else a shell
// would act on ($ ` | & ; < > ( ) * ? [ ~ #) is refused rather than passed on literally.
inline std::vector<std::string> split_words(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::exchange(word, {}));
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const auto end = command.find('\'', i + 1);
      if (end == std::string_view::npos) throw std::invalid_argument("unterminated ' in: " + std::string(command));
      word.append(command.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= command.size()) throw std::invalid_argument("unterminated \" in: " + std::string(command));
        if (command[i] == '"') break;
        if (command[i] == '$' || command[i] == '`')
          throw std::invalid_argument("no expansion here: " + std::string(command));
        if (command[i] == '\\' && i + 1 < command.size() && (command[i + 1] == '"' || command[i + 1] == '\\')) ++i;
        word += command[i];
      }
    } else if (c == '\\') {
      if (++i >= command.size()) throw std::invalid_argument("trailing \\ in: " + std::string(command));
      word += command[i];
    } else if (std::string_view("$`|&;<>()*?[~#").find(c) != std::string_view::npos) {
      throw std::invalid_argument(std::string("shell syntax '") + c + "' is not run by a shell here: " +
                                  std::string(command));
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace svd::test_support
