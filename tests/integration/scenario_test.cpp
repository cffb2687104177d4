// The force's view end to end, on a multi-agency scenario with known answers (`svd-synth
// scenario`): three partners' real gateways (`svdgw forward`, each extract at its week's delivery
// time) → mosquitto with mutual TLS → svdhub → `svdhub report`. The report must find exactly the
// planted linked series, the repeat attenders and the missed week, hide every small count, name
// no token outside the person-level file, and render in a browser; the same store copied into
// PostgreSQL must give the same report.
//
// Time: a gateway stamps an extract with the moment it arrives, and weeks of them cannot wait for
// real weeks to pass; each `svdgw forward` runs under libfaketime (the Debian `faketime` package)
// with its clock set to the delivery time the scenario gives, weeks ahead of now so that the test
// PKI's certificates are valid then. The broker and svdhub run on real time.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glob.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <boost/json.hpp>

#include "config/temporal.h"
#include "gateway_hub.h"
#include "tests/support/chromium.h"
#include "tests/support/csv_text.h"
#include "tests/support/eventually.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

extern char** environ;

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using test_support::Process;
using test_support::eventually;
using test_support::read_file;

// The partner that sends each feed.
const std::map<std::string, std::string> kPartnerOf{{"ed-attendances", "northgate-ed"},
                                                    {"school-exclusions", "northgate-council"},
                                                    {"death-reports", "northgate-coroner"}};

std::string faketime_library() {
  glob_t g{};
  std::string found;
  if (::glob("/usr/lib/*/faketime/libfaketimeMT.so.1", 0, nullptr, &g) == 0 && g.gl_pathc > 0) found = g.gl_pathv[0];
  ::globfree(&g);
  return found;
}

// This process's environment with the clock of the child set to `at` ("YYYY-MM-DD HH:MM:SS", UTC)
// and running on from there. Monotonic clocks stay real (timeouts); a sanitizer runtime accepts
// libfaketime loaded before it.
std::vector<std::string> environment_at(const std::string& at) {
  std::vector<std::string> env;
  std::string asan = "ASAN_OPTIONS=verify_asan_link_order=0";
  for (char** e = environ; *e; ++e) {
    const std::string v = *e;
    if (v.starts_with("ASAN_OPTIONS=")) asan = v + ":verify_asan_link_order=0";
    else if (!v.starts_with("LD_PRELOAD=") && !v.starts_with("FAKETIME") && !v.starts_with("TZ=")) env.push_back(v);
  }
  env.push_back(asan);
  env.push_back("LD_PRELOAD=" + faketime_library());
  env.push_back("FAKETIME=@" + at);
  env.push_back("FAKETIME_DONT_FAKE_MONOTONIC=1");
  env.push_back("NO_FAKE_STAT=1");
  env.push_back("TZ=UTC");
  return env;
}

std::string day_text(std::int64_t day) { return config::to_iso(config::civil_from_days(day)); }

class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(faketime_library().empty()) << "libfaketime is missing: deploy/install-deps.sh installs faketime";
    broker_ = std::make_unique<TestBroker>(
        PkiOptions{.gateways = {"northgate-ed", "northgate-council", "northgate-coroner"}});

    // Week 0 starts on the second Monday from now: every delivery is in the future.
    const std::int64_t today =
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now().time_since_epoch()).count();
    start_ = today + 7 + ((4 - (today + 7)) % 7 + 7) % 7;  // day 0 (1970-01-01) was a Thursday
    const auto synth = test_support::run({SVD_SYNTH, "scenario", (dir() / "scenario").string(), "--start",
                                          day_text(start_)});
    ASSERT_EQ(synth.exit_code, 0) << synth.err;
    manifest_ = json::parse(read_file(dir() / "scenario" / "scenario.json")).as_object();
    weeks_ = manifest_.at("weeks").to_number<std::int64_t>();

    for (const char* key : {"k1", "k2"}) {
      const auto keygen =
          test_support::run({SVD_SVDGW, "keys", "generate", "--out", (dir() / (std::string(key) + ".key")).string()});
      ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    }
    for (const auto& [feed, partner] : kPartnerOf) write_gateway_config(partner, feed);
    write_hub_config();
    const auto log = dir() / "svdhub.log";
    hub_ = std::make_unique<Process>(
        std::vector<std::string>{SVD_SVDHUB, "run", "--config", (dir() / "svdhub.toml").string()}, log);
    ASSERT_TRUE(eventually([&] { return read_file(log).find("subscribed to") != std::string::npos; }))
        << read_file(log);
  }

  const fs::path& dir() const { return dir_.path(); }
  static std::string schema(const std::string& feed) {
    return std::string(SVD_SOURCE_DIR) + "/deploy/examples/schemas/" + feed + ".json";
  }
  std::string at(std::int64_t day, const char* time) const { return day_text(day) + "T" + time + "Z"; }

  // One key until the middle of week 3, the next from its Monday: week 3's extracts carry both
  // tokens, which is what links the persons seen before the rotation to those seen after it.
  void write_gateway_config(const std::string& partner, const std::string& feed) {
    const TestPki& pki = broker_->pki();
    std::ofstream(dir() / (partner + ".toml"))
        << "[gateway]\npartner = \"" << partner << "\"\nstate_dir = \"" << (dir() / partner).string() << "\"\n"
        << "[[linkage_key]]\nid = \"k1\"\nfile = \"" << (dir() / "k1.key").string() << "\"\nuntil = "
        << at(start_ + 3 * 7 + 5, "00:00:00") << "\n"
        << "[[linkage_key]]\nid = \"k2\"\nfile = \"" << (dir() / "k2.key").string() << "\"\nfrom = "
        << at(start_ + 3 * 7, "00:00:00") << "\n"
        << "[hub]\nhost = \"localhost\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(partner).string() << "\"\nkey = \"" << pki.client_key(partner).string()
        << "\"\n[[feed]]\nid = \"" << feed << "\"\nschema = \"" << schema(feed) << "\"\nformat = \"csv\"\nencoding = \""
        << (feed == "school-exclusions" ? "windows-1252" : "utf-8") << "\"\nreject_threshold = 0.01\n";
  }

  // Each partner is expected weekly by Friday 17:00; the report looks for linked series with
  // the defaults (24 months, cells under 5 hidden).
  void write_hub_config() {
    const TestPki& pki = broker_->pki();
    std::ofstream out(dir() / "svdhub.toml");
    out << "[store]\ndatabase = \"" << (dir() / "hub.db").string() << "\"\n"
        << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(pki.hub_id()).string() << "\"\nkey = \""
        << pki.client_key(pki.hub_id()).string() << "\"\nclient_id = \"" << pki.hub_id() << "\"\n";
    for (const char* feed : {"ed-attendances", "school-exclusions", "death-reports"})
      out << "[[feed]]\nid = \"" << feed << "\"\nschema = \"" << schema(feed) << "\"\n";
    for (const auto& [feed, partner] : kPartnerOf)
      out << "[[partner]]\nid = \"" << partner << "\"\nfeeds = [\"" << feed << "\"]\n[partner.schedule]\n"
          << feed << " = { every = \"week\", day = \"friday\", by = \"17:00\" }\n";
    out << "[report]\ndeath_feed = \"death-reports\"\nviolence_feeds = [\"ed-attendances\"]\n";
  }

  // `svdhub report` of the scenario's weeks, as of the Monday after them.
  test_support::RunResult report(const fs::path& config, const fs::path& out) {
    return test_support::run({SVD_SVDHUB, "report", "--config", config.string(), "--from", day_text(start_), "--to",
                              day_text(start_ + 7 * weeks_ - 1), "--out", out.string(), "--person-level"},
                             {.env = environment_at(day_text(start_ + 7 * weeks_) + " 08:00:00")});
  }

  TempDir dir_{"svd-scenario"};
  std::unique_ptr<TestBroker> broker_;
  std::unique_ptr<Process> hub_;
  std::int64_t start_ = 0, weeks_ = 0;
  json::object manifest_;
};

TEST_F(ScenarioTest, TheReportFindsWhatWasPlantedAndHidesSmallNumbers) {
  // Every delivery, in time order, by its partner's gateway with the clock at its delivery time.
  std::vector<std::pair<std::string, const json::object*>> deliveries;
  for (const auto& d : manifest_.at("deliveries").as_array())
    deliveries.emplace_back(std::string(d.at("deliver_at").as_string()), &d.as_object());
  std::stable_sort(deliveries.begin(), deliveries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::int64_t rows = 0;
  for (const auto& [when, d] : deliveries) {
    const std::string feed(d->at("feed").as_string()), partner = kPartnerOf.at(feed);
    std::string fake = when.substr(0, 10) + " " + when.substr(11, 8);
    const auto forward = test_support::run(
        {SVD_SVDGW, "forward", "--config", (dir() / (partner + ".toml")).string(), "--feed", feed, "--quiet",
         (dir() / "scenario" / std::string(d->at("file").as_string())).string()},
        {.timeout = std::chrono::seconds(120), .env = environment_at(fake)});
    ASSERT_EQ(forward.exit_code, 0) << feed << " week " << d->at("week") << ": " << forward.out << forward.err;
    rows += d->at("rows").to_number<std::int64_t>();
  }
  std::int64_t stored = 0;
  for (const char* table : {"records_ed_attendances", "records_school_exclusions", "records_death_reports"})
    stored += query_int(dir() / "hub.db", std::string("SELECT count(*) FROM ") + table);
  EXPECT_EQ(stored, rows);
  // The rotation in week 3 linked old tokens to new ones.
  EXPECT_GT(query_int(dir() / "hub.db", "SELECT count(*) FROM token_links"), 0);

  const fs::path out = dir() / "report";
  const auto made = report(dir() / "svdhub.toml", out);
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  const json::object& expected = manifest_.at("expected").as_object();
  const json::object& linked = expected.at("linked").as_object();

  // Sharing: every period of every partner received, but the council's week 2, which its week-3
  // extract ended 6 days 19 hours after the deadline.
  const std::string missed_deadline = at(start_ + 2 * 7 + 4, "17:00:00");
  int received = 0, late = 0;
  for (const auto& row : test_support::csv_records(read_file(out / "sharing.csv"))) {
    if (row[0] == "partner") continue;
    ASSERT_EQ(row.size(), 11u);
    if (row[0] == "northgate-council" && row[4] == missed_deadline) {
      EXPECT_EQ(row[5], "late");
      EXPECT_EQ(row[10], std::to_string(6 * 86400 + 19 * 3600));
      ++late;
    } else {
      EXPECT_EQ(row[5], "received") << row[0] << " " << row[4];
      ++received;
    }
  }
  EXPECT_EQ(late, 1);
  EXPECT_EQ(received, 3 * weeks_ - 1);

  // Linked series, person by person from the person-level file: who saw each person before death.
  const std::string persons_csv = read_file(out / "person-level-PERSONAL-DATA.csv");
  struct stat st{};
  ASSERT_EQ(::stat((out / "person-level-PERSONAL-DATA.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::map<std::string, std::set<std::string>> seen_before;  // person -> feeds
  std::set<std::string> repeat, linked_deaths;
  for (const auto& row : test_support::csv_records(persons_csv)) {
    if (row[0] == "person") continue;
    ASSERT_EQ(row.size(), 9u);
    EXPECT_TRUE(row[7].starts_with("k") || row[8].starts_with("k")) << "a person-level row without a token";
    if (row[1] == "repeat_contact") repeat.insert(row[0]);
    else if (row[2] == "death") linked_deaths.insert(row[0]);
    else seen_before[row[0]].insert(row[3]);
  }
  std::map<std::string, std::int64_t> combinations;
  for (const auto& [person, feeds] : seen_before) {
    std::string label;
    for (const std::string& f : feeds) label += (label.empty() ? "" : "+") + f;
    ++combinations[label];
  }
  EXPECT_EQ(combinations["ed-attendances"], linked.at("ed-attendances").to_number<std::int64_t>());
  EXPECT_EQ(combinations["school-exclusions"], linked.at("school-exclusions").to_number<std::int64_t>());
  EXPECT_EQ(combinations["ed-attendances+school-exclusions"],
            linked.at("ed-attendances+school-exclusions").to_number<std::int64_t>());
  EXPECT_EQ(combinations.size(), 3u);
  EXPECT_EQ(linked_deaths.size(), seen_before.size());
  EXPECT_EQ(static_cast<std::int64_t>(repeat.size()), expected.at("repeat_contact").to_number<std::int64_t>());

  // The same in the aggregate table, whose row totals are all large enough to show.
  const auto series = test_support::csv_records(read_file(out / "linked_series.csv"));
  std::map<std::string, std::string> totals;
  for (const auto& row : series) totals[row[0]] = row.back();
  EXPECT_EQ(totals["ed-attendances"], std::to_string(linked.at("ed-attendances").to_number<std::int64_t>()));
  EXPECT_EQ(totals["school-exclusions"], std::to_string(linked.at("school-exclusions").to_number<std::int64_t>()));
  EXPECT_EQ(totals["ed-attendances + school-exclusions"],
            std::to_string(linked.at("ed-attendances+school-exclusions").to_number<std::int64_t>()));
  EXPECT_EQ(totals["no other agency"], std::to_string(linked.at("none").to_number<std::int64_t>()));
  EXPECT_EQ(totals["Total"], std::to_string(expected.at("deaths").to_number<std::int64_t>()));
  const auto contact = test_support::csv_records(read_file(out / "repeat_contact.csv"));
  EXPECT_EQ(contact.back().back(), std::to_string(expected.at("repeat_contact").to_number<std::int64_t>()));

  // Small numbers: in every aggregate table, no count from 1 to 4, some hidden, and no row or
  // column with exactly one hidden entry (it could be worked out from the total).
  int hidden = 0;
  for (const char* file : {"linked_series.csv", "repeat_contact.csv", "area_profile.csv"}) {
    const auto table = test_support::csv_records(read_file(out / file));
    const std::size_t first = std::string(file) == "area_profile.csv" ? 2 : 1;
    std::map<std::string, std::vector<std::vector<std::string>>> by_feed;  // area_profile: one table per feed
    for (std::size_t r = 1; r < table.size(); ++r) by_feed[first == 2 ? table[r][0] : ""].push_back(table[r]);
    for (const auto& [feed, grid] : by_feed) {
      const auto is_hidden = [](const std::string& v) { return v == "<5" || v == "*"; };
      std::vector<int> per_column(grid.front().size(), 0);
      for (const auto& row : grid) {
        int in_row = 0;
        for (std::size_t c = first; c < row.size(); ++c) {
          if (is_hidden(row[c])) {
            ++in_row;
            ++per_column[c];
            ++hidden;
          } else {
            const long v = std::stol(row[c]);
            EXPECT_TRUE(v == 0 || v >= 5) << file << " " << feed << ": " << v;
          }
        }
        EXPECT_NE(in_row, 1) << file << " " << feed << " row " << row[first - 1];
      }
      for (std::size_t c = first; c < per_column.size(); ++c) EXPECT_NE(per_column[c], 1) << file << " column " << c;
    }
  }
  EXPECT_GT(hidden, 0) << "the scenario has small cells; none was hidden";

  // Tokens only in the person-level file; no raw identifier anywhere the force's staff look.
  const std::string page = read_file(out / "index.html");
  std::string everything = page + read_file(dir() / "svdhub.log");
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().extension() == ".csv" && entry.path().filename() != "person-level-PERSONAL-DATA.csv") {
      const std::string text = read_file(entry.path());
      EXPECT_EQ(text.find("k1:"), std::string::npos) << entry.path();
      EXPECT_EQ(text.find("k2:"), std::string::npos) << entry.path();
      everything += text;
    }
  EXPECT_EQ(page.find("k1:"), std::string::npos);
  EXPECT_EQ(page.find("k2:"), std::string::npos);
  const auto death_rows = test_support::csv_records(read_file(dir() / "scenario" / "death-reports" / "week-1.csv"));
  ASSERT_GT(death_rows.size(), 1u);
  for (std::size_t r = 1; r < death_rows.size(); ++r) {
    EXPECT_EQ(everything.find(death_rows[r][2]), std::string::npos) << "a surname of row " << r;
    if (!death_rows[r][1].empty()) {
      EXPECT_EQ((everything + persons_csv).find(death_rows[r][1]), std::string::npos) << "an NHS number of row " << r;
    }
  }

  // As a person sees it: rendered, not blank, every section there.
  const auto rendered = test_support::render_in_chromium(out / "index.html", dir());
  ASSERT_TRUE(rendered.error.empty()) << rendered.error;
  EXPECT_GT(rendered.colours, 32);
  EXPECT_GT(rendered.ink, 0.02);
  const std::string text = test_support::page_text(rendered.dom);
  for (const char* heading : {"Sharing compliance", "Who did not share, and for how long", "Gateways",
                              "Linked series: deaths, and who saw the person before", "Repeat contact", "Area profile",
                              "ed-attendances + school-exclusions", "no other agency"})
    EXPECT_NE(text.find(heading), std::string::npos) << heading;

  // The same store in PostgreSQL gives the same report, byte for byte but the time it was made.
  hub_.reset();
  test_support::PostgresServer pg;
  pg.create_database("hub");
  std::string pg_config = read_file(dir() / "svdhub.toml");
  pg_config.replace(pg_config.find("[store]\n"), 8,
                    "[store]\nbackend = \"postgresql\"\nconninfo = \"" + pg.conninfo("hub") +
                        "\"\npassword_file = \"" + pg.password_file().string() + "\"\n");
  std::ofstream(dir() / "svdhub-pg.toml") << pg_config;
  const auto copied = test_support::run({SVD_SVDHUB, "store", "copy", "--config", (dir() / "svdhub-pg.toml").string(),
                                         "--from", "sqlite:" + (dir() / "hub.db").string(), "--to",
                                         "postgresql:" + pg.conninfo("hub")});
  ASSERT_EQ(copied.exit_code, 0) << copied.out << copied.err;
  const fs::path pg_out = dir() / "report-pg";
  const auto pg_made = report(dir() / "svdhub-pg.toml", pg_out);
  ASSERT_EQ(pg_made.exit_code, 0) << pg_made.out << pg_made.err;
  for (const char* file : {"sharing.csv", "linked_series.csv", "repeat_contact.csv", "area_profile.csv"})
    EXPECT_EQ(read_file(pg_out / file), read_file(out / file)) << file;
  // The person-level rows come in each store's own order; the rows themselves, numbers included,
  // are the same.
  const auto sorted_lines = [](const std::string& csv_text) {
    std::vector<std::string> lines;
    std::istringstream in(csv_text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  const auto pg_persons = sorted_lines(read_file(pg_out / "person-level-PERSONAL-DATA.csv"));
  EXPECT_EQ(pg_persons.size(), sorted_lines(persons_csv).size());
  EXPECT_TRUE(pg_persons == sorted_lines(persons_csv)) << "the person-level rows differ between the backends";
}

}  // namespace
}  // namespace svd::testing
