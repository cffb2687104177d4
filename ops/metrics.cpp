#include "ops/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

namespace svd::ops {

namespace detail {

struct MetricFamily {
  std::string name, help;
  bool counter = false;
  std::vector<std::string> label_names;
  // Keyed by the label values in label_names' order: one entry per series, rendered in key order.
  std::map<std::vector<std::string>, double> series;
};

}  // namespace detail

namespace {

using detail::MetricFamily;

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "svd::ops::Metrics: %s\n", what.c_str());
  std::abort();
}

bool name_char(char c, bool first, bool colon) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char text[32];
    // Shortest round-trip form; 32 bytes hold any double, so it cannot fail.
    out.append(text, std::to_chars(text, text + sizeof text, v).ptr);
  }
}

}  // namespace

Metrics::Metrics(std::string_view program, std::size_t max_series_per_family) : max_series_(max_series_per_family) {
  dropped_ = &add_family(std::string(program) + "_metrics_dropped_series_total",
                         "Metric updates dropped because their family already had the maximum number of series "
                         "(a bug: label values must come from a small fixed set)",
                         true, {"family"});
}

Metrics::~Metrics() = default;

Counter Metrics::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  if (!name.ends_with("_total")) misuse("counter " + name + " must be named *_total");
  return Counter(*this, add_family(std::move(name), std::move(help), true, std::move(label_names)));
}

Gauge Metrics::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return Gauge(*this, add_family(std::move(name), std::move(help), false, std::move(label_names)));
}

MetricFamily& Metrics::add_family(std::string name, std::string help, bool counter,
                                  std::vector<std::string> label_names) {
  if (!valid_name(name, true)) misuse("bad metric name \"" + name + "\"");
  if (help.empty()) misuse(name + " has no help text");
  std::set<std::string_view> seen;
  for (const auto& label : label_names) {
    if (!valid_name(label, false) || label.starts_with("__")) misuse(name + ": bad label name \"" + label + "\"");
    if (!seen.insert(label).second) misuse(name + ": label " + label + " twice");
  }
  auto family = std::make_unique<MetricFamily>();
  family->name = std::move(name);
  family->help = std::move(help);
  family->counter = counter;
  family->label_names = std::move(label_names);
  if (family->label_names.empty()) family->series.emplace(std::vector<std::string>{}, 0.0);

  std::lock_guard lock(mutex_);
  auto at = std::lower_bound(families_.begin(), families_.end(), family->name,
                             [](const auto& f, const std::string& n) { return f->name < n; });
  if (at != families_.end() && (*at)->name == family->name) misuse(family->name + " registered twice");
  return **families_.insert(at, std::move(family));
}

void Metrics::update(MetricFamily& family, LabelValues values, Update how, double value) {
  if (values.size() != family.label_names.size())
    misuse(family.name + ": " + std::to_string(values.size()) + " label values for " +
           std::to_string(family.label_names.size()) + " labels");
  // A counter only goes up (NaN fails this too).
  if (family.counter && !(value >= 0)) return;
  std::vector<std::string> key(values.begin(), values.end());

  std::lock_guard lock(mutex_);
  auto it = family.series.find(key);
  if (it == family.series.end()) {
    // The dropped-series counter has one series per family, so it never reaches the bound itself.
    if (family.series.size() >= max_series_ && &family != dropped_) {
      dropped_->series[{family.name}] += 1;
      return;
    }
    it = family.series.emplace(std::move(key), 0.0).first;
  }
  double& v = it->second;
  switch (how) {
    case Update::add: v += value; break;
    case Update::raise_to: v = std::max(v, value); break;
    case Update::set: v = value; break;
  }
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) {
    out += "# HELP ";
    out += family->name;
    out += ' ';
    append_escaped(out, family->help, false);
    out += "\n# TYPE ";
    out += family->name;
    out += family->counter ? " counter\n" : " gauge\n";
    for (const auto& [values, v] : family->series) {
      out += family->name;
      if (!values.empty()) {
        out += '{';
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i > 0) out += ',';
          out += family->label_names[i];
          out += "=\"";
          append_escaped(out, values[i], true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      append_number(out, v);
      out += '\n';
    }
  }
  return out;
}

void Counter::add(LabelValues values, double delta) const {
  metrics_->update(*family_, values, Metrics::Update::add, delta);
}
void Counter::add(double delta) const {
  add({}, delta);
}
void Counter::set_total(LabelValues values, double total) const {
  metrics_->update(*family_, values, Metrics::Update::raise_to, total);
}
void Counter::set_total(double total) const {
  set_total({}, total);
}

void Gauge::set(LabelValues values, double value) const {
  metrics_->update(*family_, values, Metrics::Update::set, value);
}
void Gauge::set(double value) const {
  set({}, value);
}
void Gauge::add(LabelValues values, double delta) const {
  metrics_->update(*family_, values, Metrics::Update::add, delta);
}
void Gauge::add(double delta) const {
  add({}, delta);
}

}  // namespace svd::ops
