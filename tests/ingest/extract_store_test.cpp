// The extract store on real files: durable acceptance, idempotent re-sends, name conflicts,
// leftovers of a crash, states.

#include "ingest/extract_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/sha256.h"
#include "tests/support/temp_dir.h"

namespace svd::ingest {
namespace {

namespace fs = std::filesystem;

class ExtractStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ExtractStore::open(dir_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }

  // Writes `bytes` to a fresh incoming file, as an upload or the spool would.
  fs::path incoming(const std::string& bytes) {
    auto p = store_->new_incoming();
    EXPECT_TRUE(p);
    std::ofstream(*p, std::ios::binary | std::ios::trunc) << bytes;
    return *p;
  }

  Accepted accept(const std::string& bytes, const std::string& name, const std::string& feed = "ed-assaults") {
    auto r = store_->accept(incoming(bytes), feed, name, "northgate-ed-export");
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : Accepted{};
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::size_t files_in(const fs::path& d) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(d)) n += e.is_regular_file();
    return n;
  }

  test_support::TempDir tmp_{"svd-extracts"};
  const fs::path dir_ = tmp_.path() / "state";
  std::unique_ptr<ExtractStore> store_;
};

TEST_F(ExtractStoreTest, AcceptedExtractIsStoredByItsDigest) {
  const std::string bytes = "attendance_id,arrival\n1,2026-11-01T10:00\n";
  const auto a = accept(bytes, "week-47.csv");
  ASSERT_EQ(a.outcome, AcceptOutcome::created);
  const std::string sha = crypto::sha256_hex(bytes);
  EXPECT_EQ(a.extract.sha256, sha);
  EXPECT_EQ(a.extract.id, "ed-assaults-" + sha.substr(0, 16));
  EXPECT_EQ(a.extract.bytes, bytes.size());
  EXPECT_EQ(a.extract.client, "northgate-ed-export");
  EXPECT_EQ(a.extract.state, ExtractState::received);
  EXPECT_EQ(a.extract.file, dir_ / "extracts" / sha);
  EXPECT_EQ(read(a.extract.file), bytes);
  EXPECT_EQ(files_in(dir_ / "extracts" / "incoming"), 0u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "extracts.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "extracts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto got = store_->get(a.extract.id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->name, "week-47.csv");
  EXPECT_EQ(store_->bytes_on_disk(), bytes.size());
}

TEST_F(ExtractStoreTest, ReSendIsSameOtherBytesUnderTheNameIsAConflict) {
  const auto first = accept("a,b\n1,2\n", "week-47.csv");
  const auto again = accept("a,b\n1,2\n", "week-47.csv");
  EXPECT_EQ(again.outcome, AcceptOutcome::same);
  EXPECT_EQ(again.extract.id, first.extract.id);
  EXPECT_EQ(again.extract.received_at, first.extract.received_at);
  const auto other = accept("a,b\n1,3\n", "week-47.csv");
  EXPECT_EQ(other.outcome, AcceptOutcome::conflict);
  EXPECT_EQ(other.extract.id, first.extract.id);  // what holds the name
  // The same name in another feed is another extract; the same bytes under a new name are not.
  EXPECT_EQ(accept("a,b\n1,2\n", "week-47.csv", "death-reports").outcome, AcceptOutcome::created);
  const auto renamed = accept("a,b\n1,2\n", "week-47-copy.csv");
  EXPECT_EQ(renamed.outcome, AcceptOutcome::same);
  EXPECT_EQ(renamed.extract.name, "week-47.csv");
  EXPECT_EQ(files_in(dir_ / "extracts" / "incoming"), 0u);
  EXPECT_EQ(files_in(dir_ / "extracts"), 1u);  // one content, two feeds
}

TEST_F(ExtractStoreTest, StatesAndUnfinishedWorkSurviveReopening) {
  const auto a = accept("x\n1\n", "a.csv");
  const auto b = accept("x\n2\n", "b.csv");
  const auto c = accept("x\n3\n", "c.csv");
  ASSERT_TRUE(store_->set_state(a.extract.id, ExtractState::processing));
  ASSERT_TRUE(store_->set_state(b.extract.id, ExtractState::processed, R"({"rows_total":1})"));
  EXPECT_FALSE(store_->set_state("no-such-extract", ExtractState::processed));
  store_.reset();
  auto reopened = ExtractStore::open(dir_);
  ASSERT_TRUE(reopened);
  store_ = std::move(*reopened);
  auto todo = store_->unfinished();
  ASSERT_TRUE(todo);
  ASSERT_EQ(todo->size(), 2u);
  EXPECT_EQ((*todo)[0].id, a.extract.id);
  EXPECT_EQ((*todo)[0].state, ExtractState::processing);
  EXPECT_EQ((*todo)[1].id, c.extract.id);
  auto done = store_->get(b.extract.id);
  ASSERT_TRUE(done && *done);
  EXPECT_EQ((*done)->state, ExtractState::processed);
  EXPECT_EQ((*done)->report_json, R"({"rows_total":1})");
  EXPECT_EQ(to_string((*done)->state), "processed");
}

TEST_F(ExtractStoreTest, IncomingLeftoversOfACrashAreRemovedAtOpen) {
  const fs::path half = incoming("a,b\n1,");  // an upload cut short: nobody was told it is safe
  ASSERT_TRUE(fs::exists(half));
  store_.reset();
  auto reopened = ExtractStore::open(dir_);
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(fs::exists(half));
  auto todo = (*reopened)->unfinished();
  ASSERT_TRUE(todo);
  EXPECT_TRUE(todo->empty());
}

TEST_F(ExtractStoreTest, AGivenDigestIsUsedAndAnUnreadableFileAcceptsNothing) {
  const std::string bytes = "a\n1\n";
  auto r = store_->accept(incoming(bytes), "ed-assaults", "n.csv", "spool", crypto::sha256_hex(bytes));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, AcceptOutcome::created);
  auto missing = store_->accept(dir_ / "extracts" / "incoming" / "in-nothing", "ed-assaults", "m.csv", "spool");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::io_error);
  EXPECT_FALSE(store_->get("ed-assaults-0000000000000000").value());
}

TEST_F(ExtractStoreTest, NotADatabaseIsRefused) {
  store_.reset();
  std::ofstream(dir_ / "extracts.db", std::ios::trunc) << "this is not sqlite, but long enough to have a header....";
  EXPECT_FALSE(ExtractStore::open(dir_));
}

TEST_F(ExtractStoreTest, NothingToShareReturnsAreTheirOwnKind) {
  auto p = store_->new_incoming();
  ASSERT_TRUE(p);
  std::ofstream(*p, std::ios::binary) << "svd nothing-to-share v1\ned-assaults\n2026-w47\n";
  auto r = store_->accept(*p, "ed-assaults", "2026-w47", "northgate-ed-export", std::nullopt,
                          ExtractKind::nothing_to_share);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->outcome, AcceptOutcome::created);
  auto got = store_->get(r->extract.id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->kind, ExtractKind::nothing_to_share);
  EXPECT_EQ(accept("a,b\n1,2\n", "x.csv").extract.kind, ExtractKind::extract);
}

TEST_F(ExtractStoreTest, LastDeliveryPerFeedAndWatchedSince) {
  accept("a\n1\n", "one.csv", "ed-assaults");
  const auto second = accept("a\n2\n", "two.csv", "ed-assaults");
  const auto other = accept("a\n3\n", "three.csv", "death-reports");
  auto last = store_->last_received_per_feed();
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ(last->at("ed-assaults"), second.extract.received_at);
  EXPECT_EQ(last->at("death-reports"), other.extract.received_at);

  auto first = store_->watched_since("ed-assaults", 1000);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 1000);
  auto again = store_->watched_since("ed-assaults", 5000);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 1000);
}

TEST_F(ExtractStoreTest, RetentionRemovesFinishedFilesOnlyAndKeepsTheRows) {
  const auto done = accept("a\n1\n", "done.csv");
  const auto waiting = accept("a\n2\n", "waiting.csv");
  // The same bytes for another feed share the file; that extract is not finished yet.
  const auto shared_done = accept("a\n3\n", "s.csv", "ed-assaults");
  const auto shared_waiting = accept("a\n3\n", "s.csv", "death-reports");
  ASSERT_EQ(shared_waiting.outcome, AcceptOutcome::created);
  ASSERT_EQ(shared_done.extract.file, shared_waiting.extract.file);
  ASSERT_TRUE(store_->set_state(done.extract.id, ExtractState::processed, "{}"));
  ASSERT_TRUE(store_->set_state(shared_done.extract.id, ExtractState::refused, "{}"));

  // A cutoff before they finished removes nothing.
  auto none = store_->remove_finished_files("2000-01-01T00:00:00Z");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  auto removed = store_->remove_finished_files("9999-12-31T23:59:59Z");
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(done.extract.file));
  EXPECT_TRUE(fs::exists(waiting.extract.file));
  EXPECT_TRUE(fs::exists(shared_waiting.extract.file));
  auto row = store_->get(done.extract.id);
  ASSERT_TRUE(row && *row);
  EXPECT_TRUE((*row)->file.empty());
  EXPECT_EQ((*row)->state, ExtractState::processed);
  EXPECT_FALSE((*row)->finished_at.empty());

  // Once the sharer is finished too, the file goes.
  ASSERT_TRUE(store_->set_state(shared_waiting.extract.id, ExtractState::processed, "{}"));
  removed = store_->remove_finished_files("9999-12-31T23:59:59Z");
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(shared_waiting.extract.file));
}

}  // namespace
}  // namespace svd::ingest
