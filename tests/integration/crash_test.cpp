// Crash safety of `svdgw run` (docs/daemon.md, "Flow and crash safety"): the daemon is killed
// with SIGKILL at random moments while extracts are being uploaded, processed and forwarded, again and again, then left to
// finish. Every extract the uploader got a receipt for must reach svdhub, every record exactly
// once; an upload cut off by the kill gets no receipt and is sent again, as a partner's job
// would. Files arrive in the spool too, while the daemon runs and while it is down, and each is
// taken and processed once. Also: a full disk (a small tmpfs as the state directory) answers 507, corrupts nothing
// already accepted, and uploads work again once there is room.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "daemon_fixture.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kKillRuns = 20;
constexpr int kExtracts = 8;

// What svdhub holds: records per extract (the hub's table keeps the extract id).
std::int64_t hub_records(const fs::path& db) { return hub_counts(db).records; }

// A count from a database file, read-only; -1 when it cannot be read.
std::int64_t count_rows(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return n;
}

// PRAGMA integrity_check on a database file, read-only: "ok" when intact.
std::string integrity(const fs::path& db) {
  sqlite3* h = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      result = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return result;
}

class CrashTest : public DaemonHarness {};

TEST_F(CrashTest, KilledAtRandomMomentsLosesAndDoublesNothing) {
  // Extracts of different sizes, so that kills land in uploads, in processing and in forwarding.
  std::vector<fs::path> files;
  for (int i = 0; i < kExtracts; ++i) files.push_back(extract(400 + 350 * static_cast<std::uint64_t>(i), 100 + static_cast<std::uint64_t>(i)));

  // The spool too: a death-reports file per run, every other one put in while the daemon is
  // down (a reboot's leftovers, taken at start) and the others while it runs. Each goes in
  // whole (a .part file renamed), as a partner's job must write it.
  const fs::path spool = dir() / "state" / "spool" / "death-reports";
  fs::create_directories(spool);
  fs::permissions(dir() / "state", fs::perms::owner_all, fs::perm_options::replace);
  const auto spool_file = [&](int run) {
    const fs::path part = spool / ("deaths-" + std::to_string(run) + ".csv.part");
    fs::copy_file(extract(300, 500 + static_cast<std::uint64_t>(run), "death-reports"), part);
    fs::rename(part, spool / ("deaths-" + std::to_string(run) + ".csv"));
  };

  std::map<int, std::string> receipts;  // extract index -> id, once the uploader got a receipt
  std::mt19937 rng(20261123);
  int kills = 0;
  for (int run = 0; run < kKillRuns; ++run) {
    if (run % 2 == 0) spool_file(run);
    start_daemon();
    if (HasFatalFailure()) return;
    if (run % 2 == 1) spool_file(run);
    // The uploader sends what has no receipt yet, one after the other, until the kill cuts it off.
    std::atomic<bool> killed{false};
    std::thread uploader([&] {
      for (int i = 0; i < kExtracts && !killed; ++i) {
        if (receipts.count(i)) continue;
        auto r = upload(files[static_cast<std::size_t>(i)], "ed-assaults", "extract-" + std::to_string(i) + ".csv");
        if (r.status == 201 || r.status == 200) {
          const std::string id = extract_id_of(r.body);
          if (!id.empty()) receipts[i] = id;
        }
      }
    });
    // The moment of the kill is what this test varies: a random delay is the behaviour under test
    // (kills landing in uploads, processing and forwarding), not a wait for something to happen.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 2500)(rng)));
    daemon_->signal(SIGKILL);
    killed = true;
    ASSERT_TRUE(daemon_->wait(10s)) << logs();
    ++kills;
    uploader.join();
  }

  // Let it finish: the uploader sends what never got a receipt.
  start_daemon();
  for (int i = 0; i < kExtracts; ++i) {
    if (receipts.count(i)) continue;
    auto r = upload(files[static_cast<std::size_t>(i)], "ed-assaults", "extract-" + std::to_string(i) + ".csv");
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << r.body << r.err << logs();
    receipts[i] = extract_id_of(r.body);
  }
  std::int64_t expected = 0, batches = 0;
  for (const auto& [i, id] : receipts) {
    const std::string done = wait_for_status(id, R"("state":"processed")", 120s);
    const auto valid = valid_rows_of(done);
    ASSERT_GE(valid, 0) << done;
    expected += valid;
    const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
    wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":\d+,"acknowledged":)" + total + ",", 120s);
    batches += std::stoll(total);
  }
  ASSERT_EQ(receipts.size(), static_cast<std::size_t>(kExtracts));
  // Every spool file taken and processed once; its records all acknowledged by the hub.
  const fs::path extracts_db = dir() / "state" / "extracts.db";
  const auto spool_done = [&] {
    return count_rows(extracts_db, "SELECT count(*) FROM extracts WHERE feed = 'death-reports' AND state = 2");
  };
  ASSERT_TRUE(eventually([&] { return spool_done() == kKillRuns; }, 120s)) << spool_done() << logs();
  EXPECT_EQ(count_rows(extracts_db, "SELECT count(*) FROM extracts WHERE feed = 'death-reports'"), kKillRuns);
  EXPECT_TRUE(fs::is_empty(spool)) << "a spool file was left behind";
  const std::int64_t spool_valid = count_rows(
      extracts_db, "SELECT sum(json_extract(report, '$.rows.valid')) FROM extracts WHERE feed = 'death-reports'");
  ASSERT_TRUE(wait_for_metric("svdgw_outbox_batches", 0, 120s)) << logs();
  EXPECT_EQ(hub_counts(hub_db(), "records_death_reports").records, spool_valid) << logs();
  EXPECT_EQ(read_file(daemon_log()).find("its file is gone"), std::string::npos) << logs();
  // Every batch is acknowledged, so the hub holds all it will ever hold.
  const std::int64_t stored = hub_records(hub_db());
  const std::int64_t lost = std::max<std::int64_t>(expected - stored, 0);
  const std::int64_t doubled = std::max<std::int64_t>(stored - expected, 0);
  std::cout << "[ crash loop ] runs " << kills << " (SIGKILL), extracts " << kExtracts << " uploaded and " << kKillRuns
            << " through the spool, records expected "
            << expected << ", stored " << stored << ", lost " << lost << ", duplicated " << doubled << std::endl;
  RecordProperty("kill_runs", kills);
  RecordProperty("records", static_cast<int>(expected));
  EXPECT_EQ(stored, expected) << logs();
  EXPECT_EQ(integrity(dir() / "state" / "outbox.db"), "ok");
  EXPECT_EQ(integrity(dir() / "state" / "extracts.db"), "ok");

  // The audit log came through the kills whole: every event was committed with its state change,
  // so each extract was received and processed once, each batch acknowledged once, on record.
  const fs::path audit = dir() / "state" / "audit.db";
  EXPECT_EQ(integrity(audit), "ok");
  auto events = [&](const std::string& action) {
    return count_rows(audit, "SELECT count(*) FROM events WHERE action = '" + action + "'");
  };
  // The spool's batches too: the outbox keeps one row per batch (acknowledged ones included).
  const std::int64_t spool_batches =
      count_rows(dir() / "state" / "outbox.db", "SELECT count(*) FROM batches WHERE feed = 'death-reports'");
  eventually([&] { return events("batch.acknowledged") >= batches + spool_batches; });  // drained every second
  EXPECT_EQ(events("extract.received"), kExtracts + kKillRuns);
  EXPECT_EQ(count_rows(audit, "SELECT count(DISTINCT object) FROM events WHERE action = 'extract.received'"),
            kExtracts + kKillRuns);
  EXPECT_EQ(events("extract.processed"), kExtracts + kKillRuns);
  EXPECT_GT(spool_batches, 0);
  EXPECT_EQ(events("batch.acknowledged"), batches + spool_batches);
  EXPECT_EQ(events("gateway.started"), kKillRuns + 1);
  const auto verify = test_support::run({SVD_SVDGW, "audit", "verify", "--config", gateway_config().string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  std::cout << "[ crash loop ] audit log: " << count_rows(audit, "SELECT count(*) FROM events") << " events, "
            << count_rows(audit, "SELECT count(*) FROM checkpoints") << " checkpoints, verify exit "
            << verify.exit_code << std::endl;
}

// A real full disk: the state directory on a tmpfs of a few MiB. Needs root (mount); CI runs
// as root.
class DiskFullTest : public DaemonHarness {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs (CI runs as root)";
    DaemonHarness::SetUp();
    if (HasFatalFailure()) return;
    state_ = dir() / "state";
    fs::create_directories(state_);
    ASSERT_EQ(::mount("tmpfs", state_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0700"), 0)
        << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    DaemonHarness::TearDown();
    if (mounted_) ::umount2(state_.c_str(), MNT_DETACH);
  }
  // What fills the state directory, for a failure message.
  std::string usage() const {
    std::string out = "\n--- state directory ---\n";
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(state_, ec))
      if (e.is_regular_file(ec)) out += e.path().string() + " " + std::to_string(e.file_size(ec)) + "\n";
    return out;
  }
  fs::path state_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, UploadsGet507NothingAcceptedIsHarmedAndWorkResumesWithRoom) {
  start_daemon();
  if (HasFatalFailure()) return;
  // About 1.3 MiB each: a few fit (each needs three times its size, see admit()), then the
  // disk is full.
  std::vector<std::string> accepted;
  int refused = 0;
  for (int i = 0; i < 12 && refused == 0; ++i) {
    const auto file = extract(12000, 300 + static_cast<std::uint64_t>(i));
    auto r = upload(file, "ed-assaults", "full-" + std::to_string(i) + ".csv");
    if (r.status == 201) accepted.push_back(extract_id_of(r.body));
    else if (r.status == 507) {
      ++refused;
      EXPECT_NE(r.body.find("\"status\":507"), std::string::npos) << r.body;
    } else {
      ADD_FAILURE() << "unexpected " << r.status << ": " << r.body << r.err << logs();
      return;
    }
  }
  ASSERT_GT(refused, 0) << "the disk never filled up";
  ASSERT_GE(accepted.size(), 2u) << usage() << logs();

  // Nothing already accepted is harmed: both stores are intact, every accepted extract is still
  // known (processed, or waiting for room to be processed).
  EXPECT_EQ(integrity(state_ / "outbox.db"), "ok");
  EXPECT_EQ(integrity(state_ / "extracts.db"), "ok");
  for (const auto& id : accepted) wait_for_status(id, R"re("state":"(received|processing|processed)")re");

  // Room again: what was accepted is processed and reaches the hub whole, and uploads are
  // accepted again.
  ASSERT_EQ(::mount("tmpfs", state_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=64m,mode=0700"), 0)
      << std::strerror(errno);
  std::int64_t expected = 0;
  for (const auto& id : accepted) {
    const std::string done = wait_for_status(id, R"("state":"processed")", 120s);
    const auto valid = valid_rows_of(done);
    ASSERT_GE(valid, 0) << done;
    expected += valid;
  }
  ASSERT_TRUE(wait_for_hub(expected, 120s)) << logs();

  const auto file = extract(12000, 999);
  HttpResult r;
  // The daemon re-reads free space every few seconds: until then it still refuses (507).
  eventually([&] { return (r = upload(file, "ed-assaults", "after.csv")).status == 201; });
  EXPECT_EQ(r.status, 201) << r.body << logs();
  const std::string done = wait_for_status(extract_id_of(r.body), R"("state":"processed")", 60s);
  const auto valid = valid_rows_of(done);
  ASSERT_GE(valid, 0) << done;
  expected += valid;
  ASSERT_TRUE(wait_for_hub(expected, 60s)) << logs();
  // Nothing left in the outbox: nothing more will be sent, so what the hub holds is final.
  EXPECT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  EXPECT_EQ(hub_records(hub_db()), expected);
}

}  // namespace
}  // namespace svd::testing
