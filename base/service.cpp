#include "base/service.h"
#include "base/time.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace svd::service {
namespace {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::notice: return "notice";
    case Level::info: return "info";
  }
  return "info";
}

// JOURNAL_STREAM is set by systemd when stderr is connected to the journal (systemd.exec(5)).
bool to_journal() {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return journal;
}

}  // namespace

void log(Level level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 40);
  if (to_journal()) {
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
  } else {
    line += utc_iso(std::chrono::system_clock::now());
    line += ' ';
    line += level_name(level);
    line += ' ';
  }
  // One event, one line: a newline inside a message would let it forge another line.
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log to; nothing better to do
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void notify(const std::string& state) { (void)sd_notify(0, state.c_str()); }

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace svd::service
