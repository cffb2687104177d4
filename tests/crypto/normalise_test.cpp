#include "crypto/normalise.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace svd::crypto {
namespace {

// Failure messages name the case by index, never by value: these are NHS-number shaped.
constexpr std::string_view kValid[] = {
    "9434765919", "9434765870", "9876543210", "4000000632", "6716689966",
    "2983396363", "2983396339", "4010232137", "9990000018", "9000000009",
};

constexpr std::string_view kInvalid[] = {
    "9434765918",   // check digit mismatch
    "9434765871",   // computed 11 -> 0, not 1
    "1234567890",   // computed check digit 10: never valid
    "9991234560",   // computed 10: must not be mapped to 0
    "4010232138",   // mismatch
    "2345678901",   // mismatch
    "0000000001",   // computed 11 -> 0, not 1
    "1234",         // too short
    "94347659191",  // too long
    "943476591A",   // non-digit
    "",             // empty
};

TEST(NhsNumber, ValidVectors) {
  for (std::size_t i = 0; i < std::size(kValid); ++i) {
    const std::optional<std::string> n = normalise_nhs_number(kValid[i]);
    ASSERT_TRUE(n.has_value()) << "valid case #" << i;
    EXPECT_EQ(*n, kValid[i]) << "valid case #" << i;
    EXPECT_TRUE(nhs_check_digit_ok(kValid[i])) << "valid case #" << i;
  }
}

TEST(NhsNumber, InvalidVectors) {
  for (std::size_t i = 0; i < std::size(kInvalid); ++i) {
    EXPECT_FALSE(normalise_nhs_number(kInvalid[i]).has_value()) << "invalid case #" << i;
    EXPECT_FALSE(nhs_check_digit_ok(kInvalid[i])) << "invalid case #" << i;
  }
}

TEST(NhsNumber, SpacesAndHyphensAreStripped) {
  constexpr std::string_view kFormatted[] = {
      "943 476 5919", "943-476-5919", " 9434765919 ", "943  476--5919", "943-476 5919", "-9434765919-",
  };
  for (std::size_t i = 0; i < std::size(kFormatted); ++i) {
    const std::optional<std::string> n = normalise_nhs_number(kFormatted[i]);
    ASSERT_TRUE(n.has_value()) << "formatted case #" << i;
    EXPECT_EQ(*n, "9434765919") << "formatted case #" << i;
  }
}

TEST(NhsNumber, OnlySpacesAndHyphensAreSeparators) {
  constexpr std::string_view kRejected[] = {
      "943\t476\t5919",            // tab
      "943.476.5919",              // dot
      "943_476_5919",              // underscore
      "943\u00a0476\u00a05919",    // no-break space
      "943\u2013476\u20135919",    // en dash
      "\uff19434765919",           // fullwidth digit nine
      "9434765919\n",              // newline
      "  - - ",                    // separators only
      "943 476 5918",              // formatted but wrong check digit
      "999 123 4560",              // formatted, computed check digit 10
  };
  for (std::size_t i = 0; i < std::size(kRejected); ++i) {
    EXPECT_FALSE(normalise_nhs_number(kRejected[i]).has_value()) << "rejected case #" << i;
  }
}

TEST(NhsNumber, CheckDigitRequiresExactlyTenDigits) {
  EXPECT_FALSE(nhs_check_digit_ok("943 476 5919"));
  EXPECT_FALSE(nhs_check_digit_ok("943-476-5919"));
  EXPECT_FALSE(nhs_check_digit_ok(" 9434765919"));
  EXPECT_FALSE(nhs_check_digit_ok("943476591"));
  EXPECT_FALSE(nhs_check_digit_ok(std::string_view("943476591\0", 10)));
}

TEST(NhsNumber, EveryCheckDigitOfOnePrefix) {
  // For a fixed 9-digit prefix exactly one final digit is valid (or none when S mod 11 == 1).
  int valid = 0;
  for (char d = '0'; d <= '9'; ++d) {
    std::string n = "999000001";
    n.push_back(d);
    if (nhs_check_digit_ok(n)) ++valid;
  }
  EXPECT_EQ(valid, 1);
  int none = 0;
  for (char d = '0'; d <= '9'; ++d) {
    std::string n = "999123456";  // S mod 11 == 1 -> check digit 10
    n.push_back(d);
    if (nhs_check_digit_ok(n)) ++none;
  }
  EXPECT_EQ(none, 0);
}

struct NameCase {
  std::string_view input;
  std::string_view expected;
};

TEST(NormaliseName, Examples) {
  const NameCase cases[] = {
      {"O'Brien-Smith", "OBRIENSMITH"},
      {"Jos\u00e9", "JOSE"},            // precomposed é
      {"Jose\u0301", "JOSE"},           // e + combining acute
      {"  de la Cruz ", "DELACRUZ"},
      {"Zo\u00eb", "ZOE"},
      {"\ufb01ona", "FIONA"},           // U+FB01 ligature: NFKD splits it
      {"Dafydd", "DAFYDD"},
      {"", ""},
      {"Ren\u00e9e O'Neill", "RENEEONEILL"},
      {"\uff2a\uff4f\uff48\uff4e", "JOHN"},  // fullwidth: compatibility decomposition
      {"\u00c5ngstr\u00f6m", "ANGSTROM"},
      {"Fran\u00e7oise", "FRANCOISE"},
      {"N\u00fa\u00f1ez", "NUNEZ"},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(normalise_name(cases[i].input), cases[i].expected) << "name case #" << i;
  }
}

// Consequences of the contract (NFKD + mark removal + upper case + A-Z only), not special cases.
TEST(NormaliseName, ContractConsequences) {
  // NFKD does not decompose Ø or Ł (no canonical base letter), so they are dropped.
  EXPECT_EQ(normalise_name("\u00d8yvind"), "YVIND");
  EXPECT_EQ(normalise_name("\u0141ukasz"), "UKASZ");
  // Upper case is the Unicode full mapping (root locale): ß -> SS.
  EXPECT_EQ(normalise_name("Strau\u00df"), "STRAUSS");
  // Dotless i upper-cases to I; the result never depends on a Turkish locale.
  EXPECT_EQ(normalise_name("Y\u0131lmaz"), "YILMAZ");
  // Non-Latin scripts contribute nothing.
  EXPECT_EQ(normalise_name("\u0418\u0432\u0430\u043d"), "");
  EXPECT_EQ(normalise_name("Anna \u0418\u0432\u0430\u043d\u043e\u0432\u0430"), "ANNA");
  // Characters outside the BMP are handled and dropped.
  EXPECT_EQ(normalise_name("Ann\U0001F600e"), "ANNE");
  // Mathematical bold letters decompose (compatibility) to ASCII.
  EXPECT_EQ(normalise_name("\U0001D400\U0001D401"), "AB");
}

TEST(NormaliseName, AsciiFastPath) {
  EXPECT_EQ(normalise_name("mc donald"), "MCDONALD");
  EXPECT_EQ(normalise_name("Smith2\tJones\r\n"), "SMITHJONES");
  EXPECT_EQ(normalise_name("a-z A-Z 0-9 !@#$%^&*()[]{}~`"), "AZAZ");
  EXPECT_EQ(normalise_name(std::string_view("Ann\0e", 5)), "ANNE");
  EXPECT_EQ(normalise_name("'-. "), "");
}

TEST(NormaliseName, AsciiAndUnicodePathsAgree) {
  // The same ASCII letters give the same result whether or not a non-ASCII character forces
  // the ICU path.
  constexpr std::string_view kNames[] = {"O'Brien-Smith", "  de la Cruz ", "mc donald", "Dafydd"};
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    std::string with_mark(kNames[i]);
    with_mark += "\u0301";  // a lone combining mark: removed, but forces the ICU path
    EXPECT_EQ(normalise_name(with_mark), normalise_name(kNames[i])) << "name case #" << i;
  }
}

}  // namespace
}  // namespace svd::crypto
