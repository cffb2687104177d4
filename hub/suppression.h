#pragma once
// Small-number suppression for the aggregate tables of `svdhub report` ([report] min_cell = k):
// a count from 1 to k-1 is never shown ("<k"), and, because a table shows its row and column
// totals, more cells are hidden so that no hidden count can be worked out from the others.
//
// The table is taken with its totals as one grid: rows 0..R-1 and a total row R, columns 0..C-1
// and a total column C. Each row and each column is one equation (its cells add up to its total).
// Primary suppression hides every entry, totals included, from 1 to k-1. Secondary suppression
// then repeats until no equation has exactly one hidden entry: in such an equation it hides one
// more entry, the smallest positive one shown (a cell before a total; zeros only when nothing else
// is left). An equation with two or more hidden entries cannot be solved for either on its own.
//
// Limits, as for any line-by-line method: a reader who combines several equations at once can in
// some tables still narrow a hidden count down to a range; the method guarantees only that no
// row or column on its own gives one away. Zeros are shown: that nothing happened is not a
// count of people.
//
// Pure functions; any thread.

#include <cstdint>
#include <string>
#include <vector>

namespace svd::hub {

enum class Shown { value, small, secondary };  // shown; hidden as 1..k-1; hidden to protect another

struct SuppressedTable {
  std::vector<std::vector<std::uint64_t>> grid;  // (R+1) x (C+1): the cells, row totals, column totals
  std::vector<std::vector<Shown>> shown;         // the same shape
  std::size_t rows = 0, columns = 0;             // R and C

  // The text of an entry: the count, "<k", or "*" (hidden to protect another).
  std::string text(std::size_t row, std::size_t column, std::uint64_t k) const;
  // The number of hidden entries.
  std::size_t hidden() const;
};

// `cells` is R rows of C counts each (R, C >= 1; every row the same length).
SuppressedTable suppress(const std::vector<std::vector<std::uint64_t>>& cells, std::uint64_t k);

// True when some row or column of the grid has exactly one hidden entry (the property
// suppress() establishes; for tests).
bool recoverable_from_a_line(const SuppressedTable& t);

}  // namespace svd::hub
