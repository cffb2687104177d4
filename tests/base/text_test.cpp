// The shared spellings: hex, base64 and UTC instants, each checked against known answers.

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "base/base64.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/time.h"
#include "tests/support/fake_clock.h"

namespace svd {
namespace {

TEST(Hex, RoundTripsLowercaseOnly) {
  const std::array<unsigned char, 4> bytes{0x00, 0x7f, 0xa5, 0xff};
  EXPECT_EQ(to_hex(bytes), "007fa5ff");
  std::array<unsigned char, 4> back{};
  ASSERT_TRUE(from_hex("007fa5ff", back));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(from_hex("007FA5FF", back));   // one value, one spelling
  EXPECT_FALSE(from_hex("007fa5f", back));    // odd length
  EXPECT_FALSE(from_hex("007fa5ff00", back)); // too long for the array
  EXPECT_FALSE(from_hex("007fa5fg", back));
  std::vector<unsigned char> any;
  ASSERT_TRUE(from_hex("", any));
  EXPECT_TRUE(any.empty());
  ASSERT_TRUE(from_hex("0a0b0c", any));
  EXPECT_EQ(any, (std::vector<unsigned char>{0x0a, 0x0b, 0x0c}));
  EXPECT_FALSE(from_hex("0a0", any));
  EXPECT_TRUE(is_lower_hex("0123456789abcdef", 16));
  EXPECT_FALSE(is_lower_hex("0123456789abcdef", 15));
  EXPECT_FALSE(is_lower_hex("0123456789ABCDEF", 16));
}

TEST(Base64, Rfc4648Vectors) {
  const std::string plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const std::string coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (std::size_t i = 0; i < std::size(plain); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(plain[i].data());
    EXPECT_EQ(base64_encode({p, plain[i].size()}), coded[i]);
    EXPECT_EQ(base64_decode(coded[i]), plain[i]) << coded[i];
  }
}

TEST(Base64, PaddingMayBeLeftOutButNothingElseIsAccepted) {
  EXPECT_EQ(base64_decode("Zg"), "f");
  EXPECT_EQ(base64_decode("Zm8"), "fo");
  EXPECT_EQ(base64_decode("AAAA"), std::string(3, '\0'));
  for (const char* bad : {"Z", "Zg=", "Zg===", "Zm9v\n", " Zm9v", "Zm9v ", "Zm=v", "Zm9v!", "Zm-_"})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

TEST(Time, UtcToTheSecondAndTheMillisecond) {
  EXPECT_EQ(utc_iso(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_iso(1795000000), "2026-11-18T11:06:40Z");
  EXPECT_EQ(utc_iso(-1), "1969-12-31T23:59:59Z");
  const std::chrono::system_clock::time_point t{std::chrono::milliseconds(1795000000123)};
  EXPECT_EQ(utc_iso(t), "2026-11-18T11:06:40Z");
  EXPECT_EQ(utc_iso_ms(t), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(utc_iso_ms(std::chrono::system_clock::time_point{std::chrono::milliseconds(-1)}),
            "1969-12-31T23:59:59.999Z");
}

TEST(Time, ParsesWhatItWrites) {
  const auto t = parse_utc_iso("2026-11-18T11:06:40Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(utc_iso(*t), "2026-11-18T11:06:40Z");
  for (const char* bad : {"", "2026-11-18", "2026-11-18T11:06:40", "2026-11-18T11:06:40Zx", "2026-11-18 11:06:40Z"})
    EXPECT_FALSE(parse_utc_iso(bad)) << bad;
  // Beyond what system_clock holds (about 1678 to 2262): no time, not an overflow (a gateway's
  // status message with the year 0226 found by fuzz/envelope_fuzz.cpp).
  for (const char* far : {"0226-12-07T09:00:00Z", "1677-01-01T00:00:00Z", "2263-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_utc_iso(far)) << far;
  for (const char* edge : {"1700-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2261-12-31T23:59:59Z"}) {
    const auto at = parse_utc_iso(edge);
    ASSERT_TRUE(at) << edge;
    EXPECT_EQ(utc_iso(*at), edge);
  }
}

TEST(Clock, TheFakeMovesOnlyWhenTold) {
  test_support::FakeClock clock;
  const Clock& c = clock;
  EXPECT_EQ(utc_iso(c.now()), "2026-11-23T09:00:00Z");
  const auto steady = c.steady_now();
  EXPECT_EQ(c.steady_now(), steady);
  clock.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(utc_iso_ms(c.now()), "2026-11-23T09:00:01.500Z");
  EXPECT_EQ(c.steady_now() - steady, std::chrono::milliseconds(1500));
  clock.set_wall(std::chrono::system_clock::time_point{});  // the wall clock set back: steady stays
  EXPECT_EQ(utc_iso(c.now()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(c.steady_now() - steady, std::chrono::milliseconds(1500));
  EXPECT_LE(Clock::system().now() - std::chrono::system_clock::now(), std::chrono::seconds(1));
}

}  // namespace
}  // namespace svd
