// Linkage-key rotation in the running daemon: `svdgw run` with the real upload API, mosquitto
// with mutual TLS and svdhub. A SIGHUP adds the next key with an overlap window a few seconds
// ahead; extracts received before, during and after the overlap reach the hub with the tokens of
// the keys in force at their received time, with no restart, and the audit log records the keys.
// A new key that does not load is refused as a whole and the keys in use stay.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "base/time.h"
#include "daemon_fixture.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

std::string iso_utc(std::time_t t) { return utc_iso(static_cast<std::int64_t>(t)); }

std::time_t parse_iso_utc(const std::string& s) {
  const auto t = parse_utc_iso(s);
  EXPECT_TRUE(t) << s;
  return t ? Clock::to_time_t(*t) : 0;
}

struct HubRow {
  std::string report_id, nhs_token, person_token;  // "" for null
};

// The hub's stored death reports of one extract, read-only: as stored, or through the view that
// resolves every token to the newest key's.
std::vector<HubRow> hub_rows(const fs::path& db, const std::string& extract_id,
                             const std::string& table = "records_death_reports") {
  std::vector<HubRow> rows;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* s = nullptr;
    const std::string sql = "SELECT report_id, nhs_number_token, person_token FROM " + table + " WHERE _extract_id = ?1";
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, extract_id.c_str(), -1, SQLITE_TRANSIENT);
      auto text = [&](int i) {
        const unsigned char* t = sqlite3_column_text(s, i);
        return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
      };
      while (sqlite3_step(s) == SQLITE_ROW) rows.push_back({text(0), text(1), text(2)});
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return rows;
}

// Every row of the audit log's events with this action and object: their details (JSON text).
std::vector<std::string> audit_details(const fs::path& db, const std::string& action, const std::string& object) {
  std::vector<std::string> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT details FROM events WHERE action = ?1 AND object = ?2 ORDER BY seq", -1, &s,
                           nullptr) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, action.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(s, 2, object.c_str(), -1, SQLITE_TRANSIENT);
      while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return out;
}

class KeyRotationTest : public DaemonHarness {
 protected:
  fs::path audit_db() const { return dir() / "state" / "audit.db"; }
  fs::path next_key() const { return dir() / "linkage-k2.key"; }

  // The daemon's config with the single [linkage_key] k1 replaced by `keys`.
  std::string config_with_keys(const std::string& keys) const {
    static const std::regex single(R"re(\[linkage_key\]\nfile = "[^"]*"\nid = "k1"\n)re");
    const std::string text = config_text();
    std::smatch m;
    if (!std::regex_search(text, m, single)) {
      ADD_FAILURE() << "no [linkage_key] k1 in " << text;
      return text;
    }
    return m.prefix().str() + keys + m.suffix().str();
  }

  // k1 (the fixture's key) until `until`, k2 from `from`.
  std::string rotation(std::time_t from, std::time_t until) const {
    return "[[linkage_key]]\nid = \"k1\"\nfile = \"" + (dir() / "linkage.key").string() + "\"\nuntil = " +
           iso_utc(until) + "\n[[linkage_key]]\nid = \"k2\"\nfile = \"" + next_key().string() + "\"\nfrom = " +
           iso_utc(from) + "\n";
  }

  // Sends SIGHUP and waits until the audit log has one more `action` event (config.reloaded or
  // config.reload_refused) than before.
  void sighup_and_wait_for(const std::string& action) {
    const auto count = [&] {
      return query_int(audit_db(), "SELECT count(*) FROM events WHERE action = '" + action + "'");
    };
    const auto before = count();
    daemon_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return count() > before; })) << "no " << action << " after SIGHUP" << logs();
  }

  // `base` with header cell `n` in upper case: the same records (headers match ignoring case),
  // other bytes, hence another extract.
  fs::path variant(const fs::path& base, int n) {
    std::string text = read_file(base);
    std::size_t at = 0;
    for (int i = 0; i < n; ++i) at = text.find(',', at) + 1;
    for (; at < text.size() && text[at] != ',' && text[at] != '\n'; ++at)
      text[at] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[at])));
    const fs::path p = dir() / ("deaths-" + std::to_string(n) + ".csv");
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  // The audit thread moves events into the chain a moment after they happen: waits (bounded)
  // until there are `n` of them, and returns them.
  std::vector<std::string> wait_for_audit(const std::string& action, const std::string& object, std::size_t n) {
    std::vector<std::string> found;
    eventually([&] { return (found = audit_details(audit_db(), action, object)).size() >= n; });
    return found;
  }

  struct Sent {
    std::string id;
    std::time_t received = 0;
    std::int64_t valid = 0;
  };

  // Uploads as the ICB's export job and waits until the extract is processed.
  Sent send(const fs::path& file, const std::string& name) {
    auto r = upload(file, "death-reports", name, kIcbClient);
    EXPECT_EQ(r.status, 201) << r.body << r.err << logs();
    Sent s;
    s.id = extract_id_of(r.body);
    const std::string done = wait_for_status(s.id, R"("state":"processed")", 30s, kIcbClient);
    s.received = parse_iso_utc(find_group(done, R"re("received_at":"([^"]+)")re"));
    s.valid = valid_rows_of(done);
    return s;
  }

  // Waits until the hub holds `n` records of the extract.
  std::vector<HubRow> rows_at_hub(const Sent& s) {
    std::vector<HubRow> rows;
    eventually([&] { return static_cast<std::int64_t>((rows = hub_rows(hub_db(), s.id)).size()) >= s.valid; });
    EXPECT_EQ(static_cast<std::int64_t>(rows.size()), s.valid) << logs();
    return rows;
  }

  // The keys' windows are wall-clock times that the real daemon compares with each extract's
  // received time: waiting for the clock to pass a window's edge is the behaviour under test (the
  // daemon has no clock a test could move), not a wait for something to happen.
  static void sleep_until(Clock::time_point t) {
    if (t > Clock::now()) std::this_thread::sleep_for(t - Clock::now());
  }
};

// Every token of `rows` (null ones aside) has exactly the shape `pattern`; returns how many.
std::size_t check_tokens(const std::vector<HubRow>& rows, const std::string& pattern, const std::string& what) {
  const std::regex re(pattern);
  std::size_t n = 0;
  for (const auto& r : rows)
    for (const std::string* t : {&r.nhs_token, &r.person_token}) {
      if (t->empty()) continue;
      ++n;
      EXPECT_TRUE(std::regex_match(*t, re)) << what << ": " << *t << " is not " << pattern;
    }
  return n;
}

TEST_F(KeyRotationTest, RecordsCarryTheKeysInForceAtTheirReceivedTimeAndSighupAddsTheNextKey) {
  start_daemon();
  const fs::path base = extract(120, 31, "death-reports");
  const std::string one_k1 = "k1:[0-9a-f]{32}", one_k2 = "k2:[0-9a-f]{32}";

  // Before any rotation: the single [linkage_key] table, one token per field.
  const Sent a = send(base, "a.csv");
  const auto rows_a = rows_at_hub(a);
  EXPECT_GT(check_tokens(rows_a, one_k1, "before the rotation"), 100u);

  // The next key arrives, but its file is readable by others: the reload is refused whole and
  // k1 alone stays in use.
  {
    const auto keygen = test_support::run({SVD_SVDGW, "keys", "generate", "--out", next_key().string()});
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  }
  fs::permissions(next_key(), fs::perms::group_read, fs::perm_options::add);
  const std::time_t now = Clock::to_time_t(Clock::now());
  write_config(config_with_keys(rotation(now - 60, now + 3600)));
  sighup_and_wait_for("config.reload_refused");
  const std::string log = read_file(daemon_log());
  EXPECT_NE(log.find("linkage-k2.key: the key file is readable by group or others"), std::string::npos)
      << "the refusal does not say which key and why" << logs();
  EXPECT_NE(log.find("the linkage keys in use are kept"), std::string::npos) << logs();
  EXPECT_FALSE(daemon_->wait(0ms)) << logs();
  const Sent refused_keys = send(variant(base, 0), "b.csv");
  check_tokens(rows_at_hub(refused_keys), one_k1, "after the refused reload");

  // The good file: k2 comes into force a few seconds from now, k1 goes out of force a few
  // seconds later. No restart: SIGHUP.
  fs::permissions(next_key(), fs::perms::owner_read | fs::perms::owner_write);
  const auto reload_at = Clock::now();
  const std::time_t from = Clock::to_time_t(reload_at) + 5, until = from + 5;
  write_config(config_with_keys(rotation(from, until)));
  sighup_and_wait_for("config.reloaded");

  const Sent before = send(variant(base, 1), "c.csv");
  sleep_until(Clock::from_time_t(from) + 300ms);
  const Sent during = send(variant(base, 2), "d.csv");
  sleep_until(Clock::from_time_t(until) + 300ms);
  const Sent after = send(variant(base, 3), "e.csv");
  // The received time decides, whatever the processing time; these hold unless the machine
  // took seconds for one upload.
  ASSERT_LT(before.received, from) << "the first upload after the reload arrived too late for this test";
  ASSERT_GE(during.received, from);
  ASSERT_LT(during.received, until) << "the upload in the overlap arrived too late for this test";
  ASSERT_GE(after.received, until);

  const auto rows_before = rows_at_hub(before), rows_during = rows_at_hub(during), rows_after = rows_at_hub(after);
  EXPECT_GT(check_tokens(rows_before, one_k1, "before the overlap"), 100u);
  // The gateway sent both tokens during the overlap; the hub keeps the newest and links the other.
  EXPECT_GT(check_tokens(rows_during, one_k2, "during the overlap"), 100u);
  EXPECT_GT(check_tokens(rows_after, one_k2, "after the overlap"), 100u);

  // Records link across the rotation: through the hub's _linked view, the k1 tokens stored before
  // the overlap resolve to the k2 tokens of the same people during it, which they keep after it.
  std::map<std::string, HubRow> by_report;
  for (const auto& r : rows_during) by_report[r.report_id] = r;
  const auto linked_a = hub_rows(hub_db(), a.id, "records_death_reports_linked");
  EXPECT_GT(check_tokens(linked_a, one_k2, "before the rotation, through the view"), 100u);
  std::size_t linked = 0;
  for (const auto& r : linked_a) {
    auto d = by_report.find(r.report_id);
    if (r.nhs_token.empty() || d == by_report.end()) continue;
    EXPECT_EQ(r.nhs_token, d->second.nhs_token) << r.report_id;
    EXPECT_EQ(r.person_token, d->second.person_token) << r.report_id;
    ++linked;
  }
  for (const auto& r : rows_after) {
    auto d = by_report.find(r.report_id);
    if (r.nhs_token.empty() || d == by_report.end()) continue;
    EXPECT_EQ(r.nhs_token, d->second.nhs_token) << r.report_id;
    ++linked;
  }
  EXPECT_GT(linked, 150u);

  // The audit log: k1 at start (no window), again when the reload gave it an until, and k2 with
  // its from; the refused reload too; and each extract's key ids.
  const auto k1 = wait_for_audit("key.loaded", "k1", 2);
  ASSERT_EQ(k1.size(), 2u) << logs();
  EXPECT_NE(k1[0].find(R"("kind":"linkage")"), std::string::npos) << k1[0];
  EXPECT_NE(k1[0].find(R"("from":null,"until":null)"), std::string::npos) << k1[0];
  EXPECT_NE(k1[1].find(R"("from":null,"until":")" + iso_utc(until) + "\""), std::string::npos) << k1[1];
  const auto k2 = wait_for_audit("key.loaded", "k2", 1);
  ASSERT_EQ(k2.size(), 1u) << logs();
  EXPECT_NE(k2[0].find(R"("from":")" + iso_utc(from) + R"(","until":null)"), std::string::npos) << k2[0];
  EXPECT_NE(k2[0].find(R"("fingerprint":")"), std::string::npos) << k2[0];
  const auto refused = wait_for_audit("config.reload_refused", "", 1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].find("linkage key k2 does not load (key_file_permissions)"), std::string::npos) << refused[0];
  EXPECT_EQ(wait_for_audit("config.reloaded", "", 1).size(), 1u);
  for (const auto& [sent, ids] : std::vector<std::pair<Sent, std::string>>{
           {before, R"(["k1"])"}, {during, R"(["k1","k2"])"}, {after, R"(["k2"])"}}) {
    const auto processed = wait_for_audit("extract.processed", sent.id, 1);
    ASSERT_EQ(processed.size(), 1u) << sent.id;
    EXPECT_NE(processed[0].find(R"("key_ids":)" + ids), std::string::npos) << processed[0];
  }
  EXPECT_FALSE(daemon_->wait(0ms)) << "the daemon restarted or stopped" << logs();
}

}  // namespace
}  // namespace svd::testing
