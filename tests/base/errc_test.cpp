#include "base/errc.h"

#include <gtest/gtest.h>

#include <set>
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

}  // namespace
}  // namespace svd
