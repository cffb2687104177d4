#pragma once
// HTML and SVG for the printable reports of both programs (`svdgw audit report`, `svdhub
// report`): escaping, one stylesheet (A4, tables, charts), ISO weeks, and a grouped bar chart as
// inline SVG. Self-contained pages: no script, no network, no external file.
// Pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace svd::render {

// Text as HTML text or attribute value.
std::string html(std::string_view s);
std::string num(std::uint64_t n);

// The stylesheet both reports inline: screen and A4 print.
extern const char* const kPageCss;

// Day numbers (days since 1970-01-01, a Thursday) and ISO 8601 weeks: the Monday of a day's week,
// and a week's label ("2026-W48") from its Monday.
std::int64_t monday_of(std::int64_t day);
std::string iso_week_label(std::int64_t monday);

struct Series {
  std::string name, colour;
  std::vector<std::uint64_t> values;
};

// A grouped bar chart, one group per category and one bar per series, as inline SVG (no xmlns
// needed inside HTML, so no URL in the page at all).
std::string bar_chart(const std::string& title, const std::vector<std::string>& categories,
                      const std::vector<Series>& series);

}  // namespace svd::render
