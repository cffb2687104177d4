// The outbox against real SQLite files, one fresh directory per test. What matters most is its
// crash-recovery property (docs/forwarding.md, "The outbox"): an extract is visible whole or not
// at all, and writing it again after a crash keeps every existing row as it was, so no record is
// lost or doubled.

#include "deliver/outbox.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace svd::deliver {
namespace {

namespace fs = std::filesystem;

OutboxBatch make_batch(const std::string& extract_id, std::uint64_t seq, bool last = false,
                       std::uint64_t records = 10, std::string payload = {}) {
  OutboxBatch b;
  b.batch_id = extract_id + "-batch-" + std::to_string(seq);
  b.feed = "feed-a";
  b.extract_id = extract_id;
  b.seq = seq;
  b.last = last;
  b.records = records;
  b.topic = "svd/v1/partner-x/feed-a";
  b.payload = payload.empty() ? "{\"synthetic\":\"" + b.batch_id + "\"}\n" : std::move(payload);
  return b;
}

std::vector<OutboxBatch> make_extract(const std::string& extract_id, std::uint64_t n) {
  std::vector<OutboxBatch> out;
  for (std::uint64_t i = 0; i < n; ++i)
    out.push_back(make_batch(extract_id, i, i + 1 == n, 10 + i));
  return out;
}

std::vector<std::string> ids(const std::vector<OutboxBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) out.push_back(b.batch_id);
  return out;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<unsigned>(st.st_mode & 07777);
}

fs::path wal_of(const fs::path& db) { return fs::path(db.string() + "-wal"); }

// The SQLite file format (sqlite.org/fileformat.html, "The Database Header") lets the tests check
// the pragmas' effect and forge versions without a connection of their own.
constexpr std::size_t kWriteVersionOffset = 18, kReadVersionOffset = 19, kUserVersionOffset = 60;

void set_user_version(const fs::path& db, std::uint32_t v) {
  std::fstream f(db, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(kUserVersionOffset));
  const std::array<char, 4> be = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                                  static_cast<char>(v >> 8), static_cast<char>(v)};
  f.write(be.data(), be.size());
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_ / "outbox.db";
  }

  std::unique_ptr<Outbox> open_ok(const fs::path& p) {
    auto r = Outbox::open(p);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r ? std::move(*r) : nullptr;
  }
  std::unique_ptr<Outbox> open_ok() { return open_ok(db_); }

  static void write_extract(Outbox& ob, const std::string& extract_id,
                            const std::vector<OutboxBatch>& batches) {
    ASSERT_TRUE(ob.begin_extract(extract_id));
    for (const auto& b : batches) ASSERT_TRUE(ob.add(b));
    ASSERT_TRUE(ob.commit_extract());
  }

  static std::vector<OutboxBatch> pending(Outbox& ob, std::size_t limit = 1000) {
    auto r = ob.unacknowledged(limit);
    EXPECT_TRUE(r.has_value());
    return r ? *r : std::vector<OutboxBatch>{};
  }

  static std::optional<BatchState> state_of(Outbox& ob, const std::string& id) {
    auto r = ob.state(id);
    EXPECT_TRUE(r.has_value());
    return r ? *r : std::nullopt;
  }

  static OutboxStats stats_of(Outbox& ob) {
    auto r = ob.stats();
    EXPECT_TRUE(r.has_value());
    return r ? *r : OutboxStats{};
  }

  test_support::TempDir tmp_{"svd-outbox"};
  const fs::path& dir_ = tmp_.path();
  fs::path db_;
};

void expect_same_batch(const OutboxBatch& got, const OutboxBatch& want, BatchState state,
                       std::uint32_t attempts) {
  EXPECT_EQ(got.batch_id, want.batch_id);
  EXPECT_EQ(got.feed, want.feed);
  EXPECT_EQ(got.extract_id, want.extract_id);
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.last, want.last);
  EXPECT_EQ(got.records, want.records);
  EXPECT_EQ(got.topic, want.topic);
  EXPECT_EQ(got.payload, want.payload);
  EXPECT_EQ(got.state, state);
  EXPECT_EQ(got.attempts, attempts);
}

// --- writing and reading -------------------------------------------------------------------

TEST_F(OutboxTest, ExtractReadsBackInSeqOrderWithAllFields) {
  auto ob = open_ok();
  const auto batches = make_extract("extract-1", 3);
  write_extract(*ob, "extract-1", batches);

  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) expect_same_batch(got[i], batches[i], BatchState::queued, 0);
  EXPECT_FALSE(got[0].last);
  EXPECT_TRUE(got[2].last);
}

// What a receipt timeout sends again: one batch by id, with its payload, until it is answered.
TEST_F(OutboxTest, OneUnacknowledgedBatchReadsBackByIdUntilItIsAnswered) {
  auto ob = open_ok();
  const auto batches = make_extract("extract-1", 3);
  write_extract(*ob, "extract-1", batches);
  auto one = ob->unacknowledged_batch(batches[1].batch_id);
  ASSERT_TRUE(one);
  ASSERT_TRUE(*one);
  expect_same_batch(**one, batches[1], BatchState::queued, 0);
  EXPECT_EQ((*one)->position, pending(*ob)[1].position);
  ASSERT_TRUE(ob->mark_published(batches[1].batch_id));
  EXPECT_EQ((*ob->unacknowledged_batch(batches[1].batch_id))->state, BatchState::published);
  ASSERT_TRUE(ob->mark_acknowledged(batches[1].batch_id, "accepted"));
  EXPECT_FALSE(*ob->unacknowledged_batch(batches[1].batch_id));
  ASSERT_TRUE(ob->mark_rejected(batches[2].batch_id, "bad_record"));
  EXPECT_FALSE(*ob->unacknowledged_batch(batches[2].batch_id));
  EXPECT_FALSE(*ob->unacknowledged_batch("no-such-batch"));
}

TEST_F(OutboxTest, SeqOrderDoesNotDependOnInsertionOrder) {
  auto ob = open_ok();
  write_extract(*ob, "e", {make_batch("e", 2, true), make_batch("e", 0), make_batch("e", 1)});
  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"e-batch-0", "e-batch-1", "e-batch-2"}));
}

TEST_F(OutboxTest, LimitCapsTheResultInOrder) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 5));
  EXPECT_EQ(ids(pending(*ob, 2)), (std::vector<std::string>{"e-batch-0", "e-batch-1"}));
  EXPECT_TRUE(pending(*ob, 0).empty());
  EXPECT_EQ(pending(*ob, static_cast<std::size_t>(-1)).size(), 5u);
}

TEST_F(OutboxTest, LargeBinaryAndEmptyPayloadsRoundTrip) {
  std::string big(4u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131u + 7u) & 0xffu);
  auto with_big = make_batch("e", 0, false, 1, big);
  auto with_empty = make_batch("e", 1, true, 0);
  with_empty.payload.clear();

  {
    auto ob = open_ok();
    write_extract(*ob, "e", {with_big, with_empty});
  }
  auto ob = open_ok();
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].payload == big);  // not EXPECT_EQ: a mismatch would print 4 MiB
  EXPECT_TRUE(got[1].payload.empty());
}

TEST_F(OutboxTest, NewBatchesAreQueuedWhateverStateTheCallerPassed) {
  auto ob = open_ok();
  auto b = make_batch("e", 0, true);
  b.state = BatchState::acknowledged;
  b.attempts = 7;
  write_extract(*ob, "e", {b});
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].state, BatchState::queued);
  EXPECT_EQ(got[0].attempts, 0u);
}

// --- state transitions ---------------------------------------------------------------------

TEST_F(OutboxTest, QueuedPublishedAcknowledgedCountingAttempts) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 2));
  const std::string id = "e-batch-0";
  EXPECT_EQ(state_of(*ob, id), BatchState::queued);

  EXPECT_EQ(ob->mark_published(id).value(), true);
  EXPECT_EQ(state_of(*ob, id), BatchState::published);
  auto got = pending(*ob);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].state, BatchState::published);
  EXPECT_EQ(got[0].attempts, 1u);

  // A re-send after reconnecting: still published, one more attempt, still first in line.
  EXPECT_EQ(ob->mark_published(id).value(), true);
  got = pending(*ob);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].batch_id, id);
  EXPECT_EQ(got[0].state, BatchState::published);
  EXPECT_EQ(got[0].attempts, 2u);

  EXPECT_EQ(ob->mark_acknowledged(id, "accepted").value(), true);
  EXPECT_EQ(state_of(*ob, id), BatchState::acknowledged);
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"e-batch-1"});

  // A late PUBACK or re-send of an acknowledged batch never takes it back.
  EXPECT_EQ(ob->mark_published(id).value(), true);
  EXPECT_EQ(state_of(*ob, id), BatchState::acknowledged);
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"e-batch-1"});
}

TEST_F(OutboxTest, ReceiptOvertakingPubackAcknowledges) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  EXPECT_EQ(ob->mark_acknowledged("e-batch-0", "accepted").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  EXPECT_EQ(ob->mark_published("e-batch-0").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  EXPECT_TRUE(pending(*ob).empty());
}

TEST_F(OutboxTest, DuplicateReceiptIsAcceptedAndChangesNothing) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  ASSERT_TRUE(ob->mark_published("e-batch-0"));
  EXPECT_EQ(ob->mark_acknowledged("e-batch-0", "accepted").value(), true);
  EXPECT_EQ(ob->mark_acknowledged("e-batch-0", "duplicate").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  const auto s = stats_of(*ob);
  EXPECT_EQ(s.acknowledged, 1u);
  EXPECT_EQ(s.queued + s.published, 0u);
}

TEST_F(OutboxTest, RejectedIsFinalKeepsItsReasonAndIsNoLongerSent) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 3));
  ASSERT_TRUE(ob->mark_published("e-batch-1"));
  EXPECT_EQ(ob->mark_rejected("e-batch-1", "bad_record").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-1"), BatchState::rejected);
  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"e-batch-0", "e-batch-2"}));
  // Late PUBACKs and receipts of either kind leave the first verdict alone.
  EXPECT_EQ(ob->mark_published("e-batch-1").value(), true);
  EXPECT_EQ(ob->mark_acknowledged("e-batch-1", "accepted").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-1"), BatchState::rejected);
  // And a rejection never takes back an acknowledgement.
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  EXPECT_EQ(ob->mark_rejected("e-batch-0", "bad_record").value(), true);
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  EXPECT_EQ(ob->mark_rejected("no-such-batch", "bad_record").value(), false);
  const auto s = stats_of(*ob);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.acknowledged, 1u);
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.unacknowledged_records, 12u);  // e-batch-2 alone (batch i holds 10 + i records)
}

// What `svdgw requeue` does once the hub's operator has fixed what made it refuse: the batches a
// filter picks are queued again, in send order, each with its audit event; the rest stay rejected.
// A batch rejected days ago and re-queued today is queued today: the oldest-unacknowledged figure
// (and its alert) must not jump by the days it sat rejected.
TEST_F(OutboxTest, ARequeuedBatchIsQueuedFromTheRequeue) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  ASSERT_TRUE(ob->mark_rejected("e-batch-0", "unknown_feed"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE batches SET queued_at = queued_at - 7 * 86400", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const auto before = static_cast<std::int64_t>(std::time(nullptr));
  ASSERT_EQ(ob->requeue_rejected({}, "ops").value().size(), 1u);
  EXPECT_GE(ob->stats().value().oldest_unacknowledged_at, before);
}

TEST_F(OutboxTest, RejectedBatchesAreListedAndRequeuedByFilterEachWithItsAuditEvent) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 3));
  auto other = make_extract("f", 2);
  for (auto& b : other) b.feed = "feed-b";
  write_extract(*ob, "f", other);
  ASSERT_TRUE(ob->mark_rejected("e-batch-0", "feed_not_permitted"));
  ASSERT_TRUE(ob->mark_rejected("e-batch-2", "missing_column"));
  ASSERT_TRUE(ob->mark_rejected("f-batch-0", "feed_not_permitted"));
  ASSERT_TRUE(ob->mark_rejected("f-batch-1", "feed_not_permitted"));
  const std::vector<RejectedCount> all{{"feed-a", "feed_not_permitted", 1, 10},
                                       {"feed-a", "missing_column", 1, 12},
                                       {"feed-b", "feed_not_permitted", 2, 21}};
  EXPECT_EQ(ob->rejected().value(), all);

  // Nothing matches: nothing changes. (A filter is {extract, feed, reason}.)
  EXPECT_TRUE(ob->requeue_rejected({"e", std::nullopt, "bad_record"}, "ops").value().empty());
  // By feed and reason together.
  EXPECT_EQ(ob->requeue_rejected({std::nullopt, "feed-a", "feed_not_permitted"}, "ops").value(),
            (std::vector<RejectedCount>{{"feed-a", "feed_not_permitted", 1, 10}}));
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::queued);
  EXPECT_EQ(state_of(*ob, "e-batch-2"), BatchState::rejected);
  // By extract.
  EXPECT_EQ(ob->requeue_rejected({"f", std::nullopt, std::nullopt}, "ops").value(),
            (std::vector<RejectedCount>{{"feed-b", "feed_not_permitted", 2, 21}}));
  EXPECT_EQ(ob->rejected().value(), (std::vector<RejectedCount>{{"feed-a", "missing_column", 1, 12}}));
  // Sent again in order, from the top: the forwarder finds them behind its cursor.
  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"e-batch-0", "e-batch-1", "f-batch-0", "f-batch-1"}));
  // A re-queued batch can be answered like any other.
  ASSERT_TRUE(ob->mark_published("e-batch-0"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  // Everything left.
  EXPECT_EQ(ob->requeue_rejected({}, "ops").value(), (std::vector<RejectedCount>{{"feed-a", "missing_column", 1, 12}}));
  EXPECT_TRUE(ob->rejected().value().empty());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT actor || ' ' || object || ' ' || details FROM audit_pending "
                               "WHERE action = 'batch.requeued' ORDER BY id",
                               -1, &st, nullptr),
            SQLITE_OK);
  std::vector<std::string> events;
  while (sqlite3_step(st) == SQLITE_ROW) events.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0],
            R"(ops e-batch-0 {"extract":"e","feed":"feed-a","seq":0,"records":10,"reason":"feed_not_permitted"})");
  EXPECT_EQ(events[3],
            R"(ops e-batch-2 {"extract":"e","feed":"feed-a","seq":2,"records":12,"reason":"missing_column"})");
}

TEST_F(OutboxTest, UnacknowledgedAfterAPositionContinuesInSendOrder) {
  auto ob = open_ok();
  write_extract(*ob, "first", make_extract("first", 3));
  write_extract(*ob, "second", make_extract("second", 2));
  auto head = ob->unacknowledged(2).value();
  ASSERT_EQ(ids(head), (std::vector<std::string>{"first-batch-0", "first-batch-1"}));
  EXPECT_LT(head[0].position, head[1].position);
  auto next = ob->unacknowledged(2, head.back().position).value();
  ASSERT_EQ(ids(next), (std::vector<std::string>{"first-batch-2", "second-batch-0"}));
  EXPECT_LT(head[1].position, next[0].position);
  EXPECT_LT(next[0].position, next[1].position);  // across extracts too
  auto rest = ob->unacknowledged(10, next.back().position).value();
  EXPECT_EQ(ids(rest), std::vector<std::string>{"second-batch-1"});
  EXPECT_TRUE(ob->unacknowledged(10, rest.back().position).value().empty());
  // Acknowledged batches drop out wherever the cursor is; the position of one that is gone
  // still works as a cursor.
  ASSERT_TRUE(ob->mark_acknowledged("first-batch-2", "accepted"));
  EXPECT_EQ(ids(ob->unacknowledged(10, head.back().position).value()),
            (std::vector<std::string>{"second-batch-0", "second-batch-1"}));
  EXPECT_EQ(ids(ob->unacknowledged(10, next[0].position).value()),
            (std::vector<std::string>{"second-batch-0", "second-batch-1"}));
}

TEST_F(OutboxTest, UnknownIdsAreFalseNotErrors) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  EXPECT_EQ(ob->mark_published("no-such-batch").value(), false);
  EXPECT_EQ(ob->mark_acknowledged("no-such-batch", "accepted").value(), false);
  EXPECT_EQ(state_of(*ob, "no-such-batch"), std::nullopt);
  EXPECT_EQ(stats_of(*ob).queued, 1u);
}

// --- atomicity of an extract ---------------------------------------------------------------

TEST_F(OutboxTest, NothingVisibleBeforeCommit) {
  auto ob = open_ok();
  write_extract(*ob, "old", make_extract("old", 1));
  auto other = open_ok();  // a second connection to the same file

  ASSERT_TRUE(ob->begin_extract("new"));
  for (const auto& b : make_extract("new", 3)) ASSERT_TRUE(ob->add(b));

  // Only reads on `other`: its writes would wait for the extract's write lock (busy_timeout).
  for (Outbox* o : {ob.get(), other.get()}) {
    EXPECT_EQ(ids(pending(*o)), std::vector<std::string>{"old-batch-0"});
    EXPECT_EQ(state_of(*o, "new-batch-0"), std::nullopt);
    const auto s = stats_of(*o);
    EXPECT_EQ(s.queued, 1u);
    EXPECT_EQ(s.unacknowledged_records, 10u);
  }
  EXPECT_EQ(ob->mark_published("new-batch-0").value(), false);
  EXPECT_EQ(ob->mark_acknowledged("new-batch-1", "accepted").value(), false);

  ASSERT_TRUE(ob->commit_extract());
  for (Outbox* o : {ob.get(), other.get()}) {
    EXPECT_EQ(pending(*o).size(), 4u);
    EXPECT_EQ(state_of(*o, "new-batch-0"), BatchState::queued);
  }
}

TEST_F(OutboxTest, AbandonRollsBackAndTheExtractCanBeWrittenAgain) {
  auto ob = open_ok();
  ASSERT_TRUE(ob->begin_extract("e"));
  for (const auto& b : make_extract("e", 3)) ASSERT_TRUE(ob->add(b));
  ob->abandon_extract();
  EXPECT_TRUE(pending(*ob).empty());
  EXPECT_EQ(state_of(*ob, "e-batch-0"), std::nullopt);
  EXPECT_FALSE(ob->commit_extract());  // nothing is open any more

  write_extract(*ob, "e", make_extract("e", 3));
  EXPECT_EQ(pending(*ob).size(), 3u);
}

TEST_F(OutboxTest, DestroyingWithAnOpenExtractRollsBack) {
  {
    auto ob = open_ok();
    write_extract(*ob, "kept", make_extract("kept", 1));
    ASSERT_TRUE(ob->begin_extract("e"));
    for (const auto& b : make_extract("e", 3)) ASSERT_TRUE(ob->add(b));
  }
  auto ob = open_ok();
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"kept-batch-0"});
  write_extract(*ob, "e", make_extract("e", 3));
  EXPECT_EQ(pending(*ob).size(), 4u);
}

TEST_F(OutboxTest, MisuseIsAnIoError) {
  auto ob = open_ok();
  EXPECT_FALSE(ob->add(make_batch("e", 0)));
  EXPECT_EQ(ob->add(make_batch("e", 0)).error(), make_error_code(errc::io_error));
  EXPECT_FALSE(ob->commit_extract());
  ob->abandon_extract();  // nothing open: a no-op

  // A second begin fails and leaves the first extract open.
  ASSERT_TRUE(ob->begin_extract("e"));
  EXPECT_EQ(ob->begin_extract("f").error(), make_error_code(errc::io_error));
  ASSERT_TRUE(ob->add(make_batch("e", 0, true)));
  ASSERT_TRUE(ob->commit_extract());
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"e-batch-0"});
}

TEST_F(OutboxTest, FailedAddAbandonsTheWholeExtract) {
  // Going on after a failed add() would commit an extract with a batch missing.
  auto ob = open_ok();
  ASSERT_TRUE(ob->begin_extract("e"));
  ASSERT_TRUE(ob->add(make_batch("e", 0)));
  EXPECT_FALSE(ob->add(make_batch("other-extract", 1)));
  EXPECT_FALSE(ob->add(make_batch("e", 2)));
  EXPECT_FALSE(ob->commit_extract());
  EXPECT_TRUE(pending(*ob).empty());

  ASSERT_TRUE(ob->begin_extract("e"));
  auto huge = make_batch("e", 0);
  huge.seq = std::numeric_limits<std::uint64_t>::max();
  EXPECT_FALSE(ob->add(huge));
  EXPECT_FALSE(ob->commit_extract());
  EXPECT_TRUE(pending(*ob).empty());
}

TEST_F(OutboxTest, MarksMadeWhileAnExtractIsOpenSurviveItsAbandonment) {
  // The forwarder and the pipeline share the outbox's strand, so receipts arrive while an
  // extract is being written; they must not be undone with it.
  auto ob = open_ok();
  write_extract(*ob, "old", make_extract("old", 2));
  ASSERT_TRUE(ob->begin_extract("new"));
  ASSERT_TRUE(ob->add(make_batch("new", 0)));
  EXPECT_EQ(ob->mark_published("old-batch-0").value(), true);
  EXPECT_EQ(ob->mark_acknowledged("old-batch-0", "accepted").value(), true);
  EXPECT_EQ(ob->mark_published("old-batch-1").value(), true);
  EXPECT_EQ(state_of(*ob, "old-batch-0"), BatchState::acknowledged);
  ob->abandon_extract();

  EXPECT_EQ(state_of(*ob, "old-batch-0"), BatchState::acknowledged);
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].batch_id, "old-batch-1");
  EXPECT_EQ(got[0].state, BatchState::published);
  EXPECT_EQ(got[0].attempts, 1u);

  // And with a commit they are simply part of it.
  ASSERT_TRUE(ob->begin_extract("new"));
  ASSERT_TRUE(ob->add(make_batch("new", 0, true)));
  EXPECT_EQ(ob->mark_acknowledged("old-batch-1", "accepted").value(), true);
  ASSERT_TRUE(ob->commit_extract());
  ob.reset();
  ob = open_ok();
  EXPECT_EQ(state_of(*ob, "old-batch-1"), BatchState::acknowledged);
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"new-batch-0"});
}

// --- crash recovery ------------------------------------------------------------------------

// Processed again after a crash that followed the commit, an extract may be cut otherwise
// ([batches] lowered, its schema changed): its first batches stand, and nothing is added, neither
// a fourth seq (its records would reach the hub twice) nor a second batch marked last.
TEST_F(OutboxTest, AnExtractCommittedOnceIsSealedAgainstAnyOtherCut) {
  auto ob = open_ok();
  const auto first = make_extract("e", 3);
  write_extract(*ob, "e", first);
  ASSERT_TRUE(ob->mark_published("e-batch-0"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  ASSERT_TRUE(ob->mark_published("e-batch-1"));

  // The same ids with other payloads, and more of them: the stored rows are not overwritten and
  // the extra one is not added.
  std::vector<OutboxBatch> again = make_extract("e", 5);
  for (auto& b : again) b.payload = "re-run " + b.batch_id + "\n";
  write_extract(*ob, "e", again);

  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 2u);
  expect_same_batch(got[0], first[1], BatchState::published, 1);
  expect_same_batch(got[1], first[2], BatchState::queued, 0);
  EXPECT_EQ(state_of(*ob, "e-batch-3"), std::nullopt);
  EXPECT_EQ(state_of(*ob, "e-batch-4"), std::nullopt);
  const auto p = ob->progress("e");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->batches, 3u);
  EXPECT_EQ(p->records, 10u + 11u + 12u);

  // Another extract is written as usual after it.
  write_extract(*ob, "f", make_extract("f", 2));
  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"e-batch-1", "e-batch-2", "f-batch-0", "f-batch-1"}));
}

TEST_F(OutboxTest, CrashBeforeCommitLeavesNothingAndTheRerunWritesEverything) {
  {
    auto ob = open_ok();
    write_extract(*ob, "done", make_extract("done", 1));
  }
  // The child holds no connection inherited from us (none is open across the fork) and dies
  // without running destructors, as a crash would. 1 MiB payloads make SQLite spill uncommitted
  // pages into the WAL, so recovery must discard frames that are really on disk.
  const std::string payload(1u << 20, 'x');
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = Outbox::open(db_);
    if (!r || !(*r)->begin_extract("crashed")) ::_exit(2);
    for (std::uint64_t i = 0; i < 3; ++i)
      if (!(*r)->add(make_batch("crashed", i, i == 2, 5, payload))) ::_exit(3);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(fs::file_size(wal_of(db_)), payload.size());

  auto ob = open_ok();
  EXPECT_EQ(ids(pending(*ob)), std::vector<std::string>{"done-batch-0"});
  EXPECT_EQ(state_of(*ob, "crashed-batch-0"), std::nullopt);

  std::vector<OutboxBatch> rerun;
  for (std::uint64_t i = 0; i < 3; ++i)
    rerun.push_back(make_batch("crashed", i, i == 2, 5, payload));
  write_extract(*ob, "crashed", rerun);
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i)
    expect_same_batch(got[i + 1], rerun[i], BatchState::queued, 0);
}

// --- ordering ------------------------------------------------------------------------------

TEST_F(OutboxTest, OlderExtractFirstEvenWhenRewrittenAfterANewerOne) {
  auto ob = open_ok();
  write_extract(*ob, "first", make_extract("first", 2));
  write_extract(*ob, "second", make_extract("second", 2));
  // The re-run of "first" (a crash before its final state was recorded, say) commits after
  // "second": "first" keeps the place its first begin_extract gave it, and its batches.
  write_extract(*ob, "first", make_extract("first", 3));
  write_extract(*ob, "third", make_extract("third", 1));

  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"first-batch-0", "first-batch-1", "second-batch-0",
                                                          "second-batch-1", "third-batch-0"}));
}

TEST_F(OutboxTest, AnAbandonedBeginDoesNotReserveAPlace) {
  // The place is taken by the first begin_extract that commits: an abandoned one left no trace.
  auto ob = open_ok();
  ASSERT_TRUE(ob->begin_extract("a"));
  ob->abandon_extract();
  write_extract(*ob, "b", make_extract("b", 1));
  write_extract(*ob, "a", make_extract("a", 1));
  EXPECT_EQ(ids(pending(*ob)), (std::vector<std::string>{"b-batch-0", "a-batch-0"}));
}

// --- durability and the file ---------------------------------------------------------------

TEST_F(OutboxTest, StateSurvivesCloseAndReopen) {
  {
    auto ob = open_ok();
    write_extract(*ob, "e", make_extract("e", 3));
    ASSERT_TRUE(ob->mark_published("e-batch-0"));
    ASSERT_TRUE(ob->mark_published("e-batch-1"));
    ASSERT_TRUE(ob->mark_acknowledged("e-batch-1", "duplicate"));
  }
  auto ob = open_ok();
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::published);
  EXPECT_EQ(state_of(*ob, "e-batch-1"), BatchState::acknowledged);
  EXPECT_EQ(state_of(*ob, "e-batch-2"), BatchState::queued);
  const auto got = pending(*ob);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].attempts, 1u);
  // And a third connection, opened while this one is still open, agrees.
  auto third = open_ok();
  EXPECT_EQ(ids(pending(*third)), ids(got));
}

TEST_F(OutboxTest, FilesAreOwnerOnly) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  EXPECT_EQ(mode_of(db_), 0600u);
  ASSERT_TRUE(fs::exists(wal_of(db_)));
  EXPECT_EQ(mode_of(wal_of(db_)), 0600u);
  EXPECT_EQ(ob->file_for_test(), db_);
}

TEST_F(OutboxTest, AnExistingLooseFileIsTightened) {
  { auto ob = open_ok(); }
  ASSERT_EQ(::chmod(db_.c_str(), 0644), 0);
  auto ob = open_ok();
  EXPECT_EQ(mode_of(db_), 0600u);
}

TEST_F(OutboxTest, AnEmptyFileBecomesANewOutbox) {
  // What a crash between creating the file and SQLite's first write leaves behind.
  write_bytes(db_, "");
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 1));
  EXPECT_EQ(pending(*ob).size(), 1u);
}

TEST_F(OutboxTest, WalModeIsInForce) {
  {
    auto ob = open_ok();
    write_extract(*ob, "e", make_extract("e", 1));
    EXPECT_TRUE(fs::exists(wal_of(db_)));
  }
  // Header bytes 18 and 19 are 2 for a database in WAL mode (1 for a rollback journal).
  const std::string header = read_bytes(db_).substr(0, 100);
  ASSERT_EQ(header.size(), 100u);
  EXPECT_EQ(header[kWriteVersionOffset], 2);
  EXPECT_EQ(header[kReadVersionOffset], 2);
}

// --- refusals ------------------------------------------------------------------------------

TEST_F(OutboxTest, GarbageFileIsRefusedAndLeftAlone) {
  const std::string garbage = "this is not an SQLite database, just synthetic text\n";
  for (const std::string& text : {garbage, std::string(8192, 'g')}) {
    write_bytes(db_, text);
    auto r = Outbox::open(db_);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), make_error_code(errc::io_error));
    EXPECT_EQ(read_bytes(db_), text);
  }
}

TEST_F(OutboxTest, DirectoryAndMissingParentAreRefused) {
  for (const fs::path& p : {dir_, dir_ / "missing" / "outbox.db"}) {
    auto r = Outbox::open(p);
    ASSERT_FALSE(r.has_value()) << p;
    EXPECT_EQ(r.error(), make_error_code(errc::io_error));
  }
}

TEST_F(OutboxTest, NewerSchemaIsRefused) {
  {
    auto ob = open_ok();
    write_extract(*ob, "e", make_extract("e", 1));
  }
  ASSERT_FALSE(fs::exists(wal_of(db_)));  // checkpointed on close, so the header is in the file
  set_user_version(db_, 99);
  auto r = Outbox::open(db_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(errc::io_error));

  set_user_version(db_, 1);  // the forgery was the only problem
  auto ob = open_ok();
  EXPECT_EQ(pending(*ob).size(), 1u);
}

TEST_F(OutboxTest, SomebodyElsesDatabaseIsRefused) {
  // Version 0 with tables in it: not ours to add a schema to.
  { auto ob = open_ok(); }
  ASSERT_FALSE(fs::exists(wal_of(db_)));
  set_user_version(db_, 0);
  auto r = Outbox::open(db_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(errc::io_error));
}

// --- stats ---------------------------------------------------------------------------------

TEST_F(OutboxTest, StatsCountStatesAndUnacknowledgedRecords) {
  auto ob = open_ok();
  auto s = stats_of(*ob);
  EXPECT_EQ(s.queued + s.published + s.acknowledged + s.unacknowledged_records, 0u);
  EXPECT_EQ(s.oldest_unacknowledged_at, 0);

  const auto before = static_cast<std::int64_t>(std::time(nullptr));
  write_extract(*ob, "e", make_extract("e", 4));  // records 10, 11, 12, 13
  const auto after = static_cast<std::int64_t>(std::time(nullptr));
  ASSERT_TRUE(ob->mark_published("e-batch-0"));
  ASSERT_TRUE(ob->mark_published("e-batch-1"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-1", "accepted"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-2", "accepted"));

  s = stats_of(*ob);
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.published, 1u);
  EXPECT_EQ(s.acknowledged, 2u);
  EXPECT_EQ(s.unacknowledged_records, 10u + 13u);
  EXPECT_GE(s.oldest_unacknowledged_at, before);
  EXPECT_LE(s.oldest_unacknowledged_at, after);

  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-3", "accepted"));
  s = stats_of(*ob);
  EXPECT_EQ(s.acknowledged, 4u);
  EXPECT_EQ(s.unacknowledged_records, 0u);
  EXPECT_EQ(s.oldest_unacknowledged_at, 0);
}

TEST_F(OutboxTest, ProgressCountsOneExtractsBatches) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 3));  // records 10, 11, 12
  write_extract(*ob, "f", make_extract("f", 2));
  ASSERT_TRUE(ob->mark_published("e-batch-0"));
  ASSERT_TRUE(ob->mark_published("e-batch-1"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  ASSERT_TRUE(ob->mark_rejected("e-batch-1", "unknown_feed"));
  auto p = ob->progress("e");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->batches, 3u);
  EXPECT_EQ(p->published, 2u);
  EXPECT_EQ(p->acknowledged, 1u);
  EXPECT_EQ(p->rejected, 1u);
  EXPECT_EQ(p->records, 33u);
  EXPECT_EQ(p->records_acknowledged, 10u);
  auto per_feed = ob->acknowledged_records_per_feed();
  ASSERT_TRUE(per_feed);
  EXPECT_EQ(*per_feed, (std::map<std::string, std::uint64_t>{{"feed-a", 10}}));
  auto none = ob->progress("nobody");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->batches, 0u);

  // An extract still being written is not counted.
  ASSERT_TRUE(ob->begin_extract("g"));
  ASSERT_TRUE(ob->add(make_batch("g", 0, true)));
  auto open = ob->progress("g");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->batches, 0u);
  ob->abandon_extract();
}

TEST_F(OutboxTest, PruneFreesOnlyAcknowledgedPayloadsAndKeepsTheRows) {
  auto ob = open_ok();
  write_extract(*ob, "e", make_extract("e", 4));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-0", "accepted"));
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-1", "duplicate"));
  ASSERT_TRUE(ob->mark_rejected("e-batch-2", "unknown_feed"));

  // Too young for a one-hour age: nothing goes.
  auto none = ob->prune_acknowledged(std::chrono::hours(1), 100);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  // Limit respected, then the rest.
  auto one = ob->prune_acknowledged(std::chrono::seconds(0), 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, 1u);
  auto rest = ob->prune_acknowledged(std::chrono::seconds(0), 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, 1u);

  // The unacknowledged batch is still sent whole; counts and states are kept.
  auto left = pending(*ob);
  ASSERT_EQ(left.size(), 1u);
  expect_same_batch(left[0], make_extract("e", 4)[3], BatchState::queued, 0);
  EXPECT_EQ(state_of(*ob, "e-batch-0"), BatchState::acknowledged);
  EXPECT_EQ(stats_of(*ob).acknowledged, 2u);
  auto p = ob->progress("e");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->batches, 4u);
  EXPECT_EQ(p->acknowledged, 2u);

  // Not inside an open extract.
  ASSERT_TRUE(ob->mark_acknowledged("e-batch-3", "accepted"));
  ASSERT_TRUE(ob->begin_extract("f"));
  auto inside = ob->prune_acknowledged(std::chrono::seconds(0), 100);
  ASSERT_TRUE(inside);
  EXPECT_EQ(*inside, 0u);
  ob->abandon_extract();
  auto after = ob->prune_acknowledged(std::chrono::seconds(0), 100);
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 1u);
}

}  // namespace
}  // namespace svd::deliver
