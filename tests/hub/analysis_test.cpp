#include "hub/analysis.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <map>
#include <set>

#include "config/temporal.h"
#include "hub/sqlite_store.h"
#include "hub/suppression.h"
#include "protocol/envelope.h"
#include "tests/support/temp_dir.h"

namespace svd::hub {
namespace {

std::int64_t day(std::string_view iso) { return config::days_from_civil(*config::parse_date(iso, "default")); }

TEST(EventDay, EachGeneralisedDateStartsOnItsFirstDay) {
  EXPECT_EQ(event_day("2027-03-05"), day("2027-03-05"));
  EXPECT_EQ(event_day("2027-W01"), day("2027-01-04"));  // ISO week 1 of 2027 starts on Monday 4 January
  EXPECT_EQ(event_day("2026-W53"), day("2026-12-28"));
  EXPECT_EQ(event_day("2027-03"), day("2027-03-01"));
  EXPECT_EQ(event_day("2027"), day("2027-01-01"));
  EXPECT_EQ(event_day("2027-03-05T23:00:00-02:00"), day("2027-03-06"));  // its UTC day
  EXPECT_EQ(event_day("2027-03-05T10:00:00Z"), day("2027-03-05"));
  EXPECT_EQ(event_day("2027-03-05T10:00"), day("2027-03-05"));  // no offset: as written
  for (const char* bad : {"", "27", "2027-13", "2027-W54", "2027-02-30", "yesterday", "2027/03/05"})
    EXPECT_FALSE(event_day(bad)) << bad;
}

TEST(EventDay, MonthsBeforeKeepsTheDayOrTakesTheMonthsLast) {
  EXPECT_EQ(months_before(day("2027-03-15"), 24), day("2025-03-15"));
  EXPECT_EQ(months_before(day("2027-03-31"), 1), day("2027-02-28"));
  EXPECT_EQ(months_before(day("2027-01-10"), 3), day("2026-10-10"));
  EXPECT_EQ(district_of("AB12 3"), "AB12");
  EXPECT_EQ(district_of("AB12"), "AB12");
}

// Two shipped feeds in a real SQLite store: deaths (NHS number and person tokens, week of death,
// district) and school exclusions (person token, month, sector), whose records are written here
// as a gateway would send them.
class AnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"death-reports", "school-exclusions"}) {
      config::HubFeed f;
      f.id = id;
      f.schema_file = std::filesystem::path(SVD_EXAMPLES_DIR) / "schemas" / (std::string(id) + ".json");
      f.schema = config::load_schema(f.schema_file);
      cfg_.feeds.push_back(std::move(f));
    }
    cfg_.report.death_feed = "death-reports";
    cfg_.report.violence_feeds = {"school-exclusions"};
    cfg_.report.feeds["death-reports"] = {"week_of_death", "postcode_district"};
    cfg_.report.feeds["school-exclusions"] = {"start_month", "postcode_sector"};
    auto s = SqliteStore::open(dir_.path() / "hub.db", feed_tables(cfg_));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  static std::string token(char kind, int person, const char* key = "k1") {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%c%031d", kind, person);
    return std::string(key) + ":" + hex;
  }
  static std::string death(int person, const std::string& week, const std::string& district, bool with_nhs = true,
                           const char* key = "k1") {
    return std::string("{\"report_id\":\"DR-") + std::to_string(person) + "\"," +
           (with_nhs ? "\"nhs_number_token\":\"" + token('a', person, key) + "\"," : "") + "\"person_token\":\"" +
           token('b', person, key) + "\",\"week_of_death\":\"" + week + "\",\"postcode_district\":\"" + district +
           "\"}\n";
  }
  static std::string exclusion(int person, const std::string& month, const std::string& sector,
                               const std::string& person_token) {
    return "{\"record_id\":" + std::to_string(person) + ",\"person_token\":\"" + person_token +
           "\",\"start_month\":\"" + month + "\",\"postcode_sector\":\"" + sector + "\"}\n";
  }
  void send(const std::string& partner, const std::string& feed, const std::string& records,
            std::vector<std::string> keys = {"k1"}) {
    protocol::BatchHeader h;
    const std::string digest(64, static_cast<char>('a' + sent_ % 6));
    h.batch_id = protocol::batch_id_for(partner, feed, digest, sent_);
    h.partner = partner;
    h.feed = h.schema = feed;
    h.key_ids = std::move(keys);
    h.extract = {"x-" + std::to_string(sent_), digest, "2027-03-20T09:00:00Z"};
    h.seq = sent_++;
    payloads_.push_back(protocol::make_batch_payload(h, records));
    auto b = protocol::parse_batch(payloads_.back());
    ASSERT_TRUE(b) << b.error().message();
    auto stored = store_->store(partner, *b);
    ASSERT_TRUE(stored) << stored.error().message() << " " << records;
    ASSERT_EQ(*stored, protocol::ReceiptStatus::accepted);
  }
  // With `persons`, the person-level rows too.
  Analysis analyse_march(std::vector<PersonRecord>* persons = nullptr) {
    std::function<void(const PersonRecord&)> sink;
    if (persons) sink = [persons](const PersonRecord& p) { persons->push_back(p); };
    auto a = analyse(*store_, cfg_, day("2027-03-01"), day("2027-03-31"), sink);
    EXPECT_TRUE(a) << a.error().message();
    return a ? std::move(*a) : Analysis{};
  }

  test_support::TempDir dir_;
  config::HubReceiverConfig cfg_;
  std::unique_ptr<SqliteStore> store_;
  std::deque<std::string> payloads_;
  std::uint64_t sent_ = 0;
};

TEST_F(AnalysisTest, LinksDeathsToEarlierRecordsByEitherTokenAcrossARotation) {
  // 1: a death in March 2027, an exclusion 10 months before (6 to 12 months).
  // 2: a death and nothing else. 3: reported twice (one report without its NHS number): one person.
  // 4: an exclusion 30 months before: outside the 24-month lookback.
  // 5: an exclusion under the old key, an overlap record that links it, a death under the new key.
  // 6: a death in February: outside the range.
  send("coroner", "death-reports",
       death(1, "2027-W10", "AB1") + death(2, "2027-W11", "AB1") + death(3, "2027-W12", "CD2") +
           death(4, "2027-W12", "CD2") + death(6, "2027-W06", "AB1"));
  send("police", "death-reports", death(3, "2027-W12", "CD2", false));
  send("council", "school-exclusions",
       exclusion(1, "2026-05", "AB1 2", token('b', 1)) + exclusion(4, "2024-09", "CD2 1", token('b', 4)) +
           exclusion(5, "2026-12", "AB1 2", token('b', 5)));
  send("council", "school-exclusions", exclusion(5, "2027-01", "AB1 3", token('b', 5) + " " + token('b', 5, "k2")),
       {"k1", "k2"});
  send("coroner", "death-reports", death(5, "2027-W13", "AB1", true, "k2"), {"k2"});

  std::vector<PersonRecord> persons_found;
  const Analysis a = analyse_march(&persons_found);
  ASSERT_TRUE(a.linked);
  EXPECT_EQ(a.linked->deaths, 5u);  // 1, 2, 3 (once), 4, 5
  EXPECT_EQ(a.linked->agencies, std::vector<std::string>{"school-exclusions"});
  const CountTable& t = a.linked->by_combination;
  ASSERT_EQ(t.rows, (std::vector<std::string>{"school-exclusions", "no other agency"}));
  // 1: ~10 months; 5: first record in December, death in the week of 29 March: 3 to 6 months.
  EXPECT_EQ(t.cells[0], (std::vector<std::uint64_t>{0, 1, 1, 0, 0}));
  EXPECT_EQ(t.cells[1], (std::vector<std::uint64_t>{0, 0, 0, 0, 3}));

  // Repeat contact: person 5's two exclusions are not in March; nobody has two in the range.
  ASSERT_TRUE(a.repeat);
  for (const auto& row : a.repeat->persons.cells) EXPECT_EQ(row, (std::vector<std::uint64_t>{0, 0}));

  // The person-level file: persons 1 and 5, their deaths and earlier records, nothing of 2, 3, 4.
  std::map<std::string, int> roles;
  std::set<std::string> persons;
  EXPECT_EQ(a.person_records, persons_found.size());
  for (const PersonRecord& p : persons_found) {
    ++roles[p.role];
    persons.insert(p.person);
    EXPECT_EQ(p.section, "linked_series");
    EXPECT_FALSE(p.person_token.empty());
  }
  EXPECT_EQ(persons.size(), 2u);
  EXPECT_EQ(roles["death"], 2);
  EXPECT_EQ(roles["earlier record"], 3);  // 1's exclusion, 5's two
  // Person 5's records all carry the newest token, the old one resolved through the link.
  for (const PersonRecord& p : persons_found) {
    if (p.feed == "school-exclusions" && p.area == "AB1" && p.event != "2026-05") {
      EXPECT_EQ(p.person_token, token('b', 5, "k2"));
    }
  }
}

TEST_F(AnalysisTest, RepeatContactAndTheAreaProfileCountTheRange) {
  // Person 7: three exclusions in March and a death record (another feed); 8: two in March; 9: one.
  send("council", "school-exclusions",
       exclusion(7, "2027-03", "AB1 2", token('b', 7)) + exclusion(7, "2027-03", "AB1 2", token('b', 7)) +
           exclusion(7, "2027-03", "AB2 3", token('b', 7)) + exclusion(8, "2027-03", "CD2 1", token('b', 8)) +
           exclusion(8, "2027-03", "CD2 1", token('b', 8)) + exclusion(9, "2027-03", "AB10 1", token('b', 9)) +
           exclusion(9, "2027-04", "CD2 1", token('b', 9)));
  send("coroner", "death-reports", death(7, "2027-W11", "AB1"));
  const Analysis a = analyse_march();
  ASSERT_TRUE(a.repeat);
  EXPECT_EQ(a.repeat->persons.cells[0], (std::vector<std::uint64_t>{1, 0}));  // 8: two records
  EXPECT_EQ(a.repeat->persons.cells[1], (std::vector<std::uint64_t>{0, 1}));  // 7: three, and a death
  // Areas: sectors count for their district, districts in reading order (AB2 before AB10);
  // April's record is outside the range.
  ASSERT_EQ(a.areas.size(), 2u);
  const AreaProfile& school = a.areas[1];
  EXPECT_EQ(school.feed, "school-exclusions");
  EXPECT_EQ(school.records.columns, std::vector<std::string>{"2027-03"});
  EXPECT_EQ(school.records.rows, (std::vector<std::string>{"AB1", "AB2", "AB10", "CD2"}));
  EXPECT_EQ(school.records.cells, (std::vector<std::vector<std::uint64_t>>{{2}, {1}, {1}, {2}}));
  EXPECT_EQ(a.records_read, 8u);
  EXPECT_EQ(a.records_undated, 0u);
}

TEST_F(AnalysisTest, WithoutADeathOrViolenceFeedThoseSectionsAreAbsent) {
  cfg_.report.death_feed.clear();
  cfg_.report.violence_feeds.clear();
  send("council", "school-exclusions", exclusion(1, "2027-03", "AB1 2", token('b', 1)));
  std::vector<PersonRecord> persons_found;
  const Analysis a = analyse_march(&persons_found);
  EXPECT_FALSE(a.linked);
  EXPECT_FALSE(a.repeat);
  EXPECT_TRUE(persons_found.empty());
  EXPECT_EQ(a.areas.size(), 2u);
}

}  // namespace
}  // namespace svd::hub
