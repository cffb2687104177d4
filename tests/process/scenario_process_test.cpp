// svd-synth scenario through the real programs: the tool writes the same bytes as the library
// and prints no identifier; every file it writes passes its schema with no rejection in
// `svdgw process`, run (with libfaketime, when installed) at the file's delivery time; and the
// gateway's own tokens link the deaths to exactly the records the manifest says they should.

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "tests/process/scenario_files.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/synth/scenario.h"

namespace svd::synth::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using test_support::RunResult;

std::string read_file(const fs::path& p) { return test_support::read_output(p); }

// Relative path -> bytes of every file under `dir`.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.emplace(fs::relative(e.path(), dir).generic_string(), read_file(e.path()));
  return out;
}

class ScenarioProcessTest : public ::testing::Test {
 protected:
  RunResult synth(std::vector<std::string> args) {
    args.insert(args.begin(), {SVD_SYNTH, "scenario"});
    return test_support::run(args);
  }

  test_support::TempDir tmp_{"svd-scenario-process"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ScenarioProcessTest, ToolWritesTheLibrarysBytesEveryTime) {
  const RunResult a = synth({(dir_ / "a").string(), "--start", "2025-01-06"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const RunResult b = synth({(dir_ / "b").string(), "--start=2025-01-06", "--weeks", "6", "--seed=1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto fa = files_under(dir_ / "a"), fb = files_under(dir_ / "b");
  EXPECT_TRUE(fa == fb) << "two runs with the same arguments differ";
  std::map<std::string, std::string> library;
  for (ScenarioFile& f : make_scenario(kDefaultScenario)) library.emplace(f.path, std::move(f.bytes));
  EXPECT_TRUE(fa == library) << "the tool and make_scenario differ";

  // What the tool prints names no person: no name, NHS number or date of birth of any death.
  const std::string printed = a.out + a.err;
  EXPECT_NE(printed.find("scenario.json"), std::string::npos) << printed;
  std::size_t checked = 0;
  for (const auto& [path, bytes] : fa) {
    if (!path.starts_with("death-reports/") && !path.starts_with("ed-attendances/")) continue;
    const Table t = parse_csv(bytes);
    for (const auto& row : t.rows)
      for (const char* column : {"surname", "forename", "nhs_number", "date_of_birth"}) {
        const std::string& v = row[t.column(column)];
        if (v.empty()) continue;
        EXPECT_EQ(printed.find(v), std::string::npos) << "the tool printed a " << column << " of " << path;
        ++checked;
      }
  }
  EXPECT_GT(checked, 1000u);
}

TEST_F(ScenarioProcessTest, ToolRefusesBadArguments) {
  const RunResult tuesday = synth({(dir_ / "t").string(), "--start", "2025-01-07"});
  EXPECT_EQ(tuesday.exit_code, 1);
  EXPECT_NE(tuesday.err.find("must be a Monday"), std::string::npos) << tuesday.err;
  EXPECT_NE(tuesday.err.find("Tuesday"), std::string::npos) << tuesday.err;
  EXPECT_FALSE(fs::exists(dir_ / "t")) << "nothing is written for bad arguments";

  EXPECT_EQ(synth({(dir_ / "t").string(), "--start", "2025-01-06", "--weeks", "5"}).exit_code, 1);
  EXPECT_EQ(synth({(dir_ / "t").string(), "--start", "6/1/2025"}).exit_code, 1);
  EXPECT_EQ(synth({(dir_ / "t").string()}).exit_code, 1) << "--start is required";
  EXPECT_EQ(synth({"--start", "2025-01-06"}).exit_code, 1) << "OUT_DIR is required";
  EXPECT_EQ(synth({(dir_ / "t").string(), "--start", "2025-01-06", "--seed", "-1"}).exit_code, 1);

  // A folder with files in it could hold a stale week that the manifest does not list.
  fs::create_directories(dir_ / "used");
  std::ofstream(dir_ / "used" / "week-2.csv") << "old\n";
  const RunResult used = synth({(dir_ / "used").string(), "--start", "2025-01-06"});
  EXPECT_EQ(used.exit_code, 1);
  EXPECT_NE(used.err.find("empty"), std::string::npos) << used.err;
  // An empty one is fine.
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(synth({(dir_ / "empty").string(), "--start", "2025-01-06"}).exit_code, 0);
}

// The gateway config the three feeds are processed with: the shipped schemas, the scenario's
// encodings, and a fresh linkage key from `svdgw keys generate`.
fs::path write_gateway_config(const fs::path& dir) {
  const RunResult key = test_support::run({SVD_SVDGW, "keys", "generate", "--out", (dir / "linkage.key").string()});
  EXPECT_EQ(key.exit_code, 0) << key.err;
  const std::string schemas = std::string(SVD_EXAMPLES_DIR) + "/schemas/";
  std::ofstream out(dir / "svdgw.toml");
  out << "[gateway]\npartner = \"scenario-test\"\nstate_dir = \"" << (dir / "state").string() << "\"\n"
      << "[linkage_key]\nfile = \"linkage.key\"\nid = \"k2026a\"\n";
  for (const auto& [feed, encoding] : {std::pair{"ed-attendances", "utf-8"}, std::pair{"school-exclusions", "windows-1252"},
                                       std::pair{"death-reports", "utf-8"}})
    out << "[[feed]]\nid = \"" << feed << "\"\nschema = \"" << schemas << feed << ".json\"\nformat = \"csv\"\n"
        << "encoding = \"" << encoding << "\"\nallowed_clients = [\"scenario-" << feed << "\"]\n"
        << "schedule = { every = \"week\", day = \"friday\", by = \"12:00\" }\nreject_threshold = 0.0\n";
  return dir / "svdgw.toml";
}

// The gateway's clock at `deliver_at` ("YYYY-MM-DDTHH:MM:SSZ"), through libfaketime's wrapper;
// without it the real clock, which is past every delivery of kDefaultScenario anyway.
std::vector<std::string> at_delivery(const std::string& deliver_at, std::vector<std::string> argv,
                                     test_support::RunOptions& options) {
  const fs::path faketime = test_support::find_program("faketime");
  if (faketime.empty()) return argv;
  // A sanitizer runtime accepts libfaketime preloaded ahead of it only when told to.
  std::string asan = "ASAN_OPTIONS=verify_asan_link_order=0";
  if (const char* set = std::getenv("ASAN_OPTIONS")) asan = std::string("ASAN_OPTIONS=") + set + ":verify_asan_link_order=0";
  options.env = test_support::environment_with({"TZ=UTC", asan}, {"FAKETIME", "LD_PRELOAD="});
  argv.insert(argv.begin(), {faketime.string(), "-f", "@" + deliver_at.substr(0, 10) + " " + deliver_at.substr(11, 8)});
  return argv;
}

TEST_F(ScenarioProcessTest, EveryFilePassesItsSchemaAndTheTokensLinkAsExpected) {
  const RunResult made = synth({(dir_ / "scenario").string(), "--start", "2025-01-06"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const json::object manifest = json::parse(read_file(dir_ / "scenario" / "scenario.json")).as_object();
  const fs::path config = write_gateway_config(dir_);
  if (test_support::find_program("faketime").empty())
    std::cerr << "faketime is not installed: the files are processed on the real clock\n";

  std::map<std::string, std::vector<json::object>> records;  // feed -> every record it wrote
  std::size_t processed = 0;
  for (const auto& d : manifest.at("deliveries").as_array()) {
    const std::string feed = text(d.at("feed")), file = text(d.at("file"));
    SCOPED_TRACE(file);
    const fs::path out = dir_ / "out" / file;
    test_support::RunOptions options;
    const std::vector<std::string> argv =
        at_delivery(text(d.at("deliver_at")),
                    {SVD_SVDGW, "process", "--quiet", "--config", config.string(), "--feed", feed, "--out",
                     out.string(), (dir_ / "scenario" / file).string()},
                    options);
    const RunResult r = test_support::run(argv, options);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const json::object report = json::parse(read_file(out / "report.json")).as_object();
    EXPECT_EQ(text(report.at("status")), "processed");
    const auto& rows = report.at("rows").as_object();
    EXPECT_EQ(number(rows.at("total")), number(d.at("rows")));
    EXPECT_EQ(number(rows.at("valid")), number(d.at("rows")));
    EXPECT_EQ(number(rows.at("rejected")), 0u);
    EXPECT_TRUE(report.at("rejections").as_array().empty()) << json::serialize(report.at("rejections_by_code"));
    EXPECT_TRUE(report.at("pseudo_postcodes").as_object().empty());
    std::istringstream lines(read_file(out / "records.jsonl"));
    for (std::string line; std::getline(lines, line);) records[feed].push_back(json::parse(line).as_object());
    ++processed;
  }
  EXPECT_EQ(processed, manifest.at("deliveries").as_array().size());

  // Every row has a person token; ED and death rows an NHS-number token but for background ED
  // rows without one. Then the deaths, linked by the gateway's tokens regardless of dates.
  std::set<std::string> ed_tokens, school_tokens;
  auto token = [](const json::object& r, const char* key) {
    const json::value& v = r.at(key);
    return v.is_null() ? std::string() : std::string(v.as_string());
  };
  for (const auto& r : records["ed-attendances"]) {
    ASSERT_FALSE(token(r, "person_token").empty());
    ed_tokens.insert(token(r, "person_token"));
    if (!token(r, "nhs_number_token").empty()) ed_tokens.insert(token(r, "nhs_number_token"));
  }
  for (const auto& r : records["school-exclusions"]) {
    ASSERT_FALSE(token(r, "person_token").empty());
    school_tokens.insert(token(r, "person_token"));
  }
  std::uint64_t deaths_in_range = 0, with_ed = 0, with_school = 0;
  for (const auto& r : records["death-reports"]) {
    ASSERT_FALSE(token(r, "person_token").empty());
    ASSERT_FALSE(token(r, "nhs_number_token").empty());
    if (text(r.at("week_of_death")) < "2025-W02") continue;  // the coroner's backlog
    ++deaths_in_range;
    with_ed += ed_tokens.contains(token(r, "person_token")) || ed_tokens.contains(token(r, "nhs_number_token"));
    with_school += school_tokens.contains(token(r, "person_token"));
  }
  const auto& x = manifest.at("expected").as_object();
  const auto& linked = x.at("linked").as_object();
  const auto& planted = manifest.at("planted").as_object();
  EXPECT_EQ(deaths_in_range, number(x.at("deaths")));
  // The accented names link through the gateway's real normaliser; the misspelt ones do not.
  EXPECT_EQ(with_school, number(linked.at("school-exclusions")) + number(linked.at("ed-attendances+school-exclusions")));
  // Exact tokens also find the ED records outside the lookback, which the manifest leaves out.
  EXPECT_EQ(with_ed, number(linked.at("ed-attendances")) + number(linked.at("ed-attendances+school-exclusions")) +
                         number(planted.at("outside_lookback")));
}

}  // namespace
}  // namespace svd::synth::testing
