// svdhub against a real mosquitto over mTLS: a gateway certificate publishes batches (and signed
// audit checkpoints), the hub stores them (witnesses them) and answers on the gateway's receipt
// topic.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "base/hex.h"
#include "crypto/sha256.h"
#include "crypto/signing_key.h"
#include "hub/hub_store.h"
#include "mosquitto_fixture.h"
#include "protocol/checkpoint.h"
#include "protocol/envelope.h"
#include "tests/support/key_files.h"
#include "tests/support/process.h"

namespace svd::testing {
namespace {

constexpr const char* kGateway = "northgate-ed";

using test_support::Process;
using test_support::read_file;

// svdhub started and stopped by its PID (tests/support/process.h).
std::unique_ptr<Process> start_svdhub(const std::filesystem::path& config, const std::filesystem::path& log) {
  return std::make_unique<Process>(std::vector<std::string>{SVD_SVDHUB, "run", "--config", config.string()}, log);
}

std::string batch(std::uint64_t seq, const std::string& records) {
  protocol::BatchHeader h;
  h.batch_id = protocol::batch_id_for(kGateway, "ed-assaults", std::string(64, '1'), seq);
  h.partner = kGateway;
  h.feed = "ed-assaults";
  h.schema = "ed-assaults";
  h.key_ids = {"k1"};
  h.extract = {"x-1", std::string(64, '1'), "2026-11-23T09:00:00Z"};
  h.seq = seq;
  return protocol::make_batch_payload(h, records);
}

class SvdhubTest : public ::testing::Test {
 protected:
  // More TOML for the hub's config (after its [[feed]]).
  virtual std::string extra_config() { return ""; }

  void SetUp() override {
    broker_ = std::make_unique<TestBroker>(PkiOptions{.gateways = {kGateway}});
    const auto& pki = broker_->pki();
    std::ofstream(dir_.path() / "svdhub.toml")
        << "[store]\ndatabase = \"" << (dir_.path() / "hub.db").string() << "\"\n"
        << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(pki.hub_id()).string() << "\"\nkey = \""
        << pki.client_key(pki.hub_id()).string() << "\"\nclient_id = \"" << pki.hub_id() << "\"\n"
        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR << "/deploy/examples/schemas/ed-assaults.json\"\n"
        << extra_config();
    hub_ = start_svdhub(dir_.path() / "svdhub.toml", dir_.path() / "svdhub.log");
    ASSERT_TRUE(broker_->wait_for_log("New client connected", std::chrono::seconds(10)))
        << "svdhub did not connect";
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
    auto s = hub::HubStore::open(dir_.path() / "hub.db", {{"ed-assaults", {}}});
    EXPECT_TRUE(s);
    return s ? *(*s)->record_count("ed-assaults") : 0;
  }

  TempDir dir_{"svd-hub-int"};
  std::unique_ptr<TestBroker> broker_;
  std::unique_ptr<Process> hub_;
  std::unique_ptr<TestClient> gateway_;
};

const std::string kRecords = "{\"site_code\":\"RXH01\",\"assault_method\":\"08\"}\n{\"site_code\":\"RYJ\",\"assault_method\":\"01\"}\n";

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
    return "[witness]\nkey = \"" + (dir_.path() / "witness.key").string() + "\"\n[[partner]]\nid = \"" + kGateway +
           "\"\ndevice_key = \"" + (dir_.path() / "device.pub").string() + "\"\n";
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

}  // namespace
}  // namespace svd::testing
