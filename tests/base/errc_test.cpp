#include "base/errc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace svd {
namespace {

TEST(Errc, EveryCodeHasADistinctNameAndMessage) {
  std::set<std::string> names;
  for (int i = 0; i < 600; ++i) {
    auto e = static_cast<errc>(i);
    std::string name(errc_name(e));
    if (name == "unknown_error") continue;
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_NE(errc_message(e), "unknown error") << name;
  }
  EXPECT_GT(names.size(), 40u);
}

TEST(Errc, RowAndExtractLevels) {
  EXPECT_TRUE(is_row_error(errc::invalid_nhs_number));
  EXPECT_TRUE(is_row_error(errc::wrong_field_count));
  EXPECT_FALSE(is_row_error(errc::ok));
  EXPECT_FALSE(is_row_error(errc::missing_column));
  EXPECT_FALSE(is_row_error(errc::key_file_permissions));
}

TEST(Errc, ConvertsToErrorCode) {
  boost::system::error_code ec = errc::invalid_postcode;
  EXPECT_EQ(ec, errc::invalid_postcode);
  EXPECT_EQ(std::string(ec.category().name()), "svd");
  EXPECT_EQ(ec.message(), std::string(errc_message(errc::invalid_postcode)));
  result<int> r = errc::io_error;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::io_error);
}

// docs/error-codes.md is the reference operators and data teams read (the package installs it):
// every code, with the very message the programs print, and no code that does not exist.
TEST(Errc, TheErrorCodesDocumentListsEveryCodeWithItsMessage) {
  std::ifstream in(std::string(SVD_SOURCE_DIR) + "/docs/error-codes.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  ASSERT_FALSE(doc.empty());
  std::set<std::string> known;
  for (const ErrcEntry& e : errc_entries()) {
    if (e.code == errc::ok) continue;
    known.insert(std::string(e.name));
    std::string message(e.message);
    for (std::size_t at = 0; (at = message.find('|', at)) != std::string::npos; at += 2) message.insert(at, "\\");
    EXPECT_NE(doc.find("| `" + std::string(e.name) + "` | " + message + " |"), std::string::npos)
        << e.name << ": missing, or its message differs";
  }
  const std::regex row(R"(\n\| `([a-z0-9_]+)` \|)");
  int rows = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it, ++rows)
    EXPECT_TRUE(known.count((*it)[1].str())) << (*it)[1].str() << " is not a code";
  EXPECT_EQ(rows, static_cast<int>(known.size()));
}

}  // namespace
}  // namespace svd
