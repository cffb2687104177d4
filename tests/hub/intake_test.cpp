#include "hub/intake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/eventually.h"

namespace svd::hub {
namespace {

using test_support::eventually;

mqtt::const_message_ptr message(std::size_t bytes, const std::string& topic = "svd/v1/p/f/batch") {
  return mqtt::make_message(topic, std::string(bytes, 'x'), 1, false);
}

TEST(Intake, APutWaitsForRoomUntilAGroupIsReleased) {
  Intake intake(1000, 800);
  ASSERT_TRUE(intake.put(message(600)));
  ASSERT_TRUE(intake.put(message(400)));  // exactly full
  EXPECT_EQ(intake.pending_bytes(), 1000u);
  std::atomic<bool> done{false};
  std::thread paho([&] {
    EXPECT_TRUE(intake.put(message(100)));
    done = true;
  });
  ASSERT_TRUE(eventually([&] { return intake.waiting_puts() == 1; }));
  EXPECT_FALSE(done);
  EXPECT_EQ(intake.pending_bytes(), 1000u);  // nothing more was let in
  auto group = intake.take(std::chrono::milliseconds(0), 64, 1 << 20);
  ASSERT_EQ(group.size(), 2u);
  // Taken but not yet stored: still counted, so the put still waits.
  EXPECT_EQ(intake.pending_bytes(), 1000u);
  intake.release(group);
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  paho.join();
  EXPECT_EQ(intake.pending_bytes(), 100u);
  EXPECT_EQ(intake.peak_bytes(), 1000u);
}

TEST(Intake, OneBatchAlwaysFitsWhenNothingIsPending) {
  Intake intake(1000, 4000);  // a hub whose budget is below its largest batch: never stuck
  ASSERT_TRUE(intake.put(message(3000)));
  EXPECT_EQ(intake.pending_bytes(), 3000u);
}

TEST(Intake, AnOversizePayloadIsKeptOnlyAsItsTopicAndStart) {
  Intake intake(1 << 20, 100 << 10);
  ASSERT_TRUE(intake.put(message(200 << 10, "svd/v1/p/f/batch")));
  auto group = intake.take(std::chrono::milliseconds(0), 64, 1 << 20);
  ASSERT_EQ(group.size(), 1u);
  EXPECT_EQ(group[0].message, nullptr);
  EXPECT_EQ(group[0].topic, "svd/v1/p/f/batch");
  EXPECT_EQ(group[0].head.size(), 64u << 10);
  EXPECT_EQ(intake.pending_bytes(), 64u << 10);
}

TEST(Intake, TakeStopsAtTheLimitsAndAtALostConnection) {
  Intake intake(1 << 20, 1 << 20);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(intake.put(message(100)));
  intake.connection_lost();
  ASSERT_TRUE(intake.put(message(100)));
  EXPECT_EQ(intake.take(std::chrono::milliseconds(0), 2, 1 << 20).size(), 2u);
  EXPECT_EQ(intake.take(std::chrono::milliseconds(0), 64, 150).size(), 2u);  // the second reaches 150
  auto rest = intake.take(std::chrono::milliseconds(0), 64, 1 << 20);
  ASSERT_EQ(rest.size(), 2u);  // one message, then the loss; the message after it waits
  EXPECT_TRUE(rest.back().lost);
  EXPECT_EQ(intake.take(std::chrono::milliseconds(0), 64, 1 << 20).size(), 1u);
  EXPECT_TRUE(intake.take(std::chrono::milliseconds(0), 64, 1 << 20).empty());
}

TEST(Intake, StopLetsAWaitingPutGo) {
  Intake intake(100, 100);
  ASSERT_TRUE(intake.put(message(100)));
  std::atomic<int> result{-1};
  std::thread paho([&] { result = intake.put(message(50)) ? 1 : 0; });
  ASSERT_TRUE(eventually([&] { return intake.waiting_puts() == 1; }));
  intake.stop();
  paho.join();
  EXPECT_EQ(result, 0);
  EXPECT_EQ(intake.pending_bytes(), 100u);
  EXPECT_FALSE(intake.put(message(1)));
}

}  // namespace
}  // namespace svd::hub
