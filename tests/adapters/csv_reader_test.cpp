#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
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

Outcome read_csv(std::unique_ptr<ByteSource> src, const std::vector<Column>& c, CsvOptions o) {
  auto reader = make_csv_reader(std::move(src), c, o);
  return test::drain(*reader);
}

// Every case goes through three ways of splitting the input, which must agree.
Outcome csv(const std::string& data, const std::vector<Column>& c, CsvOptions o = {}) {
  return test::agree_across_chunkings(
      data, [&](std::unique_ptr<ByteSource> src) { return read_csv(std::move(src), c, o); }, 42);
}

const std::vector<Column> kPerson = cols({"nhs_number", "family_name", "given_name"});

// --- basic shape ----------------------------------------------------------------------------

TEST(CsvReader, ReadsRowsInSchemaOrder) {
  const std::string in =
      "given_name,nhs_number,family_name\n"
      "Alys,9990000018,Testperson\n"
      "Bryn,9990000026,Exampleson\n";
  Outcome o = csv(in, kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson", "Alys"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Exampleson", "Bryn"}));
  EXPECT_TRUE(o.ignored.empty());
  EXPECT_EQ(o.bytes_read, in.size());
}

TEST(CsvReader, LastLineWithoutLineEnd) {
  Outcome o = csv("nhs_number,family_name,given_name\n9990000018,Testperson,Alys", kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson", "Alys"}));
}

TEST(CsvReader, EmptyCellsArePresentAndEmpty) {
  Outcome o = csv("nhs_number,family_name,given_name\n,,\n\"\",\"\",\n9990000018,,Alys,\n",
                  kPerson);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"", "", ""}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"", "", ""}));
  // A trailing delimiter is one more (empty) cell, so this row has four.
  EXPECT_EQ(o.rows[2], bad_row(4, errc::wrong_field_count));
}

TEST(CsvReader, TrailingDelimiterAtEndOfInputIsAnEmptyCell) {
  Outcome o = csv("a,b\nx,", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"x", ""}));
}

TEST(CsvReader, SingleColumn) {
  Outcome o = csv("nhs_number\n9990000018\n9990000026\n", cols({"nhs_number"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026"}));
}

TEST(CsvReader, ConfigurableDelimiter) {
  CsvOptions semi;
  semi.delimiter = ';';
  Outcome o = csv("nhs_number;family_name\n9990000018;Smith, Jr\n", cols({"nhs_number", "family_name"}),
                  semi);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Smith, Jr"}));

  CsvOptions tab;
  tab.delimiter = '\t';
  o = csv("nhs_number\tfamily_name\n9990000018\t\"Tab\there\"\n", cols({"nhs_number", "family_name"}),
          tab);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Tab\there"}));
}

TEST(CsvReader, DelimiterThatWouldBreakQuotingIsRefused) {
  CsvOptions o;
  o.delimiter = '"';
  Outcome out = csv("a\"b\n1\"2\n", cols({"a"}), o);
  EXPECT_EQ(out.end, errc::invalid_header);
  EXPECT_TRUE(out.rows.empty());
}

// --- RFC 4180 quoting -----------------------------------------------------------------------

TEST(CsvReader, QuotedCellHoldsDelimiters) {
  Outcome o = csv("nhs_number,family_name,given_name\n9990000018,\"Testperson, Jr\",\"A,B\"\n",
                  kPerson);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson, Jr", "A,B"}));
}

TEST(CsvReader, DoubledQuotesBecomeOneQuote) {
  Outcome o = csv(
      "nhs_number,family_name,given_name\n"
      "9990000018,\"O\"\"Testperson\",\"\"\"Al\"\"\"\n"
      "9990000026,\"\"\"\"\"\",\"\"\"\"\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "O\"Testperson", "\"Al\""}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "\"\"", "\""}));
}

TEST(CsvReader, QuotedCellHoldsLineBreaksAndRowNumbersCountRecords) {
  Outcome o = csv(
      "nhs_number,family_name,given_name\r\n"
      "9990000018,\"line one\r\nline two\",Alys\r\n"
      "9990000026,\"a\nb\n\nc\",Bryn\r\n"
      "9990000034,\"bare\rcr\",Cai\r\n",
      kPerson);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "line one\r\nline two", "Alys"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "a\nb\n\nc", "Bryn"}));
  EXPECT_EQ(o.rows[2], ok_row(4, {"9990000034", "bare\rcr", "Cai"}));
}

TEST(CsvReader, QuotedHeaderNames) {
  Outcome o = csv("\"nhs_number\",\"family_name\",\"given,name\"\n9990000018,Testperson,Alys\n",
                  kPerson);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson", std::nullopt}));
  EXPECT_EQ(o.ignored, std::vector<std::string>{"given,name"});
}

TEST(CsvReader, StrayQuotesAreLenient) {
  // a"b keeps its quote; "a"b reads as ab (text after the closing quote joins the cell).
  Outcome o = csv("nhs_number,family_name\n9990000018,O\"Brien\n9990000026,\"Ann\"e\n",
                  cols({"nhs_number", "family_name"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "O\"Brien"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Anne"}));
}

TEST(CsvReader, QuotedCellEndingTheInput) {
  Outcome o = csv("a,b\n1,\"two\"", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"1", "two"}));
}

// --- line ends and blank lines --------------------------------------------------------------

TEST(CsvReader, CrlfLineEnds) {
  Outcome o = csv("nhs_number,family_name\r\n9990000018,Testperson\r\n9990000026,Exampleson\r\n",
                  cols({"nhs_number", "family_name"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Exampleson"}));
}

TEST(CsvReader, BareCrEndsALine) {
  Outcome o = csv("nhs_number,family_name\r9990000018,Testperson\r9990000026,Exampleson",
                  cols({"nhs_number", "family_name"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Exampleson"}));
}

TEST(CsvReader, CrCrLfIsALineEndThenABlankLine) {
  Outcome o = csv("a\r\r\nx\ny\r\n", cols({"a"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(3, {"x"}));
  EXPECT_EQ(o.rows[1], ok_row(4, {"y"}));
}

TEST(CsvReader, BlankLinesAreSkippedButCounted) {
  Outcome o = csv("a,b\n\n1,2\r\n\r\n\n3,4\n\r\n\n", cols({"a", "b"}));
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], ok_row(3, {"1", "2"}));
  EXPECT_EQ(o.rows[1], ok_row(6, {"3", "4"}));
}

TEST(CsvReader, BlankLinesBeforeTheHeaderCount) {
  Outcome o = csv("\n\r\na,b\n1,2\n", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(4, {"1", "2"}));
}

TEST(CsvReader, LineOfSpacesIsARecordNotABlankLine) {
  Outcome o = csv("a,b\n   \n1,2\n", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::wrong_field_count));
  EXPECT_EQ(o.rows[1], ok_row(3, {"1", "2"}));
}

TEST(CsvReader, Utf8BomIsSkipped) {
  Outcome o = csv("\xEF\xBB\xBFnhs_number,family_name\n9990000018,Testperson\n",
                  cols({"nhs_number", "family_name"}, true));
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_TRUE(o.ignored.empty());
}

TEST(CsvReader, BomOnlyAtTheStartIsSpecial) {
  // A BOM later on is ordinary (valid UTF-8) text.
  Outcome o = csv("a\n\xEF\xBB\xBFx\n", cols({"a"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"\xEF\xBB\xBFx"}));
}

// --- header matching ------------------------------------------------------------------------

TEST(CsvReader, HeaderMatchIgnoresCaseAndSurroundingBlanks) {
  Outcome o = csv(" NHS_Number\t,\tFAMILY_NAME , Given_Name\n9990000018,Testperson,Alys\n",
                  kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson", "Alys"}));
}

TEST(CsvReader, CellsKeepTheirSpaces) {
  Outcome o = csv("a,b\n  x , y\t\n", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"  x ", " y\t"}));
}

TEST(CsvReader, ExtraColumnsAreIgnoredAndListed) {
  Outcome o = csv("nhs_number, Shoe Size ,family_name,notes\n9990000018,9,Testperson,\"x,y\"\n",
                  cols({"nhs_number", "family_name"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_EQ(o.ignored, (std::vector<std::string>{"Shoe Size", "notes"}));
}

TEST(CsvReader, MissingOptionalColumnIsAbsent) {
  Outcome o = csv("nhs_number,given_name\n9990000018,Alys\n", kPerson);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", std::nullopt, "Alys"}));
}

TEST(CsvReader, MissingRequiredColumnIsRefused) {
  std::vector<Column> c = kPerson;
  c[1].required = true;
  Outcome o = csv("nhs_number,given_name\n9990000018,Alys\n", c);
  EXPECT_EQ(o.end, errc::missing_column);
  EXPECT_EQ(o.failure.code, errc::missing_column);
  EXPECT_EQ(o.failure.row, 1u);
  EXPECT_EQ(o.failure.detail, "family_name");
  EXPECT_TRUE(o.rows.empty());
}

TEST(CsvReader, MissingRequiredColumnIsFoundOnTheHeaderRow) {
  Outcome o = csv("\n\nnhs_number\n9990000018\n", cols({"nhs_number", "family_name"}, true));
  EXPECT_EQ(o.end, errc::missing_column);
  EXPECT_EQ(o.failure.row, 3u);
}

TEST(CsvReader, DuplicateColumnIsRefused) {
  Outcome o = csv("nhs_number,Family_Name,given_name, family_name \n9990000018,A,B,C\n", kPerson);
  EXPECT_EQ(o.end, errc::duplicate_column);
  EXPECT_EQ(o.failure.row, 1u);
  EXPECT_EQ(o.failure.detail, "family_name (columns 2 and 4)");
  EXPECT_TRUE(o.rows.empty());
}

// A header cell the schema does not know may be anything (a row of identifiers, when an export
// forgets its header): the detail gives positions only.
TEST(CsvReader, DuplicateIgnoredColumnIsRefusedByPosition) {
  Outcome o = csv("nhs_number,notes,NOTES\n9990000018,a,b\n", cols({"nhs_number"}));
  EXPECT_EQ(o.end, errc::duplicate_column);
  EXPECT_EQ(o.failure.detail, "columns 2 and 3");
}

TEST(CsvReader, UnnamedHeaderCellsAreNeitherListedNorDuplicates) {
  Outcome o = csv("nhs_number,, \t,family_name,,\n9990000018,a,b,Testperson,,\n",
                  cols({"nhs_number", "family_name"}));
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_TRUE(o.ignored.empty());
}

// --- extract-level errors -------------------------------------------------------------------

TEST(CsvReader, EmptyFile) {
  for (const std::string in : {"", "\xEF\xBB\xBF", "\n", "\r\n\r\n\n", "\xEF\xBB\xBF\n\n", "\r"}) {
    Outcome o = csv(in, kPerson);
    EXPECT_EQ(o.end, errc::empty_file) << testing::PrintToString(in);
    EXPECT_EQ(o.failure.code, errc::empty_file);
    EXPECT_EQ(o.failure.row, 0u);
    EXPECT_TRUE(o.rows.empty());
  }
}

TEST(CsvReader, HeaderWithoutData) {
  for (const std::string in : {"nhs_number", "nhs_number\n", "nhs_number\r\n\r\n\n\n"}) {
    Outcome o = csv(in, kPerson);
    EXPECT_EQ(o.end, errc::no_data_rows) << testing::PrintToString(in);
    EXPECT_EQ(o.failure.code, errc::no_data_rows);
    EXPECT_TRUE(o.rows.empty());
  }
}

TEST(CsvReader, UnterminatedQuoteReportsWhereTheRecordStarted) {
  Outcome o = csv("a,b\n1,2\n3,\"open\n4,5\n6,7\n", cols({"a", "b"}));
  EXPECT_EQ(o.end, errc::unterminated_quote);
  EXPECT_EQ(o.failure.row, 3u);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"1", "2"}));
}

TEST(CsvReader, UnterminatedQuoteAfterADoubledQuote) {
  Outcome o = csv("a\n\"x\"\"", cols({"a"}));
  EXPECT_EQ(o.end, errc::unterminated_quote);
  EXPECT_EQ(o.failure.row, 2u);
}

TEST(CsvReader, UnterminatedQuoteEvenPastTheRowLimit) {
  CsvOptions opt;
  opt.limits.max_row_bytes = 16;
  Outcome o = csv("a\n\"" + std::string(100, 'x') + "\n", cols({"a"}), opt);
  EXPECT_EQ(o.end, errc::unterminated_quote);
  EXPECT_EQ(o.failure.row, 2u);
  EXPECT_TRUE(o.rows.empty());
}

TEST(CsvReader, UnterminatedQuoteInHeader) {
  Outcome o = csv("a,\"b\n", cols({"a"}));
  EXPECT_EQ(o.end, errc::unterminated_quote);
  EXPECT_EQ(o.failure.row, 1u);
}

TEST(CsvReader, NulByteIsBinaryData) {
  const std::string nul(1, '\0');
  struct Case {
    std::string in;
    std::uint64_t row;
    std::size_t good_rows;
  };
  const Case cases[] = {
      {"a,b\n1,2\n3," + nul + "\n", 3, 1},            // unquoted
      {"a,b\n1,2\n\n3,\"x" + nul + "y\"\n", 4, 1},    // quoted, after a blank line
      {"a,b\n1,2" + nul + "\n", 2, 0},                 // ignored column
      {"a" + nul + ",b\n1,2\n", 1, 0},                 // header
      {nul, 1, 0},
      {"a,b\n1,\"x\"" + nul + "\n", 2, 0},             // right after a closing quote
  };
  for (const auto& c : cases) {
    Outcome o = csv(c.in, cols({"a"}));
    EXPECT_EQ(o.end, errc::binary_data) << testing::PrintToString(c.in);
    EXPECT_EQ(o.failure.row, c.row) << testing::PrintToString(c.in);
    EXPECT_EQ(o.rows.size(), c.good_rows) << testing::PrintToString(c.in);
  }
}

TEST(CsvReader, NulInsideARejectedRowIsStillFound) {
  CsvOptions opt;
  opt.limits.max_row_bytes = 8;
  Outcome o = csv("a\n" + std::string(50, 'x') + std::string(1, '\0') + "\n", cols({"a"}), opt);
  EXPECT_EQ(o.end, errc::binary_data);
  EXPECT_EQ(o.failure.row, 2u);
}

TEST(CsvReader, HeaderThatIsNotUtf8) {
  Outcome o = csv("nhs_number,fam\xE9_name\n9990000018,x\n", cols({"nhs_number"}));
  EXPECT_EQ(o.end, errc::invalid_header);
  EXPECT_EQ(o.failure.row, 1u);
  EXPECT_EQ(o.failure.detail.find('\xE9'), std::string::npos);
}

TEST(CsvReader, HeaderOverTheLimits) {
  CsvOptions opt;
  opt.limits.max_row_bytes = 20;
  Outcome o = csv("aaaaaaaaaa,bbbbbbbbbb,c\n1,2,3\n", cols({"a"}), opt);
  EXPECT_EQ(o.end, errc::invalid_header);
  EXPECT_EQ(o.failure.row, 1u);

  opt = {};
  opt.limits.max_field_bytes = 4;
  o = csv("a,bbbbb\n1,2\n", cols({"a"}), opt);
  EXPECT_EQ(o.end, errc::invalid_header);

  opt = {};
  opt.limits.max_fields = 2;
  o = csv("a,b,c\n1,2,3\n", cols({"a"}), opt);
  EXPECT_EQ(o.end, errc::invalid_header);
}

TEST(CsvReader, ErrorDetailsNeverHoldCellContent) {
  // The bad value sits in a data row; whatever is reported must not quote it.
  const std::string secret = "9990000018";
  std::vector<std::string> inputs = {
      "a\n\"" + secret,                     // unterminated quote
      "a\n" + secret + std::string(1, '\0'),  // binary
  };
  for (const auto& in : inputs) {
    Outcome o = csv(in, cols({"a"}));
    EXPECT_NE(o.end, errc::ok);
    EXPECT_EQ(o.failure.detail.find(secret), std::string::npos);
  }
}

// --- row-level errors and resynchronisation -------------------------------------------------

TEST(CsvReader, WrongFieldCountThenCarriesOn) {
  Outcome o = csv("a,b,c\n1,2\n1,2,3,4\n1,2,3\n\"x,\",\"y\n\",z,extra\n7,8,9\n",
                  cols({"a", "b", "c"}));
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 5u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::wrong_field_count));
  EXPECT_EQ(o.rows[1], bad_row(3, errc::wrong_field_count));
  EXPECT_EQ(o.rows[2], ok_row(4, {"1", "2", "3"}));
  EXPECT_EQ(o.rows[3], bad_row(5, errc::wrong_field_count));
  EXPECT_EQ(o.rows[4], ok_row(6, {"7", "8", "9"}));
}

TEST(CsvReader, FieldTooLongNamesTheColumnAndResumes) {
  CsvOptions opt;
  opt.limits.max_field_bytes = 10;
  Outcome o = csv(
      "nhs_number,name,notes\n"  // header names are held to the cell limit too
      "9990000018,Testperson,x\n"
      "9990000026,Exampleson-Longer,x\n"                // mapped column 1
      "9990000034,\"Quoted \"\"name\"\"\",x\n"          // quoted: 13 bytes after unquoting
      "9990000042,Short,this note is long\n"            // ignored column: row as a whole
      "9990000050,\"exactly10!\",0123456789\n",         // at the limit is fine
      cols({"nhs_number", "name"}), opt);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 5u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
  EXPECT_EQ(o.rows[1], bad_row(3, errc::field_too_long, 1));
  EXPECT_EQ(o.rows[2], bad_row(4, errc::field_too_long, 1));
  EXPECT_EQ(o.rows[3], bad_row(5, errc::field_too_long, npos));
  EXPECT_EQ(o.rows[4], ok_row(6, {"9990000050", "exactly10!"}));
}

TEST(CsvReader, RowTooLongResynchronisesEvenAcrossQuotedLineBreaks) {
  CsvOptions opt;
  opt.limits.max_row_bytes = 24;
  Outcome o = csv(
      "a,b\n"
      "1,2\n"
      "1,\"" + std::string(60, 'x') + "\nstill, the same \"\"cell\"\"\n" + std::string(40, 'y') +
          "\"\n"
          "3,4\n"
          "123456789012,12345678901\n"   // 24 bytes: at the limit
          "123456789012,123456789012\n"  // 25 bytes
          "5,6",
      cols({"a", "b"}), opt);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 6u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"1", "2"}));
  EXPECT_EQ(o.rows[1], bad_row(3, errc::row_too_long));
  EXPECT_EQ(o.rows[2], ok_row(4, {"3", "4"}));
  EXPECT_EQ(o.rows[3], ok_row(5, {"123456789012", "12345678901"}));
  EXPECT_EQ(o.rows[4], bad_row(6, errc::row_too_long));
  EXPECT_EQ(o.rows[5], ok_row(7, {"5", "6"}));
}

TEST(CsvReader, HugeRowIsSkippedNotBuffered) {
  // Far larger than the read buffer; the row limit is the default (1 MiB).
  const std::string huge(3 << 20, 'z');
  const std::string in = "a,b\n1," + huge + "\n2,3\n";
  CsvOptions opt;
  opt.limits.max_field_bytes = 8 << 20;  // so that the row limit (1 MiB) is the one hit
  Outcome o = read_csv(test::whole(in), cols({"a", "b"}), opt);
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::row_too_long));
  EXPECT_EQ(o.rows[1], ok_row(3, {"2", "3"}));
  // With the default cell limit the cell is the first thing over.
  o = read_csv(test::whole(in), cols({"a", "b"}), {});
  ASSERT_EQ(o.rows.size(), 2u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::field_too_long, 1));
}

TEST(CsvReader, TooManyFields) {
  CsvOptions opt;
  opt.limits.max_fields = 3;
  Outcome o = csv("a,b\n1,2,3,4,5\n1,2,3\n1,2\n", cols({"a", "b"}), opt);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::too_many_fields));
  EXPECT_EQ(o.rows[1], bad_row(3, errc::wrong_field_count));  // within the limit, wrong count
  EXPECT_EQ(o.rows[2], ok_row(4, {"1", "2"}));
}

TEST(CsvReader, InvalidUtf8NamesTheColumn) {
  Outcome o = csv(
      "nhs_number,family_name,notes\n"
      "9990000018,Caf\xE9,x\n"           // Latin-1 byte in a mapped cell
      "9990000026,Caf\xC3\xA9,\xFF\n"    // ignored column is not checked
      "9990000034,\"\xC3\",x\n",          // truncated sequence in a quoted cell
      cols({"nhs_number", "family_name"}));
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::invalid_utf8, 1));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Caf\xC3\xA9"}));
  EXPECT_EQ(o.rows[2], bad_row(4, errc::invalid_utf8, 1));
}

TEST(CsvReader, InvalidUtf8Cases) {
  const char* bad[] = {
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, three bytes
      "\xF0\x80\x80\xAF",  // overlong, four bytes
      "\xED\xA0\x80",      // UTF-16 surrogate D800
      "\xED\xBF\xBF",      // surrogate DFFF
      "ab\xE2\x82",        // truncated euro sign
      "\xF4\x90\x80\x80",  // U+110000
      "\xF5\x80\x80\x80",  // lead byte past F4
      "\x80",              // lone continuation byte
      "\xC3\x28",          // bad continuation
  };
  for (const char* b : bad) {
    Outcome o = csv(std::string("a,b\n1,") + b + "\n2,ok\n", cols({"a", "b"}));
    ASSERT_EQ(o.rows.size(), 2u) << testing::PrintToString(std::string(b));
    EXPECT_EQ(o.rows[0], bad_row(2, errc::invalid_utf8, 1)) << testing::PrintToString(std::string(b));
    EXPECT_EQ(o.rows[1], ok_row(3, {"2", "ok"}));
  }
  Outcome o = csv("a\n\xF0\x9F\x98\x80 \xE2\x82\xAC \xF4\x8F\xBF\xBF\n", cols({"a"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"\xF0\x9F\x98\x80 \xE2\x82\xAC \xF4\x8F\xBF\xBF"}));
}

TEST(CsvReader, WrongFieldCountOutranksInvalidUtf8) {
  Outcome o = csv("a,b\n\xFF\n", cols({"a", "b"}));
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], bad_row(2, errc::wrong_field_count));
}

TEST(CsvReader, RecordIsResetBetweenRows) {
  CsvOptions opt;
  opt.limits.max_field_bytes = 5;
  auto reader = make_csv_reader(test::whole("a,b\n1,2\nbad,toolong\n3,4\n"), cols({"a", "b"}), opt);
  Record rec;
  ASSERT_TRUE(reader->next(rec).value());
  EXPECT_EQ(rec.cell(0), "1");
  ASSERT_TRUE(reader->next(rec).value());
  EXPECT_EQ(rec.error, errc::field_too_long);
  EXPECT_EQ(rec.error_column, 1u);
  ASSERT_TRUE(reader->next(rec).value());
  EXPECT_EQ(rec.error, errc::ok);
  EXPECT_EQ(rec.error_column, npos);
  EXPECT_EQ(rec.row, 4u);
  EXPECT_EQ(rec.cell(0), "3");
  EXPECT_EQ(rec.cell(1), "4");
  EXPECT_FALSE(reader->next(rec).value());
  EXPECT_FALSE(reader->next(rec).value());
}

// --- Windows-1252 ---------------------------------------------------------------------------

TEST(CsvReader, Windows1252IsTranscoded) {
  CsvOptions opt;
  opt.encoding = Encoding::windows_1252;
  Outcome o = csv(
      "nhs_number,pr\xE9nom,notes\n"
      "9990000018,Ren\xE9\x65,\x80\x35\n"
      "9990000026,\"Zo\xEB \x93Q\x94\",\x81\x8D\x8F\x90\x9D\n"
      "9990000034,plain,\xFF\n",
      cols({"nhs_number", "Pr\xC3\xA9nom", "notes"}), opt);
  EXPECT_EQ(o.end, errc::ok);
  ASSERT_EQ(o.rows.size(), 3u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Ren\xC3\xA9\x65", "\xE2\x82\xAC" "5"}));
  EXPECT_EQ(o.rows[1], ok_row(3, {"9990000026", "Zo\xC3\xAB \xE2\x80\x9CQ\xE2\x80\x9D",
                                  "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}));
  EXPECT_EQ(o.rows[2], ok_row(4, {"9990000034", "plain", "\xC3\xBF"}));
}

TEST(CsvReader, Windows1252IgnoredHeaderNamesAreUtf8) {
  CsvOptions opt;
  opt.encoding = Encoding::windows_1252;
  Outcome o = csv("a,caf\xE9\n1,2\n", cols({"a"}), opt);
  EXPECT_EQ(o.ignored, std::vector<std::string>{"caf\xC3\xA9"});
}

TEST(CsvReader, FindsEveryCellBoundaryWhateverItsOffset) {
  // The unquoted scan tests eight bytes at a time; put delimiters and line ends at every
  // offset, next to multi-byte text, and check each cell.
  std::string in = "a,b\n";
  std::vector<Row> expect;
  std::uint64_t row = 2;
  for (std::size_t x = 0; x < 19; ++x) {
    for (std::size_t y = 0; y < 11; ++y) {
      std::string a(x, 'x');
      if (x % 3 == 1) a += "\xC3\xA9";
      if (x % 4 == 2) a = "\xE2\x82\xAC" + a;
      const std::string b(y, 'y');
      in += a + "," + b + (y % 2 ? "\r\n" : "\n");
      expect.push_back(ok_row(row++, {a, b}));
    }
  }
  Outcome o = csv(in, cols({"a", "b"}));
  EXPECT_EQ(o.end, errc::ok);
  EXPECT_EQ(o.rows, expect);
}

// --- chunking and failures ------------------------------------------------------------------

std::string mixed_input(int rows = 300) {
  std::string s = "\xEF\xBB\xBF NHS_Number ,family_name,\"given name\",extra\r\n";
  const char* names[] = {"Testperson", "O\"\"Example", "Smith, Jr", "Caf\xC3\xA9", "Line\r\nBreak"};
  for (int i = 0; i < rows; ++i) {
    const std::string nhs = "99900" + std::to_string(10000 + i * 7);
    const char* name = names[i % 5];
    const bool quote = i % 5 != 0 && i % 5 != 3;
    switch (i % 11) {
      case 3: s += "\r\n"; break;                                  // blank line
      case 5: s += nhs + ",too,few\r\n"; continue;                 // wrong count
      case 7: s += nhs + ",\"" + std::string(80, 'q') + "\",x,y\n"; continue;
      case 9: s += nhs + ",bad\xE9utf8,x,y\r"; continue;           // bare CR line end
      default: break;
    }
    s += nhs + "," + (quote ? "\"" + std::string(name) + "\"" : std::string(name)) + ",G" +
         std::to_string(i) + ",\"e,\"\"x\"\"\"\r\n";
  }
  s += "\n\n";
  return s;
}

TEST(CsvReader, ChunkingNeverChangesTheResult) {
  const std::string in = mixed_input();
  const auto c = cols({"nhs_number", "family_name", "given name"});
  CsvOptions opt;
  opt.limits.max_field_bytes = 64;
  Outcome ref = read_csv(test::whole(in), c, opt);
  ASSERT_EQ(ref.end, errc::ok);
  ASSERT_GT(ref.rows.size(), 250u);
  std::size_t good = 0, bad = 0;
  for (const auto& r : ref.rows) (r.error == errc::ok ? good : bad)++;
  EXPECT_GT(good, 150u);
  EXPECT_GT(bad, 60u);
  EXPECT_EQ(ref.rows[0], ok_row(2, {"9990010000", "Testperson", "G0"}));
  EXPECT_EQ(ref.rows[1], ok_row(3, {"9990010007", "O\"Example", "G1"}));

  auto check = [&](Outcome o, const std::string& how) {
    EXPECT_EQ(o.end, ref.end) << how;
    EXPECT_EQ(o.rows, ref.rows) << how;
    EXPECT_EQ(o.ignored, ref.ignored) << how;
    EXPECT_EQ(o.bytes_read, in.size()) << how;
  };
  check(read_csv(test::bytewise(in), c, opt), "bytewise");
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    check(read_csv(test::random_chunks(in, seed, 1 + seed * 13), c, opt),
          "seed " + std::to_string(seed));
  }
  check(read_csv(memory_source(in), c, opt), "memory_source");
}

TEST(CsvReader, ReadFailureAtAnyPointIsAnIoError) {
  const std::string in = mixed_input(60);
  const auto c = cols({"nhs_number", "family_name", "given name"});
  constexpr std::size_t kChunk = 5;
  auto counted = std::make_unique<test::ScriptedSource>(in, [] { return kChunk; });
  const test::ScriptedSource* counter = counted.get();
  auto reader = make_csv_reader(std::move(counted), c, {});  // keeps the source alive
  Outcome ref = test::drain(*reader);
  ASSERT_EQ(ref.end, errc::ok);
  ASSERT_GT(ref.rows.size(), 50u);
  const std::size_t reads = counter->calls();
  ASSERT_GT(reads, in.size() / kChunk);
  for (std::size_t n = 0; n <= reads; ++n) {
    auto src = std::make_unique<test::ScriptedSource>(in, [] { return kChunk; }, n);
    Outcome o = read_csv(std::move(src), c, {});
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

// Produces a large extract on the fly, so neither the test nor the reader ever holds it.
class GeneratedCsv final : public ByteSource {
 public:
  explicit GeneratedCsv(std::size_t rows) : rows_(rows) { pending_ = "nhs_number,name,notes\n"; }
  result<std::size_t> read(std::span<char> buf) override {
    pending_.erase(0, off_);
    off_ = 0;
    while (pending_.size() < buf.size() && made_ < rows_) {
      pending_ += "99900" + std::to_string(10000 + made_ % 90000) + ",\"Name " +
                  std::to_string(made_) + "\",plain note\n";
      ++made_;
    }
    const std::size_t n = std::min(buf.size(), pending_.size() - off_);
    std::copy_n(pending_.data() + off_, n, buf.data());
    off_ += n;
    total_ += n;
    return n;
  }
  std::uint64_t total() const { return total_; }

 private:
  std::size_t rows_, made_ = 0, off_ = 0;
  std::uint64_t total_ = 0;
  std::string pending_;
};

TEST(CsvReader, StreamsALargeExtract) {
  constexpr std::size_t kRows = 250'000;
  auto gen = std::make_unique<GeneratedCsv>(kRows);
  GeneratedCsv* raw = gen.get();
  auto reader = make_csv_reader(std::move(gen), cols({"nhs_number", "name"}), {});
  Record rec;
  std::size_t n = 0;
  while (reader->next(rec).value()) {
    ASSERT_EQ(rec.error, errc::ok);
    ASSERT_EQ(rec.row, n + 2);
    ++n;
  }
  EXPECT_EQ(n, kRows);
  EXPECT_EQ(reader->bytes_read(), raw->total());
  EXPECT_GT(raw->total(), 8u << 20);
  EXPECT_EQ(reader->ignored_columns(), std::vector<std::string>{"notes"});
}

TEST(CsvReader, ReadsFromAFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("svd_adapters_csv_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".csv");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string in = "nhs_number,family_name\n9990000018,Testperson\n";
    std::fwrite(in.data(), 1, in.size(), f);
    std::fclose(f);
  }
  auto src = open_file_source(path);
  ASSERT_TRUE(src);
  Outcome o = read_csv(std::move(*src), cols({"nhs_number", "family_name"}), {});
  std::filesystem::remove(path);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0], ok_row(2, {"9990000018", "Testperson"}));
}

}  // namespace
}  // namespace svd::adapters
