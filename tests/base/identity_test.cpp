#include "base/identity.h"

#include <gtest/gtest.h>

#include <string>

namespace svd {
namespace {

TEST(Identity, PartnerFeedAndClientIds) {
  EXPECT_TRUE(valid_identity("northgate-ed-01"));
  EXPECT_TRUE(valid_identity(std::string(64, 'a')));
  EXPECT_FALSE(valid_identity(""));
  EXPECT_FALSE(valid_identity("-x"));
  EXPECT_FALSE(valid_identity("a/b"));
  EXPECT_FALSE(valid_identity("a+b"));
  EXPECT_FALSE(valid_identity("a#"));
  EXPECT_FALSE(valid_identity("a.b"));
  EXPECT_FALSE(valid_identity("Upper"));
  EXPECT_FALSE(valid_identity(std::string(65, 'a')));
}

}  // namespace
}  // namespace svd
