#pragma once
// Reading back a CSV file a program under test wrote (RFC 4180: quoted cells may hold commas,
// doubled quotes and line breaks; every record ends in LF), for assertions on its cells.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace svd::test_support {

// Every record, the header first. A file that ends inside a quoted cell or without a final line
// end is a test failure (and its partial last record is dropped).
inline std::vector<std::vector<std::string>> csv_records(std::string_view bytes) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (quoted) {
      if (c != '"') cell.push_back(c);
      else if (i + 1 < bytes.size() && bytes[i + 1] == '"') cell.push_back(bytes[++i]);
      else quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(cell));
      cell.clear();
    } else if (c == '\n') {
      record.push_back(std::move(cell));
      cell.clear();
      records.push_back(std::move(record));
      record.clear();
    } else {
      cell.push_back(c);
    }
  }
  EXPECT_FALSE(quoted) << "ends inside a quoted cell";
  EXPECT_TRUE(cell.empty() && record.empty()) << "the last record has no line end";
  return records;
}

}  // namespace svd::test_support
