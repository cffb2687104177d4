#pragma once
// Starting and stopping the processes an integration test owns (brokers, epmd, scripts), by the
// PID it started and never by name, with bounded waits. Used by the broker fixtures.

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include <sys/types.h>

namespace svd::testing {

// `name` from $PATH, else the first of `fallbacks` that is executable; empty when none.
std::filesystem::path find_program(const std::string& name, std::initializer_list<const char*> fallbacks);

// posix_spawn(argv) with stdin from /dev/null and stdout+stderr appended to `log` (0600), in the
// environment `env` (nullptr: this process's). With `die_with_test` (and setpriv on the machine)
// the kernel sends it SIGKILL if the test process dies first; setpriv execs the program, so the
// PID returned is the program's. Throws std::system_error when it cannot start.
pid_t spawn(std::vector<std::string> argv, const std::filesystem::path& log,
            const std::vector<std::string>* env = nullptr, bool die_with_test = false);

// Non-blocking reap: true (and *status) when `pid` has exited.
bool reaped(pid_t pid, int* status);
// Waits at most `timeout` for `pid` to exit; true with *status when it did.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status);
// SIGTERM, at most `grace` for it to exit, then SIGKILL; reaped either way.
void terminate(pid_t pid, std::chrono::milliseconds grace);
// "exit code 1", "signal 9".
std::string describe_status(int status);

// Test output helpers: the last `max_chars` of a log; every `from` in `text` replaced.
std::string tail(const std::string& text, std::size_t max_chars);
std::string replace_all(std::string text, const std::string& from, const std::string& to);

}  // namespace svd::testing
