#pragma once
// GET /metrics: a small registry of counters and gauges rendered in the Prometheus text
// exposition format 0.0.4, and the gateway's own metric families (GatewayMetrics, below).
// docs/daemon.md ("Metrics") lists the families and how the text is rendered.
//
// Label values are short strings from config or code (feed ids, partner ids, states, status
// classes, the version): never anything read from an extract, a file name or a request path,
// and nothing unbounded. As a backstop each family holds at most `max_series_per_family` label
// sets; new ones beyond it are dropped and counted in svdgw_metrics_dropped_series_total{family}.
// A malformed name, a counter not named *_total, a name registered twice or a wrong number of
// label values is a bug and aborts, so tests catch it at once. Computed gauges are set by
// whoever serves /metrics just before render(): the registry never calls out.
//
// Thread-safety: every member of Metrics, Counter and Gauge may be called from any thread (one
// mutex; updates are per extract or batch, never per row). Counter and Gauge are handles: cheap
// to copy, valid while their Metrics lives.

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace svd::gateway {

// The Content-Type of render()'s output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class Metrics;

namespace detail {
struct MetricFamily;
}

// Label values are given in the order of the label names the family was registered with.
using LabelValues = std::initializer_list<std::string_view>;

class Counter {
 public:
  // Adds `delta` (negative or NaN deltas are ignored: a counter never goes down). Adding 0 makes
  // the series appear, at 0, which is how a feed's series are shown before anything happens.
  void add(LabelValues values, double delta) const;
  void add(double delta) const;  // a family without labels
  // For counts kept elsewhere (HttpServer::counters(), Forwarder::counters()) and copied in at
  // scrape time: raises the series to `total`; a smaller total is ignored.
  void set_total(LabelValues values, double total) const;
  void set_total(double total) const;

 private:
  friend class Metrics;
  Counter(Metrics& metrics, detail::MetricFamily& family) : metrics_(&metrics), family_(&family) {}
  Metrics* metrics_;
  detail::MetricFamily* family_;
};

class Gauge {
 public:
  void set(LabelValues values, double value) const;
  void set(double value) const;
  void add(LabelValues values, double delta) const;
  void add(double delta) const;

 private:
  friend class Metrics;
  Gauge(Metrics& metrics, detail::MetricFamily& family) : metrics_(&metrics), family_(&family) {}
  Metrics* metrics_;
  detail::MetricFamily* family_;
};

class Metrics {
 public:
  explicit Metrics(std::size_t max_series_per_family = 10'000);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registers a family. `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* (a counter's ends in _total);
  // label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__" and are distinct.
  Counter counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Gauge gauge(std::string name, std::string help, std::vector<std::string> label_names = {});

  // The whole registry in the text format (see above), a consistent snapshot.
  std::string render() const;

 private:
  friend class Counter;
  friend class Gauge;
  enum class Update { add, raise_to, set };
  void update(detail::MetricFamily& family, LabelValues values, Update how, double value);
  detail::MetricFamily& add_family(std::string name, std::string help, bool counter,
                                   std::vector<std::string> label_names);

  const std::size_t max_series_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<detail::MetricFamily>> families_;  // sorted by name
  detail::MetricFamily* dropped_ = nullptr;  // svdgw_metrics_dropped_series_total{family}
};

// The gateway's metric families. Label values, where fixed, are listed after the name; every
// `feed` is a configured feed id. init_feed() makes a feed's series appear at 0.
struct GatewayMetrics {
  GatewayMetrics(Metrics& metrics, std::string_view version);
  void init_feed(std::string_view feed) const;

  // svdgw_extracts_total{feed,outcome}: extracts received (accepted into the store), refused
  // (reject threshold) and processed (into the outbox). outcome = received | refused | processed
  Counter extracts;
  // svdgw_rows_total{feed,stage}: rows read, rejected by validation, forwarded (queued in the
  // outbox) and acknowledged by the hub. stage = received | rejected | forwarded | acknowledged
  Counter rows;
  // svdgw_batches_total{stage}: batch publishes (PUBACKed), hub receipts accepting a batch
  // (accepted or duplicate), hub receipts rejecting one. stage = published | acknowledged | rejected
  Counter batches;
  Gauge outbox_batches;  // svdgw_outbox_batches: batches in the outbox not yet acknowledged
  Gauge outbox_records;  // svdgw_outbox_records: records in those batches
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
  Gauge build_info;  // svdgw_build_info{version}: always 1; the value is in the label
  // svdgw_certificate_expiry_timestamp_seconds{role}: when the certificate in use expires (Unix
  // time). role = upload-server | client-ca | hub-client (gateway/certificate_renewal.h)
  Gauge certificate_expiry;
};

}  // namespace svd::gateway
