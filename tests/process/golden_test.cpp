// Golden end-to-end tests: the shipped example feeds, processed by the real svdgw, must give
// exactly the committed records and report. Inputs were made with svd-synth (the seeds are in
// golden/README.md). After an intended change, regenerate with SVD_UPDATE_GOLDEN=1 and review
// the diff before committing it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>

#include "tests/apps/svdgw/cli_fixture.h"
#include "tests/synth/synth.h"

namespace svd::process::testing {
namespace {

using namespace svdgw::testing;  // CliFixture: the svdgw binary on a temporary config

struct GoldenCase {
  const char* name;   // folder under golden/
  const char* feed;
  const char* input;  // file in that folder
  int exit_code;
};

const GoldenCase kCases[] = {
    {"death-reports", "death-reports", "input.csv", 0},
    {"death-reports-jsonl", "death-reports-jsonl", "input.jsonl", 0},
    {"ed-assaults", "ed-assaults", "input.csv", 0},
    {"school-exclusions", "school-exclusions", "input.csv", 0},
    {"ambulance-callouts", "ambulance-callouts", "input.csv", 0},
    {"ed-assaults-refused", "ed-assaults", "input.csv", 2},
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

// Timestamps and durations change every run; everything else must not.
std::string stable(const std::string& report) {
  static const std::regex volatile_lines(R"re(\n *"(started_at|finished_at|seconds)": [^\n]*)re");
  return std::regex_replace(report, volatile_lines, "");
}

class GoldenTest : public CliFixture, public ::testing::WithParamInterface<GoldenCase> {};

TEST_P(GoldenTest, MatchesCommittedOutput) {
  const GoldenCase& c = GetParam();
  const fs::path golden = fs::path(SVD_GOLDEN_DIR) / c.name;
  const fs::path out = dir_ / "out";
  RunResult r = process(c.feed, golden / c.input, out);
  ASSERT_EQ(r.exit_code, c.exit_code) << r.err;
  EXPECT_EQ(r.err, "");

  const std::string records = fs::exists(out / "records.jsonl") ? read_file(out / "records.jsonl") : "(none)";
  const std::string report = stable(read_file(out / "report.json"));
  if (std::getenv("SVD_UPDATE_GOLDEN")) {
    write_file(golden / "records.jsonl", records);
    write_file(golden / "report.json", report);
  }
  EXPECT_EQ(records, read_file(golden / "records.jsonl"));
  EXPECT_EQ(report, read_file(golden / "report.json"));
  if (c.exit_code == 2) {
    EXPECT_FALSE(exists(out / "records.jsonl")) << "a refused extract must leave nothing to send";
  }
}

INSTANTIATE_TEST_SUITE_P(Feeds, GoldenTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& param_info) {
                           std::string n = param_info.param.name;
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

// Same input, any number of workers: byte-identical output (the merge keeps file order).
// Many chunks' worth of rows, and a feed without `unique` (which would force one thread).
TEST_F(CliFixture, OutputDoesNotDependOnWorkerCount) {
  const fs::path input = dir_ / "se.csv";
  {
    std::ofstream f(input, std::ios::binary);
    synth::generate("school-exclusions", 20000, 5, f, {.invalid_rate = 0.05, .crlf = false});
  }
  std::string first;
  for (int workers : {1, 2, 5}) {
    const fs::path out = dir_ / ("out" + std::to_string(workers));
    RunResult r = svdgw("process -q --workers " + std::to_string(workers) + " --config '" + config().string() +
                        "' --feed school-exclusions '" + input.string() + "' --out '" + out.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string records = read_file(out / "records.jsonl");
    EXPECT_GT(std::count(records.begin(), records.end(), '\n'), 18000);
    if (first.empty()) first = records;
    EXPECT_EQ(records, first) << workers << " workers";
  }
}

}  // namespace
}  // namespace svd::process::testing
