// The daemon's overdue alerts in simulated time: a FakeClock passes the deadline, and
// feed.overdue is raised once (gauge, /healthz list, audit event), stays raised while further
// checks run, and clears once when the feed delivers. A real audit log in a temporary folder.

#include "gateway/schedule_watch.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "audit/audit_log.h"
#include "audit/keeper.h"
#include "base/time.h"
#include "gateway/metrics.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"

namespace svd::gateway {
namespace {

using namespace std::chrono_literals;

// Deadlines are local time: the test pins the zone and gives it back afterwards.
class UtcZone {
 public:
  UtcZone() {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  ~UtcZone() {
    if (saved_) ::setenv("TZ", saved_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
  UtcZone(const UtcZone&) = delete;
  UtcZone& operator=(const UtcZone&) = delete;

 private:
  std::optional<std::string> saved_;
};

class ScheduleWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    audit::AuditKeeperOptions o;
    o.state_dir = dir_.path();
    o.partner = "northgate-ed";
    auto keeper = audit::AuditKeeper::open(std::move(o), [](std::string, std::string) {});
    ASSERT_TRUE(keeper) << keeper.error().message();
    keeper_ = std::move(*keeper);
    keeper_->start();
    watch_.emplace(io_, *keeper_, gm_, clock_);
    gm_.init_feed("death-reports");
    // Watched since Monday 2026-11-23 09:00 UTC (the FakeClock's start); due daily by 10:00.
    config::Schedule daily;
    daily.every = config::Schedule::Every::day;
    daily.hour = 10;
    watch_->watch("northgate-ed", {{"death-reports", daily, clock_.now(), std::nullopt}});
  }

  double gauge(const std::string& series) {
    const std::string text = metrics_.render();
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  // The audit log's actions, in order, once the keeper has written everything recorded so far.
  std::vector<std::string> audit_actions() {
    keeper_->stop({});
    keeper_.reset();
    std::vector<std::string> out;
    auto log = audit::AuditReader::open(dir_.path() / "audit.db");
    EXPECT_TRUE(log);
    if (!log) return out;
    EXPECT_TRUE((*log)->for_each([&out](const audit::Entry& e) {
      out.push_back(e.event.action);
      return true;
    }));
    return out;
  }

  UtcZone zone_;
  test_support::TempDir dir_;
  boost::asio::io_context io_;
  test_support::FakeClock clock_;
  Metrics metrics_{"svdgw"};
  GatewayMetrics gm_{metrics_, "test"};
  std::unique_ptr<audit::AuditKeeper> keeper_;
  std::optional<ScheduleWatch> watch_;
};

TEST_F(ScheduleWatchTest, OverdueOnceAfterTheDeadlineAndClearedOnceByADelivery) {
  const std::string overdue = "svdgw_feed_overdue{feed=\"death-reports\"}";
  watch_->check();
  EXPECT_EQ(gauge(overdue), 0);
  EXPECT_EQ(watch_->overdue_json(), "");

  clock_.advance(1h);  // 10:00: a delivery now would still be on time
  watch_->check();
  EXPECT_EQ(gauge(overdue), 0);

  clock_.advance(1s);  // 10:00:01: the day's deadline has passed with nothing received
  watch_->check();
  EXPECT_EQ(gauge(overdue), 1);
  EXPECT_NE(watch_->overdue_json().find("\"feed\":\"death-reports\",\"partner\":\"northgate-ed\""), std::string::npos)
      << watch_->overdue_json();

  clock_.advance(90min);  // still overdue, for longer: raised once only
  watch_->check();
  watch_->check();
  EXPECT_EQ(gauge(overdue), 1);
  EXPECT_EQ(gauge("svdgw_feed_overdue_seconds{feed=\"death-reports\"}"), 90 * 60 + 1);

  watch_->delivered("death-reports", "death-reports-0123456789abcdef", clock_.now());
  watch_->check();
  EXPECT_EQ(gauge(overdue), 0);
  EXPECT_EQ(watch_->overdue_json(), "");

  std::vector<std::string> alerts;
  for (const auto& a : audit_actions())
    if (a.rfind("feed.", 0) == 0) alerts.push_back(a);
  EXPECT_EQ(alerts, (std::vector<std::string>{"feed.overdue", "feed.overdue_cleared"}));
}

TEST_F(ScheduleWatchTest, AFeedDroppedFromTheConfigIsForgotten) {
  clock_.advance(1h + 1s);
  watch_->check();
  ASSERT_FALSE(watch_->overdue_json().empty());
  watch_->watch("northgate-ed", {});
  watch_->check();
  EXPECT_EQ(watch_->overdue_json(), "");
}

}  // namespace
}  // namespace svd::gateway
