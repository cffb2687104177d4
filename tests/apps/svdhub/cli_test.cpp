// The svdhub command line as operators meet it (the commands that need no broker): exit codes,
// messages and the `stats` report.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hub/sqlite_store.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;


using test_support::RunResult;

class SvdhubCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The store path is relative: the config loader resolves it against the config's folder.
    std::ofstream(config()) << "[store]\ndatabase = \"hub.db\"\n"
                            << "[broker]\nhost = \"127.0.0.1\"\nport = 8883\nca = \"pki/ca.crt\"\n"
                            << "cert = \"pki/svdhub.crt\"\nkey = \"pki/svdhub.key\"\n"
                            << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                            << "/schemas/ed-assaults.json\"\n"
                            << "[[feed]]\nid = \"death-reports\"\nschema = \"" << SVD_EXAMPLES_DIR
                            << "/schemas/death-reports.json\"\n"
                            << "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed-assaults\"]\n";
  }

  fs::path config() const { return dir_ / "svdhub.toml"; }
  fs::path db() const { return dir_ / "hub.db"; }

  // svdhub with `args` (no shell: split into words as a shell would, quotes included).
  RunResult svdhub(const std::string& args) {
    auto argv = test_support::split_words(args);
    argv.insert(argv.begin(), SVD_SVDHUB);
    return test_support::run(argv);
  }

  // What `svdhub run` would have stored: two ED batches from one partner.
  void fill_store() {
    auto s = SqliteStore::open(db(), {{"ed-assaults", "records_ed_assaults", "records_ed_assaults_linked",
                                       {{"site_code", ColumnType::text, ""}, {"assault_method", ColumnType::text, ""}}}});
    ASSERT_TRUE(s);
    for (std::uint64_t seq : {0u, 1u}) {
      protocol::BatchHeader h;
      h.batch_id = protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'c'), seq);
      h.partner = "northgate-ed";
      h.feed = "ed-assaults";
      h.schema = "ed-assaults";
      h.extract = {"x", std::string(64, 'c'), "2026-11-23T09:00:00Z"};
      h.seq = seq;
      const std::string p = protocol::make_batch_payload(
          h, "{\"site_code\":\"RXH01\",\"assault_method\":\"08\"}\n{\"site_code\":\"RYJ\",\"assault_method\":\"01\"}\n");
      auto b = protocol::parse_batch(p);
      ASSERT_TRUE(b);
      ASSERT_EQ(*(*s)->store("northgate-ed", *b), protocol::ReceiptStatus::accepted);
    }
    ASSERT_EQ(sqlite3_exec((*s)->connection_for_test(), "UPDATE batches SET received_at = 1795425320", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
  }

  test_support::TempDir tmp_{"svd-hubcli"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(SvdhubCliTest, StatsShowsWhatTheStoreHolds) {
  fill_store();
  RunResult r = svdhub("stats --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "svdhub store " + db().string() +
                       "\n"
                       "  feed ed-assaults: 4 records in 2 batches\n"
                       "    northgate-ed: 4 records in 2 batches, last received 2026-11-23T09:15:20Z\n"
                       "  feed death-reports: 0 records in 0 batches\n"
                       "  total: 4 records in 2 batches\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(SvdhubCliTest, StatsWorksWhileAWriterHoldsTheStore) {
  fill_store();
  sqlite3* writer = nullptr;  // as `svdhub run` between BEGIN and COMMIT
  ASSERT_EQ(sqlite3_open(db().c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN IMMEDIATE; DELETE FROM batches", nullptr, nullptr, nullptr), SQLITE_OK);
  RunResult r = svdhub("stats --config '" + config().string() + "'");
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  total: 4 records in 2 batches\n"), std::string::npos) << r.out;
}

TEST_F(SvdhubCliTest, StatsNeverCreatesAStore) {
  RunResult r = svdhub("stats --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(db().string() + ": no store there"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(db()));
  EXPECT_FALSE(fs::exists(dir_ / "hub.db-wal"));
}

TEST_F(SvdhubCliTest, StatsRefusesAFileThatIsNotAStore) {
  std::ofstream(db()) << "not a database\n";
  RunResult r = svdhub("stats --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read the store"), std::string::npos) << r.err;
}

TEST_F(SvdhubCliTest, StatsNeedsAConfig) {
  EXPECT_EQ(svdhub("stats").exit_code, 1);
  RunResult bad = svdhub("stats --config '" + (dir_ / "absent.toml").string() + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("problem(s) found"), std::string::npos) << bad.err;
}

TEST_F(SvdhubCliTest, HelpNamesEveryCommand) {
  RunResult r = svdhub("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"run", "check-config", "stats", "store"}) EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  RunResult stats = svdhub("stats --help");
  EXPECT_EQ(stats.exit_code, 0);
  EXPECT_NE(stats.out.find("read-only"), std::string::npos) << stats.out;
}

TEST_F(SvdhubCliTest, StoreCopyMovesTheStoreOnceAndCanRunAgain) {
  fill_store();
  const std::string copy = "store copy --config '" + config().string() + "' --from 'sqlite:" + db().string() +
                           "' --to 'sqlite:" + (dir_ / "new.db").string() + "'";
  RunResult first = svdhub(copy);
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "copied 2 batch(es), 4 record(s), from " + db().string() + " into SQLite " +
                           (dir_ / "new.db").string() + "; 0 batch(es) were there already; 0 token link(s)\n");
  EXPECT_NE(first.err.find("feed ed-assaults: 2 batch(es) copied (4 records), 0 already in the target"),
            std::string::npos)
      << first.err;
  RunResult again = svdhub(copy);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("copied 0 batch(es), 0 record(s)"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("; 2 batch(es) were there already"), std::string::npos) << again.out;
  // What the copy holds, down to when each batch was received, as `stats` shows it.
  std::ofstream(dir_ / "new.toml") << "[store]\ndatabase = \"new.db\"\n"
                                   << "[broker]\nhost = \"127.0.0.1\"\nport = 8883\nca = \"pki/ca.crt\"\n"
                                   << "cert = \"pki/svdhub.crt\"\nkey = \"pki/svdhub.key\"\n"
                                   << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_EXAMPLES_DIR
                                   << "/schemas/ed-assaults.json\"\n"
                                   << "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed-assaults\"]\n";
  RunResult stats = svdhub("stats --config '" + (dir_ / "new.toml").string() + "'");
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("    northgate-ed: 4 records in 2 batches, last received 2026-11-23T09:15:20Z\n"),
            std::string::npos)
      << stats.out;
}

TEST_F(SvdhubCliTest, StoreCopyRefusesWhatItCannotCopy) {
  fill_store();
  const std::string head = "store copy --config '" + config().string() + "' ";
  auto refused = [&](const std::string& args, const std::string& message) {
    SCOPED_TRACE(args);
    RunResult r = svdhub(head + args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  refused("--from 'postgresql:dbname=x' --to 'sqlite:" + (dir_ / "new.db").string() + "'", "--from must be sqlite:PATH");
  refused("--from 'sqlite:" + db().string() + "' --to 'mysql:x'", "--to must be postgresql:CONNINFO");
  refused("--from 'sqlite:" + db().string() + "' --to 'sqlite:" + db().string() + "'", "are the same file");
  refused("--from 'sqlite:" + (dir_ / "absent.db").string() + "' --to 'sqlite:" + (dir_ / "new.db").string() + "'",
          "no such file");
  EXPECT_FALSE(fs::exists(dir_ / "new.db")) << "a target made for a source that is not there";
  std::ofstream(dir_ / "junk.db") << "not a database\n";
  refused("--from 'sqlite:" + (dir_ / "junk.db").string() + "' --to 'sqlite:" + (dir_ / "new.db").string() + "'",
          "not an SQLite database");
}

}  // namespace
}  // namespace svd::hub
