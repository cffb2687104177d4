#include "render/html.h"

#include <gtest/gtest.h>

#include "config/temporal.h"

namespace svd::render {
namespace {

TEST(RenderHtmlTest, EscapesEveryCharacterThatEndsTextOrAnAttribute) {
  EXPECT_EQ(html(R"(<a href="x">O'Brien & co</a>)"), "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;");
}

TEST(RenderHtmlTest, IsoWeeksBelongToTheYearOfTheirThursday) {
  const auto day = [](int y, int m, int d) { return config::days_from_civil({y, m, d}); };
  EXPECT_EQ(iso_week_label(monday_of(day(2026, 12, 7))), "2026-W50");
  EXPECT_EQ(monday_of(day(2026, 12, 13)), day(2026, 12, 7));  // a Sunday
  EXPECT_EQ(iso_week_label(monday_of(day(2027, 1, 1))), "2026-W53");  // a Friday in 2026's last week
  EXPECT_EQ(iso_week_label(monday_of(day(2024, 12, 30))), "2025-W01");
}

TEST(RenderHtmlTest, ABarChartIsInlineSvgWithATitlePerBarAndEscapedNames) {
  const std::string svg = bar_chart("Rows <per> week", {"2026-W49", "2026-W50"},
                                    {{"received", "#2b4c7e", {10, 0}}, {"A & B", "#b3261e", {3, 7}}});
  EXPECT_TRUE(svg.starts_with("<svg viewBox=")) << svg;
  EXPECT_NE(svg.find("<title>Rows &lt;per&gt; week</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>2026-W50, A &amp; B: 7</title>"), std::string::npos);
  EXPECT_EQ(svg.find("http"), std::string::npos);  // nothing to fetch
  EXPECT_TRUE(svg.ends_with("</svg>"));
}

}  // namespace
}  // namespace svd::render
