#include "hub/store_stats.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include "hub/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;

class StoreStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::open(
        db(), {{"ed-assaults", "records_ed_assaults", "records_ed_assaults_linked", {{"n", ColumnType::integer, ""}}},
               {"death-reports", "records_death_reports", "records_death_reports_linked", {{"n", ColumnType::integer, ""}}}});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }
  void TearDown() override { store_.reset(); }
  fs::path db() const { return dir_ / "hub.db"; }

  void put(const std::string& partner, const std::string& feed, std::uint64_t seq, int records) {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for(partner, feed, std::string(64, 'e'), seq);
    h.partner = partner;
    h.feed = feed;
    h.schema = feed;
    h.extract = {"x", std::string(64, 'e'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    std::string lines;
    for (int i = 0; i < records; ++i) lines += "{\"n\":" + std::to_string(i) + "}\n";
    payloads_.push_back(protocol::make_batch_payload(h, lines));
    auto b = protocol::parse_batch(payloads_.back());
    ASSERT_TRUE(b);
    ASSERT_EQ(*store_->store(partner, *b), protocol::ReceiptStatus::accepted);
  }
  // Received times are the clock's; pin them for exact output.
  void set_received(const std::string& partner, std::uint64_t seq, std::int64_t when) {
    const std::string sql = "UPDATE batches SET received_at = " + std::to_string(when) + " WHERE partner = '" + partner +
                            "' AND seq = " + std::to_string(seq);
    ASSERT_EQ(sqlite3_exec(store_->connection_for_test(), sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  }

  test_support::TempDir tmp_{"svd-stats"};
  const fs::path& dir_ = tmp_.path();
  std::unique_ptr<SqliteStore> store_;
  std::deque<std::string> payloads_;
};

TEST_F(StoreStatsTest, CountsPerFeedAndPartnerWhileTheStoreIsOpenForWriting) {
  put("southgate-ed", "ed-assaults", 0, 3);
  put("northgate-ed", "ed-assaults", 0, 2);
  put("northgate-ed", "ed-assaults", 1, 5);
  put("northgate-ed", "ed-assaults", 2, 0);  // an extract with no valid rows: one empty last batch
  set_received("northgate-ed", 0, 1795424100);
  set_received("northgate-ed", 1, 1795425320);  // 2026-11-23T09:15:20Z
  set_received("northgate-ed", 2, 1795425000);
  set_received("southgate-ed", 0, 1795420800);  // 2026-11-23T08:00:00Z
  // A writer mid-transaction (svdhub run between BEGIN and COMMIT) does not stop a reader, and
  // what it has not committed is not counted.
  ASSERT_EQ(sqlite3_exec(store_->connection_for_test(), "BEGIN IMMEDIATE; UPDATE batches SET records = 1000",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto stats = read_store_stats(db());
  ASSERT_EQ(sqlite3_exec(store_->connection_for_test(), "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->size(), 1u);
  const FeedStats& f = stats->front();
  EXPECT_EQ(f.feed, "ed-assaults");
  EXPECT_EQ(f.records, 10u);
  EXPECT_EQ(f.batches, 4u);
  ASSERT_EQ(f.partners.size(), 2u);
  EXPECT_EQ(f.partners[0].partner, "northgate-ed");
  EXPECT_EQ(f.partners[0].records, 7u);
  EXPECT_EQ(f.partners[0].batches, 3u);
  EXPECT_EQ(f.partners[0].last_received, 1795425320);
  EXPECT_EQ(f.partners[1].partner, "southgate-ed");

  EXPECT_EQ(format_store_stats(db(), {"ed-assaults", "death-reports"}, *stats),
            "svdhub store " + db().string() +
                "\n"
                "  feed ed-assaults: 10 records in 4 batches\n"
                "    northgate-ed: 7 records in 3 batches, last received 2026-11-23T09:15:20Z\n"
                "    southgate-ed: 3 records in 1 batches, last received 2026-11-23T08:00:00Z\n"
                "  feed death-reports: 0 records in 0 batches\n"
                "  total: 10 records in 4 batches\n");
}

TEST_F(StoreStatsTest, AFeedNoLongerConfiguredIsStillShownAndCounted) {
  put("northgate-ed", "death-reports", 0, 2);
  set_received("northgate-ed", 0, 1795425320);
  auto stats = read_store_stats(db());
  ASSERT_TRUE(stats);
  EXPECT_EQ(format_store_stats("hub.db", {"ed-assaults"}, *stats),
            "svdhub store hub.db\n"
            "  feed ed-assaults: 0 records in 0 batches\n"
            "  feed death-reports (not configured): 2 records in 1 batches\n"
            "    northgate-ed: 2 records in 1 batches, last received 2026-11-23T09:15:20Z\n"
            "  total: 2 records in 1 batches\n");
}

TEST_F(StoreStatsTest, AnEmptyStore) {
  auto stats = read_store_stats(db());
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->empty());
  EXPECT_EQ(format_store_stats("/x/hub.db", {"ed-assaults"}, *stats),
            "svdhub store /x/hub.db\n  feed ed-assaults: 0 records in 0 batches\n  total: 0 records in 0 batches\n");
}

TEST_F(StoreStatsTest, NeverCreatesAStoreAndRefusesWhatIsNotOne) {
  const fs::path missing = dir_ / "missing.db";
  EXPECT_EQ(read_store_stats(missing).error(), errc::io_error);
  EXPECT_FALSE(fs::exists(missing));
  const fs::path text = dir_ / "notes.txt";
  std::ofstream(text) << "not a database, but long enough to have something where a header would be\n";
  EXPECT_EQ(read_store_stats(text).error(), errc::io_error);
  const fs::path other = dir_ / "other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(read_store_stats(other).error(), errc::io_error);
}

}  // namespace
}  // namespace svd::hub
