#include <gtest/gtest.h>

#include <string>

#include "adapters/encoding.h"

namespace svd::adapters {
namespace {

TEST(Encoding, ParsesDeclaredNames) {
  EXPECT_EQ(parse_encoding("utf-8"), Encoding::utf8);
  EXPECT_EQ(parse_encoding("UTF8"), Encoding::utf8);
  EXPECT_EQ(parse_encoding("Utf-8"), Encoding::utf8);
  EXPECT_EQ(parse_encoding("windows-1252"), Encoding::windows_1252);
  EXPECT_EQ(parse_encoding("WINDOWS-1252"), Encoding::windows_1252);
  EXPECT_EQ(parse_encoding("cp1252"), Encoding::windows_1252);
  EXPECT_EQ(parse_encoding("CP1252"), Encoding::windows_1252);
  for (const char* bad : {"", "latin1", "iso-8859-1", "utf-16", " utf-8", "utf-8 ", "utf_8", "1252"}) {
    EXPECT_EQ(parse_encoding(bad), std::nullopt) << bad;
  }
}

TEST(Encoding, AcceptsWellFormedUtf8) {
  const char* good[] = {
      "",
      "plain ascii, long enough for the eight-byte fast path",
      "\xC2\x80",              // U+0080
      "\xDF\xBF",              // U+07FF
      "\xE0\xA0\x80",          // U+0800
      "\xED\x9F\xBF",          // U+D7FF, just below the surrogates
      "\xEE\x80\x80",          // U+E000, just above them
      "\xEF\xBF\xBF",          // U+FFFF
      "\xF0\x90\x80\x80",      // U+10000
      "\xF4\x8F\xBF\xBF",      // U+10FFFF
      "Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
  };
  for (const char* s : good) EXPECT_TRUE(valid_utf8(s)) << testing::PrintToString(std::string(s));
  EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8 (readers refuse it)
}

TEST(Encoding, RejectsMalformedUtf8) {
  const char* bad[] = {
      "\x80",                  // lone continuation
      "\xBF",
      "\xC0\x80",              // overlong NUL
      "\xC1\xBF",              // overlong
      "\xE0\x9F\xBF",          // overlong three-byte
      "\xF0\x8F\xBF\xBF",      // overlong four-byte
      "\xED\xA0\x80",          // surrogate U+D800
      "\xED\xBF\xBF",          // surrogate U+DFFF
      "\xF4\x90\x80\x80",      // U+110000
      "\xF5\x80\x80\x80",      // lead byte past F4
      "\xF8\x88\x80\x80\x80",  // five-byte form
      "\xFE",
      "\xFF",
      "\xC3",                  // truncated two-byte
      "\xE2\x82",              // truncated three-byte
      "\xF0\x9F\x98",          // truncated four-byte
      "\xE2\x82x",             // continuation missing mid-string
      "\xC3\xA9\xA9",          // extra continuation
      "\xE9t\xE9",             // Latin-1 text
  };
  for (const char* s : bad) EXPECT_FALSE(valid_utf8(s)) << testing::PrintToString(std::string(s));
}

TEST(Encoding, FindsBadBytesAtEveryOffsetAroundTheFastPath) {
  for (std::size_t prefix = 0; prefix < 20; ++prefix) {
    for (std::size_t suffix = 0; suffix < 10; ++suffix) {
      const std::string head(prefix, 'a'), tail(suffix, 'b');
      EXPECT_FALSE(valid_utf8(head + "\xFF" + tail)) << prefix << "," << suffix;
      EXPECT_FALSE(valid_utf8(head + "\xE2\x82" + tail)) << prefix << "," << suffix;
      EXPECT_TRUE(valid_utf8(head + "\xE2\x82\xAC" + tail)) << prefix << "," << suffix;
    }
  }
}

std::string utf8_of(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(Encoding, Windows1252MapsEveryByte) {
  // The 0x80..0x9F block from the Unicode mapping table (cp1252.txt); undefined -> U+FFFD.
  const char32_t c1[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                           0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                           0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                           0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  for (unsigned b = 0; b < 256; ++b) {
    const char32_t cp = b < 0x80 ? b : b < 0xA0 ? c1[b - 0x80] : b;
    std::string out;
    windows_1252_to_utf8(std::string(1, static_cast<char>(b)), out);
    EXPECT_EQ(out, utf8_of(cp)) << "byte " << b;
    EXPECT_TRUE(valid_utf8(out));
  }
}

TEST(Encoding, Windows1252Examples) {
  std::string out = "kept:";
  windows_1252_to_utf8("Ren\xE9 \x80" "5 \x81 a long ascii run to cross the fast path \x93q\x94", out);
  EXPECT_EQ(out,
            "kept:Ren\xC3\xA9 \xE2\x82\xAC" "5 \xEF\xBF\xBD a long ascii run to cross the fast path "
            "\xE2\x80\x9Cq\xE2\x80\x9D");
  out.clear();
  windows_1252_to_utf8("", out);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace svd::adapters
