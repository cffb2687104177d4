#include "render/html.h"

#include <algorithm>
#include <cstdio>

#include "config/temporal.h"

namespace svd::render {
namespace {

// The axis' top: 2, 4, 10, 20, 40, 100, …: even, so the middle grid line is a whole number.
std::uint64_t nice_ceiling(std::uint64_t v) {
  v = std::max<std::uint64_t>(v, 2);
  std::uint64_t step = 1;
  while (step * 10 < v) step *= 10;
  for (std::uint64_t m : {2u, 4u, 10u})
    if (step * m >= v) return step * m;
  return step * 10;
}

std::string fmt(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f", v);
  return text;
}

}  // namespace

std::string html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(std::uint64_t n) {
  return std::to_string(n);
}

std::int64_t monday_of(std::int64_t day) {
  const std::int64_t weekday_from_monday = ((day % 7) + 7 + 3) % 7;  // 0 = Monday
  return day - weekday_from_monday;
}

std::string iso_week_label(std::int64_t monday) {
  const config::Date thursday = config::civil_from_days(monday + 3);  // a week is its Thursday's year's
  const std::int64_t jan1 = config::days_from_civil({thursday.year, 1, 1});
  const std::int64_t week = (monday + 3 - jan1) / 7 + 1;
  char text[64];
  std::snprintf(text, sizeof text, "%04d-W%02lld", thursday.year, static_cast<long long>(week));
  return text;
}

const char* const kPageCss = R"(
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #1d232b;
  background: #ffffff; margin: 0 auto; max-width: 1120px; padding: 24px 28px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 26px 0 6px; padding-bottom: 3px; border-bottom: 2px solid #2b4c7e; color: #2b4c7e; }
h3 { font-size: 15px; margin: 14px 0 4px; }
p { margin: 4px 0 8px; }
.meta { color: #4a5361; }
.status { border-radius: 6px; padding: 12px 18px; margin: 16px 0 8px; }
.status.ok { background: #e3f3e7; border: 3px solid #1e7b34; }
.status.bad { background: #fbe4e2; border: 3px solid #b3261e; }
.status .big { font-size: 34px; font-weight: 700; letter-spacing: 0.5px; }
.status.ok .big { color: #1e7b34; }
.status.bad .big { color: #b3261e; }
.notes { color: #4a5361; font-size: 12.5px; margin: 4px 0 0 0; padding-left: 18px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0 14px; }
th, td { border: 1px solid #c3cad5; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #e8edf4; font-weight: 600; }
.l { text-align: left; }
tr.bad td { background: #fbe4e2; }
tr.warn td { background: #fff3d6; }
td.zero { color: #8a94a6; }
.sentence { background: #f3f6fa; border-left: 4px solid #2b4c7e; padding: 6px 10px; }
.sentence.warn { background: #fff3d6; border-left-color: #8a5a00; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 16px; }
.chart { flex: 1 1 460px; max-width: 100%; }
.chart svg { width: 100%; height: auto; }
svg .grid { stroke: #dde2ea; stroke-width: 1; }
svg .axis { stroke: #4a5361; stroke-width: 1.2; }
svg text { font-family: inherit; fill: #1d232b; }
svg .ax { font-size: 12px; }
svg .lg { font-size: 13px; }
svg .val { font-size: 11px; fill: #39424e; }
.defs { font-size: 12px; color: #39424e; }
.defs dt { font-weight: 600; margin-top: 4px; }
.defs dd { margin: 0 0 0 16px; }
footer { margin-top: 24px; font-size: 11.5px; color: #4a5361; border-top: 1px solid #c3cad5; padding-top: 6px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  table { font-size: 8.5pt; }
  .status, th, tr.bad td, tr.warn td, .sentence, svg rect { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.feed { break-before: page; }
  section.feed.quiet { break-before: auto; }
  .chart { flex: 1 1 45%; }
  tr, .chart, .status { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
)";

std::string bar_chart(const std::string& title, const std::vector<std::string>& categories,
                      const std::vector<Series>& series) {
  const double width = 720, height = 230, left = 52, right = 12, top = 34, bottom = 34;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  std::uint64_t max_value = 0;
  for (const auto& s : series)
    for (auto v : s.values) max_value = std::max(max_value, v);
  const std::uint64_t scale = nice_ceiling(max_value);
  std::string svg = "<svg viewBox=\"0 0 720 230\" role=\"img\" aria-label=\"" + html(title) + "\"><title>" +
                    html(title) + "</title>";
  // Legend.
  double x = left;
  for (const auto& s : series) {
    svg += "<rect x=\"" + fmt(x) + "\" y=\"8\" width=\"12\" height=\"12\" fill=\"" + s.colour + "\"/>";
    svg += "<text x=\"" + fmt(x + 16) + "\" y=\"18\" class=\"lg\">" + html(s.name) + "</text>";
    x += 24 + 7.5 * static_cast<double>(s.name.size());
  }
  // Grid and axis labels: 0, half, full scale.
  for (int k = 0; k <= 2; ++k) {
    const double y = top + plot_h - plot_h * k / 2.0;
    const std::uint64_t value = scale * static_cast<std::uint64_t>(k) / 2;
    svg += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(width - right) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) +
           "\" class=\"grid\"/>";
    svg += "<text x=\"" + fmt(left - 6) + "\" y=\"" + fmt(y + 4) + "\" class=\"ax\" text-anchor=\"end\">" +
           num(value) + "</text>";
  }
  const double group_w = plot_w / static_cast<double>(std::max<std::size_t>(categories.size(), 1));
  const double bar_w = std::min(36.0, group_w * 0.8 / static_cast<double>(series.size()));
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const double group_x = left + group_w * static_cast<double>(c);
    const double bars_x = group_x + (group_w - bar_w * static_cast<double>(series.size())) / 2;
    for (std::size_t s = 0; s < series.size(); ++s) {
      const std::uint64_t v = series[s].values[c];
      const double h = plot_h * static_cast<double>(v) / static_cast<double>(scale);
      const double bx = bars_x + bar_w * static_cast<double>(s);
      svg += "<rect x=\"" + fmt(bx) + "\" y=\"" + fmt(top + plot_h - h) + "\" width=\"" + fmt(bar_w - 2) +
             "\" height=\"" + fmt(h) + "\" fill=\"" + series[s].colour + "\"><title>" + html(categories[c]) + ", " +
             html(series[s].name) + ": " + num(v) + "</title></rect>";
      if (bar_w >= 14)
        svg += "<text x=\"" + fmt(bx + (bar_w - 2) / 2) + "\" y=\"" + fmt(top + plot_h - h - 3) +
               "\" class=\"val\" text-anchor=\"middle\">" + num(v) + "</text>";
    }
    svg += "<text x=\"" + fmt(group_x + group_w / 2) + "\" y=\"" + fmt(height - bottom + 16) +
           "\" class=\"ax\" text-anchor=\"middle\">" + html(categories[c]) + "</text>";
  }
  svg += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(width - right) + "\" y1=\"" + fmt(top + plot_h) + "\" y2=\"" +
         fmt(top + plot_h) + "\" class=\"axis\"/></svg>";
  return svg;
}

}  // namespace svd::render
