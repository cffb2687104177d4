#pragma once
// The one way a test waits for something another thread or process does: poll a condition until
// it holds or a generous deadline passes. The short pause between polls here is the only place a
// test sleeps (tests/support/process.h waits for a child's exit with it too). A test that has to
// show something did NOT happen waits for a positive event that proves the system has passed the
// point where it would have happened, then asserts; it never sleeps a fixed time.
//
//   ASSERT_TRUE(eventually([&] { return hub_counts(db).records >= n; })) << logs();
//
// Header-only so any test target can use it without linking.

#include <algorithm>
#include <chrono>
#include <thread>

namespace svd::test_support {

// Long enough for a loaded machine (two cores, sanitizers, other test processes): a wait that
// times out means the thing never happened, not that it was slow.
inline constexpr std::chrono::milliseconds kEventuallyTimeout{30'000};

// True as soon as `condition()` holds; false when it still does not after `timeout`. The
// condition is evaluated at least once, and once more at the deadline.
template <class Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout = kEventuallyTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The poll interval: short at first (most waits end quickly), at most 50 ms.
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        pause, deadline - std::chrono::steady_clock::now() + std::chrono::milliseconds(1)));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace svd::test_support
