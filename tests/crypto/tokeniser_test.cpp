#include "crypto/tokeniser.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "crypto/linkage_key.h"

namespace svd::crypto {
namespace {

std::array<unsigned char, 32> sequential_bytes(unsigned char start = 0) {
  std::array<unsigned char, 32> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(start + i);
  return b;
}

LinkageKey test_key() { return LinkageKey("test", sequential_bytes()); }

// Independent reference: OpenSSL's one-shot HMAC, truncated and hex encoded.
std::string reference_token(const LinkageKey& key, const std::string& kind, const std::string& value) {
  std::string message = kind;
  message.push_back('\0');
  message += value;
  unsigned char mac[32];
  size_t mac_size = 0;
  char digest[] = "SHA256";
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.bytes().data(), key.bytes().size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
                sizeof mac, &mac_size) == nullptr) {
    ADD_FAILURE() << "EVP_Q_mac failed";
    return {};
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = key.id() + ":";
  for (std::size_t i = 0; i < 16; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 0x0f]);
  }
  return out;
}

TEST(Tokeniser, PublishedTestVector) {
  Tokeniser t(test_key());
  EXPECT_EQ(t.token("nhs_number", "9434765919"), "test:135ac82cb3618c3780fbf284b934127b");
}

TEST(Tokeniser, PersonVector) {
  // Computed independently (Python hmac) for the same key.
  Tokeniser t(test_key());
  EXPECT_EQ(t.token("person", "TESTPERSON|ALEXANDRA|1970-01-01"),
            "test:2d780bf6fabdde8345ecb29155903144");
}

TEST(Tokeniser, KeyIdAndShape) {
  LinkageKey key("area-7.2025", sequential_bytes());
  Tokeniser t(key);
  EXPECT_EQ(t.key_ids(), std::vector<std::string>{"area-7.2025"});
  const std::string tok = t.token("nhs_number", "9990000018");
  ASSERT_EQ(tok.size(), std::string("area-7.2025:").size() + 32);
  EXPECT_EQ(tok.rfind("area-7.2025:", 0), 0u);
  for (std::size_t i = tok.size() - 32; i < tok.size(); ++i) {
    const char c = tok[i];
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << "position " << i;
  }
  // The hex part does not depend on the id.
  Tokeniser same_bytes(test_key());
  EXPECT_EQ(tok.substr(tok.size() - 32), same_bytes.token("nhs_number", "9990000018").substr(5));
}

TEST(Tokeniser, DeterministicAcrossCallsAndInstances) {
  const std::string value = "TESTPERSON|ALEXANDRA|1970-01-01";
  Tokeniser a(test_key());
  Tokeniser b(test_key());
  const std::string first = a.token("person", value);
  EXPECT_EQ(a.token("person", value), first);
  EXPECT_EQ(a.token("person", value), first);
  EXPECT_EQ(b.token("person", value), first);
}

TEST(Tokeniser, DiffersByKind) {
  Tokeniser t(test_key());
  const std::string value = "9990000018";
  EXPECT_NE(t.token("nhs_number", value), t.token("person", value));
  // The separator keeps kind and value apart: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(t.token("ab", "c"), t.token("a", "bc"));
}

TEST(Tokeniser, DiffersByKey) {
  Tokeniser a(LinkageKey("test", sequential_bytes(0)));
  Tokeniser b(LinkageKey("test", sequential_bytes(1)));
  EXPECT_NE(a.token("nhs_number", "9990000018"), b.token("nhs_number", "9990000018"));
  EXPECT_NE(a.token("person", "TESTPERSON|ALEXANDRA|1970-01-01"),
            b.token("person", "TESTPERSON|ALEXANDRA|1970-01-01"));
}

TEST(Tokeniser, DiffersByValue) {
  Tokeniser t(test_key());
  EXPECT_NE(t.token("nhs_number", "9990000018"), t.token("nhs_number", "9000000009"));
}

TEST(Tokeniser, AppendTokenAppends) {
  Tokeniser t(test_key());
  std::string out = "row-1,";
  t.append_token("nhs_number", "9434765919", out);
  EXPECT_EQ(out, "row-1,test:135ac82cb3618c3780fbf284b934127b");
  out.push_back(',');
  t.append_token("nhs_number", "9434765919", out);
  EXPECT_EQ(out,
            "row-1,test:135ac82cb3618c3780fbf284b934127b,test:135ac82cb3618c3780fbf284b934127b");
}

TEST(Tokeniser, AppendTokenDoesNotReallocateWithCapacity) {
  Tokeniser t(test_key());
  std::string out;
  out.reserve(1024);
  const char* data = out.data();
  const std::size_t capacity = out.capacity();
  for (int i = 0; i < 20; ++i) t.append_token("person", "TESTPERSON|ALEXANDRA|1970-01-01", out);
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.capacity(), capacity);
  EXPECT_EQ(out.size(), 20u * (5 + 32));
}

TEST(Tokeniser, TokenEqualsAppendToEmpty) {
  Tokeniser t(test_key());
  std::string out;
  t.append_token("person", "X|Y|2000-02-29", out);
  EXPECT_EQ(out, t.token("person", "X|Y|2000-02-29"));
}

TEST(Tokeniser, OutlivesTheKey) {
  std::optional<Tokeniser> t;
  {
    LinkageKey key = test_key();
    t.emplace(key);
  }
  EXPECT_EQ(t->token("nhs_number", "9434765919"), "test:135ac82cb3618c3780fbf284b934127b");
}

TEST(Tokeniser, MatchesReferenceHmacForManyLengths) {
  // Messages from 1 byte to several SHA-256 blocks, so padding and block boundaries are covered.
  const LinkageKey key("site", sequential_bytes(0x40));
  Tokeniser t(key);
  for (const std::string kind : {"", "nhs_number", "person"}) {
    std::string value;
    for (std::size_t len = 0; len <= 300; ++len) {
      ASSERT_EQ(t.token(kind, value), reference_token(key, kind, value))
          << "kind length " << kind.size() << ", value length " << len;
      value.push_back(static_cast<char>('A' + len % 26));
    }
  }
  EXPECT_EQ(t.token("x", std::string("\0\xff", 2)), reference_token(key, "x", std::string("\0\xff", 2)));
}

// --- key rotation: two keys in force -------------------------------------------------------

TEST(Tokeniser, OneKeyInASpanIsTheSingleKeyTokeniser) {
  const LinkageKey key = test_key();
  const std::array<const LinkageKey*, 1> one{&key};
  Tokeniser t(one);
  EXPECT_EQ(t.key_ids(), std::vector<std::string>{"test"});
  // The token contract's test vector (docs/architecture.md, "Keyed tokens"), unchanged: no separator, nothing appended.
  EXPECT_EQ(t.token("nhs_number", "9434765919"), "test:135ac82cb3618c3780fbf284b934127b");
}

TEST(Tokeniser, TwoKeysGiveBothTokensInTheirOrderSeparatedByOneSpace) {
  const LinkageKey old_key("k2026a", sequential_bytes(0));
  const LinkageKey new_key("k2027a", sequential_bytes(0x80));
  const std::array<const LinkageKey*, 2> both{&old_key, &new_key};
  Tokeniser t(both);
  EXPECT_EQ(t.key_ids(), (std::vector<std::string>{"k2026a", "k2027a"}));
  for (const std::string value : {"9434765919", "TESTPERSON|ALEXANDRA|1970-01-01", ""}) {
    EXPECT_EQ(t.token("nhs_number", value),
              reference_token(old_key, "nhs_number", value) + " " + reference_token(new_key, "nhs_number", value));
  }
  // With the old key's bytes, the first token is the published vector under the old id.
  EXPECT_EQ(t.token("nhs_number", "9434765919").substr(0, 39), "k2026a:135ac82cb3618c3780fbf284b934127b");

  const std::array<const LinkageKey*, 2> reversed{&new_key, &old_key};
  Tokeniser r(reversed);
  EXPECT_EQ(r.token("person", "X|Y|2000-02-29"),
            reference_token(new_key, "person", "X|Y|2000-02-29") + " " +
                reference_token(old_key, "person", "X|Y|2000-02-29"));
}

TEST(Tokeniser, TwoKeysAppendWithoutReallocatingAndOutliveTheKeys) {
  std::optional<Tokeniser> t;
  std::string expected;
  {
    const LinkageKey a("a", sequential_bytes(1));
    const LinkageKey b("b", sequential_bytes(2));
    const std::array<const LinkageKey*, 2> both{&a, &b};
    t.emplace(both);
    expected = reference_token(a, "person", "P") + " " + reference_token(b, "person", "P");
  }
  std::string out;
  out.reserve(1024);
  const char* data = out.data();
  for (int i = 0; i < 10; ++i) t->append_token("person", "P", out);
  EXPECT_EQ(out.data(), data);
  ASSERT_EQ(out.size(), 10 * expected.size());
  EXPECT_EQ(out.substr(0, expected.size()), expected);
  EXPECT_EQ(t->token("person", "P"), expected);
}

}  // namespace
}  // namespace svd::crypto
