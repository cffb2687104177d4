#include "crypto/key_ring.h"

#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using config::KeyWindow;
using config::LinkageKeyConfig;

constexpr std::int64_t kJan1 = 1798761600;  // 2027-01-01T00:00:00Z
constexpr std::int64_t kFeb1 = 1801440000;  // 2027-02-01T00:00:00Z

std::array<unsigned char, 32> bytes_from(unsigned char start) {
  std::array<unsigned char, 32> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(start + i);
  return b;
}

std::vector<std::string> ids(const std::vector<const LinkageKey*>& keys) {
  std::vector<std::string> out;
  for (const auto* k : keys) out.push_back(k->id());
  return out;
}

class KeyRingTest : public ::testing::Test {
 protected:
  fs::path new_key(const std::string& name) {
    const fs::path p = dir_ / name;
    EXPECT_TRUE(generate_linkage_key(p));
    return p;
  }

  // The rotation of the example: k2026a until 1 February, k2027a from 1 January.
  std::vector<LinkageKeyConfig> rotation() {
    ++rotations_;
    return {{"k2026a", new_key("old-" + std::to_string(rotations_) + ".key"), {std::nullopt, kFeb1}},
            {"k2027a", new_key("new-" + std::to_string(rotations_) + ".key"), {kJan1, std::nullopt}}};
  }

  int rotations_ = 0;

  test_support::TempDir tmp_{"svd-key-ring"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(KeyRingTest, PicksTheKeysInForceAtAnInstantInConfigOrder) {
  auto ring = KeyRing::load(rotation());
  ASSERT_TRUE(ring) << ring.error().message;
  ASSERT_EQ(ring->entries().size(), 2u);
  EXPECT_EQ(ring->entries()[0].key.id(), "k2026a");
  EXPECT_EQ(ring->entries()[1].window, (KeyWindow{kJan1, std::nullopt}));

  EXPECT_EQ(ids(ring->in_force(kJan1 - 1)), std::vector<std::string>{"k2026a"});  // before the overlap
  EXPECT_EQ(ids(ring->in_force(kJan1)), (std::vector<std::string>{"k2026a", "k2027a"}));  // from is included
  EXPECT_EQ(ids(ring->in_force(kFeb1 - 1)), (std::vector<std::string>{"k2026a", "k2027a"}));
  EXPECT_EQ(ids(ring->in_force(kFeb1)), std::vector<std::string>{"k2027a"});  // until is not
  EXPECT_EQ(ring->ids_in_force(0), std::vector<std::string>{"k2026a"});
  EXPECT_EQ(ring->ids_in_force(kFeb1 + 86400 * 365), std::vector<std::string>{"k2027a"});

  // The keys are the files' keys, and the pointers are the ring's own.
  auto old_key = load_linkage_key(dir_ / "old-1.key", "x");
  ASSERT_TRUE(old_key);
  EXPECT_EQ(ring->in_force(kJan1)[0]->bytes(), old_key->bytes());
  EXPECT_EQ(ring->in_force(kJan1)[0], &ring->entries()[0].key);

  // Moving the ring keeps it whole (the daemon moves it into a shared_ptr).
  KeyRing moved = std::move(*ring);
  EXPECT_EQ(moved.ids_in_force(kJan1), (std::vector<std::string>{"k2026a", "k2027a"}));
}

TEST_F(KeyRingTest, OneKeyWithoutAWindowIsAlwaysInForce) {
  auto ring = KeyRing::load({{"k1", new_key("k1.key"), {}}});
  ASSERT_TRUE(ring) << ring.error().message;
  for (std::int64_t t : {std::int64_t{0}, kJan1, kFeb1, std::int64_t{4102444800}})
    EXPECT_EQ(ring->ids_in_force(t), std::vector<std::string>{"k1"}) << t;
}

TEST_F(KeyRingTest, AKeyFileThatDoesNotLoadFailsTheWholeRing) {
  auto keys = rotation();
  keys[1].file = dir_ / "missing.key";
  auto ring = KeyRing::load(keys);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, errc::key_file_unreadable);
  EXPECT_EQ(ring.error().key_id, "k2027a");
  EXPECT_EQ(ring.error().file, dir_ / "missing.key");
  EXPECT_EQ(ring.error().message,
            (dir_ / "missing.key").string() + ": the key file cannot be read [key_file_unreadable]");

  keys = rotation();
  ASSERT_EQ(::chmod(keys[1].file.c_str(), 0640), 0);
  ring = KeyRing::load(keys);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, errc::key_file_permissions);
  EXPECT_NE(ring.error().message.find("[key_file_permissions]"), std::string::npos) << ring.error().message;
}

TEST_F(KeyRingTest, TheSameKeyUnderTwoIdsIsRefused) {
  auto keys = rotation();
  fs::remove(keys[1].file);
  fs::copy_file(keys[0].file, keys[1].file);
  auto ring = KeyRing::load(keys);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, errc::ok);
  EXPECT_EQ(ring.error().key_id, "k2027a");
  EXPECT_NE(ring.error().message.find("linkage keys k2026a and k2027a are the same key"), std::string::npos)
      << ring.error().message;
  EXPECT_NE(ring.error().message.find("svdgw keys generate"), std::string::npos) << ring.error().message;
}

TEST_F(KeyRingTest, WindowsAreCheckedAsTheConfigLoaderChecksThem) {
  std::vector<KeyRing::Entry> gap;
  gap.push_back({LinkageKey("k1", bytes_from(0)), {std::nullopt, kJan1}});
  gap.push_back({LinkageKey("k2", bytes_from(1)), {kFeb1, std::nullopt}});
  auto ring = KeyRing::make(std::move(gap));
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().message,
            "linkage keys: no linkage key is in force from 2027-01-01T00:00:00Z to 2027-02-01T00:00:00Z");
  EXPECT_EQ(ring.error().key_id, "k1");

  std::vector<KeyRing::Entry> three;
  three.push_back({LinkageKey("k1", bytes_from(0)), {}});
  three.push_back({LinkageKey("k2", bytes_from(1)), {kJan1, std::nullopt}});
  three.push_back({LinkageKey("k3", bytes_from(2)), {kFeb1, std::nullopt}});
  ring = KeyRing::make(std::move(three));
  ASSERT_FALSE(ring);
  EXPECT_NE(ring.error().message.find("3 keys are in force"), std::string::npos) << ring.error().message;

  EXPECT_FALSE(KeyRing::make({}));
}

}  // namespace
}  // namespace svd::crypto
