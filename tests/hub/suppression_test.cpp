#include "hub/suppression.h"

#include <gtest/gtest.h>

#include <random>

namespace svd::hub {
namespace {

TEST(SuppressionTest, ASmallCellIsHiddenAndAnotherInItsRowAndColumnWithIt) {
  // Rows: partners; columns: months. One count of 3.
  const auto t = suppress({{12, 3, 40}, {20, 15, 9}, {7, 30, 11}}, 5);
  EXPECT_EQ(t.text(0, 1, 5), "<5");
  EXPECT_FALSE(recoverable_from_a_line(t));
  // Row 0 and column 1 each hide a second entry, the smallest positive one shown (not a total);
  // each of those leaves its column or row with one hidden entry, and so on until none does.
  EXPECT_EQ(t.text(0, 0, 5), "*");   // 12, the smallest left in row 0
  EXPECT_EQ(t.text(1, 1, 5), "*");   // 15, the smallest left in column 1
  EXPECT_EQ(t.text(2, 0, 5), "*");   // 7: column 0 then had one
  EXPECT_EQ(t.text(1, 2, 5), "*");   // 9: row 1 then had one
  EXPECT_EQ(t.text(2, 2, 5), "*");   // 11: row 2 then had one
  EXPECT_EQ(t.text(1, 0, 5), "20");  // the rest is shown, totals too
  EXPECT_EQ(t.text(2, 1, 5), "30");
  EXPECT_EQ(t.text(3, 3, 5), "147");
  EXPECT_EQ(t.hidden(), 6u);
}

TEST(SuppressionTest, ZerosAreShownAndASmallTotalIsHiddenToo) {
  const auto t = suppress({{0, 2}, {0, 0}}, 5);
  EXPECT_EQ(t.text(0, 0, 5), "0");
  EXPECT_EQ(t.text(0, 1, 5), "<5");
  EXPECT_EQ(t.text(0, 2, 5), "<5");  // the row total is 2 as well
  EXPECT_EQ(t.text(2, 1, 5), "<5");  // so is the column total
  EXPECT_EQ(t.text(2, 2, 5), "<5");  // and the grand total
  EXPECT_FALSE(recoverable_from_a_line(t));
}

TEST(SuppressionTest, OneColumnTableHidesTheTotalWithItsOnlyCell) {
  const auto t = suppress({{3}, {50}}, 5);
  EXPECT_EQ(t.text(0, 0, 5), "<5");
  EXPECT_EQ(t.text(0, 1, 5), "<5");  // the row total is the cell
  EXPECT_FALSE(recoverable_from_a_line(t));
}

// Any table: every count from 1 to k-1 is hidden, whatever is shown is the true count, and no
// row or column on its own gives a hidden count away.
TEST(SuppressionTest, NoHiddenCountCanBeRecoveredFromAnyRowOrColumnOfRandomTables) {
  std::mt19937 rng(20261207);
  for (int round = 0; round < 500; ++round) {
    const std::size_t rows = 1 + rng() % 6, columns = 1 + rng() % 8;
    std::vector<std::vector<std::uint64_t>> cells(rows, std::vector<std::uint64_t>(columns));
    for (auto& row : cells)
      for (auto& v : row) v = rng() % 3 == 0 ? rng() % 5 : rng() % 40;
    const std::uint64_t k = 2 + rng() % 9;
    const auto t = suppress(cells, k);
    ASSERT_FALSE(recoverable_from_a_line(t)) << "round " << round;
    for (std::size_t r = 0; r <= rows; ++r)
      for (std::size_t c = 0; c <= columns; ++c) {
        const std::uint64_t v = t.grid[r][c];
        if (v > 0 && v < k) {
          EXPECT_EQ(t.shown[r][c], Shown::small) << "round " << round;
        }
        if (t.shown[r][c] == Shown::value) {
          EXPECT_EQ(t.text(r, c, k), std::to_string(v));
        }
        if (r < rows && c < columns) {
          EXPECT_EQ(v, cells[r][c]);
        }
      }
  }
}

}  // namespace
}  // namespace svd::hub
