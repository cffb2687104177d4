#include "hub/hub_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace svd::hub {
namespace {

namespace fs = std::filesystem;

class HubStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "svd-hub-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    reopen({"n", "s"});
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
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

  fs::path dir_;
  std::unique_ptr<HubStore> store_;
  std::vector<std::string> payloads_;  // parse_batch views into these
};

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
