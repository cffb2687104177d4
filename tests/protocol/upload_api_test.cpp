// The upload API's names, paths and problem codes: what its server and its client both rely on.

#include "protocol/upload_api.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace svd::protocol {
namespace {

TEST(UploadApi, ExtractNames) {
  EXPECT_TRUE(valid_extract_name("week-01.csv"));
  EXPECT_TRUE(valid_extract_name("A_b.C-9"));
  EXPECT_TRUE(valid_extract_name(std::string(128, 'a')));
  EXPECT_FALSE(valid_extract_name(std::string(129, 'a')));
  EXPECT_FALSE(valid_extract_name(""));
  EXPECT_FALSE(valid_extract_name(".hidden"));
  EXPECT_FALSE(valid_extract_name(".."));
  EXPECT_FALSE(valid_extract_name("week 01.csv"));
  EXPECT_FALSE(valid_extract_name("a/b"));
  EXPECT_FALSE(valid_extract_name("caf\xc3\xa9.csv"));
}

TEST(UploadApi, ExtractIds) {
  EXPECT_TRUE(valid_extract_id("death-reports-ad8b8504a43e8262"));
  EXPECT_TRUE(valid_extract_id(std::string(128, 'a')));
  EXPECT_FALSE(valid_extract_id(std::string(129, 'a')));
  EXPECT_FALSE(valid_extract_id(""));
  EXPECT_FALSE(valid_extract_id("-a"));
  EXPECT_FALSE(valid_extract_id("A"));
  EXPECT_FALSE(valid_extract_id("a.b"));
}

TEST(UploadApi, NothingToSharePeriods) {
  for (const char* p : {"2026-W01", "2026-W52", "2026-W53", "2020-W53", "2015-W53", "2026-01", "2026-12", "2026-11-23",
                        "2024-02-29", "2000-02-29", "2026-12-31"})
    EXPECT_TRUE(valid_period(p)) << p;
  // Week 53 only in years that have one (Thursday 1 January, or Wednesday in a leap year).
  for (const char* p : {"2026-W00", "2026-W54", "2027-W53", "2021-W53", "2026-00", "2026-13", "2026-02-29",
                        "1900-02-29", "2026-04-31", "2026-11-00", "2026-w01", "2026W01", "2026-W1", "2026-1",
                        "26-01-01", "2026-01-1", "2026-01-01T00", " 2026-01", "2026-01 ", "2026", "", "+026-01",
                        "2026-0a", "9990000018", "week-01"})
    EXPECT_FALSE(valid_period(p)) << p;
}

TEST(UploadApi, Paths) {
  EXPECT_EQ(extract_path("ed-assaults", "week-01.csv"), "/v1/feeds/ed-assaults/extracts/week-01.csv");
  EXPECT_EQ(nothing_to_share_path("ed-assaults", "2026-W03"), "/v1/feeds/ed-assaults/nothing-to-share/2026-W03");
  EXPECT_EQ(extract_status_path("ed-assaults-0123"), "/v1/extracts/ed-assaults-0123");
}

TEST(UploadApi, ProblemCodesAreDistinctAndCarryTheirStatus) {
  std::set<std::string_view> codes;
  for (int i = 0; i <= static_cast<int>(Problem::too_slow); ++i) {
    const ProblemSpec s = problem_spec(static_cast<Problem>(i));
    EXPECT_TRUE(codes.insert(s.code).second) << s.code;
    EXPECT_GE(s.status, 400);
    EXPECT_LT(s.status, 600);
    EXPECT_FALSE(s.title.empty());
  }
  EXPECT_EQ(problem_spec(Problem::storage_full).status, 507);
  EXPECT_EQ(problem_spec(Problem::forbidden).code, "forbidden");
}

}  // namespace
}  // namespace svd::protocol
