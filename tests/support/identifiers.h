#pragma once
// Every spelling a raw identifier of a synthetic extract could take in an output: NHS numbers
// plain, spaced and hyphenated, names as given and normalised, dates of birth, postcodes as
// given, normalised and compact. Read back with the gateway's own readers from the columns
// nhs_number, surname, forename, date_of_birth and postcode (those present). For leak tests:
// report a find by kind and row, never by value.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/table_reader.h"
#include "crypto/normalise.h"
#include "process/postcode.h"

namespace svd::test_support {

struct Identifier {
  std::string kind;
  std::uint64_t row;
  std::string value;
};

inline std::string digits(std::string_view s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d += c;
  return d;
}

inline std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

inline std::vector<Identifier> identifiers(const std::filesystem::path& input, bool jsonl, bool windows_1252) {
  const std::vector<adapters::Column> columns{
      {"nhs_number", false}, {"surname", false}, {"forename", false}, {"date_of_birth", false}, {"postcode", false}};
  auto src = adapters::open_file_source(input);
  EXPECT_TRUE(src);
  adapters::Limits limits;
  auto enc = windows_1252 ? adapters::Encoding::windows_1252 : adapters::Encoding::utf8;
  auto reader = jsonl ? adapters::make_jsonl_reader(std::move(*src), columns, {enc, limits})
                      : adapters::make_csv_reader(std::move(*src), columns, {',', enc, limits});
  std::vector<Identifier> ids;
  adapters::Record rec;
  while (true) {
    auto more = reader->next(rec);
    if (!more || !*more) break;
    if (rec.error != errc::ok) continue;
    auto add = [&](const char* kind, std::string v) {
      if (v.size() >= 5) ids.push_back({kind, rec.row, std::move(v)});
    };
    if (rec.present(0) && !rec.cell(0).empty()) {
      std::string d = digits(rec.cell(0));
      add("nhs_number", trim(rec.cell(0)));
      add("nhs_number", d);
      if (d.size() == 10) {
        add("nhs_number", d.substr(0, 3) + " " + d.substr(3, 3) + " " + d.substr(6));
        add("nhs_number", d.substr(0, 3) + "-" + d.substr(3, 3) + "-" + d.substr(6));
      }
    }
    for (std::size_t i : {1u, 2u}) {
      if (!rec.present(i)) continue;
      add(i == 1 ? "surname" : "forename", trim(rec.cell(i)));
      add(i == 1 ? "surname" : "forename", crypto::normalise_name(rec.cell(i)));
    }
    if (rec.present(3) && !rec.cell(3).empty()) add("date_of_birth", trim(rec.cell(3)));
    if (rec.present(4) && !rec.cell(4).empty()) {
      add("postcode", trim(rec.cell(4)));
      if (auto pc = process::parse_postcode(rec.cell(4))) {
        add("postcode", pc->text);
        std::string compact = pc->text;
        compact.erase(compact.find(' '), 1);
        add("postcode", compact);
      }
    }
  }
  return ids;
}

// Searches every (place, text) for every identifier of `extract` (CSV, UTF-8), failing the test
// for each find (by kind and row, never by value). First checks that the search works: most of
// the identifiers are found, as given, in the raw extract itself.
inline void expect_no_identifier_in(const std::filesystem::path& extract,
                                    const std::vector<std::pair<std::string, std::string>>& places) {
  const auto ids = identifiers(extract, false, false);
  ASSERT_GT(ids.size(), 1000u);
  std::ifstream in(extract, std::ios::binary);
  const std::string raw{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::size_t in_raw = 0;
  for (const auto& id : ids) in_raw += raw.find(id.value) != std::string::npos;
  ASSERT_GT(in_raw, ids.size() / 2);
  for (const auto& [where, text] : places) {
    ASSERT_FALSE(text.empty()) << where;
    for (const auto& id : ids)
      if (text.find(id.value) != std::string::npos)
        ADD_FAILURE() << "a " << id.kind << " from row " << id.row << " appears in " << where;
  }
}

}  // namespace svd::test_support
