#pragma once
// What every store backend does (hub/store.h), as tests that run against each: SQLite in
// store_test.cpp, PostgreSQL in pg_store_test.cpp. A backend's test file supplies a StoreBackend
// and instantiates the suite with it:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Values(&sqlite_backend), backend_name);
//
// Included by one unit per test executable (it defines the tests).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hub/sqlite_store.h"
#include "hub/store.h"
#include "hub/store_copy.h"
#include "base/time.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {

// A fresh, empty database per test, and a way to look at what is committed from outside the
// store's own connection.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual std::string name() const = 0;  // "sqlite", "postgresql": the tests' parameter name
  virtual void reset() = 0;  // a new empty database for the next open()
  virtual store_result<std::unique_ptr<Store>> open(std::vector<FeedTable> feeds) = 0;
  // The first column of the first row of `sql` as an integer, from another connection; -1 on
  // any error. Plain SQL that both dialects read alike.
  virtual std::int64_t committed(const std::string& sql) = 0;
  // The indexes on `table`, each as its column list ("_partner,_received_at", "person_token").
  virtual std::vector<std::string> indexes(const std::string& table) = 0;
  // The declared type of each column of `table`, upper case, in order: {"_partner", "TEXT"}, ...
  virtual std::vector<std::pair<std::string, std::string>> columns(const std::string& table) = 0;
  // The backend's type of the _received_at column.
  virtual std::string received_at_type() const = 0;
  // An SQL expression for a received time `column` as whole Unix seconds.
  std::string epoch_seconds(const std::string& column) const {
    return received_at_type() == "INTEGER" ? column : "CAST(EXTRACT(EPOCH FROM " + column + ") AS BIGINT)";
  }
};

// The parameter as test names and ctest show it: the backend's name, not an address.
inline void PrintTo(StoreBackend* backend, std::ostream* os) { *os << backend->name(); }
inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend*>& info) { return info.param->name(); }

class StoreContract : public ::testing::TestWithParam<StoreBackend*> {
 protected:
  StoreBackend& backend() { return *GetParam(); }

  void SetUp() override {
    backend().reset();
    reopen(ed_table());
  }
  void TearDown() override { store_.reset(); }

  static FeedTable table(const std::string& feed, std::vector<Column> columns) {
    std::string t = "records_" + feed;
    for (char& c : t)
      if (c == '-') c = '_';
    return {feed, t, t + "_linked", std::move(columns)};
  }
  static FeedTable ed_table(std::vector<Column> extra = {}) {
    std::vector<Column> cols{{"n", ColumnType::integer, ""}, {"s", ColumnType::text, ""}};
    cols.insert(cols.end(), extra.begin(), extra.end());
    return table("ed-assaults", std::move(cols));
  }

  void reopen(FeedTable t) { reopen(std::vector<FeedTable>{std::move(t)}); }
  void reopen(std::vector<FeedTable> tables) {
    store_.reset();
    auto s = backend().open(std::move(tables));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  // A verified batch, as the receiver hands it over after protocol::parse_batch.
  protocol::Batch batch(std::uint64_t seq, const std::string& records, const std::string& feed = "ed-assaults",
                        std::vector<std::string> key_ids = {"k1"}) {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for("northgate-ed", feed, std::string(64, 'f'), seq);
    h.partner = "northgate-ed";
    h.feed = feed;
    h.schema = feed;
    h.key_ids = std::move(key_ids);
    h.extract = {"x-1", std::string(64, 'f'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    payloads_.push_back(protocol::make_batch_payload(h, records));
    auto b = protocol::parse_batch(payloads_.back());
    EXPECT_TRUE(b);
    return *b;
  }

  // southgate-ed's "nothing to share" return for death-reports, received 2026-11-24T10:00:00Z.
  protocol::Batch nil_return_batch() {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for("southgate-ed", "death-reports", std::string(64, 'e'), 0);
    h.partner = "southgate-ed";
    h.feed = "death-reports";
    h.schema = "death-reports";
    h.extract = {"nil-1", std::string(64, 'e'), "2026-11-24T10:00:00Z"};
    h.last = true;
    h.nil_return = true;
    payloads_.push_back(protocol::make_batch_payload(h, ""));
    return *protocol::parse_batch(payloads_.back());
  }

  static std::string records(int n) {
    std::string r;
    for (int i = 0; i < n; ++i) r += "{\"n\":" + std::to_string(i) + ",\"s\":\"record " + std::to_string(i) + "\"}\n";
    return r;
  }

  std::int64_t committed(const std::string& sql) { return backend().committed(sql); }

  std::unique_ptr<Store> store_;
  std::deque<std::string> payloads_;  // parse_batch views into these (a deque never moves them)
};

// A token as the gateway writes it: "<key id>:<32 hex>", the hex made from `person`.
inline std::string token(const std::string& key_id, int person) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%032x", person);
  return key_id + ":" + hex;
}

TEST_P(StoreContract, StoresRecordsAndDeduplicatesBatches) {
  auto b0 = batch(0, "{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":null}\n");
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":3}\n")), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 3u);
  EXPECT_EQ(*store_->batch_count(), 2u);
  // The same batch id from another partner is another batch.
  EXPECT_EQ(*store_->store("southgate-ed", b0), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 5u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE _partner = 'southgate-ed' AND "
                      "_extract_id = 'x-1' AND _batch_id = '" + b0.header.batch_id + "' AND _received_at IS NOT NULL"),
            2);
}

TEST_P(StoreContract, DuplicatesAreRecognisedAfterARestart) {
  auto b0 = batch(0, "{\"n\":1}\n");
  ASSERT_TRUE(store_->store("northgate-ed", b0));
  reopen(ed_table());
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 1u);
}

TEST_P(StoreContract, ABadRecordStoresNothingOfTheBatch) {
  for (const char* bad : {"{\"n\":1}\n{\"unknown\":1}\n", "{\"n\":1}\n[1]\n", "{\"n\":{\"x\":1}}\n",
                          "{\"n\":1}\nnot json\n", "{\"n\":\"1\"}\n", "{\"n\":1.5}\n", "{\"s\":2}\n",
                          "{\"n\":9223372036854775808}\n", "{\"s\":\"a\\u0000b\"}\n"}) {
    SCOPED_TRACE(bad);
    auto b = batch(7, bad);
    EXPECT_EQ(store_->store("northgate-ed", b).error(), errc::bad_record);
    EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
    EXPECT_EQ(*store_->batch_count(), 0u);
  }
  // The batch can still be stored once it is right: the failed attempt left no trace.
  EXPECT_EQ(*store_->store("northgate-ed", batch(7, "{\"n\":1}\n")), protocol::ReceiptStatus::accepted);
}

TEST_P(StoreContract, UnknownFeed) {
  EXPECT_EQ(store_->store("northgate-ed", batch(0, "{\"n\":1}\n", "death-reports")).error(), errc::unknown_feed);
  EXPECT_EQ(store_->record_count("death-reports").error(), errc::unknown_feed);
}

TEST_P(StoreContract, TablesAreTypedAndIndexed) {
  reopen(ed_table({{"seen", ColumnType::date, ""},
                   {"at", ColumnType::timestamp, ""},
                   {"clock", ColumnType::time, ""},
                   {"score", ColumnType::number, ""},
                   {"flag", ColumnType::boolean, ""},
                   {"person_token", ColumnType::text, "person"}}));
  const std::vector<std::pair<std::string, std::string>> want{
      {"_partner", "TEXT"},      {"_extract_id", "TEXT"},      {"_batch_id", "TEXT"},
      {"_received_at", backend().received_at_type()},
      {"n", "BIGINT"},           {"s", "TEXT"},                {"seen", "DATE"},
      {"at", "TIMESTAMPTZ"},     {"clock", "TIME"},            {"score", "DOUBLE PRECISION"},
      {"flag", "BOOLEAN"},       {"person_token", "TEXT"}};
  EXPECT_EQ(backend().columns("records_ed_assaults"), want);
  auto idx = backend().indexes("records_ed_assaults");
  std::sort(idx.begin(), idx.end());
  EXPECT_EQ(idx, (std::vector<std::string>{"_partner,_received_at", "person_token"}));

  const std::string t = token("k1", 7);
  ASSERT_EQ(*store_->store("northgate-ed",
                           batch(0, "{\"n\":1,\"seen\":\"2026-03-01\",\"at\":\"2026-03-01T14:00:00+01:00\","
                                    "\"clock\":\"14:05:09\",\"score\":2.5,\"flag\":true,\"person_token\":\"" + t + "\"}\n"
                                    "{\"n\":2,\"score\":3}\n")),
            protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE seen = '2026-03-01' AND flag AND score = 2.5"), 1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE score = 3"), 1);
  // A value its column's type refuses is a bad record, in every backend alike.
  for (const char* bad : {"{\"seen\":\"2026-02-30\"}", "{\"seen\":\"01/03/2026\"}", "{\"at\":\"2026-03-01\"}",
                          "{\"at\":\"2026-03-01T14:00:00+23:00\"}", "{\"clock\":\"25:00\"}", "{\"flag\":1}",
                          "{\"score\":\"2.5\"}", "{\"person_token\":\"k2:0000000000000000000000000000000f\"}",
                          "{\"person_token\":\"k1:XYZ\"}"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(store_->store("northgate-ed", batch(1, std::string(bad) + "\n")).error(), errc::bad_record);
  }
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
}

TEST_P(StoreContract, ASchemaThatGainsAnOutputGainsAColumn) {
  ASSERT_TRUE(store_->store("northgate-ed", batch(0, "{\"n\":1}\n")));
  reopen(ed_table({{"added", ColumnType::text, ""}}));
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":2,\"added\":\"x\"}\n")), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 2u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE added IS NULL"), 1);
}

TEST_P(StoreContract, AnIncompatibleSchemaStopsTheStartAndAltersNothing) {
  ASSERT_TRUE(store_->store("northgate-ed", batch(0, "{\"n\":1,\"s\":\"a\"}\n")));
  store_.reset();
  const auto before = backend().columns("records_ed_assaults");
  // n retyped; s gone (and a new column that must not be added either).
  auto retyped = backend().open({table("ed-assaults", {{"n", ColumnType::text, ""}, {"s", ColumnType::text, ""}})});
  ASSERT_FALSE(retyped);
  EXPECT_EQ(retyped.error().code, errc::schema_incompatible);
  EXPECT_NE(retyped.error().message.find("feed ed-assaults: column n is BIGINT"), std::string::npos)
      << retyped.error().message;
  auto dropped = backend().open({table("ed-assaults", {{"n", ColumnType::integer, ""}, {"t", ColumnType::text, ""}})});
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().code, errc::schema_incompatible);
  EXPECT_NE(dropped.error().message.find("column s "), std::string::npos) << dropped.error().message;
  EXPECT_EQ(backend().columns("records_ed_assaults"), before);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 1);
}

TEST_P(StoreContract, AGroupStoresEachBatchOnItsOwn) {
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
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 4);  // 9, 1, 2, 5
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 3"), 0);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 3);
  // The refused batch left no trace: once right, it is accepted, not a duplicate.
  EXPECT_EQ(*store_->store("northgate-ed", batch(1, "{\"n\":3}\n")), protocol::ReceiptStatus::accepted);
}

TEST_P(StoreContract, TheSameBatchTwiceInAGroupIsStoredOnce) {
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
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 5);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 3);
}

TEST_P(StoreContract, AnEmptyGroupTouchesNothing) {
  auto outcomes = store_->store_group({});
  ASSERT_TRUE(outcomes);
  EXPECT_TRUE(outcomes->empty());
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches"), 0);
}

TEST_P(StoreContract, ALargeGroupIsStoredWhole) {
  std::vector<PendingBatch> group;
  for (int i = 0; i < 20; ++i) group.push_back({"northgate-ed", batch(static_cast<std::uint64_t>(i), records(500))});
  auto outcomes = store_->store_group(group);
  ASSERT_TRUE(outcomes);
  for (const auto& o : *outcomes) EXPECT_EQ(o.value(), protocol::ReceiptStatus::accepted);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 10000);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE s = 'record 499' AND n = 499"), 20);
}

// Three keys, two rotations: each overlap's records carry both tokens; the table keeps the
// newest, token_links connects the older ones, and the _linked view shows one person as one
// token throughout, whichever order the batches arrive in.
TEST_P(StoreContract, ThePersonLinksAcrossTwoRotations) {
  reopen(ed_table({{"person_token", ColumnType::text, "person"}, {"nhs_token", ColumnType::text, "nhs_number"}}));
  auto rec = [](int n, const std::string& person, const std::string& nhs) {
    return "{\"n\":" + std::to_string(n) + ",\"person_token\":\"" + person + "\",\"nhs_token\":\"" + nhs + "\"}\n";
  };
  const int p = 42, q = 43;  // the person, and somebody else
  const std::string p1 = token("k1", p), p2 = token("k2", p), p3 = token("k3", p);
  const std::string n1 = token("k1", 1000 + p), n2 = token("k2", 1000 + p), n3 = token("k3", 1000 + p);
  // The second overlap's batch arrives before the first's: links must still end at k3's token.
  const std::vector<protocol::Batch> batches{
      batch(0, rec(0, p1, n1) + rec(100, token("k1", q), token("k1", 1000 + q)), "ed-assaults", {"k1"}),
      batch(3, rec(3, p2 + " " + p3, n2 + " " + n3), "ed-assaults", {"k2", "k3"}),
      batch(2, rec(2, p2, n2), "ed-assaults", {"k2"}),
      batch(1, rec(1, p1 + " " + p2, n1 + " " + n2), "ed-assaults", {"k1", "k2"}),
      batch(4, rec(4, p3, n3), "ed-assaults", {"k3"}),
  };
  for (const auto& b : batches) ASSERT_EQ(*store_->store("northgate-ed", b), protocol::ReceiptStatus::accepted);
  // The table holds one token per column, the newest the record carried.
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE person_token LIKE '% %'"), 0);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 1 AND person_token = '" + p2 + "'"), 1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 3 AND person_token = '" + p3 + "'"), 1);
  // Four links (k1 and k2 tokens of two kinds), each to the newest token.
  EXPECT_EQ(*store_->token_link_count(), 4u);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links WHERE kind = 'person' AND new_token = '" + p3 + "'"), 2);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM token_links WHERE kind = 'nhs_number' AND new_token = '" + n3 + "'"), 2);
  // Through the view, the person is one token in all five of their records; the other is apart.
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults_linked WHERE person_token = '" + p3 +
                      "' AND nhs_token = '" + n3 + "'"),
            5);
  EXPECT_EQ(committed("SELECT COUNT(DISTINCT person_token) FROM records_ed_assaults_linked"), 2);
  // Kinds never mix: the same hex under another kind is another token.
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults_linked WHERE n = 100 AND person_token = '" +
                      token("k1", q) + "'"),
            1);
}

TEST_P(StoreContract, RetentionDeletesOldRecordsButStillKnowsTheirBatches) {
  reopen({ed_table(), table("death-reports", {{"n", ColumnType::integer, ""}})});
  const auto b0 = batch(0, records(3));
  ASSERT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::accepted);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto none = store_->delete_received_before(now - 3600);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, (std::vector<std::pair<std::string, std::uint64_t>>{{"death-reports", 0}, {"ed-assaults", 0}}));
  auto all = store_->delete_received_before(now + 3600);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<std::pair<std::string, std::uint64_t>>{{"death-reports", 0}, {"ed-assaults", 3}}));
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 0);
  // A late re-send of a batch whose records are gone is answered, not stored again.
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults"), 0);
}

TEST_P(StoreContract, ATokenThatDoesNotMatchTheBatchsKeysIsABadRecord) {
  reopen(ed_table({{"person_token", ColumnType::text, "person"}}));
  auto rec = [](const std::string& t) { return "{\"n\":1,\"person_token\":\"" + t + "\"}\n"; };
  for (const auto& [value, keys] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {token("k1", 1), {"k1", "k2"}},                          // one token where two keys are in force
           {token("k1", 1) + " " + token("k2", 1), {"k1"}},         // two where one is
           {token("k2", 1) + " " + token("k1", 1), {"k1", "k2"}},   // the wrong order
           {token("k1", 1) + "  " + token("k2", 1), {"k1", "k2"}},  // two spaces
           {token("k1", 1) + " ", {"k1"}}}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(store_->store("northgate-ed", batch(0, rec(value), "ed-assaults", keys)).error(), errc::bad_record);
  }
  EXPECT_EQ(*store_->token_link_count(), 0u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
}

// --- What the force's oversight reads: gateways' statuses, extracts' arrivals -----------------

TEST_P(StoreContract, AGatewaysStatusIsKeptWithWhenItWasLastOnline) {
  const std::int64_t t0 = 1796000000;  // 2026-11-30T...
  auto online = [](std::int64_t at, std::uint64_t queued) {
    return protocol::GatewayStatus{true, "0.1.0", queued, queued * 100, 1, utc_iso(at)};
  };
  ASSERT_TRUE(store_->record_status("northgate-ed", online(t0 - 10, 3), t0));
  auto states = store_->gateway_states();
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].partner, "northgate-ed");
  EXPECT_TRUE((*states)[0].online);
  EXPECT_EQ((*states)[0].version, "0.1.0");
  EXPECT_EQ((*states)[0].queued_batches, 3u);
  EXPECT_EQ((*states)[0].unacknowledged_records, 300u);
  EXPECT_EQ((*states)[0].rejected_batches, 1u);
  EXPECT_EQ((*states)[0].updated_at, t0);
  EXPECT_EQ((*states)[0].last_online_at, t0 - 10);  // the gateway's own clock

  // Its link died: the broker's last will has no counts and no time.
  ASSERT_TRUE(store_->record_status("northgate-ed", protocol::GatewayStatus{false, "0.1.0", {}, {}, {}, ""}, t0 + 100));
  states = store_->gateway_states();
  EXPECT_FALSE((*states)[0].online);
  EXPECT_FALSE((*states)[0].queued_batches);
  EXPECT_EQ((*states)[0].updated_at, t0 + 100);
  EXPECT_EQ((*states)[0].last_online_at, t0 - 10);

  // Back, with a clock running ahead: never later than the hub's.
  ASSERT_TRUE(store_->record_status("northgate-ed", online(t0 + 500, 0), t0 + 200));
  EXPECT_EQ((*store_->gateway_states())[0].last_online_at, t0 + 200);
  // An old retained message delivered again moves nothing back.
  ASSERT_TRUE(store_->record_status("northgate-ed", online(t0 - 50, 9), t0 + 300));
  EXPECT_EQ((*store_->gateway_states())[0].last_online_at, t0 + 200);

  ASSERT_TRUE(store_->record_status("coroner", protocol::GatewayStatus{false, "0.1.0", {}, {}, {}, ""}, t0));
  states = store_->gateway_states();
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ((*states)[0].partner, "coroner");
  EXPECT_FALSE((*states)[0].last_online_at);
}

TEST_P(StoreContract, ExtractArrivalsSayWhatOfEachExtractIsStored) {
  reopen({ed_table(), table("death-reports", {{"n", ColumnType::integer, ""}})});
  auto extract_batch = [&](const std::string& feed, const std::string& id, const std::string& arrived,
                           std::uint64_t seq, bool last, const std::string& records, bool nil = false) {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for("northgate-ed", feed, std::string(64, id.back()), seq);
    h.partner = "northgate-ed";
    h.feed = feed;
    h.schema = feed;
    h.key_ids = {"k1"};
    h.extract = {id, std::string(64, id.back()), arrived};
    h.seq = seq;
    h.last = last;
    h.nil_return = nil;
    payloads_.push_back(protocol::make_batch_payload(h, records));
    return *protocol::parse_batch(payloads_.back());
  };
  const std::vector<protocol::Batch> batches{
      extract_batch("ed-assaults", "x-a", "2026-11-23T09:00:00Z", 0, false, records(3)),
      extract_batch("ed-assaults", "x-a", "2026-11-23T09:00:00Z", 1, true, records(2)),
      extract_batch("ed-assaults", "x-b", "2026-11-30T08:00:00Z", 0, false, records(1)),  // its last not here yet
      extract_batch("death-reports", "x-c", "2026-11-24T10:00:00Z", 0, true, "", true),
      extract_batch("ed-assaults", "x-d", "2026-12-09T09:00:00Z", 0, true, records(1)),  // after the range
      extract_batch("ed-assaults", "x-e", "not a time", 0, true, records(1)),
  };
  for (const auto& b : batches) ASSERT_EQ(*store_->store("northgate-ed", b), protocol::ReceiptStatus::accepted);
  const std::int64_t from = 1795392000, to = 1796601600;  // 2026-11-23T00:00Z, 2026-12-07T00:00Z
  auto arrivals = store_->extract_arrivals(from, to);
  ASSERT_TRUE(arrivals) << arrivals.error().message();
  ASSERT_EQ(arrivals->size(), 3u);
  const ExtractArrival& c = (*arrivals)[0];  // by partner, feed, time
  EXPECT_EQ(c.feed, "death-reports");
  EXPECT_TRUE(c.nil_return);
  EXPECT_TRUE(c.complete());
  EXPECT_EQ(c.records, 0u);
  EXPECT_EQ(c.received_at, 1795514400);
  const ExtractArrival& a = (*arrivals)[1];
  EXPECT_EQ(a.extract_id, "x-a");
  EXPECT_EQ(a.received_at, 1795424400);
  EXPECT_FALSE(a.nil_return);
  EXPECT_EQ(a.batches, 2u);
  EXPECT_EQ(a.records, 5u);
  EXPECT_EQ(a.last_seq, 1u);
  EXPECT_TRUE(a.complete());
  EXPECT_GT(a.stored_at, 0);
  const ExtractArrival& b = (*arrivals)[2];
  EXPECT_EQ(b.extract_id, "x-b");
  EXPECT_FALSE(b.last_seq);
  EXPECT_FALSE(b.complete());
  // An extract whose arrival time does not read as one is placed by when the hub stored it.
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto recent = store_->extract_arrivals(now - 3600, now + 3600);
  ASSERT_TRUE(recent) << recent.error().message();
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].extract_id, "x-e");
}

// --- Reading a feed's linked view ------------------------------------------------------------

// What scan_linked gave, each row copied out of the views that live only during the call.
using ScannedRow = std::vector<std::optional<std::string>>;
inline result<void> scan(Store& store, const std::string& feed, const std::vector<std::string>& columns,
                         std::vector<ScannedRow>& rows) {
  return store.scan_linked(feed, columns, [&](LinkedRow r) { rows.emplace_back(r.begin(), r.end()); });
}

TEST_P(StoreContract, AScanGivesEveryRowOfTheLinkedViewOnceAsText) {
  reopen(ed_table({{"seen", ColumnType::date, ""},
                   {"at", ColumnType::timestamp, ""},
                   {"score", ColumnType::number, ""},
                   {"flag", ColumnType::boolean, ""},
                   {"person_token", ColumnType::text, "person"}}));
  const std::string p1 = token("k1", 7), p2 = token("k2", 7), other = token("k2", 8);
  // A rotation: the overlap record links p1 to p2, so the view shows p2 for all three.
  const auto first = batch(0,
                           "{\"n\":1,\"s\":\"a\",\"seen\":\"2026-03-01\",\"at\":\"2026-03-01T14:00:00+01:00\","
                           "\"score\":2.5,\"flag\":true,\"person_token\":\"" + p1 + "\"}\n"
                           "{\"n\":2}\n",
                           "ed-assaults", {"k1"});
  const std::vector<PendingBatch> group{
      {"northgate-ed", first},
      {"northgate-ed", batch(1, "{\"n\":3,\"flag\":false,\"person_token\":\"" + p1 + " " + p2 + "\"}\n", "ed-assaults",
                             {"k1", "k2"})},
      {"southgate-ed", batch(2,
                             "{\"n\":4,\"s\":\"tab\\there\\\\ \\\\N\\nline \u00e9\",\"score\":-0.125,\"person_token\":\"" +
                                 p2 + "\"}\n{\"n\":5,\"s\":\"\",\"person_token\":\"" + other + "\"}\n",
                             "ed-assaults", {"k2"})},
  };
  auto outcomes = store_->store_group(group);
  ASSERT_TRUE(outcomes);
  for (const auto& o : *outcomes) ASSERT_EQ(o.value(), protocol::ReceiptStatus::accepted);

  std::vector<ScannedRow> rows;
  auto scanned = scan(*store_, "ed-assaults",
                      {"n", "s", "seen", "at", "score", "flag", "person_token", "_extract_id", "_batch_id"}, rows);
  ASSERT_TRUE(scanned) << scanned.error().message();
  ASSERT_EQ(rows.size(), 5u);
  std::map<std::string, ScannedRow> by_n;  // in no particular order: by n, each once
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 10u);
    ASSERT_TRUE(r[1]);
    EXPECT_TRUE(by_n.emplace(*r[1], r).second) << "n = " << *r[1] << " twice";
  }
  ASSERT_EQ(by_n.size(), 5u);
  auto text = [](const std::string& s) { return std::optional<std::string>(s); };
  const std::optional<std::string> null;
  auto truth = [](const std::optional<std::string>& v) { return v && (*v == "1" || *v == "t" || *v == "true"); };
  auto falsity = [](const std::optional<std::string>& v) { return v && (*v == "0" || *v == "f" || *v == "false"); };

  const ScannedRow& r1 = by_n.at("1");
  EXPECT_EQ(r1[0], text("northgate-ed"));
  EXPECT_EQ(r1[2], text("a"));
  EXPECT_EQ(r1[3], text("2026-03-01"));
  ASSERT_TRUE(r1[4]);
  EXPECT_EQ(r1[4]->substr(0, 10), "2026-03-01") << *r1[4];
  // PostgreSQL in UTC, SQLite as stored.
  EXPECT_TRUE(*r1[4] == "2026-03-01T13:00:00Z" || *r1[4] == "2026-03-01T14:00:00+01:00") << *r1[4];
  ASSERT_TRUE(r1[5]);
  EXPECT_EQ(std::stod(*r1[5]), 2.5);
  EXPECT_TRUE(truth(r1[6])) << r1[6].value_or("NULL");
  EXPECT_EQ(r1[7], text(p2));
  EXPECT_EQ(r1[8], text("x-1"));
  EXPECT_EQ(r1[9], text(first.header.batch_id));

  const ScannedRow& r2 = by_n.at("2");  // every other column NULL
  EXPECT_EQ(r2[0], text("northgate-ed"));
  for (std::size_t i = 2; i <= 7; ++i) EXPECT_EQ(r2[i], null) << "column " << i;

  const ScannedRow& r3 = by_n.at("3");
  EXPECT_TRUE(falsity(r3[6])) << r3[6].value_or("NULL");
  EXPECT_EQ(r3[7], text(p2));

  const ScannedRow& r4 = by_n.at("4");  // what a text format would escape comes back as stored
  EXPECT_EQ(r4[0], text("southgate-ed"));
  EXPECT_EQ(r4[2], text("tab\there\\ \\N\nline \u00e9"));
  EXPECT_EQ(std::stod(r4[5].value_or("")), -0.125);
  EXPECT_EQ(r4[7], text(p2));

  const ScannedRow& r5 = by_n.at("5");  // an empty text is not NULL; another person stays apart
  EXPECT_EQ(r5[2], text(""));
  EXPECT_EQ(r5[7], text(other));

  // Only `_partner` when no column is asked; the received time in UTC, whole seconds.
  const std::int64_t before = static_cast<std::int64_t>(std::time(nullptr));
  ASSERT_EQ(*store_->store("northgate-ed", batch(3, "{\"n\":6}\n")), protocol::ReceiptStatus::accepted);
  const std::int64_t after = static_cast<std::int64_t>(std::time(nullptr));
  rows.clear();
  ASSERT_TRUE(scan(*store_, "ed-assaults", {}, rows));
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& r : rows) EXPECT_EQ(r.size(), 1u);
  rows.clear();
  ASSERT_TRUE(scan(*store_, "ed-assaults", {"n", "_received_at", "_partner"}, rows));
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[3], r[0]);
    if (r[1] != text("6")) continue;
    ASSERT_TRUE(r[2]);
    const auto at = parse_utc_iso(*r[2]);
    ASSERT_TRUE(at) << *r[2];
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at->time_since_epoch()).count();
    EXPECT_GE(seconds, before);
    EXPECT_LE(seconds, after);
  }
}

TEST_P(StoreContract, AScanOfAFeedOrColumnTheStoreLacksCallsNothing) {
  ASSERT_EQ(*store_->store("northgate-ed", batch(0, records(3))), protocol::ReceiptStatus::accepted);
  int calls = 0;
  auto count = [&](LinkedRow) { ++calls; };
  const std::vector<std::string> n{"n"};
  EXPECT_EQ(store_->scan_linked("death-reports", n, count).error(), errc::unknown_feed);
  for (const std::string bad : {"nope", "N", "", "n\" FROM token_links --", "records_ed_assaults"}) {
    SCOPED_TRACE(bad);
    const std::vector<std::string> columns{"n", bad};
    EXPECT_EQ(store_->scan_linked("ed-assaults", columns, count).error(), errc::missing_column);
  }
  EXPECT_EQ(calls, 0);
  // The store is as it was.
  EXPECT_TRUE(store_->scan_linked("ed-assaults", n, count));
  EXPECT_EQ(calls, 3);
}

TEST_P(StoreContract, ALargeLinkedViewStreamsWhole) {
  constexpr int kBatches = 40, kPerBatch = 500, kRows = kBatches * kPerBatch;
  std::vector<PendingBatch> group;
  for (int b = 0; b < kBatches; ++b) {
    std::string r;
    for (int i = b * kPerBatch; i < (b + 1) * kPerBatch; ++i)
      r += "{\"n\":" + std::to_string(i) + ",\"s\":\"record " + std::to_string(i) + "\"}\n";
    group.push_back({"northgate-ed", batch(static_cast<std::uint64_t>(b), r)});
  }
  auto outcomes = store_->store_group(group);
  ASSERT_TRUE(outcomes);
  for (const auto& o : *outcomes) ASSERT_EQ(o.value(), protocol::ReceiptStatus::accepted);

  // A `row` that throws stops the scan; the exception reaches the caller and the store goes on.
  int calls = 0;
  const std::vector<std::string> columns{"n", "s"};
  EXPECT_THROW((void)store_->scan_linked("ed-assaults", columns,
                                         [&](LinkedRow) {
                                           if (++calls == 100) throw std::runtime_error("enough");
                                         }),
               std::runtime_error);
  EXPECT_EQ(calls, 100);

  std::vector<int> seen(kRows, 0);
  int bad = 0;
  auto scanned = store_->scan_linked("ed-assaults", columns, [&](LinkedRow r) {
    const int n = std::stoi(std::string(r[1].value_or("-1")));
    if (n < 0 || n >= kRows || r[0] != std::optional<std::string_view>("northgate-ed") ||
        r[2] != std::optional<std::string_view>("record " + std::to_string(n)))
      ++bad;
    else
      ++seen[static_cast<std::size_t>(n)];
  });
  ASSERT_TRUE(scanned) << scanned.error().message();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kRows);
  EXPECT_EQ(*store_->record_count("ed-assaults"), static_cast<std::uint64_t>(kRows));
}

// --- `svdhub store copy`: an SQLite store copied into this backend ---------------------------

// The tables of the copy tests: every column type, and a token column across two rotations.
inline std::vector<FeedTable> copy_tables() {
  return {{"ed-assaults",
           "records_ed_assaults",
           "records_ed_assaults_linked",
           {{"n", ColumnType::integer, ""},
            {"s", ColumnType::text, ""},
            {"b", ColumnType::boolean, ""},
            {"x", ColumnType::number, ""},
            {"d", ColumnType::date, ""},
            {"at", ColumnType::timestamp, ""},
            {"person_token", ColumnType::text, "person"}}},
          {"death-reports", "records_death_reports", "records_death_reports_linked", {{"n", ColumnType::integer, ""}}}};
}

TEST_P(StoreContract, ACopiedStoreHoldsEveryBatchRecordReceivedTimeAndLinkOnce) {
  reopen(copy_tables());
  test_support::TempDir dir("svd-copy");
  {
    auto source = SqliteStore::open(dir / "old.db", copy_tables());
    ASSERT_TRUE(source) << source.error().message;
    auto rec = [](long long n, const std::string& person, const std::string& more = "") {
      return "{\"n\":" + std::to_string(n) + ",\"person_token\":\"" + person + "\"" + more + "}\n";
    };
    const std::string p1 = token("k1", 7), p2 = token("k2", 7), p3 = token("k3", 7);
    std::vector<PendingBatch> group{
        {"northgate-ed", batch(0, rec(0, p1, ",\"s\":\"it's \\\"quoted\\\" \u00e9\",\"b\":false,\"x\":0.1,"
                                                "\"d\":\"2026-01-02\",\"at\":\"2026-01-02T03:04:05Z\"") +
                                      rec(-9007199254740993, token("k1", 8), ",\"b\":true,\"x\":-2.5e300"),
                               "ed-assaults", {"k1"}),
         1700000000},
        {"northgate-ed", batch(1, rec(1, p1 + " " + p2), "ed-assaults", {"k1", "k2"})},
        {"northgate-ed", batch(2, rec(2, p2 + " " + p3), "ed-assaults", {"k2", "k3"})},
        {"southgate-ed", batch(0, rec(3, p3), "ed-assaults", {"k3"})},
        {"southgate-ed", batch(0, "{\"n\":4}\n{}\n", "death-reports", {})},
        {"southgate-ed", nil_return_batch()},
    };
    auto stored = (*source)->store_group(group);
    ASSERT_TRUE(stored);
    for (const auto& o : *stored) ASSERT_EQ(*o, protocol::ReceiptStatus::accepted);
  }

  auto copied = copy_sqlite_store(dir / "old.db", copy_tables(), *store_);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->batches_copied, 6u);
  EXPECT_EQ(copied->batches_present, 0u);
  EXPECT_EQ(copied->records_copied, 7u);
  EXPECT_EQ(copied->token_links, 2u);
  EXPECT_TRUE(copied->refused.empty());
  EXPECT_EQ(*store_->batch_count(), 6u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 5u);
  EXPECT_EQ(*store_->record_count("death-reports"), 2u);
  EXPECT_EQ(*store_->token_link_count(), 2u);
  // When each extract reached its gateway, and what was a nil return.
  auto arrivals = store_->extract_arrivals(0, std::numeric_limits<std::int64_t>::max());
  ASSERT_TRUE(arrivals) << arrivals.error().message();
  ASSERT_EQ(arrivals->size(), 4u);  // x-1 of each partner and feed, and the nil return
  for (const auto& a : *arrivals) {
    EXPECT_EQ(a.received_at, a.extract_id == "nil-1" ? 1795514400 : 1795424400) << a.extract_id;
    EXPECT_EQ(a.nil_return, a.extract_id == "nil-1") << a.extract_id;
    EXPECT_EQ(a.complete(), a.extract_id == "nil-1") << a.extract_id;  // no other has its last batch
  }
  // Every value as it was, of every type; a received time kept.
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 0 AND s = 'it''s \"quoted\" \u00e9' AND "
                      "b = FALSE AND x = 0.1 AND d = '2026-01-02' AND _partner = 'northgate-ed' AND " +
                      backend().epoch_seconds("_received_at") + " = 1700000000"),
            1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = -9007199254740993 AND b = TRUE AND "
                      "x = -2.5e300 AND s IS NULL AND d IS NULL"),
            1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults WHERE n = 0 AND at IS NOT NULL"), 1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM batches WHERE " + backend().epoch_seconds("received_at") +
                      " = 1700000000 AND partner = 'northgate-ed' AND seq = 0 AND feed = 'ed-assaults'"),
            1);
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_death_reports WHERE n IS NULL"), 1);
  // The person links across both rotations in the copy too.
  EXPECT_EQ(committed("SELECT COUNT(*) FROM records_ed_assaults_linked WHERE person_token = '" + token("k3", 7) + "'"),
            4);
  EXPECT_EQ(committed("SELECT COUNT(DISTINCT person_token) FROM records_ed_assaults_linked"), 2);

  // Again: nothing is stored twice.
  auto again = copy_sqlite_store(dir / "old.db", copy_tables(), *store_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->batches_copied, 0u);
  EXPECT_EQ(again->batches_present, 6u);
  EXPECT_EQ(*store_->batch_count(), 6u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 5u);
  EXPECT_EQ(*store_->token_link_count(), 2u);
}

TEST_P(StoreContract, ACopyKeepsTheBatchesRetentionEmptiedSoTheirResendsAreDuplicates) {
  test_support::TempDir dir("svd-copy");
  const auto b0 = batch(0, records(3));
  {
    auto source = SqliteStore::open(dir / "old.db", {ed_table()});
    ASSERT_TRUE(source) << source.error().message;
    ASSERT_EQ(*(*source)->store("northgate-ed", b0), protocol::ReceiptStatus::accepted);
    ASSERT_EQ(*(*source)->store("northgate-ed", batch(1, records(2))), protocol::ReceiptStatus::accepted);
    ASSERT_TRUE((*source)->delete_received_before(static_cast<std::int64_t>(std::time(nullptr)) + 3600));
  }
  auto copied = copy_sqlite_store(dir / "old.db", {ed_table()}, *store_);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->batches_copied, 2u);
  EXPECT_EQ(copied->records_copied, 0u);
  EXPECT_EQ(*store_->batch_count(), 2u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
  EXPECT_EQ(*store_->store("northgate-ed", b0), protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
}

TEST_P(StoreContract, ACopyFromAStoreWithAFeedTheConfigLacksCopiesNothing) {
  test_support::TempDir dir("svd-copy");
  const std::vector<FeedTable> both{ed_table(), table("death-reports", {{"n", ColumnType::integer, ""}})};
  {
    auto source = SqliteStore::open(dir / "old.db", both);
    ASSERT_TRUE(source) << source.error().message;
    ASSERT_EQ(*(*source)->store("northgate-ed", batch(0, records(3))), protocol::ReceiptStatus::accepted);
    ASSERT_EQ(*(*source)->store("northgate-ed", batch(0, "{\"n\":1}\n", "death-reports", {})),
              protocol::ReceiptStatus::accepted);
  }
  auto copied = copy_sqlite_store(dir / "old.db", {ed_table()}, *store_);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code, errc::schema_incompatible);
  EXPECT_NE(copied.error().message.find("death-reports"), std::string::npos) << copied.error().message;
  EXPECT_EQ(*store_->batch_count(), 0u);
  EXPECT_EQ(*store_->record_count("ed-assaults"), 0u);
}

}  // namespace svd::hub
