#include "config/temporal.h"

#include <gtest/gtest.h>

namespace svd::config {
namespace {

TEST(Temporal, IsoDates) {
  auto d = parse_date("2024-02-29", "default");
  ASSERT_TRUE(d);
  EXPECT_EQ(to_iso(*d), "2024-02-29");
  EXPECT_FALSE(parse_date("2023-02-29", "default"));  // not a leap year
  EXPECT_FALSE(parse_date("1900-02-29", "default"));  // century, not a leap year
  EXPECT_TRUE(parse_date("2000-02-29", "default"));   // 400-year rule
  EXPECT_FALSE(parse_date("2001-02-30", "default"));
  EXPECT_FALSE(parse_date("2024-04-31", "default"));
  EXPECT_FALSE(parse_date("2024-13-01", "default"));
  EXPECT_FALSE(parse_date("2024-1-01", "default"));
  EXPECT_FALSE(parse_date("2024-01-01 ", "default"));
  EXPECT_FALSE(parse_date("", "default"));
}

TEST(Temporal, PatternDates) {
  auto d = parse_date("03/07/2012", "%d/%m/%Y");
  ASSERT_TRUE(d);
  EXPECT_EQ(to_iso(*d), "2012-07-03");
  auto short_form = parse_date("3/7/2012", "%d/%m/%Y");
  ASSERT_TRUE(short_form);
  EXPECT_EQ(to_iso(*short_form), "2012-07-03");
  EXPECT_FALSE(parse_date("31/06/2012", "%d/%m/%Y"));
  EXPECT_FALSE(parse_date("03/07/12", "%d/%m/%Y"));
  EXPECT_FALSE(parse_date("03-07-2012", "%d/%m/%Y"));
}

TEST(Temporal, Datetimes) {
  auto dt = parse_datetime("2024-03-01T14:05:09", "default");
  ASSERT_TRUE(dt);
  EXPECT_EQ(to_iso(*dt), "2024-03-01T14:05:09");
  EXPECT_FALSE(dt->offset_minutes);
  auto space = parse_datetime("2024-03-01 14:05", "default");
  ASSERT_TRUE(space);
  EXPECT_EQ(to_iso(*space), "2024-03-01T14:05:00");
  auto z = parse_datetime("2024-03-01T14:05:09.123Z", "default");
  ASSERT_TRUE(z);
  EXPECT_EQ(to_iso(*z), "2024-03-01T14:05:09Z");
  auto off = parse_datetime("2024-03-01T14:05:09+01:00", "default");
  ASSERT_TRUE(off);
  EXPECT_EQ(*off->offset_minutes, 60);
  EXPECT_EQ(to_unix_seconds(*off), to_unix_seconds(*parse_datetime("2024-03-01T13:05:09Z", "default")));
  EXPECT_FALSE(parse_datetime("2024-02-30T10:00:00", "default"));
  EXPECT_FALSE(parse_datetime("2024-03-01T24:00:00", "default"));
  EXPECT_FALSE(parse_datetime("2024-03-01", "default"));
  EXPECT_FALSE(parse_datetime("2024-03-01T10:00:00X", "default"));
  auto uk = parse_datetime("01/03/2024 14:05", "%d/%m/%Y %H:%M");
  ASSERT_TRUE(uk);
  EXPECT_EQ(to_iso(*uk), "2024-03-01T14:05:00");
}

TEST(Temporal, Times) {
  EXPECT_EQ(to_iso(*parse_time("07:30", "default")), "07:30:00");
  EXPECT_FALSE(parse_time("25:00", "default"));
  EXPECT_FALSE(parse_time("7:30", "default"));
}

TEST(Temporal, FormatChecks) {
  EXPECT_EQ(check_date_format("default"), "");
  EXPECT_EQ(check_date_format("%d/%m/%Y"), "");
  EXPECT_NE(check_date_format("%d/%m"), "");
  EXPECT_NE(check_date_format("%d/%m/%Y %H:%M"), "");
  EXPECT_NE(check_date_format("%q"), "");
  EXPECT_EQ(check_datetime_format("%d/%m/%Y %H:%M"), "");
  EXPECT_NE(check_datetime_format("%d/%m/%Y"), "");
  EXPECT_EQ(check_time_format("%H.%M"), "");
  EXPECT_NE(check_time_format("%Y %H:%M"), "");
}

TEST(Temporal, CivilDayRoundTrip) {
  EXPECT_EQ(days_from_civil({1970, 1, 1}), 0);
  EXPECT_EQ(days_from_civil({2000, 3, 1}), 11017);
  // Every 997th day from 0001-01-01 to 9999-12-31.
  for (std::int64_t d = days_from_civil({1, 1, 1}); d <= days_from_civil({9999, 12, 31}); d += 997) {
    Date c = civil_from_days(d);
    ASSERT_TRUE(valid_date(c));
    ASSERT_EQ(days_from_civil(c), d);
  }
}

}  // namespace
}  // namespace svd::config
