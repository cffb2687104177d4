#include "process/row_processor.h"

#include <gtest/gtest.h>

#include <array>

#include "config/diagnostic.h"

namespace svd::process {
namespace {

crypto::LinkageKey test_key() {
  std::array<unsigned char, 32> bytes{};
  for (unsigned i = 0; i < 32; ++i) bytes[i] = static_cast<unsigned char>(i);
  return crypto::LinkageKey("test", bytes);
}

// 2025-06-15 12:00:00 UTC, an hour ahead locally (BST).
constexpr Now kNow{1749988800, 1749988800 + 3600};

class RowProcessorTest : public ::testing::Test {
 protected:
  void use(const std::string& fields, const std::string& extra = "") {
    schema_ = config::parse_schema(
        R"({"fields": [)" + fields + "]" + (extra.empty() ? "" : ", " + extra) + "}", "t.json");
    processor_ = std::make_unique<RowProcessor>(schema_, tokeniser_, kNow, 1000);
  }
  // A row given as cell values (nullptr = absent).
  adapters::Record record(std::initializer_list<const char*> cells) const {
    adapters::Record rec;
    rec.reset(schema_.fields.size());
    std::size_t i = 0;
    for (const char* c : cells) {
      if (c) rec.set(i, c);
      ++i;
    }
    return rec;
  }
  // Runs one row; returns the JSON or the errors.
  std::string run(std::initializer_list<const char*> cells) {
    const adapters::Record rec = record(cells);
    std::string out;
    auto errors = processor_->process(rec, out);
    if (errors.empty()) return out;
    std::string e = "ERR";
    for (const auto& fe : errors) e += " " + schema_.fields[fe.field].name + ":" + std::string(errc_name(fe.code));
    return e;
  }

  crypto::LinkageKey key_ = test_key();
  crypto::Tokeniser tokeniser_{key_};
  config::Schema schema_;
  std::unique_ptr<RowProcessor> processor_;
};

TEST_F(RowProcessorTest, NhsNumberTokenMatchesThePublishedVector) {
  use(R"({"name": "nhs", "svd:domain": "nhs_number", "svd:transform": "token:nhs_number", "svd:as": "t"})");
  const std::string expected = R"({"t":"test:135ac82cb3618c3780fbf284b934127b"})";
  EXPECT_EQ(run({"9434765919"}), expected);
  EXPECT_EQ(run({"943 476 5919"}), expected);
  EXPECT_EQ(run({"943-476-5919"}), expected);
  EXPECT_EQ(run({"9434765918"}), "ERR nhs:invalid_nhs_number");
  EXPECT_EQ(run({"9991234560"}), "ERR nhs:invalid_nhs_number");  // check digit 10 is invalid, not 0
  EXPECT_EQ(run({""}), R"({"t":null})");                          // missing and not required
}

TEST_F(RowProcessorTest, TypesAreNormalisedWhenKept) {
  use(R"({"name": "i", "type": "integer", "svd:transform": "keep"},
         {"name": "n", "type": "number", "svd:transform": "keep"},
         {"name": "b", "type": "boolean", "svd:transform": "keep"},
         {"name": "d", "type": "date", "format": "%d/%m/%Y", "svd:transform": "keep"},
         {"name": "dt", "type": "datetime", "svd:transform": "keep"},
         {"name": "t", "type": "time", "svd:transform": "keep"},
         {"name": "s", "svd:transform": "keep"})");
  EXPECT_EQ(run({" +42 ", "2.50", "TRUE", "3/7/2012", "2024-03-01 14:05", "07:30", "a \"q\"\\\n\x01"}),
            R"({"i":42,"n":2.5,"b":true,"d":"2012-07-03","dt":"2024-03-01T14:05:00","t":"07:30:00","s":"a \"q\"\\\n\u0001"})");
  EXPECT_EQ(run({"4.2", "x", "maybe", "31/06/2012", "2024-03-01", "7:30", "s"}),
            "ERR i:invalid_integer n:invalid_number b:invalid_boolean d:invalid_date dt:invalid_datetime t:invalid_time");
  EXPECT_EQ(run({"99999999999999999999", "1e999", "0", "01/01/2000", "2024-03-01T00:00:00Z", "00:00", ""}),
            "ERR i:invalid_integer n:invalid_number");
}

TEST_F(RowProcessorTest, Constraints) {
  use(R"({"name": "code", "svd:transform": "keep", "constraints": {"required": true, "pattern": "[A-Z]{2}[0-9]", "minLength": 3, "maxLength": 3}},
         {"name": "kind", "svd:transform": "keep", "constraints": {"enum": ["a", "b"]}},
         {"name": "n", "type": "integer", "svd:transform": "keep", "constraints": {"minimum": 1, "maximum": 9}},
         {"name": "d", "type": "date", "svd:transform": "keep", "constraints": {"minimum": "2020-01-01", "maximum": "2020-12-31"}})");
  EXPECT_EQ(run({"AB1", "a", "1", "2020-01-01"}), R"({"code":"AB1","kind":"a","n":1,"d":"2020-01-01"})");
  EXPECT_EQ(run({nullptr, "a", "1", "2020-01-01"}), "ERR code:missing_required");
  EXPECT_EQ(run({"ab1", "c", "0", "2019-12-31"}), "ERR code:pattern_mismatch kind:not_in_enum n:below_minimum d:below_minimum");
  EXPECT_EQ(run({"AB12", "b", "10", "2021-01-01"}), "ERR code:too_long n:above_maximum d:above_maximum");
  EXPECT_EQ(run({"A1", "b", "5", ""}), "ERR code:too_short");
}

TEST_F(RowProcessorTest, MissingValuesFromTheSchema) {
  use(R"({"name": "n", "type": "integer", "svd:transform": "keep", "constraints": {"required": true}},
         {"name": "s", "svd:transform": "keep"})",
      R"("missingValues": ["", "NULL"])");
  EXPECT_EQ(run({"NULL", "x"}), "ERR n:missing_required");
  EXPECT_EQ(run({"1", "NULL"}), R"({"n":1,"s":null})");
  EXPECT_EQ(run({"1", nullptr}), R"({"n":1,"s":null})");
}

TEST_F(RowProcessorTest, Generalisations) {
  use(R"({"name": "dob", "type": "date", "svd:transform": "age_band", "svd:age_at": "seen", "svd:as": "age"},
         {"name": "seen", "type": "datetime", "svd:transform": "hour"},
         {"name": "y", "type": "date", "svd:transform": "year"},
         {"name": "m", "type": "date", "svd:transform": "month"},
         {"name": "w", "type": "datetime", "svd:transform": "week"},
         {"name": "pc", "svd:domain": "postcode", "svd:transform": "postcode_district"},
         {"name": "pc2", "svd:domain": "postcode", "svd:transform": "postcode_sector"})");
  EXPECT_EQ(run({"1990-03-02", "2024-03-01T14:59:59", "2024-12-31", "2024-02-29", "2021-01-03T10:00:00", "sw1a2aa", "M1 1AE"}),
            R"({"age":"30-34","seen_hour":"2024-03-01T14:00","y_year":"2024","m_month":"2024-02","w_week":"2020-W53","pc_district":"SW1A","pc2_sector":"M1 1"})");
  // A birthday on the day counts; the day before does not.
  EXPECT_NE(run({"1989-03-01", "2024-03-01T00:00:00", "", "", "", "", ""}).find(R"("age":"35-39")"), std::string::npos);
  EXPECT_NE(run({"1989-03-02", "2024-03-01T00:00:00", "", "", "", "", ""}).find(R"("age":"30-34")"), std::string::npos);
  EXPECT_NE(run({"1920-01-01", "2024-03-01T00:00:00", "", "", "", "", ""}).find(R"("age":"90+")"), std::string::npos);
  EXPECT_NE(run({"2024-01-01", "", "", "", "", "", ""}).find(R"("age":null)"), std::string::npos);
  EXPECT_EQ(run({"2024-03-02", "2024-03-01T00:00:00", "", "", "", "", ""}), "ERR dob:invalid_age");
  EXPECT_EQ(run({"", "", "", "", "", "SW1A 2CI", "GIR 0AA"}), "ERR pc:invalid_postcode");
}

TEST_F(RowProcessorTest, AgeBandOfAnIntegerAge) {
  use(R"({"name": "age", "type": "integer", "svd:transform": "age_band", "constraints": {"maximum": 120}})");
  EXPECT_EQ(run({"0"}), R"({"age_age_band":"0-4"})");
  EXPECT_EQ(run({" 34 "}), R"({"age_age_band":"30-34"})");
  EXPECT_EQ(run({"90"}), R"({"age_age_band":"90+"})");
  EXPECT_EQ(run({"120"}), R"({"age_age_band":"90+"})");
  EXPECT_EQ(run({""}), R"({"age_age_band":null})");
  EXPECT_EQ(run({"-3"}), "ERR age:invalid_age");
  EXPECT_EQ(run({"121"}), "ERR age:above_maximum");
  EXPECT_EQ(run({"3.5"}), "ERR age:invalid_integer");
  // Without a maximum, any size still lands in the top band.
  use(R"({"name": "age", "type": "integer", "svd:transform": "age_band"})");
  EXPECT_EQ(run({"9223372036854775807"}), R"({"age_age_band":"90+"})");
}

// The constraints apply to the code as written; the category leaves in its place.
TEST_F(RowProcessorTest, RecodedCodesLeaveAsTheirCategories) {
  use(R"({"name": "code", "svd:transform": "keep", "svd:as": "reason", "constraints": {"pattern": "[0-9]{2}[A-E][0-9]{2}"},
          "svd:recode": {"04D01": "assault", "27D01": "stab"}},
         {"name": "code2", "svd:transform": "keep", "svd:recode": {"X": "x", "*": "other"}})");
  EXPECT_EQ(run({"04D01", "X"}), R"({"reason":"assault","code2":"x"})");
  EXPECT_EQ(run({"27D01", " X "}), R"({"reason":"stab","code2":"x"})");  // looked up trimmed
  EXPECT_EQ(run({"27D01", "Y"}), R"({"reason":"stab","code2":"other"})");
  EXPECT_EQ(run({" 27D01", "X"}), "ERR code:pattern_mismatch");  // the pattern sees the value as written
  EXPECT_EQ(run({"", ""}), R"({"reason":null,"code2":null})");
  EXPECT_EQ(run({"17A01", "X"}), "ERR code:unmapped_code");
  EXPECT_EQ(run({"ASLT", "X"}), "ERR code:pattern_mismatch");
}

TEST_F(RowProcessorTest, TheFilterSelectsRowsOnTheTrimmedSourceValue) {
  use(R"({"name": "kind", "svd:transform": "keep"}, {"name": "test", "svd:transform": "keep"},
         {"name": "n", "type": "integer", "svd:transform": "keep"})",
      R"("svd:filter": [{"field": "kind", "in": ["ASSAULT", "STAB"]}, {"field": "test", "not_in": ["Y"]}],
         "missingValues": ["", "NULL"])");
  auto selected = [&](std::initializer_list<const char*> cells) { return processor_->selected(record(cells)); };
  EXPECT_TRUE(selected({"ASSAULT", "N", "1"}));
  EXPECT_TRUE(selected({" STAB ", "", "not even a number"}));  // a missing value is in no not_in list
  EXPECT_TRUE(selected({"STAB", nullptr, "1"}));
  EXPECT_FALSE(selected({"assault", "N", "1"}));  // case counts
  EXPECT_FALSE(selected({"FALL", "N", "1"}));
  EXPECT_FALSE(selected({"ASSAULT", "Y", "1"}));
  EXPECT_FALSE(selected({"NULL", "N", "1"}));  // missing: in no in list
  EXPECT_FALSE(selected({nullptr, "N", "1"}));
  // Without a filter, every row.
  use(R"({"name": "kind", "svd:transform": "keep"})");
  EXPECT_TRUE(selected({"anything"}));
}

TEST_F(RowProcessorTest, IsoWeeksAndAgeBands) {
  EXPECT_EQ(iso_week({2024, 1, 1}), "2024-W01");
  EXPECT_EQ(iso_week({2024, 12, 30}), "2025-W01");
  EXPECT_EQ(iso_week({2021, 1, 3}), "2020-W53");
  EXPECT_EQ(iso_week({2026, 11, 23}), "2026-W48");
  EXPECT_EQ(age_band(0), "0-4");
  EXPECT_EQ(age_band(4), "0-4");
  EXPECT_EQ(age_band(5), "5-9");
  EXPECT_EQ(age_band(89), "85-89");
  EXPECT_EQ(age_band(90), "90+");
}

TEST_F(RowProcessorTest, NotFuture) {
  use(R"({"name": "d", "type": "date", "svd:domain": "not_future", "svd:transform": "keep"},
         {"name": "dt", "type": "datetime", "svd:domain": "not_future", "svd:transform": "keep"})");
  EXPECT_EQ(run({"2025-06-15", "2025-06-15T13:04:00"}), R"({"d":"2025-06-15","dt":"2025-06-15T13:04:00"})");
  EXPECT_EQ(run({"2025-06-16", "2025-06-15T13:06:00"}), "ERR d:in_future dt:in_future");
  // With an offset the value is compared in UTC: 13:04+01:00 is 12:04Z, within the skew allowance.
  EXPECT_EQ(run({"", "2025-06-15T13:04:00+01:00"}), R"({"d":null,"dt":"2025-06-15T13:04:00+01:00"})");
  EXPECT_EQ(run({"", "2025-06-15T12:06:00Z"}), "ERR dt:in_future");
}

TEST_F(RowProcessorTest, Unique) {
  use(R"({"name": "id", "svd:transform": "keep", "constraints": {"unique": true}},
         {"name": "n", "type": "integer", "svd:transform": "keep"})");
  EXPECT_EQ(run({"A", "1"}), R"({"id":"A","n":1})");
  EXPECT_EQ(run({"A", "2"}), "ERR id:not_unique");
  EXPECT_EQ(run({"B", "x"}), "ERR n:invalid_integer");
  EXPECT_EQ(run({"B", "3"}), R"({"id":"B","n":3})");  // the rejected row did not claim "B"
  EXPECT_FALSE(processor_->unique_limit_hit());
}

TEST_F(RowProcessorTest, PersonToken) {
  use(R"({"name": "sn"}, {"name": "fn"}, {"name": "dob", "type": "date", "format": "%d/%m/%Y"}, {"name": "k", "svd:transform": "keep"})",
      R"("svd:person": {"surname": "sn", "forename": "fn", "date_of_birth": "dob"})");
  crypto::Tokeniser reference(key_);
  const std::string token = reference.token("person", "OMARROWBY|ZOE|2001-02-03");
  EXPECT_EQ(run({"O'Marrowby", "Zoë", "03/02/2001", "x"}), R"({"k":"x","person_token":")" + token + "\"}");
  EXPECT_EQ(run({" o marrowby ", "ZOE", "3/2/2001", "x"}), R"({"k":"x","person_token":")" + token + "\"}");
  EXPECT_EQ(run({"O'Marrowby", "", "03/02/2001", "x"}), R"({"k":"x","person_token":null})");
  EXPECT_EQ(run({"---", "Zoë", "03/02/2001", "x"}), R"({"k":"x","person_token":null})");
}

TEST_F(RowProcessorTest, PseudoPostcodesAreCounted) {
  use(R"({"name": "pc", "svd:domain": "postcode", "svd:transform": "postcode_district"})");
  EXPECT_EQ(run({"ZZ99 3VZ"}), R"({"pc_district":"ZZ99"})");
  EXPECT_EQ(run({"M1 1AE"}), R"({"pc_district":"M1"})");
  EXPECT_EQ(processor_->pseudo_postcodes()[0], 1u);
}

TEST(JsonString, EscapesWhatJsonRequires) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\t\x1f é");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u001f é\"");
}

}  // namespace
}  // namespace svd::process
