// No raw identifier may reach what `svdgw process` writes or prints: records.jsonl,
// report.json, stdout, stderr. The identifiers are collected from the input itself (read back
// with the gateway's own readers) in every spelling a leak could take, then searched for.
// Failure messages name the kind of identifier and the row, never the value, so that this
// test's own output cannot leak either.

#include <gtest/gtest.h>

#include <fstream>

#include "tests/apps/svdgw/cli_fixture.h"
#include "tests/support/identifiers.h"
#include "tests/synth/synth.h"

namespace svd::process::testing {
namespace {

using namespace svdgw::testing;  // CliFixture: the svdgw binary on a temporary config

class LeakTest : public CliFixture {
 protected:
  // Runs the feed and searches every output; returns how many identifiers were checked.
  std::size_t check(const std::string& feed, const fs::path& input, bool jsonl, bool windows_1252, int want_exit) {
    const fs::path out = dir_ / ("out-" + feed);
    RunResult r = svdgw("process --config '" + config().string() + "' --feed " + feed + " '" + input.string() +
                        "' --out '" + out.string() + "'");
    EXPECT_EQ(r.exit_code, want_exit);
    const std::pair<std::string, std::string> outputs[] = {
        {"records.jsonl", fs::exists(out / "records.jsonl") ? read_file(out / "records.jsonl") : ""},
        {"report.json", read_file(out / "report.json")},
        {"stdout", r.out},
        {"stderr", r.err},
    };
    EXPECT_FALSE(outputs[1].second.empty());
    auto ids = test_support::identifiers(input, jsonl, windows_1252);
    for (const auto& [name, text] : outputs)
      for (const auto& id : ids)
        if (text.find(id.value) != std::string::npos)
          ADD_FAILURE() << "a " << id.kind << " from row " << id.row << " of " << feed << " appears in " << name;
    return ids.size();
  }
};

TEST_F(LeakTest, ProcessedExtractsLeakNothing) {
  const struct {
    const char* feed;
    const char* file;
    bool jsonl, cp1252;
  } feeds[] = {{"death-reports", "dr.csv", false, false},
               {"death-reports-jsonl", "dr.jsonl", true, false},
               {"school-exclusions", "se.csv", false, true}};
  for (const auto& f : feeds) {
    SCOPED_TRACE(f.feed);
    const fs::path input = dir_ / f.file;
    {
      std::ofstream o(input, std::ios::binary);
      synth::generate(f.feed, 3000, 99, o, {.invalid_rate = 0.05, .crlf = false});
    }
    EXPECT_GT(check(f.feed, input, f.jsonl, f.cp1252, 0), 3000u);
  }
}

TEST_F(LeakTest, RefusedExtractLeaksNothing) {
  const fs::path input = dir_ / "bad.csv";
  {
    std::ofstream o(input, std::ios::binary);
    synth::generate("death-reports", 500, 3, o, {.invalid_rate = 0.6, .crlf = false});
  }
  EXPECT_GT(check("death-reports", input, false, false, 2), 500u);
}

// An export that forgets its header: the first data row is read as the header. Whatever the
// gateway says about that "header" must not repeat its cells.
TEST_F(LeakTest, HeaderlessExtractLeaksNothing) {
  const fs::path full = dir_ / "full.csv", headless = dir_ / "headless.csv";
  {
    std::ofstream o(full, std::ios::binary);
    synth::generate("death-reports", 50, 4, o, {.invalid_rate = 0.0, .crlf = false});
  }
  const std::string csv = read_file(full);
  write_file(headless, csv.substr(csv.find('\n') + 1));
  const fs::path out = dir_ / "out-headless";
  RunResult r = svdgw("process --config '" + config().string() + "' --feed death-reports '" + headless.string() +
                      "' --out '" + out.string() + "'");
  EXPECT_EQ(r.exit_code, 2);
  std::string report = read_file(out / "report.json");
  EXPECT_NE(report.find("missing_column"), std::string::npos);
  auto ids = test_support::identifiers(full, false, false);
  ASSERT_GT(ids.size(), 100u);
  for (const auto& id : ids)
    for (const std::string* output : {&report, &r.out, &r.err})
      if (output->find(id.value) != std::string::npos) ADD_FAILURE() << "a " << id.kind << " from row " << id.row << " leaked";
}

}  // namespace
}  // namespace svd::process::testing
