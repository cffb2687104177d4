#include "config/schema.h"

#include <gtest/gtest.h>

#include <string>

#include "config/diagnostic.h"

namespace svd::config {
namespace {

// Wraps field JSON in a schema; `extra` goes at schema level.
std::string schema_with(const std::string& fields, const std::string& extra = "") {
  return R"({"name": "t", "fields": [)" + fields + "]" + (extra.empty() ? "" : ", " + extra) + "}";
}

// The diagnostics a bad schema produces, joined, so a test can look for the expected one.
std::string problems(const std::string& json) {
  try {
    parse_schema(json, "t.json");
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
    return all;
  }
  return "";
}

const std::string kKept = R"({"name": "code", "type": "string", "svd:transform": "keep"})";

TEST(Schema, LoadsAFullExample) {
  auto s = parse_schema(schema_with(
                            R"({"name": "nhs", "type": "string", "svd:domain": "nhs_number", "svd:transform": "token:nhs_number"},
             {"name": "sn", "type": "string"}, {"name": "fn", "type": "string"},
             {"name": "dob", "type": "date", "svd:domain": "not_future", "svd:transform": "age_band", "svd:age_at": "seen"},
             {"name": "seen", "type": "datetime", "svd:transform": "hour", "constraints": {"required": true, "minimum": "2000-01-01T00:00:00"}},
             {"name": "pc", "type": "string", "svd:domain": "postcode", "svd:transform": "postcode_sector", "svd:as": "area"},
             {"name": "n", "type": "integer", "constraints": {"minimum": 0, "maximum": 10, "enum": ["1", 2]}, "svd:transform": "keep"})",
                            R"("svd:person": {"surname": "sn", "forename": "fn", "date_of_birth": "dob"})"),
                        "t.json");
  ASSERT_EQ(s.fields.size(), 7u);
  EXPECT_EQ(s.fields[0].transform, TransformKind::token);
  EXPECT_EQ(s.fields[0].token_kind, "nhs_number");
  EXPECT_EQ(s.fields[0].output_name, "nhs_token");
  EXPECT_EQ(s.fields[1].transform, TransformKind::drop);
  EXPECT_EQ(s.fields[3].age_at, 4u);
  EXPECT_EQ(s.fields[3].output_name, "dob_age_band");
  EXPECT_TRUE(s.fields[3].not_future);
  EXPECT_EQ(*s.fields[4].constraints.minimum_text, "2000-01-01T00:00:00");
  EXPECT_EQ(s.fields[5].output_name, "area");
  EXPECT_EQ(*s.fields[6].constraints.maximum_number, 10.0);
  EXPECT_EQ(s.fields[6].constraints.enum_values, (std::vector<std::string>{"1", "2"}));
  ASSERT_TRUE(s.person);
  EXPECT_EQ(s.person->date_of_birth, 3u);
  EXPECT_EQ(s.person->output_name, "person_token");
  EXPECT_EQ(s.missing_values, std::vector<std::string>{""});
}

TEST(Schema, InvalidJsonNamesTheLine) {
  std::string p = problems("{\n  \"fields\": [\n    {\"name\": \"a\",}\n  ]\n}");
  EXPECT_NE(p.find("t.json:3"), std::string::npos) << p;
  EXPECT_NE(p.find("not valid JSON"), std::string::npos) << p;
}

TEST(Schema, UnknownType) {
  EXPECT_NE(problems(schema_with(R"({"name": "a", "type": "text", "svd:transform": "keep"})")).find("unknown type \"text\""),
            std::string::npos);
}

TEST(Schema, UnknownTransform) {
  EXPECT_NE(problems(schema_with(R"({"name": "a", "svd:transform": "hash"})")).find("unknown svd:transform \"hash\""),
            std::string::npos);
}

TEST(Schema, InvalidRegex) {
  std::string p = problems(schema_with(kKept + R"(, {"name": "b", "constraints": {"pattern": "([A-Z"}})"));
  EXPECT_NE(p.find("not a valid regular expression"), std::string::npos) << p;
}

TEST(Schema, DateTransformOnAStringField) {
  std::string p = problems(schema_with(R"({"name": "d", "type": "string", "svd:transform": "year"})"));
  EXPECT_NE(p.find("needs a date or datetime field, not string"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "d", "type": "date", "svd:transform": "hour"})"));
  EXPECT_NE(p.find("needs a datetime field"), std::string::npos) << p;
}

TEST(Schema, TokenWithoutDomain) {
  std::string p = problems(schema_with(R"({"name": "nhs", "type": "string", "svd:transform": "token:nhs_number"})"));
  EXPECT_NE(p.find("needs an svd:domain"), std::string::npos) << p;
  p = problems(schema_with(
      R"({"name": "nhs", "type": "string", "svd:domain": "nhs_number", "svd:transform": "token:person"})"));
  EXPECT_NE(p.find("other than person"), std::string::npos) << p;
  p = problems(schema_with(
      R"({"name": "nhs", "type": "string", "svd:domain": "nhs_number", "svd:transform": "token:nhs"})"));
  EXPECT_NE(p.find("must match the field's svd:domain"), std::string::npos) << p;
}

TEST(Schema, KeepingAnIdentifierIsRefused) {
  std::string p = problems(schema_with(R"({"name": "nhs", "svd:domain": "nhs_number", "svd:transform": "keep"})"));
  EXPECT_NE(p.find("keep would send a raw identifier"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "pc", "svd:domain": "postcode", "svd:transform": "keep"})"));
  EXPECT_NE(p.find("keep would send a raw identifier"), std::string::npos) << p;
}

TEST(Schema, MissingPersonComponent) {
  std::string p = problems(schema_with(kKept + R"(, {"name": "sn"}, {"name": "dob", "type": "date"})",
                                       R"("svd:person": {"surname": "sn", "date_of_birth": "dob"})"));
  EXPECT_NE(p.find("missing the \"forename\" component"), std::string::npos) << p;
  p = problems(schema_with(kKept + R"(, {"name": "sn"}, {"name": "fn"}, {"name": "dob", "type": "date"})",
                           R"("svd:person": {"surname": "sn", "forename": "first", "date_of_birth": "dob"})"));
  EXPECT_NE(p.find("\"first\", which is not a field"), std::string::npos) << p;
  p = problems(schema_with(kKept + R"(, {"name": "sn"}, {"name": "fn"}, {"name": "dob", "type": "string"})",
                           R"("svd:person": {"surname": "sn", "forename": "fn", "date_of_birth": "dob"})"));
  EXPECT_NE(p.find("date_of_birth must be a date field"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "sn", "svd:transform": "keep"}, {"name": "fn"}, {"name": "dob", "type": "date"})",
                           R"("svd:person": {"surname": "sn", "forename": "fn", "date_of_birth": "dob"})"));
  EXPECT_NE(p.find("must not leave the site"), std::string::npos) << p;
}

TEST(Schema, AgeBandNeedsAReferenceDate) {
  std::string p = problems(schema_with(R"({"name": "dob", "type": "date", "svd:transform": "age_band"})"));
  EXPECT_NE(p.find("needs \"svd:age_at\""), std::string::npos) << p;
  p = problems(schema_with(
      R"({"name": "dob", "type": "date", "svd:transform": "age_band", "svd:age_at": "nope"})"));
  EXPECT_NE(p.find("\"nope\", which is not a field"), std::string::npos) << p;
}

// An ambulance extract has the age in years, not a date of birth: age_band takes it as it is.
TEST(Schema, AgeBandOfAnIntegerAgeNeedsNoReferenceDate) {
  auto s = parse_schema(schema_with(R"({"name": "age", "type": "integer", "svd:transform": "age_band"})"), "t.json");
  EXPECT_EQ(s.fields[0].transform, TransformKind::age_band);
  EXPECT_EQ(s.fields[0].output_name, "age_age_band");
  std::string p = problems(schema_with(R"({"name": "at", "type": "date"},
      {"name": "age", "type": "integer", "svd:transform": "age_band", "svd:age_at": "at"})"));
  EXPECT_NE(p.find("an age in years already"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "age", "type": "number", "svd:transform": "age_band"})"));
  EXPECT_NE(p.find("or an integer field (the age)"), std::string::npos) << p;
}

TEST(Schema, RecodeMapsCodesOfAKeptStringToCategories) {
  auto s = parse_schema(schema_with(R"({"name": "code", "type": "string", "svd:transform": "keep",
      "svd:recode": {"04D01": "assault", "27D01": "stab", "*": "other"}})"), "t.json");
  const Field& f = s.fields[0];
  EXPECT_EQ(f.recode.size(), 2u);
  EXPECT_EQ(f.recode.at("04D01"), "assault");
  EXPECT_EQ(f.recode_other, "other");
  // Without "*" there is no catch-all.
  s = parse_schema(schema_with(R"({"name": "code", "svd:transform": "keep", "svd:recode": {"1": "a"}})"), "t.json");
  EXPECT_FALSE(s.fields[0].recode_other);

  std::string p = problems(schema_with(R"({"name": "code", "svd:recode": {"1": "a"}})"));  // dropped
  EXPECT_NE(p.find("svd:recode applies to a string field with svd:transform keep"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "n", "type": "integer", "svd:transform": "keep", "svd:recode": {"1": "a"}})"));
  EXPECT_NE(p.find("svd:recode applies to a string field"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "code", "svd:transform": "keep", "svd:recode": {}})"));
  EXPECT_NE(p.find("svd:recode must be an object mapping"), std::string::npos) << p;
  p = problems(schema_with(R"({"name": "code", "svd:transform": "keep", "svd:recode": {"1": 2}})"));
  EXPECT_NE(p.find("the category for \"1\" must be a string"), std::string::npos) << p;
}

TEST(Schema, FiltersNameAFieldAndExactlyOneList) {
  auto s = parse_schema(schema_with(kKept + R"(, {"name": "kind"}, {"name": "test"})",
                                    R"("svd:filter": [{"field": "kind", "in": ["A", "B"]}, {"field": "test", "not_in": ["Y"]}])"),
                        "t.json");
  ASSERT_EQ(s.filters.size(), 2u);
  EXPECT_EQ(s.filters[0].field, 1u);
  EXPECT_FALSE(s.filters[0].exclude);
  EXPECT_EQ(s.filters[0].values, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(s.filters[1].field, 2u);
  EXPECT_TRUE(s.filters[1].exclude);
  // One condition may stand alone.
  s = parse_schema(schema_with(kKept, R"("svd:filter": {"field": "code", "in": ["X"]})"), "t.json");
  EXPECT_EQ(s.filters.size(), 1u);

  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": {"field": "nope", "in": ["X"]})")).find("must name a field"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": {"field": "code"})")).find("exactly one of \"in\" and \"not_in\""),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": {"field": "code", "in": ["X"], "not_in": ["Y"]})"))
                .find("exactly one of"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": {"field": "code", "in": []})")).find("must not be empty"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": {"field": "code", "in": ["X"], "when": 1})"))
                .find("unknown key \"when\""),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": [])")).find("must be an object, or an array"), std::string::npos);
  EXPECT_NE(problems(schema_with(kKept, R"("svd:filter": ["code"])")).find("each condition must be an object"),
            std::string::npos);
}

// By default every generalised output is a quasi-identifier; a schema may name its own, which
// must leave the site and not be tokens.
TEST(Schema, QuasiIdentifiersDefaultToTheGeneralisedFields) {
  const std::string fields = R"({"name": "dob", "type": "date", "svd:transform": "age_band", "svd:age_at": "seen"},
      {"name": "seen", "type": "date", "svd:transform": "month"}, {"name": "school", "svd:transform": "keep"},
      {"name": "nhs", "svd:domain": "nhs_number", "svd:transform": "token:nhs_number"}, {"name": "notes"})";
  auto s = parse_schema(schema_with(fields), "t.json");
  EXPECT_EQ(s.quasi_identifiers, (std::vector<std::size_t>{0, 1}));
  s = parse_schema(schema_with(fields, R"("svd:quasi_identifiers": ["school", "dob"])"), "t.json");
  EXPECT_EQ(s.quasi_identifiers, (std::vector<std::size_t>{2, 0}));
  s = parse_schema(schema_with(kKept), "t.json");
  EXPECT_TRUE(s.quasi_identifiers.empty());

  auto p = problems(schema_with(fields, R"("svd:quasi_identifiers": ["notes", "nhs", "nope", "dob", "dob"])"));
  EXPECT_NE(p.find("\"notes\" never leaves the site"), std::string::npos) << p;
  EXPECT_NE(p.find("\"nhs\" is a token"), std::string::npos) << p;
  EXPECT_NE(p.find("\"nope\" is not a field"), std::string::npos) << p;
  EXPECT_NE(p.find("\"dob\" is listed twice"), std::string::npos) << p;
  p = problems(schema_with(fields, R"("svd:quasi_identifiers": [])"));
  EXPECT_NE(p.find("must list at least one field"), std::string::npos) << p;
}

TEST(Schema, CollectsEveryProblemAtOnce) {
  std::string p = problems(schema_with(R"({"name": "a", "type": "text"}, {"name": "b", "svd:transform": "hash"},
                                          {"name": "c", "constraints": {"pattern": "("}})"));
  EXPECT_NE(p.find("unknown type"), std::string::npos);
  EXPECT_NE(p.find("unknown svd:transform"), std::string::npos);
  EXPECT_NE(p.find("regular expression"), std::string::npos);
}

TEST(Schema, OtherMistakes) {
  EXPECT_NE(problems(R"({"fields": []})").find("non-empty \"fields\""), std::string::npos);
  EXPECT_NE(problems(schema_with(kKept + R"(, {"name": "CODE"})")).find("duplicate field name"), std::string::npos);
  EXPECT_NE(problems(schema_with(kKept + R"(, {"name": "x", "constraints": {"requried": true}})")).find("unknown constraint"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept + R"(, {"name": "x", "svd:tranform": "keep"})")).find("unknown key"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(R"({"name": "x"})")).find("nothing would leave the site"), std::string::npos);
  EXPECT_NE(problems(schema_with(R"({"name": "x", "type": "date", "format": "%d/%m", "svd:transform": "keep"})"))
                .find("needs %Y, %m and %d"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(R"({"name": "x", "type": "date", "constraints": {"minimum": "01/01/2020"}, "svd:transform": "keep"})"))
                .find("minimum must be an ISO 8601 date"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(kKept + R"(, {"name": "y", "svd:transform": "keep", "svd:as": "code"})")).find("used twice"),
            std::string::npos);
  EXPECT_NE(problems(schema_with(R"({"name": "x", "type": "string", "svd:domain": "not_future", "svd:transform": "keep"})"))
                .find("not_future needs a date"),
            std::string::npos);
}

// Output names become the hub's column names: a kept field's own name is checked like svd:as.
TEST(Schema, EveryOutputNameIsAPlainLowercaseName) {
  const std::string injection = R"(x\" TEXT); DROP TABLE batches; --)";
  for (const std::string& name : {injection, std::string("_partner"), std::string("Code"), std::string("1st"),
                                  std::string("a-b"), std::string(65, 'a')}) {
    SCOPED_TRACE(name);
    const std::string p = problems(schema_with(R"({"name": ")" + name + R"(", "type": "string", "svd:transform": "keep"})"));
    EXPECT_NE(p.find("is not a plain name"), std::string::npos) << p;
  }
  // A field name that differs only in case from another output: refused, not a second column.
  EXPECT_NE(problems(schema_with(kKept + R"(, {"name": "CODE", "type": "string", "svd:transform": "keep"})"))
                .find("is not a plain name"),
            std::string::npos);
  // Default names made from the field's name are checked too ("Arrival" + "_month").
  EXPECT_NE(problems(schema_with(R"({"name": "Arrival Date", "type": "date", "svd:transform": "month"})"))
                .find("is not a plain name"),
            std::string::npos);
  // The same field renamed with svd:as is fine.
  EXPECT_EQ(problems(schema_with(R"({"name": "Arrival Date", "type": "date", "svd:transform": "month", "svd:as": "arrival_month"})")),
            "");
}

TEST(Schema, ExamplesLoad) {
  for (const char* name : {"ed-assaults", "death-reports", "school-exclusions", "ambulance-callouts"}) {
    SCOPED_TRACE(name);
    Schema s = load_schema(std::string(SVD_EXAMPLES_DIR) + "/schemas/" + name + ".json");
    EXPECT_EQ(s.name, name);
    EXPECT_FALSE(s.source.empty());
  }
}

TEST(Schema, MissingFileIsAClearError) {
  try {
    load_schema("/nonexistent/schema.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read the schema file"), std::string::npos);
  }
}

}  // namespace
}  // namespace svd::config
