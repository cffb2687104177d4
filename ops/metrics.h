#pragma once
// GET /metrics: a small registry of counters and gauges rendered in the Prometheus text
// exposition format 0.0.4, for both programs (the gateway's families: gateway/metrics.h;
// docs/operations.md, "Metrics").
//
// Label values are short strings from config or code (feed ids, partner ids, states, status
// classes, the version): never anything read from an extract, a file name or a request path,
// and nothing unbounded. As a backstop each family holds at most `max_series_per_family` label
// sets; new ones beyond it are dropped and counted in <program>_metrics_dropped_series_total{family}.
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

namespace svd::ops {

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
  // `program` ("svdgw", "svdhub") names the registry's own family, <program>_metrics_dropped_series_total.
  explicit Metrics(std::string_view program, std::size_t max_series_per_family = 10'000);
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
  detail::MetricFamily* dropped_ = nullptr;  // <program>_metrics_dropped_series_total{family}
};

}  // namespace svd::ops
