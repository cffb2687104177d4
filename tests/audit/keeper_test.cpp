// The audit keeper's timing in simulated time: a checkpoint without the hub's receipt goes out
// again once the receipt timeout has passed on its Clock and not before, and a checkpoint is made
// once `checkpoint_every` has passed with events waiting. A real audit log in a temporary folder;
// the hub is a callback that collects what would be published.

#include "audit/keeper.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/events.h"
#include "crypto/signing_key.h"
#include "tests/support/eventually.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"

namespace svd::audit {
namespace {

using namespace std::chrono_literals;
using test_support::eventually;

class KeeperTest : public ::testing::Test {
 protected:
  void open(std::uint64_t checkpoint_events) {
    ASSERT_TRUE(crypto::generate_signing_key(dir_.path() / "device.key", dir_.path() / "device.pub"));
    auto key = crypto::load_signing_key(dir_.path() / "device.key");
    ASSERT_TRUE(key);
    AuditKeeperOptions o;
    o.state_dir = dir_.path();
    o.partner = "northgate-ed";
    o.device_key = std::move(*key);
    o.checkpoint_events = checkpoint_events;
    o.checkpoint_every = 60min;
    o.receipt_timeout = 120s;
    o.drain_every = 1ms;  // real ticks, fast; the decisions read the FakeClock
    o.clock = &clock_;
    auto keeper = AuditKeeper::open(std::move(o), [this](std::string, std::string payload) {
      std::lock_guard lock(mu_);
      published_.push_back(std::move(payload));
    });
    ASSERT_TRUE(keeper) << keeper.error().message();
    keeper_ = std::move(*keeper);
    record_one();  // as the daemon records its start: the start checkpoint covers it
    keeper_->start();
  }
  void TearDown() override {
    if (keeper_) keeper_->stop({});
  }

  std::size_t published() {
    std::lock_guard lock(mu_);
    return published_.size();
  }
  std::vector<std::string> published_copy() {
    std::lock_guard lock(mu_);
    return published_;
  }
  std::size_t checkpoints() {
    auto reader = AuditReader::open(dir_.path() / "audit.db");
    if (!reader) return 0;
    auto c = (*reader)->checkpoints();
    return c ? c->size() : 0;
  }
  void record_one() { keeper_->record(events::upload_refused("northgate-ed-export", "ed-assaults", 403, "forbidden")); }

  test_support::TempDir dir_;
  test_support::FakeClock clock_;
  std::unique_ptr<AuditKeeper> keeper_;
  std::mutex mu_;
  std::vector<std::string> published_;
};

TEST_F(KeeperTest, AnUnansweredCheckpointGoesOutAgainAfterTheReceiptTimeoutAndNotBefore) {
  open(1);  // a checkpoint after every event: each one marks a tick this test can see
  keeper_->link_changed(true);
  ASSERT_TRUE(eventually([&] { return published() == 1; }));  // the start checkpoint, unanswered

  clock_.advance(119s);
  // Two more events, two more checkpoints: the tick that made the second ran its send() after
  // the first one's tick had finished, all at 119 s. Nothing may have gone out again.
  record_one();
  ASSERT_TRUE(eventually([&] { return checkpoints() >= 2; }));
  record_one();
  ASSERT_TRUE(eventually([&] { return checkpoints() >= 3; }));
  EXPECT_EQ(published(), 1u);

  clock_.advance(1s);  // 120 s: the receipt is late
  ASSERT_TRUE(eventually([&] { return published() >= 2; }));
  const auto sent = published_copy();
  EXPECT_EQ(sent[1], sent[0]) << "the oldest unanswered checkpoint again, not a newer one";
}

TEST_F(KeeperTest, EventsWaitingMakeACheckpointOnceCheckpointEveryHasPassed) {
  open(1000);
  ASSERT_TRUE(eventually([&] { return checkpoints() == 1; }));  // at start
  record_one();
  clock_.advance(60min);
  EXPECT_TRUE(eventually([&] { return checkpoints() == 2; }));
}

}  // namespace
}  // namespace svd::audit
