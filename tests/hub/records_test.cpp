#include "hub/records.h"

#include <gtest/gtest.h>

namespace svd::hub {
namespace {

FeedTable table() {
  return {"f", "records_f", "records_f_linked",
          {{"n", ColumnType::integer, ""}, {"s", ColumnType::text, ""}, {"p", ColumnType::text, "person"}}};
}

std::string tok(const std::string& key, char fill) { return key + ":" + std::string(32, fill); }

TEST(RecordReader, ReadsCellsInColumnOrder) {
  RecordReader r;
  std::vector<TokenLink> links;
  ASSERT_TRUE(r.read(R"({"p":")" + tok("k1", 'a') + R"(","n":7})", table(), {"k1"}, links));
  ASSERT_EQ(r.cells().size(), 3u);
  EXPECT_EQ(r.cells()[0].kind, Cell::Kind::integer);
  EXPECT_EQ(r.cells()[0].integer, 7);
  EXPECT_EQ(r.cells()[1].kind, Cell::Kind::null);
  EXPECT_EQ(r.cells()[2].text, tok("k1", 'a'));
  EXPECT_TRUE(links.empty());
  // The reader is reused: nothing of the first record stays.
  ASSERT_TRUE(r.read(R"({"s":"x"})", table(), {"k1"}, links));
  EXPECT_EQ(r.cells()[0].kind, Cell::Kind::null);
  EXPECT_EQ(r.cells()[1].text, "x");
}

TEST(RecordReader, AnOverlapTokenKeepsTheNewestAndLinksTheOthersToIt) {
  RecordReader r;
  std::vector<TokenLink> links;
  const std::string value = tok("k1", 'a') + " " + tok("k2", 'b') + " " + tok("k3", 'c');
  ASSERT_TRUE(r.read(R"({"p":")" + value + R"("})", table(), {"k1", "k2", "k3"}, links));
  EXPECT_EQ(r.cells()[2].text, tok("k3", 'c'));
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].kind, "person");
  EXPECT_EQ(links[0].old_token, tok("k1", 'a'));
  EXPECT_EQ(links[0].new_token, tok("k3", 'c'));
  EXPECT_EQ(links[1].old_token, tok("k2", 'b'));
  EXPECT_EQ(links[1].new_token, tok("k3", 'c'));
}

TEST(RecordReader, LargeRecordsAreReadToo) {
  RecordReader r;
  std::vector<TokenLink> links;
  const std::string big(100000, 'x');  // beyond the reader's own buffers
  ASSERT_TRUE(r.read(R"({"s":")" + big + R"("})", table(), {"k1"}, links));
  EXPECT_EQ(r.cells()[1].text.size(), big.size());
}

TEST(CompareColumns, NamesWhatDoesNotFit) {
  const FeedTable t = table();
  EXPECT_TRUE(compare_columns(t, {{"_partner", "TEXT"}, {"n", "BIGINT"}, {"s", "text"}}).empty());
  EXPECT_TRUE(compare_columns(t, {{"n", ""}, {"s", ""}}).empty());  // untyped: from before typed tables
  const auto problems = compare_columns(t, {{"n", "TEXT"}, {"gone", "TEXT"}});
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].to_string(), "feed f: column n is TEXT in the store but the schema now makes it BIGINT");
  EXPECT_EQ(problems[1].to_string(), "feed f: column gone is in the store but no longer an output of the schema");
}

}  // namespace
}  // namespace svd::hub
