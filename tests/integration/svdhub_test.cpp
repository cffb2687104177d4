// svdhub against a real mosquitto over mTLS: a gateway certificate publishes batches (and signed
// audit checkpoints), the hub stores them (witnesses them) and answers on the gateway's receipt
// topic.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include <sys/prctl.h>

#include <boost/json.hpp>

#include "base/hex.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "gateway/metrics.h"
#include "hub/sqlite_store.h"
#include "hub/store_stats.h"
#include "mosquitto_fixture.h"
#include "protocol/checkpoint.h"
#include "protocol/envelope.h"
#include "protocol/status.h"
#include "tests/support/chromium.h"
#include "tests/support/key_files.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"

namespace svd::testing {
namespace {

constexpr const char* kGateway = "northgate-ed";

using test_support::Process;
using test_support::eventually;
using test_support::read_file;

// svdhub started and stopped by its PID (tests/support/process.h).
std::unique_ptr<Process> start_svdhub(const std::filesystem::path& config, const std::filesystem::path& log,
                                      test_support::ProcessOptions options = {}) {
  return std::make_unique<Process>(std::vector<std::string>{SVD_SVDHUB, "run", "--config", config.string()}, log,
                                   std::filesystem::path(), options);
}

// A batch of the gateway's extract `extract` (digest `digest`, reached the gateway at `received_at`).
std::string extract_batch(const protocol::ExtractRef& extract, std::uint64_t seq, bool last, const std::string& records,
                          bool nil = false) {
  protocol::BatchHeader h;
  h.batch_id = protocol::batch_id_for(kGateway, "ed-assaults", extract.sha256, seq);
  h.partner = kGateway;
  h.feed = "ed-assaults";
  h.schema = "ed-assaults";
  h.key_ids = {"k1"};
  h.extract = extract;
  h.seq = seq;
  h.last = last;
  h.nil_return = nil;
  return protocol::make_batch_payload(h, records);
}

std::string batch(std::uint64_t seq, const std::string& records) {
  return extract_batch({"x-1", std::string(64, '1'), "2026-11-23T09:00:00Z"}, seq, false, records);
}

class SvdhubTest : public ::testing::Test {
 protected:
  // More TOML for the hub's config, after the gateway's [[partner]] id and feeds: more keys of
  // that table first, then any other table.
  virtual std::string extra_config() { return ""; }
  // More keys of [store], and of [broker].
  virtual std::string store_config() { return ""; }
  virtual std::string broker_config() { return ""; }
  // The gateway's [[partner]], which may send ed-assaults, and what extra_config adds.
  std::string partner_config() {
    const std::string extra = extra_config();
    return "[[partner]]\nid = \"" + std::string(kGateway) + "\"\nfeeds = [\"ed-assaults\"]\n" + extra;
  }

  void SetUp() override {
    broker_ = std::make_unique<TestBroker>(PkiOptions{.gateways = {kGateway}});
    const auto& pki = broker_->pki();
    std::ofstream(dir_.path() / "svdhub.toml")
        << "[store]\ndatabase = \"" << (dir_.path() / "hub.db").string() << "\"\n" << store_config()
        << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(pki.hub_id()).string() << "\"\nkey = \""
        << pki.client_key(pki.hub_id()).string() << "\"\nclient_id = \"" << pki.hub_id() << "\"\n"
        << broker_config()
        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR << "/deploy/examples/schemas/ed-assaults.json\"\n"
        << partner_config();
    hub_ = start_svdhub(dir_.path() / "svdhub.toml", dir_.path() / "svdhub.log");
    ASSERT_TRUE(broker_->wait_for_log("New client connected", std::chrono::seconds(10)))
        << "svdhub did not connect; its log:\n" << read_file(dir_.path() / "svdhub.log");
    gateway_ = std::make_unique<TestClient>(broker_->uri(), broker_->identity(kGateway));
    std::string error;
    ASSERT_TRUE(gateway_->connect(&error)) << error;
    ASSERT_TRUE(gateway_->subscribe(protocol::receipt_topic(kGateway)).granted);
  }
  void TearDown() override {
    if (gateway_) gateway_->disconnect();
    hub_.reset();
    broker_.reset();
  }

  // Publishes and returns the receipt the hub sends back.
  protocol::Receipt send(const std::string& payload) {
    EXPECT_TRUE(gateway_->publish(protocol::batch_topic(kGateway, "ed-assaults"), payload).ok);
    auto msg = gateway_->receive(std::chrono::seconds(10));
    if (!msg) {
      ADD_FAILURE() << "no receipt";
      return {};
    }
    auto r = protocol::parse_receipt(msg->get_payload_str());
    EXPECT_TRUE(r);
    return r ? *r : protocol::Receipt{};
  }

  std::uint64_t stored() {
    // Read-only, from the batches table: what svdhub has committed.
    auto stats = hub::read_store_stats(dir_.path() / "hub.db");
    EXPECT_TRUE(stats);
    if (!stats) return 0;
    for (const auto& f : *stats)
      if (f.feed == "ed-assaults") return f.records;
    return 0;
  }

  TempDir dir_{"svd-hub-int"};
  std::unique_ptr<TestBroker> broker_;
  std::unique_ptr<Process> hub_;
  std::unique_ptr<TestClient> gateway_;
};

const std::string kRecords = "{\"site_code\":\"RXH01\",\"assault_method\":\"08\"}\n{\"site_code\":\"RYJ\",\"assault_method\":\"01\"}\n";

// SIGHUP: a new feed, and a partner's permission to send it, without a restart. The same process
// (its PID) starts again on the checked config; a config that does not load is refused and the
// hub goes on answering with the one it had.
TEST_F(SvdhubTest, SighupTakesANewFeedAndRefusesABadConfig) {
  const std::filesystem::path config = dir_.path() / "svdhub.toml", log = dir_.path() / "svdhub.log";
  auto copy_batch = [](std::uint64_t seq) {
    protocol::BatchHeader h;
    h.batch_id = protocol::batch_id_for(kGateway, "ed-copy", std::string(64, '2'), seq);
    h.partner = kGateway;
    h.feed = "ed-copy";
    h.schema = "ed-assaults";
    h.key_ids = {"k1"};
    h.extract = {"y-1", std::string(64, '2'), "2026-11-23T09:00:00Z"};
    h.seq = seq;
    return protocol::make_batch_payload(h, kRecords);
  };
  auto send_copy = [&](std::uint64_t seq) {
    EXPECT_TRUE(gateway_->publish(protocol::batch_topic(kGateway, "ed-copy"), copy_batch(seq)).ok);
    auto msg = gateway_->receive(std::chrono::seconds(20));
    if (!msg) return protocol::Receipt{};
    auto r = protocol::parse_receipt(msg->get_payload_str());
    return r ? *r : protocol::Receipt{};
  };
  auto connects = [&] {
    const std::string text = read_file(log);
    std::size_t n = 0;
    for (std::size_t at = 0; (at = text.find("broker: connected to", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const pid_t pid = hub_->pid();
  protocol::Receipt before = send_copy(0);
  EXPECT_EQ(before.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(before.reason, "feed_not_permitted");

  // A bad config first: refused, nothing changes.
  std::string text = read_file(config);
  std::ofstream(config, std::ios::app) << "[[feed]]\nid = \"Not An Id\"\n";
  hub_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return read_file(log).find("reload refused") != std::string::npos; })) << read_file(log);
  EXPECT_EQ(send(batch(0, kRecords)).status, protocol::ReceiptStatus::accepted) << "still answering";
  EXPECT_EQ(connects(), 1u);

  // The new feed, and the partner's permission to send it.
  const std::string permitted = "feeds = [\"ed-assaults\"]";
  text.replace(text.find(permitted), permitted.size(), "feeds = [\"ed-assaults\", \"ed-copy\"]");
  text += "[[feed]]\nid = \"ed-copy\"\nschema = \"" SVD_SOURCE_DIR "/deploy/examples/schemas/ed-assaults.json\"\n";
  std::ofstream(config, std::ios::trunc) << text;
  hub_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return connects() == 2; }, std::chrono::seconds(30))) << read_file(log);
  EXPECT_NE(read_file(log).find("reload: the new config is good (2 feed(s), 1 partner(s))"), std::string::npos);
  EXPECT_NE(read_file(log).find("svdhub: store "), read_file(log).rfind("svdhub: store ")) << "started again";
  EXPECT_TRUE(hub_->running());
  EXPECT_EQ(hub_->pid(), pid);
  EXPECT_EQ(send_copy(1).status, protocol::ReceiptStatus::accepted) << read_file(log);
  EXPECT_EQ(hub_->stop(), 0);
}

TEST_F(SvdhubTest, StoresABatchOnceAndAnswersDuplicates) {
  const std::string b0 = batch(0, kRecords);
  protocol::Receipt r = send(b0);
  EXPECT_EQ(r.status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(r.batch_id, protocol::batch_id_for(kGateway, "ed-assaults", std::string(64, '1'), 0));
  EXPECT_EQ(send(b0).status, protocol::ReceiptStatus::duplicate);
  EXPECT_EQ(send(batch(1, kRecords)).status, protocol::ReceiptStatus::accepted);
  hub_->stop();
  EXPECT_EQ(stored(), 4u);
}

TEST_F(SvdhubTest, RejectsATamperedBatchWithAReason) {
  std::string b = batch(0, kRecords);
  b[b.size() - 5] = 'X';
  protocol::Receipt r = send(b);
  EXPECT_EQ(r.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(r.reason, "records_digest_mismatch");
  hub_->stop();
  EXPECT_EQ(stored(), 0u);
}

// A batch id is the hub's to recompute, not the gateway's to choose: one carrying a forged log
// line is refused, stores nothing, and still makes exactly one line in svdhub's log, with the
// control characters shown as escapes and the rest cut short.
TEST_F(SvdhubTest, ABatchIdThatIsNotTheComputedOneIsRefusedAndLoggedOnOneLine) {
  const std::string topic = protocol::batch_topic(kGateway, "ed-assaults");
  protocol::BatchHeader h;
  h.batch_id = "forged\nbatch 0 on " + topic + ": accepted\r\t\x1b[2K" + std::string(300, 'z');
  h.partner = kGateway;
  h.feed = "ed-assaults";
  h.schema = "ed-assaults";
  h.key_ids = {"k1\n\x1b[31m"};
  h.extract = {"x-1\r\n", std::string(64, '1'), "2026-11-23T09:00:00Z"};
  const protocol::Receipt r = send(protocol::make_batch_payload(h, kRecords));
  EXPECT_EQ(r.status, protocol::ReceiptStatus::rejected);
  EXPECT_EQ(r.reason, "batch_id_mismatch");
  EXPECT_EQ(r.batch_id, h.batch_id);
  hub_->stop();
  EXPECT_EQ(stored(), 0u);

  const std::string log = read_file(dir_.path() / "svdhub.log");
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = log.find('\n', at)) != std::string::npos; at = nl + 1)
    if (log.substr(at, nl - at).find("forged") != std::string::npos) lines.push_back(log.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 1u) << log;
  const std::string shown = "forged\\nbatch 0 on " + topic + ": accepted\\r\\t\\x1b[2K";
  EXPECT_EQ(lines[0], "batch " + shown + std::string(128 - shown.size(), 'z') + "\u2026 on " + topic +
                          ": rejected (batch_id_mismatch)");
  EXPECT_EQ(log.find_first_of("\r\t\x1b"), std::string::npos) << log;
}

TEST_F(SvdhubTest, ARestartedHubStillRecognisesDuplicates) {
  const std::string b0 = batch(0, kRecords);
  EXPECT_EQ(send(b0).status, protocol::ReceiptStatus::accepted);
  hub_->stop();
  const std::size_t mark = broker_->log_size();
  hub_ = start_svdhub(dir_.path() / "svdhub.toml", dir_.path() / "svdhub.log");
  ASSERT_TRUE(broker_->wait_for_log("New client connected", std::chrono::seconds(10), mark));
  EXPECT_EQ(send(b0).status, protocol::ReceiptStatus::duplicate);
  hub_->stop();
  EXPECT_EQ(stored(), 2u);
}

class SvdhubRetentionTest : public SvdhubTest {
 protected:
  std::string store_config() override { return "retain_days = 30\n"; }
};

// Records received more than retain_days ago are deleted when svdhub starts (and hourly), with
// their counts logged; their batches are still known, so a late re-send is not stored again.
TEST_F(SvdhubRetentionTest, OldRecordsAreDeletedAndTheirBatchesStillKnown) {
  const std::string old = batch(0, kRecords), recent = batch(1, kRecords);
  ASSERT_EQ(send(old).status, protocol::ReceiptStatus::accepted);
  ASSERT_EQ(send(recent).status, protocol::ReceiptStatus::accepted);
  hub_->stop();
  // The first batch's records as if received 31 days ago.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "hub.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE records_ed_assaults SET _received_at = _received_at - 31 * 86400 WHERE _batch_id = '" +
                            protocol::batch_id_for(kGateway, "ed-assaults", std::string(64, '1'), 0) + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 2);
    sqlite3_close(db);
  }
  const auto log = dir_.path() / "svdhub.log";
  const std::size_t mark = broker_->log_size();
  hub_ = start_svdhub(dir_.path() / "svdhub.toml", log);
  ASSERT_TRUE(eventually([&] { return read_file(log).find("retention: deleted 2 record(s)") != std::string::npos; }))
      << read_file(log);
  EXPECT_NE(read_file(log).find("(ed-assaults 2)"), std::string::npos) << read_file(log);
  ASSERT_TRUE(broker_->wait_for_log("New client connected", std::chrono::seconds(10), mark));
  EXPECT_EQ(send(old).status, protocol::ReceiptStatus::duplicate);
  hub_->stop();
  // stats count the batches table, which keeps both; the records table holds the recent two.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_.path() / "hub.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM records_ed_assaults", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 2);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// svdhub holds at most [broker] max_pending_bytes of received, unstored payload: paused while a
// gateway keeps sending (every batch twice, as re-sends after a receipt timeout would) and a
// client publishes payloads over max_batch_bytes, it stores every valid batch once on resume,
// answers the oversize ones batch_too_large, and its peak memory grows by less than the budget
// plus a fixed margin, although the broker held several times that for it.
class SvdhubIntakeTest : public SvdhubTest {
 protected:
  // Where transparent huge pages are "always" on, a few touched bytes make 2 MiB resident and the
  // peak measures the kernel's page size, not svdhub's buffers. The setting is inherited by the
  // svdhub this process starts (prctl(2)); this test process starts nothing else that matters.
  static void SetUpTestSuite() { ASSERT_EQ(::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0); }

  std::string broker_config() override { return "max_pending_bytes = 2097152\nmax_batch_bytes = 1048576\n"; }

  // VmHWM of the process: its peak resident memory so far, in KiB.
  static long peak_rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
  }
};

TEST_F(SvdhubIntakeTest, APausedHubCatchesUpWithinItsMemoryBudget) {
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer freed memory is held back in a quarantine (256 MiB) that would count
  // as growth: this svdhub runs without one (every other check still applies).
  hub_->stop();
  const std::size_t mark = broker_->log_size();
  hub_ = start_svdhub(dir_.path() / "svdhub.toml", dir_.path() / "svdhub.log",
                      {.env = test_support::environment_with({"ASAN_OPTIONS=quarantine_size_mb=0"})});
  ASSERT_TRUE(broker_->wait_for_log("New client connected", std::chrono::seconds(10), mark));
#endif
  // The first batch is stored before the pause, so the store's tables and caches are warm.
  ASSERT_EQ(send(batch(1000, kRecords)).status, protocol::ReceiptStatus::accepted);
  const long before = peak_rss_kib(hub_->pid());
  ASSERT_GT(before, 0);
  std::string records;  // about 256 KiB a batch
  while (records.size() < (256u << 10)) records += kRecords;
  constexpr std::uint64_t kBatches = 100;
  hub_->signal(SIGSTOP);
  std::size_t published = 0;
  for (std::uint64_t seq = 0; seq < kBatches; ++seq) {
    const std::string b = batch(seq, records);
    for (int copy = 0; copy < 2; ++copy) {
      ASSERT_TRUE(gateway_->publish(protocol::batch_topic(kGateway, "ed-assaults"), b).ok);
      published += b.size();
    }
    if (seq % 25 == 0) {  // and now and then a payload four times the hub's limit
      std::string big = batch(5000 + seq, std::string(4u << 20, ' '));
      ASSERT_TRUE(gateway_->publish(protocol::batch_topic(kGateway, "ed-assaults"), big).ok);
      published += big.size();
    }
  }
  ASSERT_GT(published, 60u << 20);  // what the broker holds for the paused hub
  hub_->signal(SIGCONT);

  std::map<std::uint64_t, std::vector<protocol::ReceiptStatus>> answers;
  std::size_t too_large = 0;
  for (std::uint64_t i = 0; i < 2 * kBatches + 4; ++i) {
    auto msg = gateway_->receive(std::chrono::seconds(60));
    ASSERT_TRUE(msg) << "receipt " << i << " missing; svdhub log:\n" << read_file(dir_.path() / "svdhub.log");
    auto r = protocol::parse_receipt(msg->get_payload_str());
    ASSERT_TRUE(r);
    if (r->status == protocol::ReceiptStatus::rejected) {
      EXPECT_EQ(r->reason, "batch_too_large");
      ++too_large;
      continue;
    }
    for (std::uint64_t seq = 0; seq < kBatches; ++seq)
      if (r->batch_id == protocol::batch_id_for(kGateway, "ed-assaults", std::string(64, '1'), seq))
        answers[seq].push_back(r->status);
  }
  EXPECT_EQ(too_large, 4u);
  ASSERT_EQ(answers.size(), kBatches);
  for (const auto& [seq, statuses] : answers)
    EXPECT_EQ(statuses, (std::vector{protocol::ReceiptStatus::accepted, protocol::ReceiptStatus::duplicate})) << seq;
  const long after = peak_rss_kib(hub_->pid());
  RecordProperty("peak_rss_growth_kib", std::to_string(after - before));
  hub_->stop();
  EXPECT_EQ(stored(), (kBatches * (records.size() / kRecords.size()) + 1) * 2);
  // The budget (2 MiB) plus a margin for what else grows while storing 25 MB of records and
  // refusing 16 MB: SQLite's page cache (8 MiB), Paho's buffer for a 4 MiB payload and its copy.
  // Without the bound it grew by 89 MB here (all 66 MB the broker held, and more).
  EXPECT_LT(after - before, (2 + 40) * 1024) << "peak RSS grew from " << before << " KiB to " << after << " KiB";
}

TEST_F(SvdhubTest, ABurstOfBatchesIsAnsweredBatchByBatchAfterGroupCommits) {
  // Published back to back without waiting for receipts, so svdhub finds several waiting and
  // stores them in groups. Every batch still gets its own answer, a repeated one is stored once
  // even when both copies land in the same group, and a bad one does not affect its neighbours.
  constexpr std::uint64_t kBatches = 150;
  std::map<std::string, std::uint64_t> seq_of;
  std::vector<std::string> payloads;
  for (std::uint64_t seq = 0; seq < kBatches; ++seq) {
    payloads.push_back(batch(seq, kRecords));
    seq_of[protocol::batch_id_for(kGateway, "ed-assaults", std::string(64, '1'), seq)] = seq;
    if (seq % 10 == 0) payloads.push_back(payloads.back());                     // sent twice in a row
    if (seq % 25 == 0) payloads.push_back(batch(seq + 1000, "{\"nope\":1}\n"));  // refused: unknown column
  }
  for (const auto& p : payloads) ASSERT_TRUE(gateway_->publish(protocol::batch_topic(kGateway, "ed-assaults"), p).ok);

  std::map<std::uint64_t, std::vector<protocol::ReceiptStatus>> answers;
  std::size_t rejected = 0;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    auto msg = gateway_->receive(std::chrono::seconds(10));
    ASSERT_TRUE(msg) << "receipt " << i << " of " << payloads.size() << " missing";
    auto r = protocol::parse_receipt(msg->get_payload_str());
    ASSERT_TRUE(r);
    if (r->status == protocol::ReceiptStatus::rejected) {
      EXPECT_EQ(r->reason, "bad_record");
      ++rejected;
      continue;
    }
    ASSERT_TRUE(seq_of.count(r->batch_id));
    answers[seq_of[r->batch_id]].push_back(r->status);
  }
  EXPECT_EQ(rejected, 6u);
  ASSERT_EQ(answers.size(), kBatches);
  for (const auto& [seq, statuses] : answers) {
    SCOPED_TRACE(seq);
    ASSERT_EQ(statuses.size(), seq % 10 == 0 ? 2u : 1u);
    EXPECT_EQ(statuses[0], protocol::ReceiptStatus::accepted);  // the hub handles them in arrival order
    if (statuses.size() == 2) {
      EXPECT_EQ(statuses[1], protocol::ReceiptStatus::duplicate);
    }
  }
  hub_->stop();
  EXPECT_EQ(stored(), 2 * kBatches);
}

// The hub as witness: the gateway's certificate publishes signed checkpoints on its audit topic
// and gets the witness's receipts on its receipt topic.
class SvdhubWitnessTest : public SvdhubTest {
 protected:
  std::string extra_config() override {
    // The keys are made before the hub starts (SetUp below calls this first).
    EXPECT_TRUE(crypto::generate_signing_key(dir_.path() / "witness.key", dir_.path() / "witness.pub"));
    EXPECT_TRUE(crypto::generate_signing_key(dir_.path() / "device.key", dir_.path() / "device.pub"));
    EXPECT_TRUE(crypto::generate_signing_key(dir_.path() / "forger.key", dir_.path() / "forger.pub"));
    return "device_key = \"" + (dir_.path() / "device.pub").string() + "\"\n[witness]\nkey = \"" +
           (dir_.path() / "witness.key").string() + "\"\n";
  }

  // The checkpoint at `seq` of a log whose leaf n is SHA-256("event n"), from the start.
  protocol::CheckpointMessage checkpoint(std::uint64_t seq, const std::filesystem::path& key_file) {
    protocol::CheckpointMessage m;
    std::array<unsigned char, 32> chain{};
    for (std::uint64_t n = 1; n <= seq; ++n) {
      crypto::Sha256 leaf;
      leaf.update("event " + std::to_string(n));
      const auto l = leaf.finish();
      m.leaves.push_back(to_hex(l));
      crypto::Sha256 next;
      next.update(std::string_view(reinterpret_cast<const char*>(chain.data()), chain.size()));
      next.update(std::string_view(reinterpret_cast<const char*>(l.data()), l.size()));
      chain = next.finish();
    }
    m.checkpoint = {kGateway, seq, to_hex(chain), "2026-11-23T09:00:00.000Z"};
    auto key = crypto::load_signing_key(key_file);
    EXPECT_TRUE(key);
    if (!key) return m;
    const crypto::Signature s = key->sign(protocol::checkpoint_note(m.checkpoint));
    m.signature = to_hex(s);
    m.key_fingerprint = crypto::fingerprint(key->public_key());
    return m;
  }

  protocol::CheckpointReceipt send_checkpoint(const protocol::CheckpointMessage& m) {
    EXPECT_TRUE(gateway_->publish(protocol::audit_topic(kGateway), protocol::to_json(m)).ok);
    auto msg = gateway_->receive(std::chrono::seconds(10));
    if (!msg) {
      ADD_FAILURE() << "no receipt; svdhub log:\n" << read_file(dir_.path() / "svdhub.log");
      return {};
    }
    EXPECT_TRUE(protocol::is_checkpoint_receipt(msg->get_payload_str())) << msg->get_payload_str();
    auto r = protocol::parse_checkpoint_receipt(msg->get_payload_str());
    EXPECT_TRUE(r) << msg->get_payload_str();
    return r ? *r : protocol::CheckpointReceipt{};
  }

  std::string svdhub_output(const std::vector<std::string>& args) {
    std::vector<std::string> argv{SVD_SVDHUB};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = test_support::run(argv, {.timeout = std::chrono::seconds(10)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
};

TEST_F(SvdhubWitnessTest, CosignsACheckpointAndRaisesAnAlarmOnAForgery) {
  const protocol::CheckpointMessage genuine = checkpoint(3, dir_.path() / "device.key");
  protocol::CheckpointReceipt r = send_checkpoint(genuine);
  ASSERT_EQ(r.status, protocol::CheckpointStatus::accepted) << r.reason;
  EXPECT_EQ(r.checkpoint, genuine.checkpoint);
  auto witness_pub = crypto::load_public_key(dir_.path() / "witness.pub");
  ASSERT_TRUE(witness_pub);
  EXPECT_EQ(r.witness_fingerprint, crypto::fingerprint(*witness_pub));
  std::vector<unsigned char> cosig;
  for (std::size_t i = 0; i + 1 < r.cosignature.size(); i += 2)
    cosig.push_back(static_cast<unsigned char>(std::stoi(r.cosignature.substr(i, 2), nullptr, 16)));
  EXPECT_TRUE(crypto::verify_signature(*witness_pub, protocol::witness_note(r.checkpoint, r.witnessed_at), cosig));
  // Batches still flow beside checkpoints.
  EXPECT_EQ(send(batch(0, kRecords)).status, protocol::ReceiptStatus::accepted);

  // The next checkpoint, signed with a key that is not the partner's.
  protocol::CheckpointMessage forged = checkpoint(5, dir_.path() / "forger.key");
  forged.prev = protocol::ChainPoint{3, genuine.checkpoint.chain_hash};
  forged.leaves.erase(forged.leaves.begin(), forged.leaves.begin() + 3);
  protocol::CheckpointReceipt refused = send_checkpoint(forged);
  EXPECT_EQ(refused.status, protocol::CheckpointStatus::rejected);
  EXPECT_EQ(refused.reason, "bad_signature");
  EXPECT_EQ(refused.cosignature, "");

  const std::string config = (dir_.path() / "svdhub.toml").string();
  // Read-only while svdhub runs.
  const std::string alarms = svdhub_output({"checkpoints", "alarms", "--config", config});
  EXPECT_NE(alarms.find("partner northgate-ed checkpoint seq 5: bad_signature"), std::string::npos) << alarms;
  EXPECT_NE(alarms.find("1 audit alarm(s) stored"), std::string::npos) << alarms;
  const std::string exported = svdhub_output({"checkpoints", "export", "--config", config, "--partner", kGateway});
  auto line = protocol::parse_checkpoint_receipt(exported.substr(0, exported.find('\n')));
  ASSERT_TRUE(line) << exported;
  EXPECT_EQ(line->cosignature, r.cosignature);
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), 1);
  EXPECT_NE(svdhub_output({"stats", "--config", config}).find("northgate-ed: 1 checkpoints, last seq 3"),
            std::string::npos);
  hub_->stop();
  EXPECT_NE(read_file(dir_.path() / "svdhub.log").find("audit.alarm: partner northgate-ed checkpoint seq 5: bad_signature"),
            std::string::npos);
}

TEST_F(SvdhubTest, WithoutAWitnessKeyCheckpointsAreNotAnswered) {
  // The hub answers in arrival order: had it answered the checkpoint, that receipt would come
  // before the batch's.
  EXPECT_TRUE(gateway_->publish(protocol::audit_topic(kGateway), "{}").ok);
  EXPECT_EQ(send(batch(0, kRecords)).status, protocol::ReceiptStatus::accepted);
  EXPECT_EQ(gateway_->try_receive(), nullptr);
  hub_->stop();
  EXPECT_NE(read_file(dir_.path() / "svdhub.log").find("no [witness] key configured"), std::string::npos);
}

// The force's view of who shared: the hub records each gateway's status as it comes and goes, and
// `svdhub sharing` tells each scheduled week's delivery from a nil return and from a late one.
class SvdhubSharingTest : public SvdhubTest {
 protected:
  std::string extra_config() override {
    return "[partner.schedule]\ned-assaults = { every = \"week\", day = \"monday\", by = \"09:00\" }\n";
  }
  // An extract's batch: `received_at` is when it reached the gateway.
  static std::string extract_batch(const std::string& id, const std::string& received_at, std::uint64_t seq,
                                   bool last, const std::string& records, bool nil = false) {
    return testing::extract_batch({id, crypto::sha256_hex(id), received_at}, seq, last, records, nil);
  }
};

TEST_F(SvdhubSharingTest, TheHubKnowsWhenEachGatewayWasOnlineAndWhoSharedEachWeek) {
  const std::string status = protocol::status_topic(kGateway);
  ASSERT_TRUE(gateway_->publish(status, R"({"state":"online","version":"0.1.0","queued_batches":2,)"
                                        R"("unacknowledged_records":20,"rejected_batches":0,)"
                                        R"("time":"2026-11-30T10:00:00Z"})").ok);
  const auto log = [&] { return read_file(dir_.path() / "svdhub.log"); };
  ASSERT_TRUE(eventually([&] { return log().find("gateway northgate-ed: online, 2 batch(es) queued, svdgw 0.1.0") !=
                                      std::string::npos; }))
      << log();

  // The week to Monday 23 Nov 09:00: an extract received at its deadline, in two batches (so late
  // for the week before, which had none). The week to 30 Nov: a nothing-to-share return.
  EXPECT_EQ(send(extract_batch("x-1", "2026-11-23T09:00:00Z", 0, false, kRecords)).status,
            protocol::ReceiptStatus::accepted);
  EXPECT_EQ(send(extract_batch("x-1", "2026-11-23T09:00:00Z", 1, true, kRecords)).status,
            protocol::ReceiptStatus::accepted);
  EXPECT_EQ(send(extract_batch("nil-1", "2026-11-25T10:00:00Z", 0, true, "", true)).status,
            protocol::ReceiptStatus::accepted);
  // Its link dies: the broker publishes the gateway's last will.
  ASSERT_TRUE(gateway_->publish(status, R"({"state":"offline","version":"0.1.0"})").ok);
  ASSERT_TRUE(eventually([&] { return log().find("gateway northgate-ed: offline (its link died") != std::string::npos; }))
      << log();
  hub_->stop();

  auto store = hub::SqliteStore::open(dir_.path() / "hub.db", {});
  ASSERT_TRUE(store);
  auto states = (*store)->gateway_states();
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  EXPECT_FALSE((*states)[0].online);
  EXPECT_EQ((*states)[0].last_online_at, 1796032800);  // 2026-11-30T10:00:00Z, its own clock
  store->reset();

  // Deadlines are the hub's local time: UTC here, as on the gateway's side of this test.
  const auto sharing = test_support::run({SVD_SVDHUB, "sharing", "--config", (dir_.path() / "svdhub.toml").string(),
                                          "--from", "2026-11-10", "--to", "2026-11-30"},
                                         {.env = std::vector<std::string>{"TZ=UTC"}});
  ASSERT_EQ(sharing.exit_code, 0) << sharing.err;
  const auto line = [&](const std::string& period) {
    const auto at = sharing.out.find(period);
    return at == std::string::npos ? std::string() : sharing.out.substr(at, sharing.out.find('\n', at) - at);
  };
  EXPECT_NE(line("week to Monday 2026-11-16 09:00").find("late"), std::string::npos) << sharing.out;
  EXPECT_NE(line("week to Monday 2026-11-16 09:00").find("7d 00h"), std::string::npos) << sharing.out;
  EXPECT_NE(line("week to Monday 2026-11-23 09:00").find("received          1         4"), std::string::npos)
      << sharing.out;
  EXPECT_NE(line("week to Monday 2026-11-30 09:00").find("nil return"), std::string::npos) << sharing.out;
  EXPECT_NE(sharing.out.find("northgate-ed ed-assaults: 3 period(s) due, 1 received, 1 nil return, 1 late, 0 missing"),
            std::string::npos)
      << sharing.out;

  // The same weeks in the force's report: the page and its CSV.
  const auto out = dir_.path() / "report";
  const auto report = test_support::run({SVD_SVDHUB, "report", "--config", (dir_.path() / "svdhub.toml").string(),
                                         "--from", "2026-11-10", "--to", "2026-11-30", "--out", out.string()},
                                        {.env = std::vector<std::string>{"TZ=UTC"}});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string page = read_file(out / "index.html");
  for (const char* heading : {"<h2>Sharing compliance</h2>", "<h2>Who did not share, and for how long</h2>",
                              "<h2>Gateways</h2>", ">2026-W47<", ">2026-W48<", ">2026-W49<"})
    EXPECT_NE(page.find(heading), std::string::npos) << heading;
  EXPECT_NE(page.find("<td class=\"l s-late\">late 7d 00h</td>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(read_file(out / "sharing.csv"),
            "partner,feed,iso_week,period,deadline_utc,state,extracts,records,nil_returns,in_transit,overdue_seconds\n"
            "northgate-ed,ed-assaults,2026-W47,week to Monday 2026-11-16 09:00,2026-11-16T09:00:00Z,late,0,0,0,0,604800\n"
            "northgate-ed,ed-assaults,2026-W48,week to Monday 2026-11-23 09:00,2026-11-23T09:00:00Z,received,1,4,0,0,0\n"
            "northgate-ed,ed-assaults,2026-W49,week to Monday 2026-11-30 09:00,2026-11-30T09:00:00Z,nil return,0,0,1,0,"
            "0\n");
  EXPECT_EQ(read_file(out / "gateways.csv"),
            "partner,state,last_online_utc,queued_batches,version\nnorthgate-ed,offline,2026-11-30T10:00:00Z,,0.1.0\n");

  // As a person sees it: rendered, not blank, with its sections and the late week in words.
  const auto rendered = test_support::render_in_chromium(out / "index.html", dir_.path());
  ASSERT_TRUE(rendered.error.empty()) << rendered.error;
  EXPECT_GT(rendered.colours, 32);
  EXPECT_GT(rendered.ink, 0.02);
  const std::string text = test_support::page_text(rendered.dom);
  for (const char* expected :
       {"Data sharing at the force", "Sharing compliance", "Who did not share, and for how long", "Gateways",
        "northgate-ed ed-assaults weekly by Monday 09:00 3 1 1 1 0 4 7d 00h",
        "week to Monday 2026-11-16 09:00 late 7d 00h delivered 2026-11-23T09:00:00Z"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n--- page text ---\n" << text;
}

// svdhub's operations port, and the shipped alert rules and dashboard against what both programs
// really export: promtool checks the rules' syntax, and every metric a rule or a panel names must
// be a family of a live svdhub's /metrics or of the gateway's registry (gateway/metrics.h).
class SvdhubOpsTest : public SvdhubSharingTest {
 protected:
  std::string extra_config() override {
    return SvdhubSharingTest::extra_config() + "[ops]\nport = " + std::to_string(ops_port_) + "\n";
  }
  test_support::RunResult get(const std::string& path) {
    return test_support::run({"/usr/bin/curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}",
                              "http://127.0.0.1:" + std::to_string(ops_port_) + path});
  }
  // The metric families of a text exposition (its TYPE lines).
  static std::set<std::string> families(const std::string& text) {
    std::set<std::string> out;
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) )");
    for (std::sregex_iterator it(text.begin(), text.end(), type), end; it != end; ++it) out.insert((*it)[1]);
    return out;
  }
  static std::set<std::string> named_in(const std::string& text) {
    std::set<std::string> out;
    static const std::regex name(R"(\b(svdgw|svdhub)_[a-z_]+\b)");
    for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) out.insert((*it)[0]);
    return out;
  }
  const std::uint16_t ops_port_ = pick_free_port();
};

TEST_F(SvdhubOpsTest, HealthzAndMetricsShowWhatTheHubStoredAndWhoIsOverdue) {
  ASSERT_TRUE(eventually([&] { return read_file(dir_.path() / "svdhub.log").find("ops: listening on") !=
                                      std::string::npos; }))
      << read_file(dir_.path() / "svdhub.log");
  EXPECT_EQ(send(extract_batch("x-1", "2026-11-23T09:00:00Z", 0, true, kRecords)).status,
            protocol::ReceiptStatus::accepted);
  std::string b = batch(7, kRecords);
  b[b.size() - 5] = 'X';
  EXPECT_EQ(send(b).status, protocol::ReceiptStatus::rejected);

  // The weekly feed's last delivery was on 23 Nov: overdue since 30 Nov, once the hub has looked
  // at the store again after storing it.
  std::string text;
  const auto overdue = [&] {
    const auto metrics = get("/metrics");
    if (metrics.exit_code != 0 || !metrics.out.ends_with("\n200")) return false;
    text = metrics.out.substr(0, metrics.out.rfind('\n'));  // the body, without -w's line
    return text.find("svdhub_feed_overdue{partner=\"northgate-ed\",feed=\"ed-assaults\"} 1\n") != std::string::npos;
  };
  ASSERT_TRUE(eventually(overdue)) << text << read_file(dir_.path() / "svdhub.log");
  const auto parsed = test_support::parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.samples.at("svdhub_batches_total{partner=\"northgate-ed\",outcome=\"accepted\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdhub_batches_total{partner=\"northgate-ed\",outcome=\"rejected\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdhub_batches_rejected_total{reason=\"records_digest_mismatch\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdhub_records_stored_total{partner=\"northgate-ed\",feed=\"ed-assaults\"}"), 2);
  EXPECT_EQ(parsed.samples.at("svdhub_store_commits_total{result=\"ok\"}"), 1);
  EXPECT_EQ(parsed.samples.at("svdhub_broker_connected"), 1);
  EXPECT_GT(parsed.samples.at("svdhub_certificate_expiry_timestamp_seconds{role=\"broker-client\"}"), 1.7e9);
  EXPECT_EQ(parsed.samples.at("svdhub_intake_budget_bytes"), 64 << 20);
  EXPECT_GT(parsed.samples.at("svdhub_feed_overdue_seconds{partner=\"northgate-ed\",feed=\"ed-assaults\"}"), 86400);
  const auto health = get("/healthz");
  EXPECT_TRUE(health.out.ends_with("\n200")) << health.out;
  EXPECT_NE(health.out.find(R"("overdue_feeds":[{"partner":"northgate-ed","feed":"ed-assaults")"), std::string::npos)
      << health.out;
  EXPECT_TRUE(get("/nothing").out.ends_with("\n404"));

  // The shipped rules and dashboard name only what exists.
  std::set<std::string> exported = families(text);
  ops::Metrics gateway_registry("svdgw");
  const gateway::GatewayMetrics gateway_families(gateway_registry, "0.1.0");
  for (const auto& f : families(gateway_registry.render())) exported.insert(f);
  const std::filesystem::path monitoring = std::filesystem::path(SVD_SOURCE_DIR) / "deploy" / "monitoring";
  const std::string rules = read_file(monitoring / "svd-alerts.yml");
  const std::string dashboard = read_file(monitoring / "svd-grafana.json");
  std::string exprs;
  const boost::json::value parsed_dashboard = boost::json::parse(dashboard);
  for (const auto& panel : parsed_dashboard.at("panels").as_array())
    for (const auto& target : panel.at("targets").as_array()) exprs += std::string(target.at("expr").as_string()) + '\n';
  ASSERT_FALSE(exprs.empty());
  for (const auto& [what, text_of] : {std::pair<std::string, std::string>{"svd-alerts.yml", rules}, {"svd-grafana.json", exprs}}) {
    const auto names = named_in(text_of);
    EXPECT_GT(names.size(), 10u) << what;
    for (const auto& n : names) EXPECT_TRUE(exported.contains(n)) << what << " names " << n << ", which nobody exports";
  }
  const auto promtool = test_support::run({"promtool", "check", "rules", (monitoring / "svd-alerts.yml").string()});
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;
  EXPECT_NE(promtool.out.find("SUCCESS: 17 rules found"), std::string::npos) << promtool.out;
  // The operations port stops with svdhub, which still exits cleanly.
  EXPECT_EQ(hub_->stop(), 0) << read_file(dir_.path() / "svdhub.log");
}

}  // namespace
}  // namespace svd::testing
