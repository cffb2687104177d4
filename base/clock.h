#pragma once
// Where time comes from, for code whose logic depends on it (backoff, receipt timeouts, settle
// times, deadlines, checkpoint intervals): the daemon passes Clock::system(), tests a FakeClock
// (tests/support/fake_clock.h) that moves only when told. now() is what is recorded and compared
// with calendars; steady_now() measures intervals and never goes back. Both any thread.

#include <chrono>

namespace svd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;

  // The real clocks; lives for the whole program.
  static const Clock& system();
};

}  // namespace svd
