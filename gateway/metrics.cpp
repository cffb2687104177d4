#include "gateway/metrics.h"

namespace svd::gateway {

GatewayMetrics::GatewayMetrics(Metrics& m, std::string_view version)
    : extracts(m.counter("svdgw_extracts_total",
                         "Extracts received (accepted into the store), refused (reject threshold) and processed",
                         {"feed", "outcome"})),
      rows(m.counter("svdgw_rows_total",
                     "Rows received, rejected by validation, filtered out by the schema, forwarded to the outbox and acknowledged by the hub",
                     {"feed", "stage"})),
      batches(m.counter("svdgw_batches_total",
                        "Batches published (PUBACKed), acknowledged by a hub receipt and rejected by the hub",
                        {"stage"})),
      outbox_batches(m.gauge("svdgw_outbox_batches", "Batches in the outbox not yet acknowledged by the hub")),
      outbox_records(m.gauge("svdgw_outbox_records", "Records in the outbox's unacknowledged batches")),
      outbox_rejected(m.gauge("svdgw_outbox_rejected_batches",
                              "Batches the hub rejected, by feed and its reason, until re-queued (svdgw requeue)",
                              {"feed", "reason"})),
      outbox_oldest_age(m.gauge("svdgw_outbox_oldest_unacknowledged_seconds",
                                "Age of the oldest batch not yet acknowledged by the hub (0 when there is none)")),
      broker_connected(m.gauge("svdgw_broker_connected", "1 while connected to the hub's MQTT broker, else 0")),
      storage_headroom(m.gauge("svdgw_storage_headroom_bytes",
                               "Bytes left under the storage quota for extracts and the outbox")),
      storage_quota(m.gauge("svdgw_storage_quota_bytes", "The storage quota for extracts and the outbox")),
      feed_overdue(m.gauge("svdgw_feed_overdue", "1 while the feed's expected delivery is overdue, else 0", {"feed"})),
      feed_overdue_seconds(m.gauge("svdgw_feed_overdue_seconds",
                                   "Seconds since the feed's first missed deadline (0 when not overdue)", {"feed"})),
      uploads(m.counter("svdgw_uploads_total", "Responses of the HTTPS upload API by HTTP status class", {"class"})),
      http_connections(m.counter("svdgw_http_connections_total",
                                 "Connections to the upload API: accepted, refused, failed or cut in the TLS "
                                 "handshake, timed out",
                                 {"outcome"})),
      build_info(m.gauge("svdgw_build_info", "The gateway's version, in the label; always 1", {"version"})),
      certificate_expiry(m.gauge("svdgw_certificate_expiry_timestamp_seconds",
                                 "When the TLS certificate in use for the role expires (for role crl: the upload API's CRL's "
                                 "nextUpdate), in seconds since 1970",
                                 {"role"})) {
  for (std::string_view stage : {"published", "acknowledged", "rejected"}) batches.add({stage}, 0);
  for (std::string_view status_class : {"2xx", "4xx", "5xx"}) uploads.add({status_class}, 0);
  for (std::string_view outcome : {"accepted", "refused", "handshake_failed", "handshake_cut", "timed_out"})
    http_connections.add({outcome}, 0);
  build_info.set({version}, 1);
}

void GatewayMetrics::init_feed(std::string_view feed) const {
  for (std::string_view outcome : {"received", "refused", "processed"}) extracts.add({feed, outcome}, 0);
  for (std::string_view stage : {"received", "rejected", "filtered", "forwarded", "acknowledged"}) rows.add({feed, stage}, 0);
  feed_overdue.set({feed}, 0);
  feed_overdue_seconds.set({feed}, 0);
}

}  // namespace svd::gateway
