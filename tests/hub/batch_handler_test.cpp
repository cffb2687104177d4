#include "hub/batch_handler.h"

#include "hub/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

namespace fs = std::filesystem;

class BatchHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::open(dir_ / "hub.db", {{"ed-assaults", "records_ed_assaults", "records_ed_assaults_linked",
                                                  {{"n", ColumnType::integer, ""}}}});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    handler_ = std::make_unique<BatchHandler>(*store_, rules());
  }
  void TearDown() override {
    handler_.reset();
    store_.reset();
  }

  std::string payload(const std::string& partner, const std::string& feed, std::uint64_t seq,
                      const std::string& records = "{\"n\":1}\n{\"n\":2}\n") {
    return payload_with_id(partner, feed, seq, protocol::batch_id_for(partner, feed, std::string(64, 'b'), seq),
                           records);
  }
  std::string payload_with_id(const std::string& partner, const std::string& feed, std::uint64_t seq,
                              const std::string& batch_id,
                              const std::string& records = "{\"n\":1}\n{\"n\":2}\n") {
    protocol::BatchHeader h;
    h.batch_id = batch_id;
    h.partner = partner;
    h.feed = feed;
    h.schema = feed;
    h.extract = {"x", std::string(64, 'b'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    return protocol::make_batch_payload(h, records);
  }

  test_support::TempDir tmp_{"svd-handler"};
  const fs::path& dir_ = tmp_.path();
  // northgate-ed may send ed-assaults (and death-reports, which this hub does not have).
  static BatchRules rules() {
    BatchRules r;
    r.feeds_of["northgate-ed"] = {"ed-assaults", "death-reports"};
    r.feeds_of["southgate-ed"] = {"ed-assaults"};
    r.max_batch_bytes = 64 << 10;
    return r;
  }

  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<BatchHandler> handler_;
};

TEST_F(BatchHandlerTest, AcceptsThenAnswersDuplicate) {
  const std::string p = payload("northgate-ed", "ed-assaults", 0);
  Reply r = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", p);
  EXPECT_EQ(r.topic, "svd/v1/northgate-ed/receipt");
  EXPECT_EQ(r.receipt.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(r.receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'b'), 0));
  Reply again = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", p);
  EXPECT_EQ(again.receipt.status, protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
}

TEST_F(BatchHandlerTest, RejectsATamperedBatchWithAReason) {
  std::string p = payload("northgate-ed", "ed-assaults", 1);
  p[p.size() - 3] = '7';
  Reply r = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", p);
  EXPECT_EQ(r.receipt.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(r.receipt.reason, "records_digest_mismatch");
  EXPECT_EQ(r.receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'b'), 1));
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
}

TEST_F(BatchHandlerTest, RejectsAPartnerOrFeedThatDiffersFromTheTopic) {
  Reply r = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", payload("southgate-ed", "ed-assaults", 0));
  EXPECT_EQ(r.topic, "svd/v1/northgate-ed/receipt");
  EXPECT_EQ(r.receipt.reason, "topic_mismatch");
  r = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", payload("northgate-ed", "death-reports", 0));
  EXPECT_EQ(r.receipt.reason, "topic_mismatch");
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
}

// The id is derived (protocol::batch_id_for), not chosen: any other is refused, and the partner in
// it is the topic's, so a gateway cannot pass its batch off under another partner's id.
TEST_F(BatchHandlerTest, RejectsABatchIdThatIsNotTheComputedOne) {
  const std::string topic = "svd/v1/northgate-ed/ed-assaults/batch";
  const std::string digest(64, 'b');
  const std::vector<std::string> claimed{
      protocol::batch_id_for("northgate-ed", "ed-assaults", digest, 1),   // another seq's
      protocol::batch_id_for("southgate-ed", "ed-assaults", digest, 0),   // another partner's
      protocol::batch_id_for("northgate-ed", "death-reports", digest, 0), // another feed's
      protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'c'), 0),  // another extract's
      "X" + protocol::batch_id_for("northgate-ed", "ed-assaults", digest, 0).substr(1),  // one value, one spelling
      "x-1-0",
      "",
      "forged\nbatch 0 on " + topic + ": accepted\r\t\x1b[2K",
      std::string(60 << 10, 'z'),
  };
  for (const std::string& id : claimed) {
    SCOPED_TRACE(id.substr(0, 80));
    Reply r = handler_->handle(topic, payload_with_id("northgate-ed", "ed-assaults", 0, id));
    EXPECT_EQ(r.topic, "svd/v1/northgate-ed/receipt");
    EXPECT_EQ(r.receipt.status, protocol::ReceiptStatus::rejected);
    EXPECT_EQ(r.receipt.reason, "batch_id_mismatch");
    EXPECT_EQ(r.receipt.batch_id, id);  // as sent: the gateway matches the rejection by it
    EXPECT_TRUE(r.log);
  }
  // southgate-ed's own gateway, on its own topic, claiming northgate-ed's id for the batch.
  Reply r = handler_->handle("svd/v1/southgate-ed/ed-assaults/batch",
                             payload_with_id("southgate-ed", "ed-assaults", 0,
                                             protocol::batch_id_for("northgate-ed", "ed-assaults", digest, 0)));
  EXPECT_EQ(r.receipt.reason, "batch_id_mismatch");
  EXPECT_EQ(*store_->batch_count(), 0u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
  // The id the hub computes goes in as before, and is no duplicate of anything refused above.
  r = handler_->handle(topic, payload("northgate-ed", "ed-assaults", 0));
  EXPECT_EQ(r.receipt.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(r.receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", digest, 0));
  EXPECT_EQ(*store_->batch_count(), 1u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
}

// What svdhub logs for a batch: one line, whatever the peer put in the batch id or the topic.
TEST_F(BatchHandlerTest, TheLogLineEscapesWhatThePeerSent) {
  const std::string topic = "svd/v1/northgate-ed/ed-assaults/batch";
  const std::string digest(64, 'b');
  const std::string id = "forged\nbatch 0 on " + topic + ": accepted\r\t\x1b[2K\\";
  Reply r = handler_->handle(topic, payload_with_id("northgate-ed", "ed-assaults", 0, id));
  EXPECT_EQ(log_line(r, topic), "batch forged\\nbatch 0 on " + topic +
                                    ": accepted\\r\\t\\x1b[2K\\\\ on " + topic +
                                    ": rejected (batch_id_mismatch)");
  // A long id is cut, visibly: the line stays short however much the header carried.
  r = handler_->handle(topic, payload_with_id("northgate-ed", "ed-assaults", 0, std::string(60 << 10, 'z')));
  EXPECT_EQ(log_line(r, topic),
            "batch " + std::string(128, 'z') + "\u2026 on " + topic + ": rejected (batch_id_mismatch)");
  // The topic's feed level is the peer's too (the subscription matches any).
  const std::string odd = "svd/v1/northgate-ed/ed\x1b]0;x\x07/batch";
  r = handler_->handle(odd, payload("northgate-ed", "ed-assaults", 0));
  EXPECT_EQ(log_line(r, odd), "batch " + protocol::batch_id_for("northgate-ed", "ed-assaults", digest, 0) +
                                  " on svd/v1/northgate-ed/ed\\x1b]0;x\\x07/batch: rejected (topic_mismatch)");
  // The first refusal of a feed says that the next ones are not logged.
  r = handler_->handle("svd/v1/southgate-ed/death-reports/batch", payload("southgate-ed", "death-reports", 0));
  EXPECT_EQ(log_line(r, "svd/v1/southgate-ed/death-reports/batch"),
            "batch " + protocol::batch_id_for("southgate-ed", "death-reports", digest, 0) +
                " on svd/v1/southgate-ed/death-reports/batch: rejected (feed_not_permitted); further batches of this "
                "feed from this partner are refused without a log line");
}

TEST_F(BatchHandlerTest, OtherRejections) {
  EXPECT_EQ(handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", "garbage").receipt.reason, "bad_envelope");
  EXPECT_EQ(handler_->handle("svd/v1/northgate-ed/death-reports/batch", payload("northgate-ed", "death-reports", 0))
                .receipt.reason,
            "unknown_feed");
  EXPECT_EQ(handler_->handle("svd/v1/northgate-ed/ed-assaults/batch",
                             payload("northgate-ed", "ed-assaults", 2, "{\"nope\":1}\n"))
                .receipt.reason,
            "bad_record");
  EXPECT_EQ(handler_->handle("not/a/batch/topic", "x").topic, "");
}

// A school's gateway cannot put records into death-reports: a partner sends only its own feeds.
TEST_F(BatchHandlerTest, AFeedThePartnerMayNotSendIsRefusedAndLoggedOnce) {
  const std::string topic = "svd/v1/southgate-ed/death-reports/batch";
  Reply first = handler_->handle(topic, payload("southgate-ed", "death-reports", 0));
  EXPECT_EQ(first.topic, "svd/v1/southgate-ed/receipt");
  EXPECT_EQ(first.receipt.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(first.receipt.reason, "feed_not_permitted");
  EXPECT_TRUE(first.log);
  Reply second = handler_->handle(topic, payload("southgate-ed", "death-reports", 1));
  EXPECT_EQ(second.receipt.reason, "feed_not_permitted");
  EXPECT_FALSE(second.log);  // counted, but not logged again
  // A partner the hub does not list at all may send nothing.
  Reply stranger = handler_->handle("svd/v1/eastgate-ed/ed-assaults/batch", payload("eastgate-ed", "ed-assaults", 0));
  EXPECT_EQ(stranger.receipt.reason, "feed_not_permitted");
  EXPECT_TRUE(stranger.log);
  const auto counts = handler_->not_permitted();
  EXPECT_EQ(counts.at({"southgate-ed", "death-reports"}), 2u);
  EXPECT_EQ(counts.at({"eastgate-ed", "ed-assaults"}), 1u);
  EXPECT_EQ(*store_->batch_count(), 0u);
  // The same partner's own feed still goes in.
  EXPECT_EQ(handler_->handle("svd/v1/southgate-ed/ed-assaults/batch", payload("southgate-ed", "ed-assaults", 0))
                .receipt.status,
            protocol::ReceiptStatus::accepted);
}

TEST_F(BatchHandlerTest, APayloadOverTheLimitIsRefusedUnread) {
  std::string records;
  while (records.size() <= 64 << 10) records += "{\"n\":1}\n";
  const std::string big = payload("northgate-ed", "ed-assaults", 5, records);
  Reply r = handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", big);
  EXPECT_EQ(r.receipt.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(r.receipt.reason, "batch_too_large");
  // The id from the header line, so the gateway can match the rejection to its batch.
  EXPECT_EQ(r.receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'b'), 5));
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
  // Not even the header is looked for beyond the first 64 KiB.
  EXPECT_EQ(handler_->handle("svd/v1/northgate-ed/ed-assaults/batch", std::string(70 << 10, '{')).receipt.reason,
            "batch_too_large");
}

TEST_F(BatchHandlerTest, AGroupAnswersEachMessageOnItsOwn) {
  const std::string topic = "svd/v1/northgate-ed/ed-assaults/batch";
  const std::string earlier = payload("northgate-ed", "ed-assaults", 9);
  ASSERT_EQ(handler_->handle(topic, earlier).receipt.status, protocol::ReceiptStatus::accepted);
  std::string tampered = payload("northgate-ed", "ed-assaults", 3);
  tampered[tampered.size() - 3] = '7';
  const std::string good = payload("northgate-ed", "ed-assaults", 0);
  const std::string bad = payload("northgate-ed", "ed-assaults", 1, "{\"n\":1}\n{\"nope\":1}\n");
  const std::string other = payload("southgate-ed", "ed-assaults", 0);
  const std::vector<Message> group{
      {topic, good}, {topic, bad}, {topic, earlier}, {"not/a/batch/topic", good},
      {topic, tampered}, {"svd/v1/southgate-ed/ed-assaults/batch", other}, {topic, good},
  };
  const std::vector<Reply> r = handler_->handle_group(group);
  ASSERT_EQ(r.size(), group.size());
  EXPECT_EQ(r[0].receipt.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(r[0].receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'b'), 0));
  EXPECT_EQ(r[1].receipt.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(r[1].receipt.reason, "bad_record");
  EXPECT_EQ(r[1].receipt.batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'b'), 1));
  EXPECT_EQ(r[2].receipt.status, protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(r[3].topic, "");
  EXPECT_EQ(r[4].receipt.reason, "records_digest_mismatch");
  EXPECT_EQ(r[5].topic, "svd/v1/southgate-ed/receipt");
  EXPECT_EQ(r[5].receipt.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(r[6].receipt.status, protocol::ReceiptStatus::duplicate);  // the same batch again, same group
  for (std::size_t i : {0u, 1u, 2u, 4u, 6u}) EXPECT_EQ(r[i].topic, "svd/v1/northgate-ed/receipt") << i;
  EXPECT_EQ(*store_->record_count("ed-assaults"), 6u);  // earlier, good, other: two records each
  EXPECT_EQ(*store_->batch_count(), 3u);
}

int refuse_commit(void*) { return 1; }

TEST_F(BatchHandlerTest, AGroupThatCannotBeCommittedIsNotAnswered) {
  const std::string topic = "svd/v1/northgate-ed/ed-assaults/batch";
  const std::string good = payload("northgate-ed", "ed-assaults", 0);
  const std::string bad = payload("northgate-ed", "ed-assaults", 1, "{\"nope\":1}\n");
  const std::vector<Message> group{{topic, good}, {topic, bad}, {topic, "garbage"}};
  sqlite3_commit_hook(store_->connection_for_test(), refuse_commit, nullptr);
  for (const Reply& r : handler_->handle_group(group)) EXPECT_EQ(r.topic, "");
  EXPECT_EQ(handler_->handle(topic, good).topic, "");
  sqlite3_commit_hook(store_->connection_for_test(), nullptr, nullptr);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
  // Sent again, the batches are answered as if the first attempt had never been.
  const std::vector<Reply> again = handler_->handle_group(group);
  EXPECT_EQ(again[0].receipt.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(again[1].receipt.reason, "bad_record");
  EXPECT_EQ(again[2].receipt.reason, "bad_envelope");
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
}

TEST_F(BatchHandlerTest, AGroupWithNothingToStoreIsStillAnswered) {
  const std::vector<Message> group{{"svd/v1/northgate-ed/ed-assaults/batch", "garbage"}};
  // No transaction at all, so a store that cannot commit does not matter here.
  sqlite3_commit_hook(store_->connection_for_test(), refuse_commit, nullptr);
  const std::vector<Reply> r = handler_->handle_group(group);
  sqlite3_commit_hook(store_->connection_for_test(), nullptr, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].topic, "svd/v1/northgate-ed/receipt");
  EXPECT_EQ(r[0].receipt.reason, "bad_envelope");
}

}  // namespace
}  // namespace svd::hub
