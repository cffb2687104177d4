// `svdgw run` end to end: the real daemon with its HTTPS upload API (curl as the client, with
// real client certificates), its spool directory and its operations port, forwarding through a
// real mosquitto with mutual TLS to the real svdhub. Every process is stopped by the PID the
// test started; every port is a free one on 127.0.0.1.

#include <gtest/gtest.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sqlite3.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <list>
#include <regex>
#include <sstream>

#include "base/time.h"
#include "base/unique_fd.h"
#include "crypto/sha256.h"
#include "daemon_fixture.h"
#include "tests/support/identifiers.h"

namespace svd::testing {
namespace {

using DaemonTest = DaemonHarness;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_F(DaemonTest, UploadedExtractReachesTheHubOnceAndItsStatusSaysSo) {
  start_daemon();
  const auto file = extract(500, 11);
  auto first = upload(file, "ed-assaults", "week-47.csv");
  ASSERT_EQ(first.status, 201) << first.body << first.err << logs();
  const std::string id = extract_id_of(first.body);
  ASSERT_FALSE(id.empty()) << first.body;

  // An identical re-send gets the same receipt, and nothing is processed twice.
  auto again = upload(file, "ed-assaults", "week-47.csv");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(extract_id_of(again.body), id);

  const std::string done = wait_for_status(id, R"("state":"processed")");
  const auto valid = valid_rows_of(done);
  ASSERT_GT(valid, 400);
  ASSERT_TRUE(wait_for_hub(valid, 30s)) << logs();
  // Every batch of the extract acknowledged by the hub, as its status reports it.
  const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << done;
  wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":\d+,"acknowledged":)" + total + ",");
  EXPECT_EQ(hub_counts(hub_db()).records, valid);

  // The same bytes under the same name after all that: still the first receipt, and nothing is
  // queued again. Extracts are processed one at a time in the order they came: once a later
  // extract's batches are all acknowledged, a re-processed first one would have reached the hub.
  EXPECT_EQ(upload(file, "ed-assaults", "week-47.csv").status, 200);
  auto later = upload(extract(40, 12), "ed-assaults", "week-48.csv");
  ASSERT_EQ(later.status, 201) << later.body;
  const std::string later_done = wait_for_status(extract_id_of(later.body), R"("state":"processed")");
  const std::string later_total = find_group(later_done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(later_total.empty()) << later_done;
  wait_for_status(extract_id_of(later.body),
                  R"("batches":\{"total":)" + later_total + R"(,"sent":\d+,"acknowledged":)" + later_total + ",");
  const auto later_valid = valid_rows_of(later_done);
  EXPECT_EQ(hub_counts(hub_db()).records, valid + later_valid);
  EXPECT_EQ(metric("svdgw_extracts_total{feed=\"ed-assaults\",outcome=\"received\"}"), 2.0);
  EXPECT_EQ(metric("svdgw_extracts_total{feed=\"ed-assaults\",outcome=\"processed\"}"), 2.0);
  EXPECT_EQ(metric("svdgw_rows_total{feed=\"ed-assaults\",stage=\"forwarded\"}"),
            static_cast<double>(valid + later_valid));

  // What was shared is provable from the audit log: the digest of the schema file each extract
  // was processed with, and of every feed's schema at start.
  const auto schema = [](const std::string& feed) {
    return crypto::sha256_file(fs::path(SVD_SOURCE_DIR) / "deploy/examples/schemas" / (feed + ".json"))->sha256;
  };
  EXPECT_TRUE(eventually([&] { return audit_count("extract.processed") == 2; }));
  EXPECT_NE(first_audit_details("extract.processed").find(R"("schema_sha256":")" + schema("ed-assaults") + "\""),
            std::string::npos)
      << first_audit_details("extract.processed");
  EXPECT_NE(first_audit_details("gateway.started")
                .find(R"("schemas":{"death-reports":")" + schema("death-reports") + R"(","ed-assaults":")" +
                      schema("ed-assaults") + "\"}"),
            std::string::npos)
      << first_audit_details("gateway.started");
}

TEST_F(DaemonTest, ClientsAreHeldToTheirFeedsAndNamesToTheirContent) {
  start_daemon();
  const auto file = extract(50, 3);
  auto other_feed = upload(file, "death-reports", "x.csv", kEdClient);
  EXPECT_EQ(other_feed.status, 403) << other_feed.body;
  EXPECT_NE(other_feed.body.find("\"status\":403"), std::string::npos) << other_feed.body;
  EXPECT_EQ(upload(file, "no-such-feed", "x.csv").status, 404);

  ASSERT_EQ(upload(file, "ed-assaults", "monthly.csv").status, 201);
  const auto other = extract(50, 4);
  auto conflict = upload(other, "ed-assaults", "monthly.csv");
  EXPECT_EQ(conflict.status, 409) << conflict.body;

  // Status is for clients of the extract's feed only.
  const std::string id = extract_id_of(upload(file, "ed-assaults", "monthly.csv").body);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(curl({url("/v1/extracts/" + id)}, kIcbClient).status, 404);
  EXPECT_EQ(curl({url("/v1/extracts/" + id)}, kEdClient).status, 200);
}

TEST_F(DaemonTest, SpoolFilesAreTakenOnceAndForwarded) {
  start_daemon();
  const auto file = extract(300, 21, "death-reports");
  const fs::path spool = dir() / "state" / "spool" / "death-reports";
  ASSERT_TRUE(fs::is_directory(spool)) << logs();
  fs::copy_file(file, spool / "deaths-2026-11.csv.part");
  fs::rename(spool / "deaths-2026-11.csv.part", spool / "deaths-2026-11.csv");

  ASSERT_TRUE(eventually([&] { return hub_counts(hub_db(), "records_death_reports").records > 0; })) << logs();
  EXPECT_FALSE(fs::exists(spool / "deaths-2026-11.csv"));
  EXPECT_EQ(metric("svdgw_extracts_total{feed=\"death-reports\",outcome=\"received\"}"), 1.0);
  const std::string log = read_file(daemon_log());
  EXPECT_EQ(log.find("deaths-2026-11"), std::string::npos) << "a spool file name reached the log";
}

// Files already in the spool when the daemon starts (after a reboot, say) are named twice at
// start: by the spool scan, which queues each as it takes it, and then by the store's list of
// unfinished extracts, while the first is already being processed. Each is processed once, its
// final state stays recorded although retention (retain_extracts_hours = 0) removes its file at
// once, and a restart has nothing left to do.
TEST_F(DaemonTest, FilesInTheSpoolAtStartAreProcessedOnce) {
  write_config(config_text("retain_extracts_hours = 0\n"));
  const fs::path spool = dir() / "state" / "spool" / "death-reports";
  fs::create_directories(spool);
  fs::permissions(dir() / "state", fs::perms::owner_all, fs::perm_options::replace);
  for (int i = 0; i < 3; ++i)
    fs::copy_file(extract(300, static_cast<std::uint64_t>(22 + i), "death-reports"),
                  spool / ("deaths-2026-12-" + std::to_string(i) + ".csv"));

  start_daemon();
  const auto extracts_db = dir() / "state" / "extracts.db";
  ASSERT_TRUE(eventually([&] { return query_int(extracts_db, "SELECT count(*) FROM extracts WHERE state >= 2") == 3; }))
      << logs();
  ASSERT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  daemon_->signal(SIGTERM);
  ASSERT_TRUE(daemon_->wait(30s)) << logs();

  // Processed (2), with their reports and finish times; their files removed by retention.
  EXPECT_EQ(query_int(extracts_db, "SELECT count(*) FROM extracts"), 3);
  EXPECT_EQ(query_int(extracts_db, "SELECT count(*) FROM extracts WHERE state = 2 AND finished_at <> '' AND "
                                   "report <> '' AND file_removed = 1"),
            3)
      << logs();
  const std::string log = read_file(daemon_log());
  EXPECT_EQ(count_of(log, " processed: 300 rows"), 3u) << logs();
  EXPECT_EQ(log.find("its file is gone"), std::string::npos) << logs();

  // Nothing is left to do at the next start.
  const std::size_t first_run = log.size();
  start_daemon();
  daemon_->signal(SIGTERM);
  ASSERT_TRUE(daemon_->wait(30s)) << logs();
  EXPECT_EQ(read_file(daemon_log()).substr(first_run).find("to process from before the last stop"), std::string::npos)
      << logs();
  EXPECT_EQ(query_int(extracts_db, "SELECT count(*) FROM extracts WHERE state = 2"), 3);
}

TEST_F(DaemonTest, NothingToShareIsRecordedAndReachesTheHub) {
  start_daemon();
  const auto batches_before = hub_counts(hub_db()).batches;
  auto r = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/2026-W47")});
  ASSERT_EQ(r.status, 201) << r.body << r.err << logs();
  EXPECT_NE(r.body.find("\"kind\":\"nothing_to_share\""), std::string::npos) << r.body;
  const std::string id = extract_id_of(r.body);
  wait_for_status(id, R"("batches":\{"total":1,"sent":\d+,"acknowledged":1,)");
  EXPECT_EQ(hub_counts(hub_db()).batches, std::max<std::int64_t>(batches_before, 0) + 1);
  // Another period is another return; the same period again is the same one.
  auto next = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/2026-W48")});
  EXPECT_EQ(next.status, 201) << next.body;
  EXPECT_NE(extract_id_of(next.body), id);
  auto same = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/2026-W47")});
  EXPECT_EQ(same.status, 200) << same.body;
}

// A return's period goes into the audit log and the hub's records, so it has to be a period: an
// identifier sent in its place is refused before anything is recorded, and never echoed.
TEST_F(DaemonTest, ANothingToShareReturnIsForAPeriodAndNothingElse) {
  start_daemon();
  const std::string nhs_number = "9990000018";  // valid check digit, from the range kept for tests
  const std::vector<std::string> refused{nhs_number, "2026-W54", "2027-W53", "2026-W00", "2026-13",
                                         "2026-02-29", "2026-w47", "week-47", "2026-W47-1"};
  for (std::size_t i = 0; i < refused.size(); ++i) {
    // Reported by index: the value itself may look like an identifier.
    auto r = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/" + refused[i])});
    EXPECT_EQ(r.status, 400) << "refused[" << i << "]";
    EXPECT_NE(r.body.find("/problems/invalid_period"), std::string::npos) << "refused[" << i << "]";
    EXPECT_EQ(r.body.find(refused[i]), std::string::npos) << "the reply echoes refused[" << i << "]";
  }
  const std::vector<std::string> periods{"2026-W53", "2026-W01", "2026-11", "2024-02-29"};
  for (const auto& period : periods) {
    auto r = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/" + period)});
    EXPECT_EQ(r.status, 201) << period << ": " << r.body;
  }
  ASSERT_TRUE(eventually([&] { return audit_count("extract.nil_return") >= std::int64_t(periods.size()); }))
      << logs();
  daemon_->stop();

  // Yesterday to tomorrow (UTC): the events are today's, whenever today ends.
  const auto now = std::chrono::system_clock::now();
  const auto x = test_support::run({SVD_SVDGW, "audit", "export", "--config", gateway_config().string(), "--from",
                                    utc_iso(now - 24h).substr(0, 10), "--to", utc_iso(now + 24h).substr(0, 10),
                                    "--format", "jsonl"},
                                   {.timeout = 60s});
  ASSERT_EQ(x.exit_code, 0) << x.err;
  for (const auto& period : periods)
    EXPECT_NE(x.out.find("\"period\":\"" + period + "\""), std::string::npos) << period;
  EXPECT_EQ(count_of(x.out, "\"action\":\"extract.nil_return\""), periods.size());
  EXPECT_EQ(count_of(x.out, "\"action\":\"upload.refused\""), 0u) << "a refused period was recorded";
  EXPECT_EQ(x.out.find(nhs_number), std::string::npos) << "the NHS number reached the audit export";
  EXPECT_EQ(read_file(daemon_log()).find(nhs_number), std::string::npos) << "the NHS number reached the log";
}

// "spool", "gateway" and "hub" name the gateway's own actors in the audit log, and "spool" is who
// sent every spool-taken extract: a certificate with one of them as its CN, even one issued by the
// client CA, is no client, and sees nothing.
class ReservedNameTest : public DaemonHarness {
 protected:
  ReservedNameTest() : DaemonHarness({"spool", "gateway", "hub"}) {}
};

TEST_F(ReservedNameTest, AClientCertificateWithAReservedCnIsRefusedEveryRequest) {
  start_daemon();
  const auto file = extract(30, 31, "death-reports");
  const fs::path spool = dir() / "state" / "spool" / "death-reports";
  ASSERT_TRUE(fs::is_directory(spool)) << logs();
  fs::copy_file(file, spool / "deaths-week-48.csv.part");
  fs::rename(spool / "deaths-week-48.csv.part", spool / "deaths-week-48.csv");
  // The store's id for it; the feed's own client sees it once it is taken.
  const std::string id = "death-reports-" + crypto::sha256_hex(read_file(file)).substr(0, 16);
  wait_for_status(id, R"("name":"deaths-week-48.csv")", 30s, kIcbClient);

  const std::vector<std::string> reserved{"spool", "gateway", "hub"};
  for (const auto& cn : reserved) {
    auto status = curl({url("/v1/extracts/" + id)}, cn);
    EXPECT_EQ(status.status, 403) << cn;
    EXPECT_NE(status.body.find("/problems/reserved_client"), std::string::npos) << cn << ": " << status.body;
    EXPECT_EQ(status.body.find("deaths-week-48"), std::string::npos) << cn << " sees the spool extract";
    EXPECT_EQ(curl({url("/v1/extracts/death-reports-0123456789abcdef")}, cn).status, 403) << cn;
    EXPECT_EQ(upload(file, "death-reports", "from-" + cn + ".csv", cn).status, 403) << cn;
    EXPECT_EQ(curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/death-reports/nothing-to-share/2026-W48")}, cn)
                  .status,
              403)
        << cn;
    EXPECT_EQ(curl({url("/healthz")}, cn).status, 403) << cn;
  }
  EXPECT_EQ(metric("svdgw_extracts_total{feed=\"death-reports\",outcome=\"received\"}"), 1.0) << "only the spool file";
  EXPECT_NE(read_file(daemon_log()).find("CN spool is reserved"), std::string::npos) << logs();
}

TEST_F(DaemonTest, SigtermDrainsAndARestartFinishesTheWork) {
  start_daemon();
  const auto file = extract(3000, 5);
  auto r = upload(file, "ed-assaults", "big.csv");
  ASSERT_EQ(r.status, 201) << r.body << logs();
  daemon_->signal(SIGTERM);
  auto status = daemon_->wait(30s);
  ASSERT_TRUE(status) << "svdgw run did not stop on SIGTERM" << logs();
  EXPECT_EQ(*status, 0) << logs();
  EXPECT_NE(read_file(daemon_log()).find("stopped"), std::string::npos);

  start_daemon();
  const std::string id = extract_id_of(r.body);
  const std::string done = wait_for_status(id, R"("state":"processed")");
  const auto valid = valid_rows_of(done);
  ASSERT_TRUE(wait_for_hub(valid, 60s)) << logs();
  // Every batch acknowledged and none left in the outbox: nothing more will be sent, so what
  // the hub holds now is final (a re-sent batch would have been stored once).
  const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << done;
  wait_for_status(id, R"("batches":\{"total":)" + total + R"(,"sent":\d+,"acknowledged":)" + total + ",");
  EXPECT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  EXPECT_EQ(hub_counts(hub_db()).records, valid);
  EXPECT_EQ(hub_counts(hub_db()).batches, std::stoll(total));
}

// A crash after an extract's batches are committed and before its final state is recorded
// leaves it to be processed again at the next start. If [batches] is lowered meanwhile, the
// extract must keep its first batches: cut again, its records would reach the hub twice.
TEST_F(DaemonTest, AnExtractProcessedAgainAfterACrashKeepsTheBatchesItWasFirstCutInto) {
  write_config(config_text("retain_extracts_hours = 24\n"));  // its file must stay to be processed again
  start_daemon();
  auto r = upload(extract(95, 17), "ed-assaults", "recut.csv");
  ASSERT_EQ(r.status, 201) << r.body << logs();
  const std::string id = extract_id_of(r.body);
  const std::string done = wait_for_status(id, R"("state":"processed")");
  const auto valid = valid_rows_of(done);
  const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << done;
  ASSERT_TRUE(wait_for_hub(valid, 60s)) << logs();
  ASSERT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  daemon_->signal(SIGKILL);
  ASSERT_TRUE(daemon_->wait(30s));

  // The state that crash leaves: the batches in the outbox (here all acknowledged already), the
  // extract still `processing` in the store.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir() / "state" / "extracts.db").c_str(), &db), SQLITE_OK);
  const std::string sql =
      "UPDATE extracts SET state = 1, report = '', finished_at = '' WHERE id = '" + id + "'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  std::string text = config_text("retain_extracts_hours = 24\n");
  const auto at = text.find("max_records = 10");
  ASSERT_NE(at, std::string::npos);
  write_config(text.replace(at, 16, "max_records = 3"));

  start_daemon();
  const std::string again = wait_for_status(id, R"("state":"processed")");
  EXPECT_EQ(find_group(again, R"("batches":\{"total":(\d+))"), total) << again;
  EXPECT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  EXPECT_EQ(hub_counts(hub_db()).records, valid);
  EXPECT_EQ(hub_counts(hub_db()).batches, std::stoll(total));
  EXPECT_NE(read_file(daemon_log()).find("stand as first cut"), std::string::npos) << logs();
}

// A chunked upload (no Content-Length) is held to the storage quota as its bytes arrive, beside
// an upload still in progress that holds its own share: with a 10 MiB quota and 7.5 MiB held by a
// slow 2.5 MiB upload (three times its size), a chunked PUT of 1 MiB gets 507 as soon as it
// outgrows what is left, and a 10 MiB one gets 507 on its own; neither leaves a file behind.
TEST_F(DaemonTest, ChunkedUploadsAreHeldToTheStorageQuotaBesideOthers) {
  write_config(config_text("quota_bytes = 10485760\n"));
  start_daemon();
  const std::string quota_left = "svdgw_storage_headroom_bytes";
  const auto small = extract(9000, 31);  // about 1 MiB
  ASSERT_GT(fs::file_size(small), 700u << 10);
  const fs::path slow_file = dir() / "slow.csv";
  {
    std::string rows = read_file(extract(24000, 32));
    ASSERT_GT(rows.size(), 5u << 19);
    rows.resize(rows.rfind('\n', 5u << 19) + 1);  // 2.5 MiB of whole rows
    std::ofstream(slow_file, std::ios::binary) << rows;
  }
  const std::string chunked = "Transfer-Encoding: chunked";

  // Alone, a 10 MiB chunked body needs 30 MiB: refused part way.
  const fs::path big = dir() / "big.csv";
  {
    std::ofstream out(big, std::ios::binary);
    const std::string rows = read_file(slow_file);
    for (int i = 0; i < 4; ++i) out << rows;  // 10 MiB
  }
  HttpResult r = curl({"-T", big.string(), "-H", chunked, url("/v1/feeds/ed-assaults/extracts/big.csv")});
  EXPECT_EQ(r.status, 507) << r.body << r.err << logs();
  // Its room is given back at once, but the gateway measures its files every few seconds: once
  // the partial file it removed is out of the figure, the quota is nearly whole again.
  ASSERT_TRUE(eventually([&] { return metric(quota_left).value_or(0) > 9 << 20; })) << logs();

  // Beside an upload in progress.
  HttpResult slow;
  std::thread slow_upload([&] {
    slow = curl({"-T", slow_file.string(), "--limit-rate", "256k", url("/v1/feeds/ed-assaults/extracts/slow.csv")});
  });
  const bool held = wait_for_metric_below(quota_left, 3u << 20);
  if (held) {
    r = curl({"-T", small.string(), "-H", chunked, url("/v1/feeds/ed-assaults/extracts/small.csv")});
    EXPECT_EQ(r.status, 507) << r.body << r.err << logs();
  }
  slow_upload.join();
  ASSERT_TRUE(held) << "the slow upload never held its room" << logs();
  ASSERT_EQ(slow.status, 201) << slow.body << slow.err << logs();
  wait_for_status(extract_id_of(slow.body), R"("state":"processed")", 60s);
  EXPECT_TRUE(eventually([&] { return audit_count("upload.refused") == 2; })) << "both refusals are on record";
  EXPECT_TRUE(fs::is_empty(dir() / "state" / "extracts" / "incoming"));
}

// Peers that connect and never start TLS cannot lock partners out: with every connection slot
// held by such sockets, `svdgw submit` still gets in at its first attempt, and its extract
// reaches the hub.
TEST_F(DaemonTest, IdleSocketsInEverySlotDoNotStopSvdgwSubmit) {
  std::string text = config_text();
  const auto at = text.find("[http]\n");
  ASSERT_NE(at, std::string::npos);
  write_config(text.insert(at + 7, "max_connections = 4\n"));
  start_daemon();
  std::list<UniqueFd> idle;
  for (int i = 0; i < 4; ++i) {
    const UniqueFd& fd = idle.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(http_port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to), 0) << std::strerror(errno);
  }
  // Every slot is taken before submit connects (accepted in order, each waiting for a ClientHello).
  ASSERT_TRUE(eventually([&] { return metric("svdgw_http_connections_total{outcome=\"accepted\"}") == 4.0; }))
      << logs();

  const auto& pki = broker_pki();
  const auto file = extract(40, 23);
  const auto run = test_support::run({SVD_SVDGW, "submit", "--url", "https://localhost:" + std::to_string(http_port_),
                                      "--feed", "ed-assaults", "--cert", pki.client_cert(kEdClient).string(), "--key",
                                      pki.client_key(kEdClient).string(), "--ca", pki.ca_cert().string(),
                                      "--retries", "0", "--quiet", "--wait-for-hub", file.string()},
                                     {.timeout = 60s, .output_dir = dir()});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << logs();
  const std::string id = find_group(run.out, R"(extract_id:\s+([a-z0-9-]+))");
  ASSERT_FALSE(id.empty()) << run.out;
  // --wait-for-hub returned once every batch was acknowledged: the hub holds them all now.
  EXPECT_NE(run.out.find("outcome:     processed, and every batch acknowledged by the hub"), std::string::npos)
      << run.out;
  const auto valid = valid_rows_of(wait_for_status(id, R"("state":"processed")"));
  EXPECT_EQ(hub_counts(hub_db()).records, valid) << logs();
  EXPECT_GE(metric("svdgw_http_connections_total{outcome=\"handshake_cut\"}").value_or(0), 1.0);
  EXPECT_NE(read_file(daemon_log()).find("cut: still in its TLS handshake"), std::string::npos) << logs();
}

// A feed not yet permitted at the hub gets its batches rejected; once the hub's operator adds it,
// `svdgw requeue` sends them again and every record is stored once. Meanwhile /metrics says which
// feed and why, and the audit log records who re-queued what.
TEST_F(DaemonTest, RejectedBatchesAreRequeuedOnceTheHubCanTakeThemAndStoredOnce) {
  const fs::path hub_config = dir() / "svdhub.toml";
  const std::string both = read_file(hub_config);
  const std::string feeds = R"(feeds = ["ed-assaults", "death-reports"])";
  std::string ed_only = both;
  ASSERT_NE(ed_only.find(feeds), std::string::npos);
  ed_only.replace(ed_only.find(feeds), feeds.size(), R"(feeds = ["ed-assaults"])");
  hub_->stop();
  std::ofstream(hub_config) << ed_only;
  start_hub();
  start_daemon();

  auto r = upload(extract(45, 29, "death-reports"), "death-reports", "deaths.csv", kIcbClient);
  ASSERT_EQ(r.status, 201) << r.body << logs();
  const std::string id = extract_id_of(r.body);
  const std::string done = wait_for_status(id, R"("state":"processed")", 30s, kIcbClient);
  const auto valid = valid_rows_of(done);
  const std::string total = find_group(done, R"("batches":\{"total":(\d+))");
  ASSERT_FALSE(total.empty()) << done;
  const std::string series = R"(svdgw_outbox_rejected_batches{feed="death-reports",reason="feed_not_permitted"})";
  ASSERT_TRUE(wait_for_metric(series, std::stod(total))) << logs();
  const auto listed = test_support::run({SVD_SVDGW, "requeue", "--config", gateway_config().string()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("feed death-reports, feed_not_permitted: " + total + " batch(es)"), std::string::npos)
      << listed.out;

  hub_->stop();
  std::ofstream(hub_config) << both;
  start_hub();
  const auto requeued =
      test_support::run({SVD_SVDGW, "requeue", "--config", gateway_config().string(), "--feed", "death-reports"});
  ASSERT_EQ(requeued.exit_code, 0) << requeued.out << requeued.err;
  EXPECT_NE(requeued.out.find("re-queued"), std::string::npos) << requeued.out;
  EXPECT_TRUE(eventually([&] { return hub_counts(hub_db(), "records_death_reports").records == valid; }, 60s))
      << logs();
  EXPECT_TRUE(wait_for_metric("svdgw_outbox_batches", 0)) << logs();
  EXPECT_TRUE(wait_for_metric(series, 0)) << logs();
  EXPECT_EQ(hub_counts(hub_db(), "records_death_reports").records, valid);
  EXPECT_EQ(hub_counts(hub_db(), "records_death_reports").batches, std::stoll(total));
  EXPECT_TRUE(eventually([&] { return audit_count("batch.requeued") == std::stoll(total); })) << logs();
  wait_for_status(id, R"("acknowledged":)" + total + ",", 30s, kIcbClient);
}

TEST_F(DaemonTest, SighupReloadsAGoodConfigAndKeepsTheOldOneForABadOne) {
  start_daemon();
  const auto file = extract(20, 8);
  EXPECT_EQ(upload(file, "death-reports", "a.csv", kEdClient).status, 403);

  // A broken config is refused; the daemon goes on with the old one.
  write_config(config_text() + "\n[nonsense]\n");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return audit_count("config.reload_refused") == 1; })) << logs();
  EXPECT_NE(read_file(daemon_log()).find("reload refused"), std::string::npos) << logs();
  EXPECT_TRUE(daemon_->running()) << logs();
  EXPECT_EQ(upload(file, "ed-assaults", "b.csv").status, 201);

  // A good one takes effect: the ED export may now send death reports too.
  std::string text = config_text();
  text = std::regex_replace(text, std::regex("allowed_clients = \\[\"northgate-icb-export\"\\]"),
                            "allowed_clients = [\"northgate-icb-export\", \"northgate-ed-export\"]");
  write_config(text);
  const auto reloads_before = audit_count("config.reloaded");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return audit_count("config.reloaded") > reloads_before; })) << logs();
  EXPECT_EQ(upload(file, "death-reports", "a.csv", kEdClient).status, 201) << logs();
}

TEST_F(DaemonTest, HealthAndMetricsOnTheLocalPort) {
  start_daemon();
  auto health = ops_get("/healthz");
  EXPECT_EQ(health.status, 200) << health.body << health.err;
  EXPECT_NE(health.body.find("\"status\":\"ok\""), std::string::npos) << health.body;
  EXPECT_EQ(ops_get("/nothing-here").status, 404);

  auto r = upload(extract(200, 9), "ed-assaults", "m.csv");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string done = wait_for_status(extract_id_of(r.body), R"("state":"processed")");
  const auto valid = valid_rows_of(done);
  ASSERT_TRUE(wait_for_hub(valid, 30s)) << logs();
  // Gauges and the acknowledged rows follow within a few seconds.
  const std::string acked = "svdgw_rows_total{feed=\"ed-assaults\",stage=\"acknowledged\"} " + std::to_string(valid);
  std::string metrics;
  eventually([&] { return (metrics = ops_get("/metrics").body).find(acked) != std::string::npos; });
  EXPECT_NE(metrics.find(acked), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("svdgw_extracts_total{feed=\"ed-assaults\",outcome=\"processed\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("svdgw_rows_total{feed=\"ed-assaults\",stage=\"forwarded\"} " + std::to_string(valid)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("svdgw_broker_connected 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("svdgw_uploads_total{class=\"2xx\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("svdgw_build_info{version="), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("svdgw_outbox_batches 0"), std::string::npos) << metrics;
  // The upload API's CRL lapses at its nextUpdate, as openssl reads it: an alert before then.
  const auto crl = test_support::run({"openssl", "crl", "-in", broker_pki().crl().string(), "-noout", "-nextupdate",
                                      "-dateopt", "iso_8601"});
  ASSERT_EQ(crl.exit_code, 0) << crl.err;
  std::string when = crl.out.substr(crl.out.find('=') + 1, 19);  // "2036-12-04 12:38:45"
  if (when.size() == 19) when[10] = 'T';
  const auto next_update = parse_utc_iso(when + "Z");
  ASSERT_TRUE(next_update) << crl.out;
  EXPECT_NE(metrics.find("svdgw_certificate_expiry_timestamp_seconds{role=\"crl\"} " +
                         std::to_string(std::chrono::system_clock::to_time_t(*next_update)) + "\n"),
            std::string::npos)
      << crl.out << metrics;
}

// A feed that missed its deadline: feed.overdue in the log, the metric and /healthz, naming feed
// and partner; a delivery clears it. The gateway is made to have watched the feed for ten days.
TEST_F(DaemonTest, AMissedDeadlineRaisesFeedOverdueUntilADeliveryArrives) {
  ed_feed_extra_ = "schedule = { every = \"day\", by = \"00:00\" }\n";
  write_config();
  start_daemon();
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait(30s), 0) << logs();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir() / "state" / "extracts.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE feeds SET watched_since = watched_since - 10 * 86400";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 2);
    sqlite3_close(db);
  }
  start_daemon();
  ASSERT_TRUE(wait_for_metric("svdgw_feed_overdue{feed=\"ed-assaults\"}", 1)) << logs();
  // The alert in the log, naming feed and partner, is part of the behaviour under test.
  EXPECT_TRUE(eventually([&] {
    return read_file(daemon_log()).find("feed.overdue: feed ed-assaults of partner northgate-ed") != std::string::npos;
  })) << logs();
  EXPECT_EQ(read_file(daemon_log()).find("feed.overdue: feed death-reports"), std::string::npos)
      << "a feed without a schedule is never overdue";
  EXPECT_NE(metric("svdgw_feed_overdue{feed=\"death-reports\"}"), 1.0) << "a feed without a schedule is never overdue";
  auto health = ops_get("/healthz");
  EXPECT_NE(health.body.find("\"overdue_feeds\":[{\"feed\":\"ed-assaults\",\"partner\":\"northgate-ed\""),
            std::string::npos)
      << health.body;

  auto r = curl({"-X", "PUT", "--data-binary", "", url("/v1/feeds/ed-assaults/nothing-to-share/2026-11-23")});
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(wait_for_metric("svdgw_feed_overdue{feed=\"ed-assaults\"}", 0)) << logs();
  EXPECT_TRUE(eventually([&] {
    return read_file(daemon_log()).find("feed.overdue_cleared: feed ed-assaults") != std::string::npos;
  })) << logs();
  EXPECT_NE(ops_get("/healthz").body.find("\"overdue_feeds\":[]"), std::string::npos);
}

// sd_notify(3) as systemd would receive it: READY=1 once listening, STOPPING=1 on SIGTERM.
TEST_F(DaemonTest, TellsTheServiceManagerWhenReadyAndWhenStopping) {
  const fs::path sock_path = dir() / "notify.sock";
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock_path.string().size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{15, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setenv("NOTIFY_SOCKET", sock_path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // WatchdogSec=0.4: a ping every 0.2 s
  start_daemon();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  auto receive_until = [&](const std::string& wanted) {
    std::string all;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
      if (n <= 0) return all;
      all.append(buf, static_cast<std::size_t>(n)).push_back('\n');
      if (all.find(wanted) != std::string::npos) return all;
    }
  };
  EXPECT_NE(receive_until("READY=1").find("READY=1"), std::string::npos);
  EXPECT_NE(receive_until("WATCHDOG=1").find("WATCHDOG=1"), std::string::npos);
  daemon_->signal(SIGTERM);
  EXPECT_NE(receive_until("STOPPING=1").find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(daemon_->wait(30s), 0) << logs();
  ::close(sock);
}

// Everything the daemon says about an extract with NHS numbers, names, dates of birth and
// postcodes: its log, its receipts and status documents, /metrics and /healthz. Every spelling of
// every identifier is searched for; a positive control shows the search finds them in the raw file.
TEST_F(DaemonTest, NoRawIdentifierReachesTheLogStatusOrMetrics) {
  start_daemon();
  const auto file = extract(400, 31, "death-reports");
  auto r = upload(file, "death-reports", "deaths-week-47.csv", kIcbClient);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string status = wait_for_status(extract_id_of(r.body), R"("state":"processed")", 30s, kIcbClient);
  // The same bytes again under a name that names a (synthetic) person, as an export job might:
  // the name must not be logged.
  auto named = upload(file, "death-reports", "Smith-John-1980-01-01.csv", kIcbClient);
  ASSERT_EQ(named.status, 200) << named.body;
  test_support::expect_no_identifier_in(file, {
                                                     {"the receipt", r.body},
                                                     {"the status", status},
                                                     {"/metrics", ops_get("/metrics").body},
                                                     {"/healthz", ops_get("/healthz").body},
                                                     {"the daemon's log", read_file(daemon_log())},
                                                 });
  const std::string log = read_file(daemon_log());
  EXPECT_EQ(log.find("Smith"), std::string::npos) << "an uploaded name reached the log";
  EXPECT_EQ(log.find("1980-01-01"), std::string::npos) << "an uploaded name reached the log";
}

}  // namespace
}  // namespace svd::testing
