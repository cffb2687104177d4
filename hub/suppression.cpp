#include "hub/suppression.h"

#include <optional>
#include <utility>

namespace svd::hub {
namespace {

using Cell = std::pair<std::size_t, std::size_t>;

// The entries of row r (horizontal) or column c (vertical), the total last.
std::vector<Cell> line(const SuppressedTable& t, bool horizontal, std::size_t i) {
  std::vector<Cell> out;
  const std::size_t n = horizontal ? t.columns : t.rows;
  for (std::size_t j = 0; j <= n; ++j) out.emplace_back(horizontal ? Cell{i, j} : Cell{j, i});
  return out;
}

bool hidden(const SuppressedTable& t, Cell c) { return t.shown[c.first][c.second] != Shown::value; }

// Which entry of a line with one hidden entry to hide as well: the smallest positive count shown,
// a cell before the total; a zero only when no positive count is left.
std::optional<Cell> partner_for(const SuppressedTable& t, const std::vector<Cell>& entries) {
  std::optional<Cell> best;
  auto better = [&](Cell c) {
    if (!best) return true;
    const std::uint64_t v = t.grid[c.first][c.second], b = t.grid[best->first][best->second];
    const bool total = c == entries.back(), best_total = *best == entries.back();
    if ((v > 0) != (b > 0)) return v > 0;
    if (total != best_total) return !total;
    return v < b;
  };
  for (Cell c : entries)
    if (!hidden(t, c) && better(c)) best = c;
  return best;
}

}  // namespace

std::string SuppressedTable::text(std::size_t row, std::size_t column, std::uint64_t k) const {
  switch (shown[row][column]) {
    case Shown::value: return std::to_string(grid[row][column]);
    case Shown::small: return "<" + std::to_string(k);
    case Shown::secondary: return "*";
  }
  return "*";
}

std::size_t SuppressedTable::hidden() const {
  std::size_t n = 0;
  for (const auto& row : shown)
    for (Shown s : row) n += s != Shown::value;
  return n;
}

SuppressedTable suppress(const std::vector<std::vector<std::uint64_t>>& cells, std::uint64_t k) {
  SuppressedTable t;
  t.rows = cells.size();
  t.columns = cells.empty() ? 0 : cells.front().size();
  t.grid.assign(t.rows + 1, std::vector<std::uint64_t>(t.columns + 1, 0));
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t c = 0; c < t.columns; ++c) {
      const std::uint64_t v = c < cells[r].size() ? cells[r][c] : 0;
      t.grid[r][c] = v;
      t.grid[r][t.columns] += v;
      t.grid[t.rows][c] += v;
      t.grid[t.rows][t.columns] += v;
    }
  t.shown.assign(t.rows + 1, std::vector<Shown>(t.columns + 1, Shown::value));
  for (std::size_t r = 0; r <= t.rows; ++r)
    for (std::size_t c = 0; c <= t.columns; ++c)
      if (t.grid[r][c] > 0 && t.grid[r][c] < k) t.shown[r][c] = Shown::small;

  // Each pass hides at least one more entry, so this ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (bool horizontal : {true, false}) {
      const std::size_t lines = horizontal ? t.rows : t.columns;
      for (std::size_t i = 0; i <= lines; ++i) {
        const auto entries = line(t, horizontal, i);
        std::size_t n = 0;
        for (Cell c : entries) n += hidden(t, c);
        if (n != 1) continue;
        if (auto p = partner_for(t, entries)) {
          t.shown[p->first][p->second] = Shown::secondary;
          changed = true;
        }
      }
    }
  }
  return t;
}

bool recoverable_from_a_line(const SuppressedTable& t) {
  for (bool horizontal : {true, false}) {
    const std::size_t lines = horizontal ? t.rows : t.columns;
    for (std::size_t i = 0; i <= lines; ++i) {
      std::size_t n = 0;
      for (Cell c : line(t, horizontal, i)) n += hidden(t, c);
      if (n == 1) return true;
    }
  }
  return false;
}

}  // namespace svd::hub
