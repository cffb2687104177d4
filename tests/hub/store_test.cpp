#include "hub/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <deque>
#include <filesystem>

#include "tests/hub/store_contract.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;

// The store contract (store_contract.h) against a file in a temporary directory.
class SqliteBackend final : public StoreBackend {
 public:
  std::string name() const override { return "sqlite"; }
  void reset() override {
    tmp_ = std::make_unique<test_support::TempDir>("svd-hub");
  }
  fs::path file() const { return tmp_->path() / "hub.db"; }
  store_result<std::unique_ptr<Store>> open(std::vector<FeedTable> feeds) override {
    auto s = SqliteStore::open(file(), std::move(feeds));
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  std::int64_t committed(const std::string& sql) override {
    std::int64_t n = -1;
    query(sql, [&](sqlite3_stmt* s) { n = sqlite3_column_int64(s, 0); return false; });
    return n;
  }
  std::vector<std::string> indexes(const std::string& table) override {
    std::vector<std::string> names, out;
    query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = '" + table + "' AND sql IS NOT NULL",
          [&](sqlite3_stmt* s) { names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))); return true; });
    for (const auto& n : names) {
      std::string cols;
      query("SELECT name FROM pragma_index_info('" + n + "') ORDER BY seqno", [&](sqlite3_stmt* s) {
        cols += (cols.empty() ? "" : ",") + std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
        return true;
      });
      out.push_back(cols);
    }
    return out;
  }
  std::vector<std::pair<std::string, std::string>> columns(const std::string& table) override {
    std::vector<std::pair<std::string, std::string>> out;
    query("SELECT name, upper(type) FROM pragma_table_info('" + table + "')", [&](sqlite3_stmt* s) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)),
                       reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
      return true;
    });
    return out;
  }
  std::string received_at_type() const override { return "INTEGER"; }  // seconds since the epoch, UTC

 private:
  // A second, read-only connection: it sees what is committed, not what a transaction holds.
  template <class Row>
  void query(const std::string& sql, Row row) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK)
      while (sqlite3_step(s) == SQLITE_ROW && row(s)) {
      }
    sqlite3_finalize(s);
    sqlite3_close(db);
  }

  std::unique_ptr<test_support::TempDir> tmp_;
};

SqliteBackend sqlite_backend;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Values(&sqlite_backend), backend_name);

// What only the SQLite store has: its own connection to make fail.
class SqliteStoreTest : public StoreContract {
 protected:
  void SetUp() override {
    sqlite_backend.reset();
    auto s = SqliteStore::open(sqlite_backend.file(), {ed_table()});
    ASSERT_TRUE(s) << s.error().message;
    sqlite_ = s->get();
    store_ = std::move(*s);
  }
  std::int64_t committed(const std::string& sql) { return sqlite_backend.committed(sql); }
  sqlite3* connection() { return sqlite_->connection_for_test(); }

  SqliteStore* sqlite_ = nullptr;
};

FeedTable ed_assaults_table() {
  return {"ed-assaults", "records_ed_assaults", "records_ed_assaults_linked",
          {{"n", ColumnType::integer, ""}, {"s", ColumnType::text, ""}}};
}

// A commit hook that refuses: SQLite turns the COMMIT into a rollback and fails it, exactly the
// path a commit that cannot reach the disk takes in the store.
int refuse_commit(void*) { return 1; }

TEST_F(SqliteStoreTest, AFailedCommitStoresNothingOfTheGroup) {
  ASSERT_EQ(*store_->store("northgate-ed", batch(9, "{\"n\":9}\n")), protocol::ReceiptStatus::accepted);
  const std::vector<PendingBatch> group{
      {"northgate-ed", batch(0, "{\"n\":1}\n")},
      {"northgate-ed", batch(1, "{\"nope\":1}\n")},
      {"northgate-ed", batch(2, records(300))},
  };
  sqlite3_commit_hook(connection(), refuse_commit, nullptr);
  auto failed = store_->store_group(group);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), errc::io_error);
  EXPECT_EQ(store_->store("northgate-ed", batch(3, "{\"n\":1}\n")).error(), errc::io_error);
  sqlite3_commit_hook(connection(), nullptr, nullptr);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 1u);  // our own connection has no transaction left open
  // The gateways send the batches again: accepted now, not duplicate.
  auto retried = store_->store_group(group);
  ASSERT_TRUE(retried);
  EXPECT_EQ((*retried)[0].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ((*retried)[1].error(), errc::bad_record);
  EXPECT_EQ((*retried)[2].value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 302);
}

TEST_F(SqliteStoreTest, ADiskFullAnywhereInAGroupStoresNothingOfIt) {
  // A real SQLITE_FULL (max_page_count) at every point where the group needs one more page: each
  // time the group fails whole, until there is room for all of it.
  sqlite3* db = connection();
  ASSERT_EQ(*store_->store("northgate-ed", batch(9, "{\"n\":9}\n")), protocol::ReceiptStatus::accepted);
  // Enough rows to need a few hundred of the store's 4 KiB pages.
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
  // Every 16th page: each failure point is another place in the group, and the group is not
  // stored some hundred times over.
  for (std::int64_t limit = base;; limit += 16) {
    SCOPED_TRACE(limit);
    ASSERT_LT(limit, base + 4000);
    ASSERT_EQ(sqlite3_exec(db, ("PRAGMA max_page_count = " + std::to_string(limit)).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    auto outcomes = store_->store_group(group);
    if (!outcomes) {
      ++failures;
      EXPECT_EQ(outcomes.error(), errc::io_error);
      EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1);
      EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 1);
      continue;
    }
    EXPECT_EQ((*outcomes)[0].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ((*outcomes)[1].error(), errc::bad_record);
    EXPECT_EQ((*outcomes)[2].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ((*outcomes)[3].value(), protocol::ReceiptStatus::accepted);
    EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 12001);
    break;
  }
  EXPECT_GT(failures, 1);  // the limit was hit more than once, at different points of the group
}

// A store made before tables were typed has columns without a declared type: they still fit,
// and the indexes and the view are added.
TEST_F(SqliteStoreTest, AStoreFromBeforeTypedTablesStillOpens) {
  store_.reset();
  sqlite_backend.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(sqlite_backend.file().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE records_ed_assaults (_partner TEXT NOT NULL, _extract_id TEXT NOT NULL, "
                           "_batch_id TEXT NOT NULL, _received_at INTEGER NOT NULL, \"n\", \"s\");"
                           "INSERT INTO records_ed_assaults VALUES ('northgate-ed', 'x-0', 'b', 0, 1, 'old');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = SqliteStore::open(sqlite_backend.file(), {ed_table()});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*(*s)->store("northgate-ed", batch(0, "{\"n\":2}\n")), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults_linked"), 2);
  EXPECT_EQ(sqlite_backend.indexes("records_ed_assaults"), std::vector<std::string>{"_partner,_received_at"});
}

TEST(FeedTables, FollowTheSchema) {
  config::HubFeed feed{"death-reports", {}, config::load_schema(std::string(SVD_EXAMPLES_DIR) + "/schemas/death-reports.json")};
  const FeedTable t = feed_table(feed);
  EXPECT_EQ(t.table, "records_death_reports");
  EXPECT_EQ(t.linked, "records_death_reports_linked");
  std::vector<std::string> names, types, kinds;
  for (const auto& c : t.columns) {
    names.push_back(c.name);
    types.emplace_back(sql_type(c.type));
    kinds.push_back(c.token_kind);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"report_id", "nhs_number_token", "age_band_at_death", "sex",
                                             "postcode_district", "week_of_death", "place_of_death_type",
                                             "cause_category", "reporting_agency", "person_token"}));
  EXPECT_EQ(types, (std::vector<std::string>{"TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
                                             "TEXT"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"", "nhs_number", "", "", "", "", "", "", "", "person"}));
}

// A store from before the hub kept when each extract reached its gateway and its nil returns:
// it gains both columns, its batches are placed by when the hub stored them, and the new
// gateway_status table is there.
TEST(SqliteStoreUpgradeTest, AStoreFromBeforeGainsTheOversightColumns) {
  test_support::TempDir dir("svd-upgrade");
  const fs::path file = dir / "hub.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
                           "extract_id TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, "
                           "records INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (partner, batch_id));"
                           "INSERT INTO batches VALUES ('northgate-ed', 'b1', 'ed-assaults', 'x-1', 0, 1, 0, 1795424400);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::open(file, {ed_assaults_table()});
  ASSERT_TRUE(store) << store.error().message;
  auto arrivals = (*store)->extract_arrivals(1795424400, 1795424401);
  ASSERT_TRUE(arrivals);
  ASSERT_EQ(arrivals->size(), 1u);
  EXPECT_FALSE((*arrivals)[0].nil_return);
  EXPECT_TRUE((*arrivals)[0].complete());
  EXPECT_TRUE((*store)->record_status("northgate-ed", protocol::GatewayStatus{true, "0.1.0", 0, 0, 0, ""}, 1795424400));
  store->reset();
  auto again = SqliteStore::open(file, {ed_assaults_table()});  // and opens again as it is
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ((*again)->gateway_states()->size(), 1u);
}

// --- `svdhub store copy` from what only an SQLite source can be ---------------------------

// A store made before tables were typed: its columns have no declared type and hold the values
// as text. What reads as its column's type is copied as that type; what does not is refused,
// named by its batch and never by its value, and stays in the source.
TEST(StoreCopyTest, AnUntypedSourceIsCopiedTypedAndWhatDoesNotFitIsRefused) {
  test_support::TempDir dir("svd-copy");
  const fs::path old = dir / "old.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old.c_str(), &db), SQLITE_OK);
    const char* sql =
        "CREATE TABLE batches (partner TEXT NOT NULL, batch_id TEXT NOT NULL, feed TEXT NOT NULL, "
        "extract_id TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, records INTEGER NOT NULL, "
        "received_at INTEGER NOT NULL, PRIMARY KEY (partner, batch_id));"
        "CREATE TABLE token_links (kind TEXT NOT NULL, old_token TEXT NOT NULL, new_token TEXT NOT NULL);"
        "CREATE TABLE records_ed_assaults (_partner, _extract_id, _batch_id, _received_at, n, s);"
        "INSERT INTO batches VALUES ('northgate-ed', 'b1', 'ed-assaults', 'x-1', 0, 0, 2, 1700000000),"
        " ('northgate-ed', 'b2', 'ed-assaults', 'x-1', 1, 1, 1, 1700000000);"
        "INSERT INTO records_ed_assaults VALUES ('northgate-ed', 'x-1', 'b1', 1700000000, '12', 'a'),"
        " ('northgate-ed', 'x-1', 'b1', 1700000000, NULL, '13'),"
        " ('northgate-ed', 'x-1', 'b2', 1700000000, 'twelve', 'b');";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  sqlite_backend.reset();
  auto target = SqliteStore::open(sqlite_backend.file(), {ed_assaults_table()});
  ASSERT_TRUE(target) << target.error().message;
  auto copied = copy_sqlite_store(old, {ed_assaults_table()}, **target);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->batches_copied, 1u);
  EXPECT_EQ(copied->records_copied, 2u);
  ASSERT_EQ(copied->refused.size(), 1u);
  EXPECT_NE(copied->refused[0].find("northgate-ed batch b2"), std::string::npos) << copied->refused[0];
  EXPECT_NE(copied->refused[0].find("[bad_record]"), std::string::npos) << copied->refused[0];
  EXPECT_EQ(copied->refused[0].find("twelve"), std::string::npos) << "the value is shown";
  EXPECT_EQ(sqlite_backend.committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 12 AND typeof(n) = "
                                     "'integer' AND s = 'a'"),
            1);
  EXPECT_EQ(sqlite_backend.committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n IS NULL AND s = '13'"), 1);
  EXPECT_EQ(sqlite_backend.committed("SELECT COUNT(*) FROM batches"), 1);
}

// Fails the commit whose number `*countdown` reaches 0 at.
int refuse_nth_commit(void* countdown) { return --*static_cast<int*>(countdown) == 0 ? 1 : 0; }

TEST(StoreCopyTest, AnInterruptedCopyGoesOnFromWhereItStoppedWhenRunAgain) {
  test_support::TempDir dir("svd-copy");
  const std::vector<FeedTable> tables{
      ed_assaults_table(),
      {"death-reports", "records_death_reports", "records_death_reports_linked", {{"n", ColumnType::integer, ""}}}};
  std::deque<std::string> payloads;
  auto batch = [&](const std::string& feed, std::uint64_t seq, const std::string& records) {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for("northgate-ed", feed, std::string(64, 'f'), seq);
    h.partner = "northgate-ed";
    h.feed = feed;
    h.schema = feed;
    h.extract = {"x-1", std::string(64, 'f'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    payloads.push_back(protocol::make_batch_payload(h, records));
    return PendingBatch{"northgate-ed", *protocol::parse_batch(payloads.back())};
  };
  {
    auto source = SqliteStore::open(dir / "old.db", tables);
    ASSERT_TRUE(source) << source.error().message;
    const std::vector<PendingBatch> group{batch("ed-assaults", 0, "{\"n\":1}\n{\"n\":2}\n"),
                                          batch("ed-assaults", 1, "{\"n\":3}\n"),
                                          batch("death-reports", 0, "{\"n\":4}\n")};
    ASSERT_TRUE((*source)->store_group(group));
  }
  auto target = SqliteStore::open(dir / "new.db", tables);
  ASSERT_TRUE(target) << target.error().message;
  // The first feed's group commits; the second's fails, as a full disk would fail it.
  int countdown = 2;
  sqlite3_commit_hook((*target)->connection_for_test(), refuse_nth_commit, &countdown);
  auto failed = copy_sqlite_store(dir / "old.db", tables, **target);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, errc::io_error);
  EXPECT_NE(failed.error().message.find("running the copy again goes on"), std::string::npos)
      << failed.error().message;
  sqlite3_commit_hook((*target)->connection_for_test(), nullptr, nullptr);
  EXPECT_EQ(*(*target)->batch_count(), 2u);
  EXPECT_EQ(*(*target)->record_count("death-reports"), 0u);

  auto resumed = copy_sqlite_store(dir / "old.db", tables, **target);
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->batches_present, 2u);
  EXPECT_EQ(resumed->batches_copied, 1u);
  EXPECT_EQ(*(*target)->record_count("ed-assaults"), 3u);
  EXPECT_EQ(*(*target)->record_count("death-reports"), 1u);
}

}  // namespace
}  // namespace svd::hub
