#include "crypto/linkage_key.h"

#include <array>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/key_files.h"
#include "tests/support/temp_dir.h"

namespace svd::crypto {
namespace {

namespace fs = std::filesystem;
using svd::test_support::TempDir;

constexpr char kSequentialHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::array<unsigned char, 32> sequential_bytes() {
  std::array<unsigned char, 32> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(i);
  return b;
}

using test_support::mode_of;
using test_support::read_file;
using test_support::write_file;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// "xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx": 8 groups of 4 lowercase hex digits, single spaces.
bool has_fingerprint_shape(const std::string& s) {
  if (s.size() != 8 * 4 + 7) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool ok = (i % 5 == 4) ? s[i] == ' ' : is_lower_hex(s[i]);
    if (!ok) return false;
  }
  return true;
}

// 64 lowercase hex digits and one newline: what generate_linkage_key writes.
bool is_key_file_text(const std::string& s) {
  if (s.size() != 65 || s[64] != '\n') return false;
  for (std::size_t i = 0; i < 64; ++i) {
    if (!is_lower_hex(s[i])) return false;
  }
  return true;
}

errc error_of(const result<LinkageKey>& r) {
  if (r) return errc::ok;
  return static_cast<errc>(r.error().value());
}

bool is_all_zero(const std::array<unsigned char, 32>& b) {
  for (const unsigned char c : b) {
    if (c != 0) return false;
  }
  return true;
}

// --- LinkageKey ----------------------------------------------------------------------------

TEST(LinkageKey, HoldsIdAndBytes) {
  const LinkageKey key("area-1", sequential_bytes());
  EXPECT_EQ(key.id(), "area-1");
  EXPECT_EQ(key.bytes(), sequential_bytes());
}

TEST(LinkageKey, MoveConstructionWipesSource) {
  LinkageKey source("area-1", sequential_bytes());
  const LinkageKey target(std::move(source));
  EXPECT_EQ(target.id(), "area-1");
  EXPECT_EQ(target.bytes(), sequential_bytes());
  EXPECT_TRUE(is_all_zero(source.bytes()));  // NOLINT(bugprone-use-after-move): the point
  EXPECT_TRUE(source.id().empty());          // NOLINT(bugprone-use-after-move)
}

TEST(LinkageKey, MoveAssignmentWipesSource) {
  LinkageKey source("area-1", sequential_bytes());
  std::array<unsigned char, 32> other{};
  other.fill(0xab);
  LinkageKey target("area-2", other);
  target = std::move(source);
  EXPECT_EQ(target.id(), "area-1");
  EXPECT_EQ(target.bytes(), sequential_bytes());
  EXPECT_TRUE(is_all_zero(source.bytes()));  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(source.id().empty());          // NOLINT(bugprone-use-after-move)
}

TEST(LinkageKey, SelfMoveAssignmentKeepsKey) {
  LinkageKey key("area-1", sequential_bytes());
  LinkageKey& alias = key;
  key = std::move(alias);
  EXPECT_EQ(key.bytes(), sequential_bytes());
  EXPECT_EQ(key.id(), "area-1");
}

// --- fingerprint ---------------------------------------------------------------------------

TEST(Fingerprint, KnownValueAndShape) {
  // Computed independently (Python hashlib) for the key bytes 0x00..0x1f.
  const LinkageKey key("test", sequential_bytes());
  const std::string fp = fingerprint(key);
  EXPECT_EQ(fp, "07fe 2f28 34a5 7544 0ec0 26e4 b331 c5a7");
  EXPECT_TRUE(has_fingerprint_shape(fp));
  // The shape check itself rejects near misses.
  EXPECT_FALSE(has_fingerprint_shape("07fe2f28 34a5 7544 0ec0 26e4 b331 c5a7 0000"));
  EXPECT_FALSE(has_fingerprint_shape("07FE 2f28 34a5 7544 0ec0 26e4 b331 c5a7"));
  EXPECT_FALSE(has_fingerprint_shape("07fe 2f28 34a5 7544 0ec0 26e4 b331 c5a7 "));
}

TEST(Fingerprint, IndependentOfIdDependentOnBytes) {
  const LinkageKey a("area-1", sequential_bytes());
  const LinkageKey b("area-2", sequential_bytes());
  std::array<unsigned char, 32> other = sequential_bytes();
  other[31] ^= 1;
  const LinkageKey c("area-1", other);
  EXPECT_EQ(fingerprint(a), fingerprint(b));
  EXPECT_EQ(fingerprint(a), fingerprint(a));
  EXPECT_NE(fingerprint(a), fingerprint(c));
}

// --- generate + load -----------------------------------------------------------------------

TEST(KeyFile, GenerateWritesMode0600HexAndLoadsBack) {
  TempDir dir;
  const fs::path file = dir / "linkage.key";
  ASSERT_TRUE(generate_linkage_key(file));

  EXPECT_EQ(mode_of(file), 0600u);
  const std::string content = read_file(file);
  EXPECT_EQ(content.size(), 65u);
  EXPECT_TRUE(is_key_file_text(content));

  result<LinkageKey> key = load_linkage_key(file, "area-1");
  ASSERT_TRUE(key) << errc_name(error_of(key));
  EXPECT_EQ(key->id(), "area-1");
  EXPECT_FALSE(is_all_zero(key->bytes()));

  // The bytes are exactly the hex in the file.
  static constexpr char hex[] = "0123456789abcdef";
  std::string reencoded;
  for (const unsigned char b : key->bytes()) {
    reencoded.push_back(hex[b >> 4]);
    reencoded.push_back(hex[b & 0x0f]);
  }
  EXPECT_TRUE(reencoded + "\n" == content);  // not EXPECT_EQ: never print key material

  // Fingerprint is stable across loads of the same file.
  result<LinkageKey> again = load_linkage_key(file, "other-id");
  ASSERT_TRUE(again);
  EXPECT_EQ(fingerprint(*key), fingerprint(*again));
  EXPECT_TRUE(has_fingerprint_shape(fingerprint(*key)));
}

TEST(KeyFile, TwoGeneratedKeysDiffer) {
  TempDir dir;
  ASSERT_TRUE(generate_linkage_key(dir / "a.key"));
  ASSERT_TRUE(generate_linkage_key(dir / "b.key"));
  result<LinkageKey> a = load_linkage_key(dir / "a.key", "a");
  result<LinkageKey> b = load_linkage_key(dir / "b.key", "b");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_TRUE(a->bytes() != b->bytes());
  EXPECT_NE(fingerprint(*a), fingerprint(*b));
}

TEST(KeyFile, GenerateIgnoresPermissiveUmask) {
  TempDir dir;
  const mode_t old = ::umask(0);
  const result<void> r = generate_linkage_key(dir / "k");
  ::umask(old);
  ASSERT_TRUE(r);
  EXPECT_EQ(mode_of(dir / "k"), 0600u);
}

TEST(KeyFile, GenerateRefusesExistingFileAndLeavesItUnchanged) {
  TempDir dir;
  const fs::path file = dir / "linkage.key";
  write_file(file, "existing content\n", 0644);
  const result<void> r = generate_linkage_key(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_EQ(read_file(file), "existing content\n");
  EXPECT_EQ(mode_of(file), 0644u);
}

TEST(KeyFile, GenerateRefusesExistingKeyAndLeavesItUnchanged) {
  TempDir dir;
  const fs::path file = dir / "linkage.key";
  ASSERT_TRUE(generate_linkage_key(file));
  const std::string before = read_file(file);
  const result<void> r = generate_linkage_key(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_TRUE(read_file(file) == before);
}

TEST(KeyFile, GenerateDoesNotFollowDanglingSymlink) {
  TempDir dir;
  fs::create_symlink(dir / "target", dir / "link");
  const result<void> r = generate_linkage_key(dir / "link");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_exists);
  EXPECT_FALSE(fs::exists(dir / "target"));
}

TEST(KeyFile, GenerateIntoMissingDirectoryFails) {
  TempDir dir;
  const result<void> r = generate_linkage_key(dir / "no-such-dir" / "k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::key_file_unreadable);
}

TEST(KeyFile, GenerateRelativePathInCurrentDirectory) {
  TempDir dir;
  const fs::path old = fs::current_path();
  fs::current_path(dir.path());
  const result<void> r = generate_linkage_key("relative.key");
  fs::current_path(old);
  ASSERT_TRUE(r);
  EXPECT_TRUE(load_linkage_key(dir / "relative.key", "r"));
}

// --- load: accepted forms ------------------------------------------------------------------

TEST(KeyFile, LoadAcceptsTheDocumentedForms) {
  TempDir dir;
  std::string upper = kSequentialHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string mixed = kSequentialHex;
  mixed[21] = 'A';
  mixed[59] = 'D';
  mixed[61] = 'E';
  const std::string forms[] = {
      std::string(kSequentialHex),
      std::string(kSequentialHex) + "\n",
      std::string(kSequentialHex) + "\r\n",
      upper + "\n",
      mixed,
  };
  for (std::size_t i = 0; i < std::size(forms); ++i) {
    const fs::path file = dir / ("k" + std::to_string(i));
    write_file(file, forms[i]);
    const result<LinkageKey> key = load_linkage_key(file, "test");
    ASSERT_TRUE(key) << "form #" << i << ": " << errc_name(error_of(key));
    EXPECT_TRUE(key->bytes() == sequential_bytes()) << "form #" << i;
  }
}

TEST(KeyFile, LoadAcceptsOwnerOnlyModes) {
  TempDir dir;
  for (const mode_t mode : {0400u, 0600u, 0700u}) {
    const fs::path file = dir / ("k" + std::to_string(mode));
    write_file(file, std::string(kSequentialHex) + "\n", mode);
    EXPECT_TRUE(load_linkage_key(file, "test")) << "mode " << std::oct << mode;
  }
}

// --- load: refusals ------------------------------------------------------------------------

TEST(KeyFile, LoadRefusesGroupOrOtherPermissions) {
  TempDir dir;
  for (const mode_t mode : {0640u, 0604u, 0620u, 0602u, 0610u, 0601u, 0660u, 0644u, 0666u}) {
    const fs::path file = dir / ("k" + std::to_string(mode));
    write_file(file, std::string(kSequentialHex) + "\n", mode);
    EXPECT_EQ(error_of(load_linkage_key(file, "test")), errc::key_file_permissions)
        << "mode " << std::oct << mode;
  }
}

TEST(KeyFile, LoadRefusesMalformedContent) {
  TempDir dir;
  const std::string hex = kSequentialHex;
  std::string non_hex = hex;
  non_hex[10] = 'g';
  const std::string cases[] = {
      hex.substr(0, 63),                 // 63 hex digits
      hex.substr(0, 63) + "\n",          // 63 hex digits and a newline
      hex + "0",                         // 65 hex digits
      hex + "0\n",                       // 65 hex digits and a newline
      non_hex + "\n",                    // a non-hex character
      hex + "\n" + hex + "\n",           // extra line
      hex + "\n\n",                      // extra empty line
      hex + "\r",                        // lone CR
      hex + "\n\r",                      // reversed line ending
      hex + " ",                         // trailing space
      " " + hex,                         // leading space
      "0x" + hex.substr(2),              // prefix
      "",                                // empty
      "\n",                              // newline only
      std::string(300, 'a'),             // 300 bytes
      std::string(256, 'a'),             // at the read bound
      hex + "\n" + std::string(235, '#'),  // over the read bound after a valid key
      hex.substr(0, 30) + "\n" + hex.substr(30),  // split across lines
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const fs::path file = dir / ("k" + std::to_string(i));
    write_file(file, cases[i]);
    EXPECT_EQ(error_of(load_linkage_key(file, "test")), errc::key_file_malformed)
        << "malformed case #" << i;
  }
}

TEST(KeyFile, LoadRefusesMissingFileOrDirectory) {
  TempDir dir;
  EXPECT_EQ(error_of(load_linkage_key(dir / "missing.key", "t")), errc::key_file_unreadable);
  EXPECT_EQ(error_of(load_linkage_key(dir / "missing-dir" / "k", "t")), errc::key_file_unreadable);
  EXPECT_EQ(error_of(load_linkage_key("", "t")), errc::key_file_unreadable);
}

TEST(KeyFile, LoadRefusesDirectory) {
  TempDir dir;
  fs::create_directory(dir / "d");
  ASSERT_EQ(::chmod((dir / "d").c_str(), 0700), 0);
  EXPECT_EQ(error_of(load_linkage_key(dir / "d", "t")), errc::key_file_unreadable);
}

TEST(KeyFile, LoadRefusesSymlinkToValidKey) {
  TempDir dir;
  write_file(dir / "real.key", std::string(kSequentialHex) + "\n");
  ASSERT_TRUE(load_linkage_key(dir / "real.key", "t"));
  fs::create_symlink(dir / "real.key", dir / "link.key");
  EXPECT_EQ(error_of(load_linkage_key(dir / "link.key", "t")), errc::key_file_unreadable);
}

TEST(KeyFile, LoadRefusesFifoWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(error_of(load_linkage_key(dir / "fifo", "t")), errc::key_file_unreadable);
}

}  // namespace
}  // namespace svd::crypto
