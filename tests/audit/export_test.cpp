// `svdgw audit export` as an auditor runs it: the real binary over an audit log written with the
// real AuditLog and event builders, at fixed times around the range's edges.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <vector>

#include "audit/audit_log.h"
#include "audit/events.h"
#include "base/hex.h"
#include "tests/apps/svdgw/cli_fixture.h"

namespace svd::audit::testing {
namespace {

using namespace svdgw::testing;  // CliFixture: the svdgw binary on a temporary config

namespace ev = audit::events;
namespace json = boost::json;

// RFC 4180: quoted fields may hold commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, in_field = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = in_field = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(field));
      field.clear();
      in_field = false;
      rows.emplace_back();
      ++i;
    } else {
      field += c;
      in_field = true;
    }
  }
  if (in_field || !field.empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    out.push_back(text.substr(at, nl - at));
    at = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

audit::Event at(audit::Event e, const std::string& time) {
  e.time = time;
  return e;
}

const std::string kSha(64, 'a'), kSha2(64, 'b');

class AuditExportTest : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    std::string toml = read_file(config());
    const std::string from = "state_dir = \"/var/lib/svdgw\"";
    ASSERT_NE(toml.find(from), std::string::npos);
    toml.replace(toml.find(from), from.size(), "state_dir = \"" + (dir_ / "state").string() + "\"");
    write_file(config(), toml);
    fs::create_directories(dir_ / "state");

    ev::Processed p;
    p.extract_id = "death-reports-0123456789abcdef";
    p.feed = "death-reports";
    p.schema = "death-reports";
    p.sha256 = kSha;
    p.key_ids = {"k2026a"};
    p.rows = 12;
    p.valid = 10;
    p.rejected = 2;
    p.rejected_by_code = {{"invalid_date", 1}, {"missing_required", 1}};
    p.batches = 1;
    p.records = 10;
    events_ = {
        at(ev::gateway_started("0.1.0", "northgate-partnership", kSha2, {{"death-reports", kSha}}), "2026-11-01T23:59:59.999Z"),
        at(ev::feed_watched("school-exclusions", "northgate-partnership", "weekly by Friday 17:00",
                            "2026-10-01T00:00:00.000Z"),
           "2026-11-02T00:00:00.000Z"),
        at(ev::extract_received("northgate-death-export", p.extract_id, "death-reports", 4096, kSha),
           "2026-11-03T10:00:00.000Z"),
        at(ev::extract_finished(p), "2026-11-03T10:00:01.250Z"),
        at(ev::upload_refused("northgate-school-export", "school-exclusions", 403, "client_not_allowed"),
           "2026-11-04T12:00:00.000Z"),
        at(ev::batch_published("death-reports-0123456789abcdef-1", p.extract_id, "death-reports", 1, 10, 1),
           "2026-11-05T00:00:00.000Z"),
        at(ev::key_loaded("k2026a", "linkage", "0a1b 2c3d"), "2026-11-05T01:00:00.000Z"),
        at(ev::nil_return("northgate-school-export", "school-exclusions-fedcba9876543210", "school-exclusions",
                          "2026-W45", kSha2),
           "2026-11-08T23:59:59.999Z"),
        at(ev::batch_acknowledged("death-reports-0123456789abcdef-1", p.extract_id, "death-reports", 1, 10,
                                  "accepted"),
           "2026-11-09T00:00:00.000Z"),
    };
    auto log = audit::AuditLog::open(dir_ / "state" / "audit.db", "northgate-partnership");
    ASSERT_TRUE(log) << log.error().message();
    for (const auto& e : events_) {
      auto seq = (*log)->append(e);
      ASSERT_TRUE(seq) << e.action << ": " << seq.error().message();
    }
    audit::Hash chain{};
    for (std::size_t i = 0; i < events_.size(); ++i) {
      leaf_.push_back(audit::leaf_hash(i + 1, events_[i]));
      chain = audit::chain_next(chain, leaf_.back());
      chain_.push_back(chain);
    }
  }

  RunResult export_events(const std::string& args) {
    return svdgw("audit export --config '" + config().string() + "' " + args);
  }

  std::vector<audit::Event> events_;  // seq i + 1
  std::vector<audit::Hash> leaf_, chain_;
};

TEST_F(AuditExportTest, CsvHasTheHeaderAndEveryFieldOfTheRangeExactly) {
  RunResult r = export_events("--from 2026-11-02 --to 2026-11-08 --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find("\r\n")),
            "seq,time,actor,action,object,feed,details,payload_sha256,leaf_hash,chain_hash");
  const auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), 8u) << r.out;  // the header, then seq 2 to 8: the first and last instants are in
  const std::vector<std::string> feeds = {"school-exclusions", "death-reports", "death-reports", "school-exclusions",
                                          "death-reports",     "",              "school-exclusions"};
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const std::size_t seq = i + 1;
    const audit::Event& e = events_[seq - 1];
    ASSERT_EQ(rows[i].size(), 10u) << "row " << i;
    EXPECT_EQ(rows[i][0], std::to_string(seq));
    EXPECT_EQ(rows[i][1], e.time);
    EXPECT_EQ(rows[i][2], e.actor);
    EXPECT_EQ(rows[i][3], e.action);
    EXPECT_EQ(rows[i][4], e.object);
    EXPECT_EQ(rows[i][5], feeds[i - 1]) << e.action;
    EXPECT_EQ(rows[i][6], e.details);  // the exact text the chain hashed
    EXPECT_EQ(rows[i][7], e.payload_sha256);
    EXPECT_EQ(rows[i][8], to_hex(leaf_[seq - 1]));
    EXPECT_EQ(rows[i][9], to_hex(chain_[seq - 1]));
  }
  // An auditor re-checks a row from the CSV alone.
  audit::Event back{rows[3][1], rows[3][2], rows[3][3], rows[3][4], rows[3][6], rows[3][7]};
  EXPECT_EQ(to_hex(audit::leaf_hash(4, back)), rows[3][8]);
  // Details are always quoted, since they hold commas and quotes.
  EXPECT_NE(r.out.find(",\"{\"\"feed\"\":\"\"death-reports\"\""), std::string::npos) << r.out;
}

TEST_F(AuditExportTest, JsonLinesRoundTripToTheSameEventsAndHashes) {
  RunResult r = export_events("--from 2026-11-01 --to 2026-11-30 --format jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), events_.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json::object o = json::parse(rows[i]).as_object();
    const std::vector<std::string> keys = {"seq",     "time",    "actor",          "action",    "object",
                                           "feed",    "details", "payload_sha256", "leaf_hash", "chain_hash"};
    ASSERT_EQ(o.size(), keys.size());
    std::size_t k = 0;
    for (const auto& kv : o) EXPECT_EQ(std::string(kv.key()), keys[k++]) << rows[i];
    EXPECT_EQ(o.at("seq").to_number<std::uint64_t>(), i + 1);
    ASSERT_TRUE(o.at("details").is_object()) << rows[i];
    audit::Event back{std::string(o.at("time").as_string()),   std::string(o.at("actor").as_string()),
                      std::string(o.at("action").as_string()), std::string(o.at("object").as_string()),
                      json::serialize(o.at("details")),        std::string(o.at("payload_sha256").as_string())};
    EXPECT_EQ(back, events_[i]);
    EXPECT_EQ(std::string(o.at("leaf_hash").as_string()), to_hex(audit::leaf_hash(i + 1, back)));
    EXPECT_EQ(std::string(o.at("chain_hash").as_string()), to_hex(chain_[i]));
  }
  // No feed is null, not "": a tool tells "no feed" from a feed's name.
  EXPECT_TRUE(json::parse(rows[0]).as_object().at("feed").is_null());
  EXPECT_EQ(json::parse(rows[6]).as_object().at("feed"), json::value(nullptr));
  EXPECT_EQ(json::parse(rows[3]).as_object().at("details").at("rejected_by_code").at("invalid_date"), 1);
}

TEST_F(AuditExportTest, FeedFilterKeepsOnlyThatFeedsEvents) {
  auto seqs = [](const std::string& out) {
    std::vector<std::uint64_t> s;
    for (const auto& line : lines(out)) s.push_back(json::parse(line).at("seq").to_number<std::uint64_t>());
    return s;
  };
  RunResult school = export_events("--from 2026-11-01 --to 2026-11-30 --format jsonl --feed school-exclusions");
  ASSERT_EQ(school.exit_code, 0) << school.err;
  EXPECT_EQ(seqs(school.out), (std::vector<std::uint64_t>{2, 5, 8}));  // feed.watched by its object too
  RunResult death = export_events("--from 2026-11-01 --to 2026-11-30 --format jsonl --feed death-reports");
  ASSERT_EQ(death.exit_code, 0) << death.err;
  EXPECT_EQ(seqs(death.out), (std::vector<std::uint64_t>{3, 4, 6, 9}));
  RunResult none = export_events("--from 2026-11-01 --to 2026-11-30 --format csv --feed ed-assaults");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(parse_csv(none.out).size(), 1u);  // the header alone
}

TEST_F(AuditExportTest, ToIsInclusiveOfItsWholeUtcDayAndFromStartsAtMidnight) {
  auto seqs = [&](const std::string& from, const std::string& to) {
    RunResult r = export_events("--from " + from + " --to " + to + " --format csv");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> s;
    const auto rows = parse_csv(r.out);
    for (std::size_t i = 1; i < rows.size(); ++i) s.push_back(rows[i][0]);
    return s;
  };
  EXPECT_EQ(seqs("2026-11-08", "2026-11-08"), (std::vector<std::string>{"8"}));  // 23:59:59.999 is in
  EXPECT_EQ(seqs("2026-11-09", "2026-11-09"), (std::vector<std::string>{"9"}));  // 00:00:00.000 next day
  EXPECT_EQ(seqs("2026-11-01", "2026-11-01"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(seqs("2026-11-02", "2026-11-02"), (std::vector<std::string>{"2"}));
  EXPECT_EQ(seqs("2026-11-06", "2026-11-07"), (std::vector<std::string>{}));
}

TEST_F(AuditExportTest, OutFileIsWrittenWholeWithMode0600AndMatchesStdout) {
  const fs::path out = dir_ / "export.csv";
  RunResult to_file = export_events("--from 2026-11-01 --to 2026-11-30 --format csv --out '" + out.string() + "'");
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_NE(to_file.err.find("wrote 9 event(s)"), std::string::npos) << to_file.err;
  EXPECT_FALSE(exists(dir_ / "export.csv.part"));
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  RunResult to_stdout = export_events("--from 2026-11-01 --to 2026-11-30 --format csv");
  EXPECT_EQ(read_file(out), to_stdout.out);

  RunResult no_dir = export_events("--from 2026-11-01 --to 2026-11-30 --format csv --out '" +
                                   (dir_ / "missing" / "x.csv").string() + "'");
  EXPECT_EQ(no_dir.exit_code, 1);
  EXPECT_NE(no_dir.err.find("cannot create"), std::string::npos) << no_dir.err;
}

TEST_F(AuditExportTest, BadArgumentsExit2WithAClearMessage) {
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"--from 2026-02-30 --to 2026-03-01 --format csv", "--from \"2026-02-30\" is not a date"},
      {"--from 2026-11-01 --to 30/11/2026 --format csv", "--to \"30/11/2026\" is not a date"},
      {"--from 2026-11-30 --to 2026-11-01 --format csv", "--from 2026-11-30 is after --to 2026-11-01"},
      {"--from 2026-11-01 --to 2026-11-30 --format xml", "--format"},
      {"--from 2026-11-01 --format csv", "--to"},
      {"--from 2026-11-01 --to 2026-11-30 --format csv --feed 'Death/Reports'", "is not a feed id"},
  };
  for (const auto& c : cases) {
    RunResult r = export_events(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args;
  }
  RunResult no_sub = svdgw("audit");
  EXPECT_EQ(no_sub.exit_code, 2) << no_sub.err;
}

TEST_F(AuditExportTest, MissingConfigOrLogExit1) {
  RunResult no_config =
      svdgw("audit export --config '" + (dir_ / "nope.toml").string() + "' --from 2026-11-01 --to 2026-11-30 --format csv");
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("config file not found"), std::string::npos) << no_config.err;
  fs::remove_all(dir_ / "state");
  RunResult no_log = export_events("--from 2026-11-01 --to 2026-11-30 --format csv");
  EXPECT_EQ(no_log.exit_code, 1);
  EXPECT_NE(no_log.err.find("audit.db: cannot open the audit log"), std::string::npos) << no_log.err;
}

}  // namespace
}  // namespace svd::audit::testing
