#pragma once
// The gateway's metric families on its /metrics (the registry: ops/metrics.h). docs/daemon.md
// ("Metrics") lists them.

#include <string_view>

#include "ops/metrics.h"

namespace svd::gateway {

using ops::Counter;
using ops::Gauge;
using ops::kMetricsContentType;
using ops::Metrics;

// The gateway's metric families. Label values, where fixed, are listed after the name; every
// `feed` is a configured feed id. init_feed() makes a feed's series appear at 0.
struct GatewayMetrics {
  GatewayMetrics(Metrics& metrics, std::string_view version);
  void init_feed(std::string_view feed) const;

  // svdgw_extracts_total{feed,outcome}: extracts received (accepted into the store), refused
  // (reject threshold) and processed (into the outbox). outcome = received | refused | processed
  Counter extracts;
  // svdgw_rows_total{feed,stage}: rows read, rejected by validation, outside the schema's
  // svd:filter, forwarded (queued in the outbox) and acknowledged by the hub.
  // stage = received | rejected | filtered | forwarded | acknowledged
  Counter rows;
  // svdgw_batches_total{stage}: batch publishes (PUBACKed), hub receipts accepting a batch
  // (accepted or duplicate), hub receipts rejecting one. stage = published | acknowledged | rejected
  Counter batches;
  Gauge outbox_batches;  // svdgw_outbox_batches: batches in the outbox not yet acknowledged
  Gauge outbox_records;  // svdgw_outbox_records: records in those batches
  // svdgw_outbox_rejected_batches{feed,reason}: batches the hub rejected and nobody has re-queued
  // yet (svdgw requeue). reason: the hub's error code (e.g. feed_not_permitted, unknown_feed,
  // bad_record), or "other"
  Gauge outbox_rejected;
  // svdgw_outbox_oldest_unacknowledged_seconds: age of the oldest unacknowledged batch, 0 when none
  Gauge outbox_oldest_age;
  Gauge broker_connected;  // svdgw_broker_connected: 1 while connected to the hub's broker, else 0
  Gauge storage_headroom;  // svdgw_storage_headroom_bytes: quota minus extracts and outbox on disk
  Gauge storage_quota;     // svdgw_storage_quota_bytes: [storage] quota_bytes
  Gauge feed_overdue;      // svdgw_feed_overdue{feed}: 1 while the feed is overdue (schedule.h), else 0
  // svdgw_feed_overdue_seconds{feed}: seconds since the first missed deadline, 0 when not overdue
  Gauge feed_overdue_seconds;
  // svdgw_uploads_total{class}: responses of the HTTPS upload API by status class. class = 2xx | 4xx | 5xx
  Counter uploads;
  // svdgw_http_connections_total{outcome}: connections to the upload API. outcome = accepted |
  // refused (max_connections, none in a handshake to make room) | handshake_failed | handshake_cut
  // (still in its handshake when a newer connection needed its place) | timed_out (idle, head
  // or handshake deadline, or an upload below the minimum rate)
  Counter http_connections;
  Gauge build_info;  // svdgw_build_info{version}: always 1; the value is in the label
  // svdgw_certificate_expiry_timestamp_seconds{role}: when the certificate in use expires (Unix
  // time). role = upload-server | client-ca | hub-client | crl (the CRL's nextUpdate;
  // gateway/certificate_renewal.h)
  Gauge certificate_expiry;
};

}  // namespace svd::gateway
