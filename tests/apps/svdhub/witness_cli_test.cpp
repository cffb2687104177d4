// `svdhub checkpoints export|alarms`, `svdhub stats` and `svdhub check-config` on a store the
// witness wrote: the real svdhub binary.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include "tests/hub/witness_fixture.h"
#include "tests/support/process.h"

namespace svd::hub::testing {
namespace {

// `svdhub checkpoints export|alarms` and `svdhub stats` on a store the witness wrote.
class WitnessCliTest : public WitnessTest {
 protected:
  using RunResult = test_support::RunResult;
  RunResult svdhub(const std::string& args) {
    std::ofstream(dir_ / "svdhub.toml") << "[store]\ndatabase = \"hub.db\"\n"
                                        << "[broker]\nhost = \"127.0.0.1\"\nca = \"ca.crt\"\ncert = \"c.crt\"\n"
                                        << "key = \"c.key\"\n"
                                        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                                        << "/schemas/ed-assaults.json\"\n"
                                        << "[witness]\nkey = \"witness.key\"\n"
                                        << "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed-assaults\"]\ndevice_key = \"device.pub\"\n";
    // No shell: `args` split into words as a shell would, quotes included.
    auto argv = test_support::split_words(args);
    argv.insert(argv.begin(), SVD_SVDHUB);
    argv.insert(argv.end(), {"--config", (dir_ / "svdhub.toml").string()});
    return test_support::run(argv);
  }
};

TEST_F(WitnessCliTest, ExportWritesOneReceiptPerLine) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  ASSERT_EQ(handle(message(3, 5)).receipt.status, CheckpointStatus::accepted);
  RunResult r = svdhub("checkpoints export --partner northgate-ed");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::uint64_t> seqs;
  while (std::getline(lines, line)) {
    auto receipt = protocol::parse_checkpoint_receipt(line);
    ASSERT_TRUE(receipt) << line;
    EXPECT_TRUE(cosignature_verifies(*receipt));
    seqs.push_back(receipt->checkpoint.seq);
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 5}));

  RunResult to_file = svdhub("checkpoints export --partner northgate-ed --out '" + (dir_ / "hub.jsonl").string() + "'");
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(read_file(dir_ / "hub.jsonl"), r.out);
  EXPECT_FALSE(fs::exists(dir_ / "hub.jsonl.part"));

  RunResult none = svdhub("checkpoints export --partner southgate-ed");
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(svdhub("checkpoints export --partner 'North/Gate'").exit_code, 1);
  EXPECT_EQ(svdhub("checkpoints export").exit_code, 1);  // --partner is required
}

TEST_F(WitnessCliTest, AlarmsAndStatsShowWhatWasRaised) {
  ASSERT_EQ(handle(message(0, 3)).receipt.status, CheckpointStatus::accepted);
  expect_alarm(handle(message(3, 5, chain_, *forger_)), "bad_signature");
  RunResult alarms = svdhub("checkpoints alarms");
  ASSERT_EQ(alarms.exit_code, 0) << alarms.err;
  EXPECT_NE(alarms.out.find("2026-11-23T09:15:20.123Z partner northgate-ed checkpoint seq 5: bad_signature ("),
            std::string::npos)
      << alarms.out;
  EXPECT_NE(alarms.out.find("1 audit alarm(s) stored\n"), std::string::npos) << alarms.out;
  EXPECT_NE(svdhub("checkpoints alarms --partner southgate-ed").out.find("0 audit alarm(s) stored\n"),
            std::string::npos);

  // A store with no batches yet, only checkpoints: stats still reads it.
  sqlite3* db_handle = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &db_handle), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db_handle,
                         "CREATE TABLE IF NOT EXISTS batches (partner TEXT, batch_id TEXT, feed TEXT, extract_id TEXT, "
                         "seq INTEGER, last INTEGER, records INTEGER, received_at INTEGER)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db_handle);
  RunResult stats = svdhub("stats");
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("  audit checkpoints witnessed:\n"
                           "    northgate-ed: 1 checkpoints, last seq 3 witnessed 2026-11-23T09:15:20.123Z; "
                           "audit alarms: 1, last 2026-11-23T09:15:20.123Z\n"),
            std::string::npos)
      << stats.out;
}

TEST_F(WitnessCliTest, CheckConfigLoadsTheKeys) {
  RunResult ok = svdhub("check-config");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("witness key " + crypto::fingerprint(witness_pub_) + " for 1 partner(s)"), std::string::npos)
      << ok.out;
  fs::remove(dir_ / "device.pub");
  RunResult missing = svdhub("check-config");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("device.pub: cannot load the device key of partner northgate-ed"), std::string::npos)
      << missing.err;
  fs::permissions(dir_ / "witness.key", fs::perms::group_read, fs::perm_options::add);
  RunResult loose = svdhub("check-config");
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("witness.key: cannot load the [witness] key"), std::string::npos) << loose.err;
}

}  // namespace
}  // namespace svd::hub::testing
