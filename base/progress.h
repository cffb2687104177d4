#pragma once
// A one-line progress bar on stderr for the command-line tools (process, forward, submit).
// Drawn on a terminal only: a data team watching a large extract wants to see it move; a cron
// job's log wants none of it. Never shows content or file names, only byte and row counts.
// Thread-safety: none; one object per bar, updated from one thread.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace svd {

class Progress {
 public:
  Progress(std::uint64_t total_bytes, bool enabled) : total_(total_bytes), enabled_(enabled) {}

  // True when stderr is a terminal, i.e. when a bar is wanted unless the user asked for quiet.
  static bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

  // Redraws at most five times a second; the final call always draws and ends the line (also
  // when an upload stops half way, so the next message starts on a line of its own). `rows` is
  // shown when the caller counts rows (the pipeline does, an upload does not).
  void update(std::uint64_t bytes, std::optional<std::uint64_t> rows, bool final_call) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final_call && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double pct = total_ ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_) : 100.0;
    std::fprintf(stderr, "\r  %.1f / %.1f MiB (%3.0f %%)", static_cast<double>(bytes) / 1048576.0,
                 static_cast<double>(total_) / 1048576.0, pct);
    if (rows) std::fprintf(stderr, "  %llu rows", static_cast<unsigned long long>(*rows));
    std::fputs("   ", stderr);
    if (final_call) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace svd
