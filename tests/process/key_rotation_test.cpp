// Linkage-key rotation through the real pipeline: a config with two [[linkage_key]] tables, the
// real key files and the shipped death-reports schema. An extract received inside the overlap
// carries both tokens in every token field, one received outside carries one; the time that
// counts is the job's keys_at (the daemon's received time), never the clock.

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "config/gateway_config.h"
#include "crypto/key_ring.h"
#include "crypto/tokeniser.h"
#include "process/pipeline.h"
#include "tests/support/temp_dir.h"

namespace svd::process {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kJan1 = 1798761600;  // 2027-01-01T00:00:00Z: k2027a comes into force
constexpr std::int64_t kFeb1 = 1801440000;  // 2027-02-01T00:00:00Z: k2026a goes out of force

class MemorySink final : public RecordSink {
 public:
  result<void> add_lines(std::string_view lines) override {
    text += lines;
    return {};
  }
  result<void> commit() override {
    committed = true;
    return {};
  }
  void discard() override { text.clear(); }
  std::string text;
  bool committed = false;
};

std::string key_hex(unsigned char start) {
  std::string hex;
  for (int i = 0; i < 32; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(start + i));
    hex += b;
  }
  return hex + "\n";
}

std::array<unsigned char, 32> key_bytes(unsigned char start) {
  std::array<unsigned char, 32> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(start + i);
  return b;
}

// Every value of `key` ("nhs_number_token", …) in the NDJSON `records`, in order.
std::vector<std::string> values_of(const std::string& records, const std::string& key) {
  std::vector<std::string> out;
  const std::regex re("\"" + key + "\":(\"[^\"]*\"|null)");
  for (auto it = std::sregex_iterator(records.begin(), records.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

class KeyRotationPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [name, start] : {std::pair<const char*, unsigned char>{"k2026a.key", 0x00}, {"k2027a.key", 0x40}}) {
      std::ofstream(dir_ / name) << key_hex(start);
      fs::permissions(dir_ / name, fs::perms::owner_read | fs::perms::owner_write);
    }
    std::ofstream(dir_ / "svdgw.toml") << R"([gateway]
partner = "northgate-ed"
state_dir = "state"

[[linkage_key]]
id = "k2026a"
file = "k2026a.key"
until = 2027-02-01T00:00:00Z

[[linkage_key]]
id = "k2027a"
file = "k2027a.key"
from = 2027-01-01T00:00:00Z

[[feed]]
id = "death-reports"
schema = ")" << SVD_EXAMPLES_DIR << R"(/schemas/death-reports.json"
)";
    // Synthetic people only: 999 NHS numbers, made-up names.
    std::ofstream(dir_ / "deaths.csv")
        << "report_id,nhs_number,surname,forename,date_of_birth,sex,postcode,date_of_death,place_of_death_type,"
           "cause_category,reporting_agency\n"
           "DR-0001,999 000 0018,Testperson,Alexandra,1970-01-01,F,SW1A 2AA,2026-11-20,home,violence,police\n"
           "DR-0002,,Testperson,,1980-05-05,M,M1 1AE,2026-11-21,hospital,natural,nhs\n";
    cfg_ = config::load_gateway_config(dir_ / "svdgw.toml");
    auto ring = crypto::KeyRing::load(cfg_.linkage_keys);
    ASSERT_TRUE(ring) << ring.error().message;
    ring_.emplace(std::move(*ring));
  }

  // Runs the pipeline as if the extract had been received at `received`.
  ExtractReport process_received_at(std::int64_t received, MemorySink& sink, unsigned workers = 1) {
    ExtractJob job{&cfg_, cfg_.find_feed("death-reports"), dir_ / "deaths.csv", Now::system(), {}, workers, received};
    auto report = run_pipeline(job, *ring_, sink);
    EXPECT_TRUE(report);
    EXPECT_TRUE(sink.committed);
    return report ? *report : ExtractReport{};
  }

  // The expected token field under each of `keys`, as one JSON string.
  static std::string tokens(const std::vector<crypto::LinkageKey>& keys, const std::string& kind,
                            const std::string& value) {
    std::string s = "\"";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i) s += ' ';
      s += crypto::Tokeniser(keys[i]).token(kind, value);
    }
    return s + "\"";
  }

  test_support::TempDir tmp_{"svd-key-rotation"};
  const fs::path& dir_ = tmp_.path();
  config::GatewayConfig cfg_;
  std::optional<crypto::KeyRing> ring_;
};

TEST_F(KeyRotationPipelineTest, InsideTheOverlapEveryTokenFieldHoldsBothTokensInConfigOrder) {
  MemorySink sink;
  const ExtractReport report = process_received_at(kJan1 + 3600, sink);
  EXPECT_EQ(report.key_ids, (std::vector<std::string>{"k2026a", "k2027a"}));
  EXPECT_EQ(report.rows_valid, 2u);
  EXPECT_NE(report.to_json().find("\"key_ids\": [\"k2026a\",\"k2027a\"]"), std::string::npos) << report.to_json();
  EXPECT_NE(report.summary().find("linkage-key overlap"), std::string::npos) << report.summary();

  std::vector<crypto::LinkageKey> both;
  both.emplace_back("k2026a", key_bytes(0x00));
  both.emplace_back("k2027a", key_bytes(0x40));
  EXPECT_EQ(values_of(sink.text, "nhs_number_token"),
            (std::vector<std::string>{tokens(both, "nhs_number", "9990000018"), "null"}));
  // A missing value stays null, not one null per key.
  EXPECT_EQ(values_of(sink.text, "person_token"),
            (std::vector<std::string>{tokens(both, "person", "TESTPERSON|ALEXANDRA|1970-01-01"), "null"}));
  // The old key's token is the one it wrote before the overlap: records link across it.
  std::vector<crypto::LinkageKey> old_only;
  old_only.emplace_back("k2026a", key_bytes(0x00));
  const std::string before = tokens(old_only, "nhs_number", "9990000018");
  const std::string first = values_of(sink.text, "nhs_number_token")[0];
  EXPECT_EQ(first.substr(0, before.size() - 1), before.substr(0, before.size() - 1));
}

TEST_F(KeyRotationPipelineTest, OutsideTheOverlapOneKeyAndAtItsBoundsFromCountsUntilDoesNot) {
  struct Case {
    std::int64_t received;
    std::vector<std::string> ids;
  };
  const Case cases[] = {
      {kJan1 - 1, {"k2026a"}},            // before the new key's from
      {kJan1, {"k2026a", "k2027a"}},      // from is included
      {kFeb1 - 1, {"k2026a", "k2027a"}},  // the overlap's last second
      {kFeb1, {"k2027a"}},                // until is not included
      {kFeb1 + 86400 * 200, {"k2027a"}},
  };
  for (const Case& c : cases) {
    MemorySink sink;
    const ExtractReport report = process_received_at(c.received, sink);
    EXPECT_EQ(report.key_ids, c.ids) << c.received;
    std::vector<crypto::LinkageKey> keys;
    for (const auto& id : c.ids) keys.emplace_back(id, key_bytes(id == "k2026a" ? 0x00 : 0x40));
    EXPECT_EQ(values_of(sink.text, "nhs_number_token")[0], tokens(keys, "nhs_number", "9990000018")) << c.received;
  }
}

TEST_F(KeyRotationPipelineTest, TheSameReceivedTimeGivesTheSameRecordsWhateverTheThreadsAndTheClock) {
  MemorySink one, four;
  process_received_at(kJan1 + 10, one, 1);
  process_received_at(kJan1 + 10, four, 4);
  EXPECT_EQ(one.text, four.text);
  // Without keys_at the job takes its `now`: here, long after the overlap.
  ExtractJob job{&cfg_, cfg_.find_feed("death-reports"), dir_ / "deaths.csv", Now::system(), {}, 1, std::nullopt};
  job.now.utc_seconds = kFeb1 + 1;
  EXPECT_EQ(keys_instant(job), kFeb1 + 1);
  MemorySink later;
  auto report = run_pipeline(job, *ring_, later);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->key_ids, std::vector<std::string>{"k2027a"});
}

}  // namespace
}  // namespace svd::process
