#include <gtest/gtest.h>

#include <string>

#include "adapters/table_reader.h"
#include "tests/adapters/test_support.h"

namespace svd::adapters {
namespace {

using test::bad_row;
using test::cols;
using test::ok_row;
using test::Outcome;
using test::Row;
constexpr std::size_t npos = Record::npos;

Outcome read_jsonl(std::unique_ptr<ByteSource> src, const std::vector<Column>& c,
                   JsonlOptions o) {
  auto reader = make_jsonl_reader(std::move(src), c, o);
  return test::drain(*reader);
}

// As for CSV: whole, byte-at-a-time and random chunks must agree.
Outcome jsonl(const std::string& data, const std::vector<Column>& c, JsonlOptions o = {}) {
  return test::agree_across_chunkings(
      data, [&](std::unique_ptr<ByteSource> src) { return read_jsonl(std::move(src), c, o); }, 7);
}

const std::vector<Column> kPerson = cols({"nhs_number", "family_name", "given_name"});

TEST(JsonlReader, ReadsObjectsInSchemaOrder) {
  const std::string in =
      R"({"given_name":"Alys","nhs_number":"9990000018","family_name":"Testperson"})" "\n"
      R"({"family_name":"Exampleson","nhs_number":"9990000026"})" "\n";
  Outcome o = jsonl(in, kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", "Testperson", "Alys"}));
  EXPECT_EQ(o.rows[1], ok_row(2, {"9990000026", "Exampleson", std::nullopt}));
  EXPECT_TRUE(o.ignored.empty());
  EXPECT_EQ(o.bytes_read, in.size());
}

TEST(JsonlReader, ScalarsBecomeText) {
  const auto c = cols({"s", "i", "neg", "u", "big", "d", "e", "t", "f", "n", "z"});
  Outcome o = jsonl(
      R"({"s":"x","i":42,"neg":-7,"u":18446744073709551615,"big":123456789012345678901234567890,)"
      R"("d":1.50,"e":-2.5E+3,"t":true,"f":false,"n":null,"z":-0})",
      c);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"x", "42", "-7", "18446744073709551615",
                                  "123456789012345678901234567890", "1.50", "-2.5E+3", "true",
                                  "false", std::nullopt, "-0"}));
}

TEST(JsonlReader, StringEscapesAreDecoded) {
  const auto c = cols({"a", "b", "c", "d"});
  Outcome o = jsonl(
      R"({"a":"caf\u00e9","b":"line\nbreak \"q\" \\ \/","c":"\ud83d\ude00","d":"Zo\u00EB"})", c);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"caf\xC3\xA9", "line\nbreak \"q\" \\ /", "\xF0\x9F\x98\x80",
                                  "Zo\xC3\xAB"}));
}

TEST(JsonlReader, LongEscapedStringArrivesWhole) {
  // Escapes are decoded through a small buffer, so long escaped strings come in parts.
  std::string value;
  std::string expect;
  for (int i = 0; i < 3000; ++i) {
    value += "\\u00e9\\n";
    expect += "\xC3\xA9\n";
  }
  Outcome o = jsonl("{\"a\":\"" + value + "\",\"" + value + "\":1}\n", cols({"a"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(1, {expect}));
  // As an ignored key it is listed cut to 256 bytes, backing off to a character boundary.
  EXPECT_EQ(o.ignored, std::vector<std::string>{expect.substr(0, 255)});
}

TEST(JsonlReader, KeyMatchingExactFirstThenIgnoringCase) {
  const auto c = cols({"nhs_number", "Family_Name"});
  Outcome o = jsonl(
      R"({"NHS_NUMBER":"9990000018","family_name":"Testperson"})" "\n"
      R"({"nhs_number":"9990000026","NHS_Number":"9990000034"})" "\n"
      R"({"NHS_Number":"9990000034","nhs_number":"9990000026"})" "\n"
      R"({"nhs_number":null,"NHS_Number":"9990000034"})" "\n",
      c);
  ASSERT_EQ(o.rows.size(), 4u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", "Testperson"}));
  EXPECT_EQ(o.rows[1], ok_row(2, {"9990000026", std::nullopt}));
  EXPECT_EQ(o.rows[2], ok_row(3, {"9990000026", std::nullopt}));
  EXPECT_EQ(o.rows[3], ok_row(4, {std::nullopt, std::nullopt}));
}

TEST(JsonlReader, SameColumnTwiceRejectsTheRow) {
  Outcome o = jsonl(
      R"({"nhs_number":"9990000018","nhs_number":"9990000026"})" "\n"
      R"({"NHS_NUMBER":"9990000018","Nhs_Number":"9990000026"})" "\n"
      R"({"nhs_number":"9990000042"})" "\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], bad_row(1, errc::invalid_json, 0));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::invalid_json, 0));
  EXPECT_EQ(o.rows[2], ok_row(3, {"9990000042", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, IgnoredKeysAreDistinctInFirstSeenOrder) {
  Outcome o = jsonl(
      R"({"nhs_number":"9990000018","shoe":9,"notes":{"deep":[1,2]}})" "\n"
      R"({"notes":"x","hat":null,"shoe":10})" "\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", std::nullopt, std::nullopt}));
  EXPECT_EQ(o.ignored, (std::vector<std::string>{"shoe", "notes", "hat"}));
}

TEST(JsonlReader, IgnoredKeysAreCapped) {
  std::string in;
  for (int i = 0; i < 150; ++i) in += "{\"k" + std::to_string(i) + "\":1}\n";
  Outcome o = jsonl(in, kPerson);
  EXPECT_EQ(o.rows.size(), 150u);
  ASSERT_EQ(o.ignored.size(), 100u);
  EXPECT_EQ(o.ignored.front(), "k0");
  EXPECT_EQ(o.ignored.back(), "k99");
}

TEST(JsonlReader, LongIgnoredKeysAreCut) {
  const std::string longkey = "k" + std::string(300, 'x');
  // The cut falls inside a two-byte character, which must stay whole.
  const std::string accented = std::string(255, 'y') + "\xC3\xA9zz";
  Outcome o = jsonl("{\"" + longkey + "\":1,\"" + accented + "\":2}\n{\"" + longkey + "\":3}\n",
                    kPerson);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.ignored, (std::vector<std::string>{longkey.substr(0, 256), std::string(255, 'y')}));
}

TEST(JsonlReader, ParseErrorInsideAStringDoesNotLeakIntoTheNextLine) {
  // Escapes make the parser hand a string over in parts; an error after the first part
  // must not leave it behind for the next line.
  std::string escaped;
  for (int i = 0; i < 10000; ++i) escaped += "\\n";
  Outcome o = jsonl("{\"family_name\":\"" + escaped + "\\q\"}\n{\"family_name\":\"A\\u00e9\"}\n",
                    kPerson);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], bad_row(1, errc::invalid_json));
  EXPECT_EQ(o.rows[1], ok_row(2, {std::nullopt, "A\xC3\xA9", std::nullopt}));
}

TEST(JsonlReader, NestedValueForAColumnIsRejected) {
  Outcome o = jsonl(
      R"({"nhs_number":"9990000018","family_name":{"first":"x"}})" "\n"
      R"({"given_name":["Alys"],"nhs_number":"9990000026"})" "\n"
      R"({"nhs_number":"9990000034","given_name":"Cai"})" "\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], bad_row(1, errc::invalid_json_value, 1));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::invalid_json_value, 2));
  EXPECT_EQ(o.rows[2], ok_row(3, {"9990000034", std::nullopt, "Cai"}));
}

TEST(JsonlReader, LinesThatAreNotJson) {
  Outcome o = jsonl(
      "nhs_number,family_name\n"
      R"({"nhs_number":"9990000018")" "\n"
      R"({"nhs_number":"9990000018"} x)" "\n"
      R"({"a":1}{"b":2})" "\n"
      R"({"a":1,})" "\n"
      R"({'a':1})" "\n"
      R"({"nhs_number":"9990000026"}   )" "\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 7u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(o.rows[i], bad_row(i + 1, errc::invalid_json));
  EXPECT_EQ(o.rows[6], ok_row(7, {"9990000026", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, NotAnObject) {
  Outcome o = jsonl("[1,2]\n\"9990000018\"\n42\nnull\ntrue\n[]\n{}\n", kPerson);
  ASSERT_EQ(o.rows.size(), 7u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(o.rows[i], bad_row(i + 1, errc::not_an_object));
  EXPECT_EQ(o.rows[6], ok_row(7, {std::nullopt, std::nullopt, std::nullopt}));
}

TEST(JsonlReader, TooDeep) {
  JsonlOptions opt;
  opt.limits.max_json_depth = 3;
  Outcome o = jsonl(
      R"({"x":{"y":{"z":1}}})" "\n"        // depth 3: allowed
      R"({"x":{"y":{"z":{}}}})" "\n"       // depth 4
      R"([[[[[[[[[[]]]]]]]]]])" "\n"       // deep, and not an object either
      R"({"nhs_number":"9990000018"})" "\n",
      kPerson, opt);
  ASSERT_EQ(o.rows.size(), 4u);
  EXPECT_EQ(o.rows[0], ok_row(1, {std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::json_too_deep));
  EXPECT_EQ(o.rows[2], bad_row(3, errc::json_too_deep));
  EXPECT_EQ(o.rows[3], ok_row(4, {"9990000018", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, RowTooLongIsSkippedAndReadingResumes) {
  JsonlOptions opt;
  opt.limits.max_row_bytes = 40;
  const std::string at_limit = R"({"nhs_number":"9990000018","x":"abcdef"})";
  ASSERT_EQ(at_limit.size(), 40u);
  Outcome o = jsonl(
      at_limit + "\r\n" +                                                   // CR is not counted
      R"({"nhs_number":"9990000026","x":"abcdefg"})" "\n" +                 // 41 bytes
      "{\"x\":\"" + std::string(200000, 'q') + "\"}\n" +
      R"({"nhs_number":"9990000034"})",
      kPerson, opt);
  ASSERT_EQ(o.rows.size(), 4u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", std::nullopt, std::nullopt}));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::row_too_long));
  EXPECT_EQ(o.rows[2], bad_row(3, errc::row_too_long));
  EXPECT_EQ(o.rows[3], ok_row(4, {"9990000034", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, FieldTooLongNamesTheColumn) {
  JsonlOptions opt;
  opt.limits.max_field_bytes = 10;
  Outcome o = jsonl(
      R"({"nhs_number":"9990000018","family_name":"Testperson"})" "\n"
      R"({"nhs_number":"9990000018","family_name":"Testpersons"})" "\n"
      R"({"nhs_number":99900000181,"family_name":"x"})" "\n"
      R"({"family_name":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"})" "\n"   // 12 bytes decoded
      R"({"nhs_number":"9990000026","notes":"an ignored key may be long"})" "\n",
      kPerson, opt);
  ASSERT_EQ(o.rows.size(), 5u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", "Testperson", std::nullopt}));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::field_too_long, 1));
  EXPECT_EQ(o.rows[2], bad_row(3, errc::field_too_long, 0));
  EXPECT_EQ(o.rows[3], bad_row(4, errc::field_too_long, 1));
  EXPECT_EQ(o.rows[4], ok_row(5, {"9990000026", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, TooManyKeys) {
  JsonlOptions opt;
  opt.limits.max_fields = 3;
  Outcome o = jsonl(
      R"({"a":1,"b":2,"c":3,"d":4})" "\n"
      R"({"nhs_number":"9990000018","b":{"x":1,"y":2,"z":3,"w":4}})" "\n",
      kPerson, opt);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], bad_row(1, errc::too_many_fields));
  EXPECT_EQ(o.rows[1], ok_row(2, {"9990000018", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, InvalidUtf8) {
  const char* bad[] = {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "ab\xE2\x82", "\xF4\x90\x80\x80",
                       "\xFF", "\x80"};
  for (const char* b : bad) {
    const std::string s(b);
    Outcome o = jsonl("{\"nhs_number\":\"9990000018\",\"family_name\":\"" + s + "\"}\n" +
                          "{\"" + s + "\":1}\n" +                       // in a key
                          "{\"notes\":\"" + s + "\"}\n" +               // under an ignored key
                          "{\"notes\":{\"x\":[\"" + s + "\"]}}\n" +     // nested
                          R"({"nhs_number":"9990000026"})" "\n",
                      kPerson);
    ASSERT_EQ(o.rows.size(), 5u) << testing::PrintToString(s);
    EXPECT_EQ(o.rows[0], bad_row(1, errc::invalid_utf8, 1)) << testing::PrintToString(s);
    EXPECT_EQ(o.rows[1], bad_row(2, errc::invalid_utf8)) << testing::PrintToString(s);
    EXPECT_EQ(o.rows[2], bad_row(3, errc::invalid_utf8)) << testing::PrintToString(s);
    EXPECT_EQ(o.rows[3], bad_row(4, errc::invalid_utf8)) << testing::PrintToString(s);
    EXPECT_EQ(o.rows[4], ok_row(5, {"9990000026", std::nullopt, std::nullopt}));
    EXPECT_EQ(o.ignored, std::vector<std::string>{"notes"});  // a bad key is never listed
  }
}

TEST(JsonlReader, LoneSurrogateEscapes) {
  Outcome o = jsonl(R"({"family_name":"\udc00x"})" "\n"
                    R"({"family_name":"\ud800\u0041"})" "\n"
                    R"({"family_name":"\ud800"})" "\n",
                    kPerson);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], bad_row(1, errc::invalid_utf8));
  EXPECT_EQ(o.rows[1], bad_row(2, errc::invalid_utf8));
  // Boost.JSON 1.81 reports a high surrogate followed by no escape as a plain syntax error.
  EXPECT_EQ(o.rows[2], bad_row(3, errc::invalid_json));
}

TEST(JsonlReader, CrlfBlankLinesAndBom) {
  Outcome o = jsonl(
      "\xEF\xBB\xBF{\"nhs_number\":\"9990000018\"}\r\n"
      "\r\n"
      "   \t \n"
      "\n"
      "{\"nhs_number\":\"9990000026\"}\r\n"
      "\r\n\n",
      kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", std::nullopt, std::nullopt}));
  EXPECT_EQ(o.rows[1], ok_row(5, {"9990000026", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, LastLineWithoutNewline) {
  Outcome o = jsonl("{\"nhs_number\":\"9990000018\"}\n{\"nhs_number\":\"9990000026\"}", kPerson);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[1], ok_row(2, {"9990000026", std::nullopt, std::nullopt}));
}

TEST(JsonlReader, EmptyFile) {
  for (const std::string in : {"", "\n", "\r\n\r\n", "  \n\t\n", "\xEF\xBB\xBF", "\xEF\xBB\xBF\n"}) {
    Outcome o = jsonl(in, kPerson);
    EXPECT_EQ(o.end, errc::empty_file) << testing::PrintToString(in);
    EXPECT_EQ(o.failure.code, errc::empty_file);
    EXPECT_EQ(o.failure.row, 0u);
    EXPECT_TRUE(o.rows.empty());
  }
}

TEST(JsonlReader, NulByteIsBinaryData) {
  const std::string nul(1, '\0');
  Outcome o = jsonl("{\"nhs_number\":\"9990000018\"}\n\n{\"a\":\"" + nul + "\"}\n{}\n", kPerson);
  EXPECT_EQ(o.end, errc::binary_data);
  EXPECT_EQ(o.failure.row, 3u);
  EXPECT_EQ(o.rows.size(), 1u);

  JsonlOptions opt;
  opt.limits.max_row_bytes = 8;  // even inside a line that is being skipped
  o = jsonl("{}\n{\"a\":\"xxxxxxxxxxxxxxxxxxx" + nul + "\"}\n", kPerson, opt);
  EXPECT_EQ(o.end, errc::binary_data);
  EXPECT_EQ(o.failure.row, 2u);
}

TEST(JsonlReader, Windows1252IsTranscodedBeforeParsing) {
  JsonlOptions opt;
  opt.encoding = Encoding::windows_1252;
  Outcome o = jsonl(
      "{\"nhs_number\":\"9990000018\",\"family_name\":\"Ren\xE9\",\"pr\xE9nom\":\"\x80\"}\n",
      cols({"nhs_number", "family_name", "pr\xC3\xA9nom"}), opt);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(1, {"9990000018", "Ren\xC3\xA9", "\xE2\x82\xAC"}));
}

TEST(JsonlReader, RecordIsResetBetweenRows) {
  auto reader = make_jsonl_reader(
      test::whole(R"({"nhs_number":"9990000018","family_name":"Testperson"})" "\n"
                  R"({"given_name":"Alys"})" "\n"),
      kPerson, {});
  Record rec;
  ASSERT_TRUE(reader->next(rec).value());
  EXPECT_TRUE(rec.present(0));
  ASSERT_TRUE(reader->next(rec).value());
  EXPECT_EQ(rec.row, 2u);
  EXPECT_FALSE(rec.present(0));
  EXPECT_FALSE(rec.present(1));
  EXPECT_EQ(rec.cell(0), "");
  EXPECT_EQ(rec.cell(2), "Alys");
  EXPECT_FALSE(reader->next(rec).value());
}

std::string mixed_jsonl(int rows) {
  std::string s = "\xEF\xBB\xBF";
  for (int i = 0; i < rows; ++i) {
    const std::string nhs = "99900" + std::to_string(10000 + i * 7);
    switch (i % 9) {
      case 2: s += "\r\n"; break;
      case 4: s += "{\"nhs_number\":\"" + nhs + "\",\"family_name\":[1]}\n"; continue;
      case 6: s += "{\"nhs_number\":\"" + nhs + "\",\"family_name\":\"" + std::string(90, 'w') + "\"}\n"; continue;
      case 7: s += "not json\r\n"; continue;
      default: break;
    }
    s += "{\"NHS_Number\":\"" + nhs + "\",\"family_name\":\"Test\\\"person\\u00e9\",\"age\":" +
         std::to_string(i % 97) + ".5,\"ok\":" + (i % 2 ? "true" : "false") + ",\"x\":null}\r\n";
  }
  return s;
}

TEST(JsonlReader, ChunkingNeverChangesTheResult) {
  const std::string in = mixed_jsonl(300);
  const auto c = cols({"nhs_number", "family_name", "age", "ok", "x"});
  JsonlOptions opt;
  opt.limits.max_field_bytes = 64;
  Outcome ref = read_jsonl(test::whole(in), c, opt);
  ASSERT_EQ(ref.end, errc::ok);
  ASSERT_GT(ref.rows.size(), 250u);
  EXPECT_EQ(ref.rows[0], ok_row(1, {"9990010000", "Test\"person\xC3\xA9", "0.5", "false",
                                    std::nullopt}));
  std::size_t bad = 0;
  for (const auto& r : ref.rows) bad += r.error != errc::ok;
  EXPECT_GT(bad, 90u);
  auto check = [&](Outcome o, const std::string& how) {
    EXPECT_EQ(o.end, ref.end) << how;
    EXPECT_EQ(o.rows, ref.rows) << how;
    EXPECT_EQ(o.ignored, ref.ignored) << how;
    EXPECT_EQ(o.bytes_read, in.size()) << how;
  };
  check(read_jsonl(test::bytewise(in), c, opt), "bytewise");
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    check(read_jsonl(test::random_chunks(in, seed, 1 + seed * 13), c, opt),
          "seed " + std::to_string(seed));
  }
}

TEST(JsonlReader, ReadFailureAtAnyPointIsAnIoError) {
  const std::string in = mixed_jsonl(40);
  const auto c = cols({"nhs_number", "family_name", "age", "ok", "x"});
  constexpr std::size_t kChunk = 5;
  auto counted = std::make_unique<test::ScriptedSource>(in, [] { return kChunk; });
  const test::ScriptedSource* counter = counted.get();
  auto reader = make_jsonl_reader(std::move(counted), c, {});  // keeps the source alive
  Outcome ref = test::drain(*reader);
  ASSERT_EQ(ref.end, errc::ok);
  const std::size_t reads = counter->calls();
  ASSERT_GT(reads, in.size() / kChunk);
  for (std::size_t n = 0; n <= reads; ++n) {
    auto src = std::make_unique<test::ScriptedSource>(in, [] { return kChunk; }, n);
    Outcome o = read_jsonl(std::move(src), c, {});
    if (n == reads) {
      EXPECT_EQ(o.end, errc::ok);
      EXPECT_EQ(o.rows, ref.rows);
      continue;
    }
    EXPECT_EQ(o.end, errc::io_error) << n;
    EXPECT_EQ(o.failure.code, errc::io_error) << n;
    ASSERT_LE(o.rows.size(), ref.rows.size()) << n;
    for (std::size_t i = 0; i < o.rows.size(); ++i) EXPECT_EQ(o.rows[i], ref.rows[i]) << n;
  }
}

}  // namespace
}  // namespace svd::adapters
