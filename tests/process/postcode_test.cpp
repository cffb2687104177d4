#include "process/postcode.h"

#include <gtest/gtest.h>

namespace svd::process {
namespace {

TEST(Postcode, ValidVectorsFromTheReference) {
  const std::pair<const char*, const char*> cases[] = {
      {"EC1A 1BB", "EC1A 1BB"}, {"W1A 0AX", "W1A 0AX"}, {"M1 1AE", "M1 1AE"},     {"B33 8TH", "B33 8TH"},
      {"CR2 6XH", "CR2 6XH"},   {"DN55 1PT", "DN55 1PT"}, {"GIR 0AA", "GIR 0AA"}, {"NR103EZ", "NR10 3EZ"},
      {"RG45AY", "RG4 5AY"},    {"BT35 8GE", "BT35 8GE"}, {" sw1a  2aa ", "SW1A 2AA"},
  };
  for (const auto& [raw, normal] : cases) {
    auto pc = parse_postcode(raw);
    ASSERT_TRUE(pc) << raw;
    EXPECT_EQ(pc->text, normal);
    EXPECT_FALSE(pc->pseudo);
  }
}

TEST(Postcode, InvalidVectorsFromTheReference) {
  for (const char* raw : {"XX XXX", "A1 9A", "Q1A 9AA", "V1A 9AA", "LI10 3QP", "A9Q 9AA", "AA9C 9AA", "1A1 1AA",
                          "EH1 JS", "", "SW1A 2AAA", "SW1A 2CI", "SW1A-2AA"}) {
    EXPECT_FALSE(parse_postcode(raw)) << raw;
  }
}

TEST(Postcode, OutwardCodeSplitsDistrictAndSector) {
  auto pc = parse_postcode("SW1A 2AA");
  ASSERT_TRUE(pc);
  EXPECT_EQ(pc->text.substr(0, pc->outward), "SW1A");
  EXPECT_EQ(pc->text.substr(0, pc->outward + 2), "SW1A 2");
  auto m = parse_postcode("M1 1AE");
  EXPECT_EQ(m->text.substr(0, m->outward), "M1");
}

TEST(Postcode, NhsPseudoPostcodesAreAcceptedAndFlagged) {
  for (const char* raw : {"ZZ99 3VZ", "zz993wz"}) {
    auto pc = parse_postcode(raw);
    ASSERT_TRUE(pc) << raw;
    EXPECT_TRUE(pc->pseudo);
  }
  EXPECT_FALSE(parse_postcode("ZZ99 3AA"));  // not a pseudo-postcode, and Z cannot be second
}

}  // namespace
}  // namespace svd::process
