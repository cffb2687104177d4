// The audit trail end to end: `svdgw run` records every step of an upload in its audit log,
// svdhub witnesses the signed checkpoints, `svdgw audit verify` checks the log against the hub's
// own record, and a gateway whose log was cut and rewritten is caught by the hub (an alarm) and
// by verify. Real mosquitto with mutual TLS, the real binaries, curl as the partner's client.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <regex>
#include <thread>

#include "base/time.h"
#include "daemon_fixture.h"
#include "tests/support/identifiers.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class AuditTrailTest : public DaemonHarness {
 protected:
  fs::path audit_db() const { return dir() / "state" / "audit.db"; }

  // A one-value query on a database, read-only; "" when there is no row or no such table yet.
  static std::string query(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(h, 2000);
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
          sqlite3_column_text(s, 0) != nullptr)
        out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
  }

  // Waits (bounded) until the gateway holds the hub's receipt for a checkpoint at or after `seq`.
  bool wait_for_witnessed(std::int64_t seq, std::chrono::seconds timeout = 30s) {
    return eventually(
        [&] {
          const auto n = query(audit_db(), "SELECT count(*) FROM checkpoints WHERE status = 'accepted' AND seq >= " +
                                               std::to_string(seq));
          return !n.empty() && n != "0";
        },
        timeout);
  }

  struct Run {
    int status = -1;
    std::string out, err;
  };
  Run run(const std::vector<std::string>& argv) {
    auto r = test_support::run(argv, {.timeout = 60s});
    return {r.timed_out ? -1 : r.exit_code, std::move(r.out), std::move(r.err)};
  }

  // The hub's record of the gateway's checkpoints, once it holds one at `seq` (bounded wait).
  fs::path hub_export(std::int64_t seq) {
    const fs::path out = dir() / "hub-checkpoints.jsonl";
    if (eventually([&] {
          auto r = run({SVD_SVDHUB, "checkpoints", "export", "--config", (dir() / "svdhub.toml").string(), "--partner",
                        kGateway, "--out", out.string()});
          EXPECT_EQ(r.status, 0) << r.out << r.err;
          return read_file(out).find("\"seq\":" + std::to_string(seq)) != std::string::npos;
        }))
      return out;
    ADD_FAILURE() << "the hub never witnessed seq " << seq << "\n" << read_file(out) << logs();
    return out;
  }

  Run verify(const fs::path& hub_checkpoints) {
    return run({SVD_SVDGW, "audit", "verify", "--config", gateway_config().string(), "--hub-checkpoints",
                hub_checkpoints.string()});
  }

  std::string today() const { return utc_iso(std::chrono::system_clock::now()).substr(0, 10); }
};

TEST_F(AuditTrailTest, EveryStepIsRecordedWitnessedAndVerifies) {
  start_daemon();
  // Death reports carry every kind of identifier (NHS number, names, date of birth, postcode).
  const auto file = extract(400, 21, "death-reports");
  auto up = upload(file, "death-reports", "week-48.csv", kIcbClient);
  ASSERT_EQ(up.status, 201) << up.body << logs();
  const std::string id = extract_id_of(up.body);
  EXPECT_EQ(upload(file, "ed-assaults", "week-48.csv", kIcbClient).status, 403);  // not this client's feed
  const std::string done = wait_for_status(id, R"("state":"processed")", 30s, kIcbClient);
  const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << done;
  wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":\d+,"acknowledged":)" + total + ",", 30s,
                  kIcbClient);
  // The start checkpoint was witnessed while running.
  ASSERT_TRUE(wait_for_witnessed(1)) << logs();

  daemon_->stop();
  const std::string last = query(audit_db(), "SELECT max(seq) FROM checkpoints");
  const std::string events = query(audit_db(), "SELECT max(seq) FROM events");
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(last, events) << "the stop checkpoint covers the whole log";
  const fs::path hub = hub_export(std::stoll(last));

  auto v = verify(hub);
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("OK: the audit log verifies"), std::string::npos) << v.out;
  // An auditor's own dozen lines of Python (docs/audit.md) agree on the chain's head.
  auto py = run({"/usr/bin/python3", std::string(SVD_SOURCE_DIR) + "/scripts/audit_chain_check.py",
                 audit_db().string()});
  EXPECT_EQ(py.status, 0) << py.out << py.err;
  const std::string head = find_group(v.out, R"(chain head ([0-9a-f]{64}))");
  ASSERT_FALSE(head.empty()) << v.out;
  EXPECT_NE(py.out.find("chain OK: " + events + " events, head " + head), std::string::npos) << py.out;

  // What an auditor exports: who sent what, what became of it, and the refusal.
  auto x = run({SVD_SVDGW, "audit", "export", "--config", gateway_config().string(), "--from", today(), "--to",
                today(), "--format", "jsonl"});
  ASSERT_EQ(x.status, 0) << x.err;
  auto count = [&](const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(x.out.begin(), x.out.end(), re), std::sregex_iterator());
  };
  EXPECT_EQ(count(R"("actor":"northgate-icb-export","action":"extract.received","object":")" + id + "\""), 1) << x.out;
  EXPECT_EQ(count(R"("action":"extract.processed","object":")" + id + "\""), 1);
  EXPECT_EQ(count(R"("action":"batch.acknowledged")"), std::stoll(total));
  EXPECT_GE(count(R"("action":"batch.published")"), std::stoll(total));
  EXPECT_EQ(count(R"("actor":"northgate-icb-export","action":"upload.refused","object":"ed-assaults")"), 1);
  for (const char* action : {"gateway.started", "gateway.stopped"}) EXPECT_EQ(count(action), 1) << action;
  EXPECT_EQ(count(R"("action":"key.loaded")"), 2);
  EXPECT_EQ(count(R"("action":"feed.watched")"), 2);

  svd::test_support::expect_no_identifier_in(
      file, {{"the audit export", x.out}, {"audit.db", read_file(audit_db())}, {"the daemon's log", read_file(daemon_log())}});
}

TEST_F(AuditTrailTest, ALogCutAndRewrittenIsCaughtByTheHubAndByVerify) {
  start_daemon();
  auto up = upload(extract(100, 22), "ed-assaults", "a.csv");
  ASSERT_EQ(up.status, 201);
  wait_for_status(extract_id_of(up.body), R"("state":"processed")");
  // Linked to the hub (the start checkpoint came back), so the stop checkpoint can go out too.
  ASSERT_TRUE(wait_for_witnessed(1)) << logs();
  daemon_->stop();
  const auto last = std::stoll(query(audit_db(), "SELECT max(seq) FROM checkpoints"));
  const fs::path hub = hub_export(last);

  // Someone with the state directory removes the last events and the checkpoints that covered
  // them, then lets the gateway carry on: its next checkpoint forks from what the hub accepted.
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(audit_db().c_str(), &h), SQLITE_OK);
    const std::string sql =
        "DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_delete;"
        "DELETE FROM events WHERE seq > " + std::to_string(last - 3) + ";"
        "DELETE FROM checkpoints WHERE seq > " + std::to_string(last - 3) + ";";
    ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
  }
  start_daemon();
  // The hub refuses the fork and raises an alarm; the gateway logs the refusal.
  // The gateway stores the hub's refusal with the checkpoint.
  ASSERT_TRUE(eventually([&] {
    const auto n = query(audit_db(), "SELECT count(*) FROM checkpoints WHERE status = 'rejected' AND reason = "
                                     "'checkpoint_does_not_extend'");
    return !n.empty() && n != "0";
  })) << logs();
  EXPECT_NE(read_file(daemon_log()).find("checkpoint_does_not_extend"), std::string::npos) << logs();
  auto alarms = run({SVD_SVDHUB, "checkpoints", "alarms", "--config", (dir() / "svdhub.toml").string()});
  EXPECT_EQ(alarms.status, 0) << alarms.err;
  EXPECT_NE(alarms.out.find(kGateway), std::string::npos) << alarms.out;
  EXPECT_NE(alarms.out.find("checkpoint_does_not_extend"), std::string::npos) << alarms.out;
  daemon_->stop();

  // And verify, given the hub's record, names where the log stops matching what was witnessed.
  auto v = verify(hub);
  EXPECT_EQ(v.status, 1) << v.out;
  // Locally the rewritten log is consistent with itself: only the hub's record shows the cut.
  auto py = run({"/usr/bin/python3", std::string(SVD_SOURCE_DIR) + "/scripts/audit_chain_check.py",
                 audit_db().string()});
  EXPECT_EQ(py.status, 0) << py.out << py.err;
  // The first seq it can vouch against is just after the last checkpoint that still matches; the
  // events removed were at last - 2 and after.
  const std::string bad = find_group(v.out, R"(FAILED at seq (\d+))");
  ASSERT_FALSE(bad.empty()) << v.out;
  EXPECT_GT(std::stoll(bad), 1);
  EXPECT_LE(std::stoll(bad), last - 2) << v.out;
  EXPECT_NE(v.out.find("the hub's checkpoint at seq " + std::to_string(last)), std::string::npos) << v.out;
}

}  // namespace
}  // namespace svd::testing
