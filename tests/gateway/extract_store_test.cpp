// The extract store on real files: durable acceptance, idempotent re-sends, name conflicts,
// leftovers of a crash, states.

#include "gateway/extract_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/sha256.h"
#include "tests/support/temp_dir.h"

namespace svd::gateway {
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

}  // namespace
}  // namespace svd::gateway
