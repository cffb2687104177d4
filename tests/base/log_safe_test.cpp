// log_safe: what a peer sent, as one field of one log line.

#include "base/log_safe.h"

#include <gtest/gtest.h>

#include <string>

namespace svd {
namespace {

TEST(LogSafe, LeavesPrintableAsciiAlone) {
  EXPECT_EQ(log_safe(""), "");
  EXPECT_EQ(log_safe("0a1b2c3d4e5f60718293a4b5c6d7e8f9"), "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  EXPECT_EQ(log_safe("svd/v1/northgate-ed/ed-assaults/batch"), "svd/v1/northgate-ed/ed-assaults/batch");
  EXPECT_EQ(log_safe(" !\"#~{}"), " !\"#~{}");
}

TEST(LogSafe, ShowsControlCharactersAsEscapes) {
  EXPECT_EQ(log_safe("a\nb"), "a\\nb");
  EXPECT_EQ(log_safe("\r\t"), "\\r\\t");
  EXPECT_EQ(log_safe("\x1b[2K\x1b]0;title\x07"), "\\x1b[2K\\x1b]0;title\\x07");
  EXPECT_EQ(log_safe(std::string("\0\x01\x1f\x7f", 4)), "\\x00\\x01\\x1f\\x7f");
}

// Else a peer's literal "\n" (two characters) would read like an escaped newline.
TEST(LogSafe, EscapesTheBackslash) {
  EXPECT_EQ(log_safe("a\\nb"), "a\\\\nb");
}

// Not UTF-8 as such: a C1 control (CSI is 0x9b) or a bare continuation byte is escaped like any
// other, and a line separator (U+2028) too.
TEST(LogSafe, EscapesEveryByteAboveAscii) {
  EXPECT_EQ(log_safe("\x9b" "31m"), "\\x9b31m");
  EXPECT_EQ(log_safe("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(log_safe("a\xe2\x80\xa8" "b"), "a\\xe2\\x80\\xa8b");
  EXPECT_EQ(log_safe("\xff"), "\\xff");
}

TEST(LogSafe, BoundsTheLengthVisibly) {
  EXPECT_EQ(log_safe(std::string(128, 'a')), std::string(128, 'a'));
  EXPECT_EQ(log_safe(std::string(129, 'a')), std::string(128, 'a') + "\u2026");
  EXPECT_EQ(log_safe(std::string(64 << 10, 'a')), std::string(128, 'a') + "\u2026");
  EXPECT_EQ(log_safe("abcdef", 4), "abcd\u2026");
  EXPECT_EQ(log_safe("abcdef", 0), "\u2026");
  // The bound is on what is shown, escapes included.
  EXPECT_EQ(log_safe(std::string(100, '\n')), [] {
    std::string s;
    for (int i = 0; i < 64; ++i) s += "\\n";
    return s + "\u2026";
  }());
  // An escape is never cut in half.
  EXPECT_EQ(log_safe("ab\x1b", 5), "ab\u2026");
  EXPECT_EQ(log_safe("ab\x1b", 6), "ab\\x1b");
  // The mark cannot be forged: a "…" the peer sent is escaped.
  EXPECT_EQ(log_safe("ab\u2026"), "ab\\xe2\\x80\\xa6");
}

}  // namespace
}  // namespace svd
