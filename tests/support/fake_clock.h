#pragma once
// A Clock that moves only when a test says so: simulated time for logic that waits (backoff,
// timeouts, settle times, deadlines). Thread-safe, so the code under test may read it from its
// own thread while the test advances it.

#include <atomic>
#include <chrono>

#include "base/clock.h"

namespace svd::test_support {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::nanoseconds(wall_.load())));
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::nanoseconds(steady_.load())));
  }

  // Moves both clocks forward.
  void advance(std::chrono::nanoseconds d) {
    wall_ += d.count();
    steady_ += d.count();
  }
  // Sets the wall clock (as an operator might), leaving the steady clock alone.
  void set_wall(std::chrono::system_clock::time_point t) {
    wall_ = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

 private:
  // Starts at a fixed instant (2026-11-23T09:00:00Z), so results do not depend on the day.
  std::atomic<long long> wall_{1795424400LL * 1000000000LL};
  std::atomic<long long> steady_{0};
};

}  // namespace svd::test_support
