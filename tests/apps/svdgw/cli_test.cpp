// The svdgw command line as users meet it: exit codes, messages, and files it writes.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "tests/apps/svdgw/cli_fixture.h"

namespace svd::svdgw::testing {
namespace {

using CliTest = CliFixture;

TEST_F(CliTest, CheckConfigSummarisesAGoodConfig) {
  RunResult r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": OK"), std::string::npos);
  EXPECT_NE(r.out.find("partner     northgate-partnership"), std::string::npos);
  EXPECT_NE(r.out.find("feed school-exclusions: csv, windows-1252"), std::string::npos);
  EXPECT_NE(r.out.find("fingerprint "), std::string::npos);
}

// An upload API without a CRL is allowed but said: a revoked certificate would still upload.
TEST_F(CliTest, CheckConfigWarnsOfAnUploadApiWithoutACrl) {
  const std::string base = read_file(config());
  const std::string http = "[http]\nport = 8443\ncert = \"a.crt\"\nkey = \"a.key\"\nclient_ca = \"ca.crt\"\n";
  write_file(config(), base + http);
  RunResult r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("warning     [http] has no crl"), std::string::npos) << r.out;
  write_file(config(), base + http + "crl = \"crl.pem\"\n");
  r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("has no crl"), std::string::npos) << r.out;
}

TEST_F(CliTest, CheckConfigListsEveryProblemWithItsLine) {
  std::string toml = read_file(config());
  const std::size_t threshold_at = toml.find("reject_threshold = 0.05");
  const std::size_t format_at = toml.find("format = \"csv\"");
  ASSERT_NE(threshold_at, std::string::npos);
  ASSERT_NE(format_at, std::string::npos);
  auto line_of = [&](std::size_t at) { return std::to_string(std::count(toml.begin(), toml.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1); };
  const std::string threshold_line = line_of(threshold_at), format_line = line_of(format_at);
  toml.replace(threshold_at, 23, "reject_threshold = 5");
  toml.replace(toml.find("format = \"csv\""), 14, "format = \"xlsx\"");
  write_file(config(), toml);
  RunResult r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("svdgw.toml:" + threshold_line + ":20: reject_threshold"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("svdgw.toml:" + format_line + ":10: format"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reject_threshold must be a fraction"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("format must be \"csv\" or \"jsonl\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 problem(s) found"), std::string::npos) << r.err;
}

TEST_F(CliTest, CheckConfigRefusesAKeyOthersCanRead) {
  fs::permissions(dir_ / "etc" / "linkage.key", fs::perms::group_read, fs::perm_options::add);
  RunResult r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("readable by group or others"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[key_file_permissions]"), std::string::npos) << r.err;
}

TEST_F(CliTest, CheckConfigExplainsAMissingKey) {
  fs::remove(dir_ / "etc" / "linkage.key");
  RunResult r = svdgw("check-config --config '" + config().string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("svdgw keys generate --out"), std::string::npos) << r.err;
}

TEST_F(CliTest, KeysGenerateAndFingerprint) {
  const fs::path key = dir_ / "new.key";
  RunResult g = svdgw("keys generate --out '" + key.string() + "'");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  RunResult f = svdgw("keys fingerprint --key '" + key.string() + "'");
  EXPECT_EQ(f.exit_code, 0);
  EXPECT_NE(g.out.find(f.out.substr(0, f.out.size() - 1)), std::string::npos);  // the same value both times
  EXPECT_EQ(f.out.size(), 40u);                                                // 8 × 4 hex, 7 spaces, newline
  RunResult again = svdgw("keys generate --out '" + key.string() + "'");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("refusing to overwrite"), std::string::npos);
  // The published test key, through the config: a value every site can reproduce.
  RunResult test_key = svdgw("keys fingerprint --config '" + config().string() + "'");
  EXPECT_EQ(test_key.exit_code, 0) << test_key.err;
  EXPECT_NE(test_key.out, f.out);
}

// The device key: generation prints the fingerprint that device-fingerprint then reads from
// either file, and that an auditor can recompute with standard tools.
TEST_F(CliTest, KeysGenerateDeviceAndDeviceFingerprint) {
  const fs::path key = dir_ / "device.key", pub = dir_ / "device.pub";
  RunResult g = svdgw("keys generate-device --out '" + key.string() + "'");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(fs::is_regular_file(pub));
  EXPECT_NE(g.out.find(key.string()), std::string::npos) << g.out;
  EXPECT_NE(g.out.find(pub.string()), std::string::npos) << g.out;

  RunResult from_pub = svdgw("keys device-fingerprint '" + pub.string() + "'");
  ASSERT_EQ(from_pub.exit_code, 0) << from_pub.err;
  EXPECT_EQ(from_pub.out.size(), 40u) << from_pub.out;  // 8 × 4 hex, 7 spaces, newline
  EXPECT_NE(g.out.find("fingerprint " + from_pub.out), std::string::npos) << g.out;
  RunResult from_key = svdgw("keys device-fingerprint '" + key.string() + "'");
  EXPECT_EQ(from_key.exit_code, 0) << from_key.err;
  EXPECT_EQ(from_key.out, from_pub.out);

  // SHA-256 over the label, a NUL and the raw key (the last 32 bytes of the DER public key).
  // The standard tools: openssl for the DER key, sha256sum for the digest (no shell).
  const auto der = test_support::run({"openssl", "pkey", "-pubin", "-in", pub.string(), "-outform", "DER"});
  ASSERT_EQ(der.exit_code, 0) << der.err;
  ASSERT_GE(der.out.size(), 32u);
  const fs::path message = dir_ / "fingerprint-input.bin";
  write_file(message, std::string("svd-gateway signing key fingerprint v1") + '\0' + der.out.substr(der.out.size() - 32));
  const auto sum = test_support::run({"sha256sum", message.string()});
  ASSERT_EQ(sum.exit_code, 0) << sum.err;
  const std::string hex = sum.out.substr(0, 32);
  std::string expected;
  for (std::size_t i = 0; i < 32; i += 4) expected += (i ? " " : "") + hex.substr(i, 4);
  EXPECT_EQ(from_pub.out, expected + "\n");

  // Either file in the way: nothing is written, and the message names it.
  const std::string key_before = read_file(key), pub_before = read_file(pub);
  RunResult again = svdgw("keys generate-device --out '" + key.string() + "'");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("refusing to overwrite"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("nothing was written"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(key), key_before);
  EXPECT_EQ(read_file(pub), pub_before);
  fs::remove(key);
  RunResult public_in_the_way = svdgw("keys generate-device --out '" + key.string() + "'");
  EXPECT_EQ(public_in_the_way.exit_code, 1);
  EXPECT_NE(public_in_the_way.err.find(pub.string() + ": "), std::string::npos) << public_in_the_way.err;
  EXPECT_FALSE(fs::exists(key));
  EXPECT_EQ(read_file(pub), pub_before);
}

TEST_F(CliTest, KeysGenerateDevicePublicFileName) {
  // Without a .key extension, ".pub" is appended.
  RunResult plain = svdgw("keys generate-device --out '" + (dir_ / "signing").string() + "'");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "signing.pub"));

  fs::create_directory(dir_ / "public");
  RunResult named = svdgw("keys generate-device --out '" + (dir_ / "gw.key").string() + "' --public '" +
                          (dir_ / "public" / "gw.pem").string() + "'");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "public" / "gw.pem"));
  EXPECT_FALSE(fs::exists(dir_ / "gw.pub"));

  RunResult same = svdgw("keys generate-device --out '" + (dir_ / "x.key").string() + "' --public '" +
                         (dir_ / "x.key").string() + "'");
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_NE(same.err.find("--public must name another file"), std::string::npos) << same.err;
  EXPECT_FALSE(fs::exists(dir_ / "x.key"));

  RunResult no_dir = svdgw("keys generate-device --out '" + (dir_ / "missing" / "d.key").string() + "'");
  EXPECT_EQ(no_dir.exit_code, 1);
  EXPECT_NE(no_dir.err.find("cannot create or write"), std::string::npos) << no_dir.err;
}

TEST_F(CliTest, KeysDeviceFingerprintExplainsWhatIsWrong) {
  // The linkage key is a key file, but not a device key.
  RunResult linkage = svdgw("keys device-fingerprint '" + (dir_ / "etc" / "linkage.key").string() + "'");
  EXPECT_EQ(linkage.exit_code, 1);
  EXPECT_NE(linkage.err.find("not a PEM Ed25519 key"), std::string::npos) << linkage.err;
  EXPECT_NE(linkage.err.find("[key_file_malformed]"), std::string::npos) << linkage.err;

  RunResult missing = svdgw("keys device-fingerprint '" + (dir_ / "none.pub").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("[key_file_unreadable]"), std::string::npos) << missing.err;

  const fs::path key = dir_ / "device.key";
  ASSERT_EQ(svdgw("keys generate-device --out '" + key.string() + "'").exit_code, 0);
  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  RunResult open_key = svdgw("keys device-fingerprint '" + key.string() + "'");
  EXPECT_EQ(open_key.exit_code, 1);
  EXPECT_NE(open_key.err.find("[key_file_permissions]"), std::string::npos) << open_key.err;

  EXPECT_EQ(svdgw("keys device-fingerprint").exit_code, 1);  // the file is required
}

TEST_F(CliTest, ProcessUsageErrorsExitOne) {
  const fs::path input = dir_ / "x.csv";
  write_file(input, "a\n1\n");
  EXPECT_EQ(svdgw("process --config '" + config().string() + "' --feed nope '" + input.string() + "' --out o").exit_code, 1);
  RunResult unknown = svdgw("process --config '" + config().string() + "' --feed nope '" + input.string() +
                            "' --out '" + (dir_ / "o").string() + "'");
  EXPECT_NE(unknown.err.find("unknown feed \"nope\""), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("death-reports"), std::string::npos) << unknown.err;
  EXPECT_EQ(svdgw("process --config '" + config().string() + "' --feed death-reports '" + (dir_ / "absent.csv").string() +
                  "' --out o")
                .exit_code,
            1);
  EXPECT_EQ(svdgw("process --feed death-reports x.csv").exit_code, 1);  // --config and --out missing
  EXPECT_EQ(svdgw("frobnicate").exit_code, 1);
  RunResult help = svdgw("process --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit status: 0 processed, 2 extract refused"), std::string::npos);
}

TEST_F(CliTest, RefusedExtractsExitTwoWithTheReason) {
  const std::string header =
      "report_id,nhs_number,surname,forename,date_of_birth,sex,postcode,date_of_death,place_of_death_type,"
      "cause_category,reporting_agency\n";
  const std::string row = "DR-0001,,Quillfeather,Ovelia,1950-04-03,F,,2024-03-05,home,natural,nhs\n";
  const std::pair<std::string, const char*> cases[] = {
      {"", "empty_file"},
      {header, "no_data_rows"},
      {"report_id,surname\nDR-0001,Quillfeather\n", "missing_column"},
      {header + row + "DR-0002,\"unterminated,x\n", "unterminated_quote"},
      {header + row + std::string("DR-0003,\0,x\n", 12), "binary_data"},
      {"report_id," + header + row, "duplicate_column"},
  };
  int n = 0;
  for (const auto& [content, code] : cases) {
    SCOPED_TRACE(code);
    const fs::path input = dir_ / ("in" + std::to_string(n++) + ".csv");
    write_file(input, content);
    const fs::path out = dir_ / "out";
    RunResult r = process("death-reports", input, out);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const std::string report = read_file(out / "report.json");
    EXPECT_NE(report.find(std::string("\"code\": \"") + code + "\""), std::string::npos) << report;
    EXPECT_FALSE(fs::exists(out / "records.jsonl"));
  }
}

// The shipped ambulance feed shares assaults only: every other call-out is filtered, counted
// apart, and neither leaves the site nor counts towards reject_threshold (5 %), whose share is of
// the rows the filter lets through.
TEST_F(CliTest, FilteredRowsStayOnSiteAndOutsideTheRejectThreshold) {
  const std::string header =
      "incident_ref,call_datetime,incident_category,dispatch_code,patient_age,patient_sex,incident_postcode,conveyed\n";
  std::string rows;
  for (int i = 0; i < 30; ++i)  // falls: filtered, some with a bad age that nobody validates
    rows += "INC" + std::to_string(100 + i) + ",2024-05-0" + std::to_string(1 + i % 9) + "T10:00:00,FALL,17A01," +
            (i % 3 ? "81" : "old") + ",F,LS1 4AP,Y\n";
  for (int i = 0; i < 19; ++i)
    rows += "INC" + std::to_string(200 + i) + ",2024-05-02T23:10:00,ASSAULT,04D01,23,M,LS6 1AN,Y\n";
  const std::string bad = "INC300,2024-05-03T01:00:00,STAB_GUNSHOT,27D01,-23,M,LS6 1AN,Y\n";

  // 1 rejected of 20 selected (5 %): within the threshold, although the falls' bad ages are not.
  const fs::path input = dir_ / "callouts.csv";
  write_file(input, header + rows + bad);
  RunResult r = process("ambulance-callouts", input, dir_ / "out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::string report = read_file(dir_ / "out" / "report.json");
  EXPECT_NE(report.find(R"("total": 50)"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("valid": 19)"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("rejected": 1)"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("filtered": 30)"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("invalid_age": 1)"), std::string::npos) << report;
  const std::string records = read_file(dir_ / "out" / "records.jsonl");
  EXPECT_EQ(std::count(records.begin(), records.end(), '\n'), 19);
  EXPECT_EQ(records.find("FALL"), std::string::npos);
  EXPECT_EQ(records.find("INC"), std::string::npos) << "the incident reference stays on the site";
  EXPECT_NE(records.find(R"({"call_datetime_hour":"2024-05-02T23:00","incident_category":"ASSAULT","call_reason":"assault_serious","patient_age_age_band":"20-24","patient_sex":"M","incident_district":"LS6","conveyed":true})"),
            std::string::npos)
      << records;

  // 2 of 21 selected (9.5 %): refused, though 2 of 51 rows in all would be under 5 %.
  write_file(input, header + rows + bad + "INC301,2024-05-03T02:00:00,ASSAULT,04X01,30,F,LS6 1AN,N\n");
  r = process("ambulance-callouts", input, dir_ / "out2");
  EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
  report = read_file(dir_ / "out2" / "report.json");
  EXPECT_NE(report.find("reject_threshold_exceeded"), std::string::npos) << report;
  EXPECT_NE(report.find("9.52 % of rows rejected"), std::string::npos) << report;
}

// The shipped school-exclusions feed counts, with min_group 5, the records whose age band,
// postcode sector, school and month fewer than five records of the extract share: a crafted
// extract with groups of 5, 3 and 1 has 4 such records in 2 groups. "warn" shares them and says
// so; "refuse" holds the extract back. Counts only: no value is named.
TEST_F(CliTest, SmallGroupsOfQuasiIdentifiersAreCountedWarnedOfOrRefused) {
  std::string csv = "record_id,surname,forename,date_of_birth,postcode,school_urn,exclusion_type,start_date,sessions,"
                    "reason_code,weapon_involved,notes\r\n";
  int id = 0;
  auto add = [&](int n, const char* dob, const char* postcode, const char* urn, const char* start) {
    for (int i = 0; i < n; ++i, ++id)
      csv += std::to_string(id + 1) + ",Quillfeather,Ovelia" + std::to_string(id) + "," + dob + "," + postcode + "," + urn +
             ",suspension," + start + ",2,PA,N,\r\n";
  };
  add(5, "03/04/2011", "LS6 1AN", "123456", "05/03/2024");  // 12-year-olds, LS6 1, March: five
  add(3, "03/04/2011", "LS6 2BQ", "123456", "05/03/2024");  // another sector: three
  add(1, "03/04/2008", "LS6 1AN", "123456", "05/03/2024");  // 15-19: one
  const fs::path input = dir_ / "exclusions.csv";
  write_file(input, csv);

  RunResult r = process("school-exclusions", input, dir_ / "out");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string report = read_file(dir_ / "out" / "report.json");
  for (const char* expected : {R"("min_group": 5)", R"("groups": 3)", R"("groups_below_min_group": 2)",
                               R"("records_in_groups_below_min_group": 4)", R"("counted": true)"})
    EXPECT_NE(report.find(expected), std::string::npos) << expected << "\n" << report;
  EXPECT_NE(report.find(R"("quasi_identifiers": ["age_band","postcode_sector","school_urn","start_month"])"),
            std::string::npos)
      << report;
  RunResult loud = svdgw("process --config '" + config().string() + "' --feed school-exclusions '" + input.string() +
                         "' --out '" + (dir_ / "out-loud").string() + "'");
  EXPECT_NE(loud.out.find("warning: 4 record(s) in 2 group(s) of fewer than 5"), std::string::npos) << loud.out;
  EXPECT_EQ(loud.out.find("LS6"), std::string::npos) << "counts only";

  std::string toml = read_file(config());
  toml.replace(toml.find("small_groups = \"warn\""), 21, "small_groups = \"refuse\"");
  write_file(config(), toml);
  r = process("school-exclusions", input, dir_ / "out-refused");
  EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
  const std::string refused = read_file(dir_ / "out-refused" / "report.json");
  EXPECT_NE(refused.find(R"("code": "small_groups")"), std::string::npos) << refused;
  EXPECT_NE(refused.find("4 record(s) in groups of fewer than 5"), std::string::npos) << refused;
  EXPECT_FALSE(fs::exists(dir_ / "out-refused" / "records.jsonl"));
}

TEST_F(CliTest, DiscloseStatesWhatLeavesInEachFormat) {
  RunResult md = svdgw("disclose --config '" + config().string() + "' --feed death-reports");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("### Feed `death-reports`"), std::string::npos) << md.out;
  EXPECT_EQ(md.out.find("school-exclusions"), std::string::npos) << "one feed only";
  const fs::path page = dir_ / "disclosure.html";
  RunResult html = svdgw("disclose --config '" + config().string() + "' --format html --out '" + page.string() + "'");
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_EQ(html.out, "");
  EXPECT_NE(read_file(page).find("<h2>Feed ambulance-callouts</h2>"), std::string::npos);
  RunResult js = svdgw("disclose --config '" + config().string() + "' --format json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_NE(js.out.find(R"("feed":"school-exclusions")"), std::string::npos);

  RunResult unknown = svdgw("disclose --config '" + config().string() + "' --feed nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no feed \"nope\""), std::string::npos) << unknown.err;
  EXPECT_NE(svdgw("disclose --config '" + config().string() + "' --format pdf").exit_code, 0);
  // It needs no key: an operator without the linkage key (a DPO's copy of the config) can run it.
  fs::remove(dir_ / "etc" / "linkage.key");
  EXPECT_EQ(svdgw("disclose --config '" + config().string() + "'").exit_code, 0);
}

TEST_F(CliTest, AnEarlierRunsOutputCannotPassForThisOne) {
  const fs::path out = dir_ / "out";
  fs::create_directories(out);
  write_file(out / "records.jsonl", "{\"stale\":true}\n");
  const fs::path input = dir_ / "empty.csv";
  write_file(input, "");
  EXPECT_EQ(process("death-reports", input, out).exit_code, 2);
  EXPECT_FALSE(fs::exists(out / "records.jsonl"));
}

TEST_F(CliTest, SummaryOnStdoutAndNoProgressWhenNotATerminal) {
  const fs::path out = dir_ / "out";
  RunResult r = svdgw("process --config '" + config().string() + "' --feed ed-assaults '" + std::string(SVD_EXAMPLES_DIR) +
                      "/extracts/ed-assaults-sample.csv' --out '" + out.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("processed: feed ed-assaults"), std::string::npos);
  EXPECT_NE(r.out.find("rows: 1200 total"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");  // progress is for terminals only
  EXPECT_EQ(fs::status(out / "report.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace
}  // namespace svd::svdgw::testing
