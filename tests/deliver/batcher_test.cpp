// The batching sink against a real SQLite outbox.

#include "deliver/batcher.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace svd::deliver {
namespace {

namespace fs = std::filesystem;

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = Outbox::open(dir_ / "outbox.db");
    ASSERT_TRUE(o);
    outbox_ = std::move(*o);
  }
  void TearDown() override { outbox_.reset(); }

  BatchContext context(const std::string& sha = std::string(64, 'e')) {
    return {"northgate-ed", "ed-assaults", "ed-assaults", {"k1"}, {"x-1", sha, "2026-11-23T09:00:00Z"}};
  }

  std::vector<OutboxBatch> batches() {
    auto b = outbox_->unacknowledged(1000);
    EXPECT_TRUE(b);
    return b ? *b : std::vector<OutboxBatch>{};
  }

  test_support::TempDir tmp_{"svd-batcher"};
  const fs::path& dir_ = tmp_.path();
  std::unique_ptr<Outbox> outbox_;
};

std::string record(int i) { return "{\"n\":" + std::to_string(i) + "}\n"; }

TEST_F(BatcherTest, CutsByRecordCountAndMarksTheLast) {
  auto sink = open_outbox_sink(*outbox_, context(), {3, 1 << 20});
  ASSERT_TRUE(sink);
  std::string all;
  for (int i = 0; i < 7; ++i) all += record(i);
  // Blocks that do not line up with batch boundaries.
  ASSERT_TRUE((*sink)->add_lines(record(0) + record(1)));
  ASSERT_TRUE((*sink)->add_lines(record(2) + record(3) + record(4) + record(5)));
  ASSERT_TRUE((*sink)->add_lines(record(6)));
  EXPECT_TRUE(batches().empty()) << "nothing is visible before commit";
  ASSERT_TRUE((*sink)->commit());

  auto b = batches();
  ASSERT_EQ(b.size(), 3u);
  std::string joined;
  for (std::size_t i = 0; i < b.size(); ++i) {
    auto parsed = protocol::parse_batch(b[i].payload);
    ASSERT_TRUE(parsed) << i;
    EXPECT_EQ(parsed->header.seq, i);
    EXPECT_EQ(parsed->header.last, i == 2);
    EXPECT_EQ(b[i].last, i == 2);
    EXPECT_EQ(parsed->header.count, i == 2 ? 1u : 3u);
    EXPECT_EQ(b[i].records, parsed->header.count);
    EXPECT_EQ(parsed->header.batch_id, b[i].batch_id);
    EXPECT_EQ(b[i].batch_id, protocol::batch_id_for("northgate-ed", "ed-assaults", std::string(64, 'e'), i));
    EXPECT_EQ(b[i].topic, "svd/v1/northgate-ed/ed-assaults/batch");
    EXPECT_EQ(parsed->header.extract.id, "x-1");
    joined += std::string(parsed->records);
  }
  EXPECT_EQ(joined, all);
}

TEST_F(BatcherTest, CutsByBytesAndKeepsAnOversizedRecordWhole) {
  auto sink = open_outbox_sink(*outbox_, context(), {100, 40});
  ASSERT_TRUE(sink);
  const std::string big = "{\"s\":\"" + std::string(100, 'x') + "\"}\n";
  ASSERT_TRUE((*sink)->add_lines(record(1) + record(2) + big + record(3)));
  ASSERT_TRUE((*sink)->commit());
  auto b = batches();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].records, 2u);
  EXPECT_EQ(protocol::parse_batch(b[1].payload)->records, big);
  EXPECT_EQ(b[2].records, 1u);
}

TEST_F(BatcherTest, AnEmptyExtractStillReachesTheHub) {
  auto sink = open_outbox_sink(*outbox_, context(), {});
  ASSERT_TRUE(sink);
  ASSERT_TRUE((*sink)->commit());
  auto b = batches();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(b[0].last);
  EXPECT_EQ(b[0].records, 0u);
  EXPECT_FALSE(protocol::parse_batch(b[0].payload)->header.nil_return) << "an empty extract is not a nil return";
}

// A nothing-to-share return reaches the hub as one empty batch that says what it is, so the hub
// tells "nothing to share" from an extract with no rows.
TEST_F(BatcherTest, ANilReturnIsOneEmptyBatchMarkedAsSuch) {
  BatchContext nil = context();
  nil.nil_return = true;
  auto sink = open_outbox_sink(*outbox_, nil, {});
  ASSERT_TRUE(sink);
  ASSERT_TRUE((*sink)->commit());
  auto b = batches();
  ASSERT_EQ(b.size(), 1u);
  auto parsed = protocol::parse_batch(b[0].payload);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->header.nil_return);
  EXPECT_TRUE(parsed->header.last);
  EXPECT_EQ(parsed->header.count, 0u);
}

TEST_F(BatcherTest, DiscardLeavesNothing) {
  {
    auto sink = open_outbox_sink(*outbox_, context(), {2, 1 << 20});
    ASSERT_TRUE(sink);
    ASSERT_TRUE((*sink)->add_lines(record(1) + record(2) + record(3)));
    (*sink)->discard();
  }
  EXPECT_TRUE(batches().empty());
  {
    auto sink = open_outbox_sink(*outbox_, context(), {2, 1 << 20});
    ASSERT_TRUE(sink);
    ASSERT_TRUE((*sink)->add_lines(record(1)));
  }  // destroyed without commit: as good as discarded
  EXPECT_TRUE(batches().empty());
}

// Processing the same extract again after a crash yields the same batch ids, so what was
// already acknowledged stays acknowledged and nothing is queued twice.
TEST_F(BatcherTest, ReprocessingAnExtractDoesNotDuplicate) {
  auto write_all = [&] {
    auto sink = open_outbox_sink(*outbox_, context(), {2, 1 << 20});
    ASSERT_TRUE(sink);
    ASSERT_TRUE((*sink)->add_lines(record(1) + record(2) + record(3) + record(4) + record(5)));
    ASSERT_TRUE((*sink)->commit());
  };
  write_all();
  auto first = batches();
  ASSERT_EQ(first.size(), 3u);
  ASSERT_TRUE(outbox_->mark_published(first[0].batch_id));
  ASSERT_TRUE(outbox_->mark_acknowledged(first[0].batch_id, "accepted"));
  write_all();
  auto again = batches();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].batch_id, first[1].batch_id);
  auto stats = outbox_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->acknowledged, 1u);
  EXPECT_EQ(stats->queued, 2u);
}

}  // namespace
}  // namespace svd::deliver
