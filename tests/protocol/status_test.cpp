#include "protocol/status.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/envelope.h"

namespace svd::protocol {
namespace {

TEST(GatewayStatus, RoundTripOnlineAndTheLastWill) {
  GatewayStatus online{true, "0.1.0", 3, 1200, 1, "2026-12-07T09:00:00Z"};
  const std::string json = to_json(online);
  EXPECT_EQ(json,
            R"({"state":"online","version":"0.1.0","queued_batches":3,"unacknowledged_records":1200,)"
            R"("rejected_batches":1,"time":"2026-12-07T09:00:00Z"})");
  auto back = parse_status(json);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->online);
  EXPECT_EQ(back->queued_batches, 3u);
  EXPECT_EQ(back->unacknowledged_records, 1200u);
  EXPECT_EQ(back->rejected_batches, 1u);
  EXPECT_EQ(back->time, "2026-12-07T09:00:00Z");

  const std::string will = to_json(GatewayStatus{false, "0.1.0", {}, {}, {}, ""});
  EXPECT_EQ(will, R"({"state":"offline","version":"0.1.0"})");
  auto dead = parse_status(will);
  ASSERT_TRUE(dead);
  EXPECT_FALSE(dead->online);
  EXPECT_FALSE(dead->queued_batches);
  EXPECT_EQ(dead->time, "");
  // A newer gateway may say more.
  EXPECT_TRUE(parse_status(R"({"state":"online","version":"9","uptime_seconds":5})"));
}

TEST(GatewayStatus, WhatAPeerSendsIsCheckedAndBounded) {
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), std::string(R"({"version":"1"})"),
        std::string(R"({"state":"busy","version":"1"})"), std::string(R"({"state":"online"})"),
        std::string(R"({"state":"online","version":"a\nb"})"),
        std::string(R"({"state":"online","version":")") + std::string(65, 'v') + "\"}",
        std::string(R"({"state":"online","version":"1","queued_batches":-1})"),
        std::string(R"({"state":"online","version":"1","queued_batches":1.5})"),
        std::string(R"({"state":"online","version":"1","time":"yesterday"})"),
        std::string(R"({"state":"online","version":"1","pad":")") + std::string(kMaxStatusBytes, ' ') + "\"}"}) {
    SCOPED_TRACE(bad.substr(0, 80));
    EXPECT_EQ(parse_status(bad).error(), errc::bad_envelope);
  }
}

TEST(GatewayStatus, Topic) {
  std::string partner;
  EXPECT_TRUE(parse_status_topic(status_topic("northgate-ed"), partner));
  EXPECT_EQ(partner, "northgate-ed");
  for (const char* bad : {"svd/v1//status", "svd/v1/a/b/status", "svd/v1/A/status", "svd/v1/a/audit", "svd/v2/a/status"})
    EXPECT_FALSE(parse_status_topic(bad, partner)) << bad;
}

}  // namespace
}  // namespace svd::protocol
