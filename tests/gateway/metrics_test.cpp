#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/prometheus_text.h"

namespace svd::gateway {
namespace {

using test_support::Exposition;
using test_support::parse_exposition;

TEST(GatewayMetricsTest, RenderValidText) {
  Metrics m("svdgw");
  const GatewayMetrics gw(m, "0.1.0");
  gw.init_feed("ed-assaults");
  gw.init_feed("death-reports");
  gw.extracts.add({"ed-assaults", "received"}, 1);
  gw.rows.add({"ed-assaults", "received"}, 1200);
  gw.rows.add({"ed-assaults", "rejected"}, 3);
  gw.batches.set_total({"published"}, 7);
  gw.outbox_batches.set(2);
  gw.broker_connected.set(1);
  gw.storage_quota.set(10737418240.0);
  gw.feed_overdue.set({"death-reports"}, 1);
  gw.feed_overdue_seconds.set({"death-reports"}, 93600);
  gw.uploads.add({"2xx"}, 1);
  gw.certificate_expiry.set({"hub-client"}, 1795425320);
  const std::string text = m.render();
  const Exposition parsed = parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors) << text;

  // Every family the header documents, and the series that exist from the start.
  for (const char* family :
       {"svdgw_extracts_total", "svdgw_rows_total", "svdgw_batches_total", "svdgw_outbox_batches",
        "svdgw_outbox_records", "svdgw_outbox_oldest_unacknowledged_seconds", "svdgw_broker_connected",
        "svdgw_storage_headroom_bytes", "svdgw_storage_quota_bytes", "svdgw_feed_overdue",
        "svdgw_feed_overdue_seconds", "svdgw_uploads_total", "svdgw_build_info", "svdgw_metrics_dropped_series_total",
        "svdgw_certificate_expiry_timestamp_seconds", "svdgw_http_connections_total",
        "svdgw_outbox_rejected_batches"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  EXPECT_EQ(parsed.samples.at("svdgw_build_info{version=\"0.1.0\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_extracts_total{feed=\"death-reports\",outcome=\"refused\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_extracts_total{feed=\"ed-assaults\",outcome=\"received\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_rows_total{feed=\"ed-assaults\",stage=\"acknowledged\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_rows_total{feed=\"ed-assaults\",stage=\"received\"}"), 1200);
  EXPECT_EQ(parsed.samples.at("svdgw_batches_total{stage=\"published\"}"), 7);
  EXPECT_EQ(parsed.samples.at("svdgw_batches_total{stage=\"rejected\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_uploads_total{class=\"5xx\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_feed_overdue{feed=\"death-reports\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdgw_feed_overdue{feed=\"ed-assaults\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_storage_quota_bytes"), 10737418240.0);
  EXPECT_EQ(parsed.samples.at("svdgw_outbox_oldest_unacknowledged_seconds"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_http_connections_total{outcome=\"handshake_cut\"}"), 0);
  EXPECT_EQ(parsed.samples.at("svdgw_rows_total{feed=\"ed-assaults\",stage=\"filtered\"}"), 0);
  // 2 feeds x (3 outcomes + 5 stages + 2 overdue gauges) + 3 batch stages + 3 upload classes
  // + 5 connection outcomes + build info + 6 gauges without labels + one certificate's expiry.
  EXPECT_EQ(parsed.samples.at("svdgw_certificate_expiry_timestamp_seconds{role=\"hub-client\"}"), 1795425320);
  EXPECT_EQ(parsed.samples.size(), 2u * 10 + 3 + 3 + 5 + 1 + 6 + 1);
}

}  // namespace
}  // namespace svd::gateway
