#include "hub/hub_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <deque>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;

class HubStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reopen({"n", "s"});
  }
  void TearDown() override { store_.reset(); }
  void reopen(std::vector<std::string> columns) {
    store_.reset();
    auto s = HubStore::open(dir_ / "hub.db", {{"ed-assaults", std::move(columns)}});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }

  // A verified batch, as the receiver hands it over after protocol::parse_batch.
  protocol::Batch batch(std::uint64_t seq, const std::string& records, const std::string& feed = "ed-assaults") {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for("northgate-ed", feed, std::string(64, 'f'), seq);
    h.partner = "northgate-ed";
    h.feed = feed;
    h.schema = feed;
    h.key_ids = {"k1"};
    h.extract = {"x-1", std::string(64, 'f'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    payloads_.push_back(protocol::make_batch_payload(h, records));
    auto b = protocol::parse_batch(payloads_.back());
    EXPECT_TRUE(b);
    return *b;
  }

  std::string records(int n) {
    std::string r;
    for (int i = 0; i < n; ++i) r += "{\"n\":" + std::to_string(i) + ",\"s\":\"record " + std::to_string(i) + "\"}\n";
    return r;
  }

  // A second connection, to look at what is committed (not what our transaction sees).
  std::uint64_t committed(const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ / "hub.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    std::uint64_t n = ~std::uint64_t{0};
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      n = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
  }

  test_support::TempDir tmp_{"svd-hub"};
  const fs::path& dir_ = tmp_.path();
  std::unique_ptr<HubStore> store_;
  std::deque<std::string> payloads_;  // parse_batch views into these (a deque never moves them)
};

// A commit hook that refuses: SQLite turns the COMMIT into a rollback and fails it, exactly the
// path a commit that cannot reach the disk takes in the store.
int refuse_commit(void*) { return 1; }

TEST_F(HubStoreTest, StoresRecordsAndDeduplicatesBatches) {
  auto b0 = batch(0, "{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":null}\n");
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":3}\n")), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 3u);
  EXPECT_EQ(*store_->batch_count(), 2u);
  // The same batch id from another partner is another batch.
  EXPECT_EQ(*store_->store("southgate-ed", b0), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 5u);
}

TEST_F(HubStoreTest, DuplicatesAreRecognisedAfterARestart) {
  auto b0 = batch(0, "{\"n\":1}\n");
  ASSERT_TRUE(store_->store("northgate-ed", b0));
  reopen({"n", "s"});
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 1u);
}

TEST_F(HubStoreTest, ABadRecordStoresNothingOfTheBatch) {
  for (const char* bad : {"{\"n\":1}\n{\"unknown\":1}\n", "{\"n\":1}\n[1]\n", "{\"n\":{\"x\":1}}\n", "{\"n\":1}\nnot json\n"}) {
    SCOPED_TRACE(bad);
    auto b = batch(7, bad);
    EXPECT_EQ(store_->store("northgate-ed", b).error(), errc::bad_record);
    EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
    EXPECT_EQ(*store_->batch_count(), 0u);
  }
  // The batch can still be stored once it is right: the failed attempt left no trace.
  EXPECT_EQ(*store_->store("northgate-ed", batch(7, "{\"n\":1}\n")), protocol::ReceiptStatus::accepted);
}

TEST_F(HubStoreTest, UnknownFeed) {
  EXPECT_EQ(store_->store("northgate-ed", batch(0, "{\"n\":1}\n", "death-reports")).error(), errc::unknown_feed);
  EXPECT_EQ(store_->record_count("death-reports").error(), errc::unknown_feed);
}

TEST_F(HubStoreTest, ASchemaThatGainsAnOutputGainsAColumn) {
  ASSERT_TRUE(store_->store("northgate-ed", batch(0, "{\"n\":1}\n")));
  reopen({"n", "s", "added"});
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":2,\"added\":\"x\"}\n")), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
}

TEST_F(HubStoreTest, AGroupStoresEachBatchOnItsOwn) {
  ASSERT_EQ(*store_->store("northgate-ed", batch(9, "{\"n\":9}\n")), protocol::ReceiptStatus::accepted);
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, "{\"n\":1}\n{\"n\":2}\n")},
      {"northgate-ed", batch(1, "{\"n\":3}\n{\"unknown\":1}\n")},  // its first record must not stay
      {"northgate-ed", batch(9, "{\"n\":9}\n")},                      // stored by an earlier group
      {"northgate-ed", batch(2, "{\"n\":4}\n", "death-reports")},
      {"southgate-ed", batch(3, "{\"n\":5}\n")},
  };
  auto outcomes = store_->store_group(group);
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 5u);
  EXPECT_EQ((*outcomes)[0].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*outcomes)[1].error(), errc::bad_record);
  EXPECT_EQ((*outcomes)[2].value(), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ((*outcomes)[3].error(), errc::unknown_feed);
  EXPECT_EQ((*outcomes)[4].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 4u);  // 9, 1, 2, 5
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 3"), 0u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 3u);
  // The refused batch left no trace: once right, it is accepted, not a duplicate.
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":3}\n")), protocol::ReceiptStatus::accepted);
}

TEST_F(HubStoreTest, TheSameBatchTwiceInAGroupIsStoredOnce) {
  const auto b0 = batch(0, "{\"n\":1}\n{\"n\":2}\n");
  const auto bad = batch(1, "{\"n\":3}\n{\"nope\":3}\n");
  const std::vector<PendingBatch> group{
      {"northgate-ed", b0}, {"northgate-ed", b0}, {"southgate-ed", b0},      // another partner's is another batch
      {"northgate-ed", bad}, {"northgate-ed", batch(1, "{\"n\":3}\n")},   // refused, then right
      {"northgate-ed", b0},
  };
  auto outcomes = store_->store_group(group);
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 6u);
  EXPECT_EQ((*outcomes)[0].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*outcomes)[1].value(), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ((*outcomes)[2].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*outcomes)[3].error(), errc::bad_record);
  EXPECT_EQ((*outcomes)[4].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*outcomes)[5].value(), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 5u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 3u);
}

TEST_F(HubStoreTest, AFailedCommitStoresNothingOfTheGroup) {
  ASSERT_EQ(*store_->store("northgate-ed", batch(9, "{\"n\":9}\n")), protocol::ReceiptStatus::accepted);
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, "{\"n\":1}\n")},
      {"northgate-ed", batch(1, "{\"nope\":1}\n")},
      {"northgate-ed", batch(2, records(300))},
  };
  sqlite3_commit_hook(store_->connection_for_test(), refuse_commit, nullptr);
  auto failed = store_->store_group(group);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), errc::io_error);
  EXPECT_EQ(store_->store("northgate-ed", batch(3, "{\"n\":1}\n")).error(), errc::io_error);
  sqlite3_commit_hook(store_->connection_for_test(), nullptr, nullptr);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 1u);  // our own connection has no transaction left open
  // The gateways send the batches again: accepted now, not duplicate.
  auto retried = store_->store_group(group);
  ASSERT_TRUE(retried);
  EXPECT_EQ((*retried)[0].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*retried)[1].error(), errc::bad_record);
  EXPECT_EQ((*retried)[2].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 302u);
}

TEST_F(HubStoreTest, ADiskFullAnywhereInAGroupStoresNothingOfIt) {
  // A real SQLITE_FULL (max_page_count) at every point where the group needs one more page: each
  // time the group fails whole, until there is room for all of it.
  sqlite3* db = store_->connection_for_test();
  ASSERT_EQ(*store_->store("northgate-ed", batch(9, "{\"n\":9}\n")), protocol::ReceiptStatus::accepted);
  // Enough rows to need several of the store's 64 KiB pages.
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, records(4000))},
      {"northgate-ed", batch(1, "{\"nope\":1}\n")},
      {"northgate-ed", batch(2, records(4000))},
      {"southgate-ed", batch(0, records(4000))},
  };
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  const std::int64_t base = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  int failures = 0;
  for (std::int64_t limit = base;; ++limit) {
    SCOPED_TRACE(limit);
    ASSERT_LT(limit, base + 200);
    ASSERT_EQ(sqlite3_exec(db, ("PRAGMA max_page_count = " + std::to_string(limit)).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    auto outcomes = store_->store_group(group);
    if (!outcomes) {
      ++failures;
      EXPECT_EQ(outcomes.error(), errc::io_error);
      EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1u);
      EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1u);
      continue;
    }
    EXPECT_EQ((*outcomes)[0].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ((*outcomes)[1].error(), errc::bad_record);
    EXPECT_EQ((*outcomes)[2].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ((*outcomes)[3].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 12001u);
    break;
  }
  EXPECT_GT(failures, 1);  // the limit was hit more than once, at different points of the group
}

TEST_F(HubStoreTest, AnEmptyGroupTouchesNothing) {
  auto outcomes = store_->store_group({});
  ASSERT_TRUE(outcomes);
  EXPECT_TRUE(outcomes->empty());
}

TEST(OutputColumns, FollowTheSchema) {
  auto schema = config::load_schema(std::string(SVD_EXAMPLES_DIR) + "/schemas/death-reports.json");
  auto cols = output_columns(schema);
  const std::vector<std::string> want{"report_id", "nhs_number_token", "age_band_at_death", "sex",
                                      "postcode_district", "week_of_death", "place_of_death_type",
                                      "cause_category", "reporting_agency", "person_token"};
  EXPECT_EQ(cols, want);
}

}  // namespace
}  // namespace svd::hub
