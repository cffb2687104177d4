// svdhub against a real mosquitto over mTLS: a gateway certificate publishes batches, the hub
// stores them and answers on the gateway's receipt topic.

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "child_process.h"
#include "hub/hub_store.h"
#include "mosquitto_fixture.h"
#include "protocol/envelope.h"

namespace svd::testing {
namespace {

constexpr const char* kGateway = "northgate-ed";

// svdhub started by posix_spawn and stopped by its PID (child_process.h).
std::unique_ptr<ChildProcess> start_svdhub(const std::filesystem::path& config, const std::filesystem::path& log) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{SVD_SVDHUB, "run", "--config", config.string()}, log,
                                        log);
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
  void SetUp() override {
    broker_ = std::make_unique<TestBroker>(PkiOptions{.gateways = {kGateway}});
    const auto& pki = broker_->pki();
    std::ofstream(dir_.path() / "svdhub.toml")
        << "[store]\ndatabase = \"" << (dir_.path() / "hub.db").string() << "\"\n"
        << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(pki.hub_id()).string() << "\"\nkey = \""
        << pki.client_key(pki.hub_id()).string() << "\"\nclient_id = \"" << pki.hub_id() << "\"\n"
        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR << "/deploy/examples/schemas/ed-assaults.json\"\n";
    hub_ = start_svdhub(dir_.path() / "svdhub.toml", dir_.path() / "svdhub.log");
    ASSERT_TRUE(hub_->started());
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
  std::unique_ptr<ChildProcess> hub_;
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

}  // namespace
}  // namespace svd::testing
