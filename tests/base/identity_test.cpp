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

TEST(Identity, TheGatewaysOwnNamesAreReserved) {
  for (const char* name : {"spool", "gateway", "hub"}) {
    EXPECT_TRUE(valid_identity(name)) << name;  // valid as identities, so they must be refused on their own
    EXPECT_TRUE(reserved_client_identity(name)) << name;
  }
  for (const char* name : {"northgate-ed-export", "spool-export", "hubs", "gateway2", "svdhub", "Spool", ""})
    EXPECT_FALSE(reserved_client_identity(name)) << name;
}

}  // namespace
}  // namespace svd
