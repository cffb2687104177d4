#include "hub/status_handler.h"

#include <gtest/gtest.h>

#include "hub/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

constexpr const char* kTopic = "svd/v1/northgate-ed/status";
constexpr std::int64_t kNow = 1794908800;  // 2026-11-17T09:46:40Z

class StatusHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    handler_.reset();
    store_.reset();
    auto s = SqliteStore::open(tmp_.path() / "hub.db", {});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    config::HubReceiverConfig config;
    config.partners.emplace_back().id = "northgate-ed";
    handler_ = std::make_unique<StatusHandler>(*store_, config);
  }

  static std::string online(const std::string& time, std::uint64_t queued) {
    return protocol::to_json({.online = true, .version = "0.9.0", .queued_batches = queued,
                              .unacknowledged_records = queued * 10, .rejected_batches = 0, .time = time});
  }
  static std::string last_will() {
    protocol::GatewayStatus s;
    s.version = "0.9.0";
    return protocol::to_json(s);
  }

  test_support::TempDir tmp_{"svd-status"};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<StatusHandler> handler_;
};

TEST_F(StatusHandlerTest, RecordsEachStatusAndLogsOnlyWhenTheGatewayComesOrGoes) {
  EXPECT_EQ(handler_->handle(kTopic, online("2026-11-17T09:46:00Z", 3), kNow),
            "gateway northgate-ed: online, 3 batch(es) queued, svdgw 0.9.0");
  // Every minute the same: recorded, not logged.
  EXPECT_EQ(handler_->handle(kTopic, online("2026-11-17T09:47:00Z", 0), kNow + 60), "");
  auto states = store_->gateway_states();
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  EXPECT_TRUE((*states)[0].online);
  EXPECT_EQ((*states)[0].queued_batches, 0u);
  EXPECT_EQ((*states)[0].last_online_at, kNow - 40 + 60);  // the gateway's own clock
  EXPECT_EQ((*states)[0].updated_at, kNow + 60);

  // Its link dies: the broker's last will, with no time, moves nothing but the state.
  EXPECT_EQ(handler_->handle(kTopic, last_will(), kNow + 300),
            "gateway northgate-ed: offline (its link died: the broker sent its last will), svdgw 0.9.0");
  const GatewayState& s = handler_->latest().at("northgate-ed");
  EXPECT_FALSE(s.online);
  EXPECT_EQ(s.last_online_at, kNow + 20);
  EXPECT_EQ(s.updated_at, kNow + 300);
  EXPECT_EQ((*store_->gateway_states())[0].last_online_at, kNow + 20);
}

TEST_F(StatusHandlerTest, ARestartedHubKnowsTheLastStateAndDoesNotLogItAgain) {
  ASSERT_NE(handler_->handle(kTopic, online("2026-11-17T09:46:00Z", 0), kNow), "");
  open();
  ASSERT_EQ(handler_->latest().count("northgate-ed"), 1u);
  EXPECT_EQ(handler_->latest().at("northgate-ed").last_online_at, kNow - 40);
  // The retained message the broker sends again on subscribing.
  EXPECT_EQ(handler_->handle(kTopic, online("2026-11-17T09:46:00Z", 0), kNow + 5), "");
}

TEST_F(StatusHandlerTest, AnUnknownPartnerOrAnUnreadableStatusIsToldOnceAndNotRecorded) {
  EXPECT_EQ(handler_->handle("svd/v1/nobody/status", online("2026-11-17T09:46:00Z", 0), kNow),
            "status of nobody: ignored, not a partner in the config (told once)");
  EXPECT_EQ(handler_->handle("svd/v1/nobody/status", online("2026-11-17T09:46:00Z", 0), kNow), "");
  EXPECT_EQ(handler_->handle(kTopic, "{\"state\":\"sideways\"}", kNow),
            "status of northgate-ed: ignored, not a status message (told once)");
  EXPECT_EQ(handler_->handle(kTopic, std::string(protocol::kMaxStatusBytes + 1, ' '), kNow), "");
  EXPECT_EQ(handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", "{}", kNow), "");
  EXPECT_TRUE(store_->gateway_states()->empty());
  EXPECT_TRUE(handler_->latest().empty());
}

}  // namespace
}  // namespace svd::hub
