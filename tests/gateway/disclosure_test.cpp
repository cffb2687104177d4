// svdgw disclose's statement, checked against what the gateway really sends: every schema field
// once, with its treatment, and the keys of the records the shipped feeds produce (the golden
// outputs of `svdgw process`) exactly the keys the statement says leave the site.

#include "gateway/disclosure.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>

namespace svd::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const config::GatewayConfig& example() {
  static const config::GatewayConfig cfg = config::load_gateway_config(fs::path(SVD_EXAMPLES_DIR) / "svdgw.toml");
  return cfg;
}

const DisclosedColumn& column(const DisclosedFeed& f, const std::string& source) {
  for (const auto& c : f.columns)
    if (c.source == source) return c;
  throw std::out_of_range(source);
}

TEST(Disclosure, EveryFieldOfEverySchemaOnceWithWhatLeaves) {
  const auto d = disclose(example());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->partner, "northgate-partnership");
  EXPECT_EQ(d->key_ids, (std::vector<std::string>{"k2026a"}));
  ASSERT_EQ(d->feeds.size(), example().feeds.size());
  for (std::size_t i = 0; i < d->feeds.size(); ++i) {
    const DisclosedFeed& f = d->feeds[i];
    const config::Schema& s = example().feeds[i].schema;
    SCOPED_TRACE(f.id);
    ASSERT_EQ(f.columns.size(), s.fields.size());
    for (std::size_t k = 0; k < s.fields.size(); ++k) {
      EXPECT_EQ(f.columns[k].source, s.fields[k].name);
      EXPECT_EQ(f.columns[k].output.has_value(), s.fields[k].transform != config::TransformKind::drop);
      if (s.fields[k].nhs_number || s.fields[k].postcode) {
        EXPECT_TRUE(f.columns[k].identifier);
        EXPECT_NE(f.columns[k].treatment, "keep") << f.columns[k].source;
      }
    }
    EXPECT_EQ(f.schema_sha256.size(), 64u);
    EXPECT_EQ(f.schema_file, "schemas/" + s.name + ".json");
  }

  const DisclosedFeed& deaths = d->feeds[1];
  ASSERT_EQ(deaths.id, "death-reports");
  EXPECT_EQ(column(deaths, "nhs_number").treatment, "token");
  EXPECT_EQ(column(deaths, "nhs_number").output, "nhs_number_token");
  EXPECT_EQ(column(deaths, "surname").treatment, "drop");
  EXPECT_TRUE(column(deaths, "surname").identifier);
  EXPECT_NE(column(deaths, "surname").what.find("part of the person token"), std::string::npos);
  EXPECT_EQ(column(deaths, "postcode").treatment, "postcode_district");
  EXPECT_EQ(deaths.person_from, (std::vector<std::string>{"surname", "forename", "date_of_birth"}));
  EXPECT_EQ(deaths.person_output, "person_token");

  const DisclosedFeed& ambulance = d->feeds[3];
  ASSERT_EQ(ambulance.id, "ambulance-callouts");
  EXPECT_EQ(column(ambulance, "dispatch_code").treatment, "recode");
  EXPECT_NE(column(ambulance, "dispatch_code").what.find("\"assault_serious\""), std::string::npos);
  EXPECT_NE(column(ambulance, "dispatch_code").what.find("every other code as \"other\""), std::string::npos);
  EXPECT_EQ(column(ambulance, "patient_age").treatment, "age_band");
  EXPECT_EQ(column(ambulance, "incident_ref").output, std::nullopt);
  ASSERT_EQ(ambulance.filters.size(), 1u);
  EXPECT_NE(ambulance.filters[0].find("incident_category is one of \"ASSAULT\", \"STAB_GUNSHOT\""), std::string::npos);
}

// The keys of every record `svdgw process` wrote for the shipped feeds are exactly the outputs the
// statement lists, in order.
TEST(Disclosure, OutputsAreTheKeysOfTheRecordsTheFeedsProduce) {
  const auto d = disclose(example());
  ASSERT_TRUE(d);
  int checked = 0;
  for (const DisclosedFeed& f : d->feeds) {
    const fs::path records = fs::path(SVD_GOLDEN_DIR) / f.id / "records.jsonl";
    if (!fs::exists(records)) continue;
    SCOPED_TRACE(f.id);
    std::istringstream lines(read_file(records));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      std::vector<std::string> keys;
      const json::value record = json::parse(line);
      for (const auto& kv : record.as_object()) keys.emplace_back(kv.key());
      ASSERT_EQ(keys, f.outputs) << line;
      ++n;
    }
    EXPECT_GT(n, 10);
    ++checked;
  }
  EXPECT_EQ(checked, 5);  // every shipped feed has a golden case
}

TEST(Disclosure, OneFeedOrNone) {
  const auto one = disclose(example(), "school-exclusions");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->feeds.size(), 1u);
  EXPECT_EQ(one->feeds[0].id, "school-exclusions");
  EXPECT_FALSE(disclose(example(), "no-such-feed"));
}

TEST(Disclosure, JsonMarkdownAndHtmlSayTheSame) {
  const auto d = disclose(example(), "death-reports");
  ASSERT_TRUE(d);
  const json::value j = json::parse(to_json(*d));
  const json::object& feed = j.at("feeds").as_array().at(0).as_object();
  EXPECT_EQ(feed.at("feed").as_string(), "death-reports");
  EXPECT_EQ(feed.at("columns").as_array().size(), d->feeds[0].columns.size());
  EXPECT_EQ(feed.at("person_token").at("output").as_string(), "person_token");
  EXPECT_TRUE(j.at("hub").is_null());  // the example config has no [hub]

  const std::string md = to_markdown(*d);
  EXPECT_NE(md.find("| nhs_number | string | yes | replaced by a keyed token"), std::string::npos) << md;
  EXPECT_NE(md.find("| surname | string | yes | dropped: never leaves the site; part of the person token | — |"),
            std::string::npos)
      << md;

  const std::string page = to_html(*d);
  EXPECT_NE(page.find("<h2>Feed death-reports</h2>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos) << "no link to anything outside the page";
}

// docs/dpia.md embeds the statement for the shipped example config; it must be what the
// gateway says today. After a schema change: svdgw disclose --config deploy/examples/svdgw.toml
TEST(Disclosure, TheDpiaTemplateEmbedsTheCurrentStatement) {
  const std::string doc = read_file(fs::path(SVD_SOURCE_DIR) / "docs" / "dpia.md");
  const std::string begin = "<!-- svdgw disclose --config deploy/examples/svdgw.toml: begin -->\n";
  const std::string end = "<!-- svdgw disclose: end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const auto d = disclose(example());
  ASSERT_TRUE(d);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), to_markdown(*d))
      << "regenerate the block with: svdgw disclose --config deploy/examples/svdgw.toml";
}

}  // namespace
}  // namespace svd::gateway
