// The storage quota's room held for uploads still arriving, on a real extract store in a
// temporary directory: what is held counts like what is on disk, parallel holds cannot together
// pass the quota, and what is released is room again.

#include "gateway/storage.h"

#include <gtest/gtest.h>

#include "ingest/extract_store.h"
#include "tests/support/temp_dir.h"

namespace svd::gateway {
namespace {

TEST(StorageQuotaTest, HeldRoomCountsUntilReleasedAndHoldsCannotPassTheQuotaTogether) {
  test_support::TempDir dir("svd-storage");
  auto store = ingest::ExtractStore::open(dir.path() / "state");
  ASSERT_TRUE(store) << store.error().message();
  StorageQuota quota(dir.path() / "state", **store);
  quota.refresh();
  const std::uint64_t big = std::uint64_t{100} << 20;
  const std::uint64_t used = big - quota.headroom(big);
  const std::uint64_t q = used + 1000;  // room for 1000 bytes more

  EXPECT_TRUE(quota.room_for(1000, q));
  EXPECT_FALSE(quota.room_for(1001, q));
  ASSERT_TRUE(quota.hold(600, q));
  EXPECT_EQ(quota.headroom(q), 400u);
  EXPECT_FALSE(quota.room_for(401, q)) << "held room counts like bytes on disk";
  EXPECT_FALSE(quota.hold(401, q)) << "a second upload cannot take what the first holds";
  EXPECT_EQ(quota.headroom(q), 400u) << "a refused hold holds nothing";
  ASSERT_TRUE(quota.hold(400, q));
  EXPECT_FALSE(quota.room_for(1, q));
  EXPECT_TRUE(quota.room_for(0, q)) << "full, not over";
  quota.release(600);
  EXPECT_EQ(quota.headroom(q), 600u);
  EXPECT_TRUE(quota.hold(600, q));
  quota.release(1000);
  EXPECT_EQ(quota.headroom(q), 1000u);
}

}  // namespace
}  // namespace svd::gateway
