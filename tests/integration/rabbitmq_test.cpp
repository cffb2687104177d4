// The gateway and svdhub, unchanged, against RabbitMQ 3.10's MQTT plugin (the clustered hub
// broker of docs/clustering.md) configured from deploy/rabbitmq/: MQTT 3.1.1 over mutual TLS,
// the certificate's CN as the user, each partner held to its own topics by RabbitMQ's topic
// permissions. Real binaries, a real RabbitMQ node on free loopback ports (rabbitmq_fixture.h),
// synthetic extracts; every process is stopped by the PID the test started.
//
// What RabbitMQ 3.10 does differently from mosquitto, as these tests observe it:
//   - a publish or subscription outside a user's topic permissions closes that client's
//     connection (mosquitto 2.0 drops such a publish but PUBACKs it, and grants such a
//     subscription but delivers nothing on it);
//   - a client id is not tied to the certificate: a client that claims another's id is refused
//     (it may not touch that id's session queue), but the broker disconnects the other client
//     first;
//   - a retained message reaches only subscriptions without wildcards.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>

#include "daemon_fixture.h"
#include "gateway_hub.h"
#include "rabbitmq_fixture.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kOtherPartner = "southside-ed";
constexpr const char* kLatePartner = "eastfield-ed";  // has a certificate, not (yet) a user

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A figure for the report: in the test's output and in its XML result.
void figure(const std::string& name, std::int64_t value_ms) {
  std::cout << "[ figure   ] " << name << ": " << value_ms << " ms\n";
  ::testing::Test::RecordProperty(name, std::to_string(value_ms));
}

// Waits (bounded) until the broker has closed `c`'s connection.
bool wait_disconnected(TestClient& c, std::chrono::milliseconds timeout = 10s) {
  return eventually([&] { return !c.is_connected(); }, timeout);
}

// The next message on `c` within `timeout` whose topic is `topic`, skipping others (nullptr
// when none arrived).
mqtt::const_message_ptr next_on(TestClient& c, const std::string& topic, std::chrono::milliseconds timeout) {
  mqtt::const_message_ptr found;
  eventually(
      [&] {
        auto m = c.receive(100ms);
        if (m && m->get_topic() == topic) found = m;
        return found != nullptr;
      },
      timeout);
  return found;
}

// A hub-side observer: the hub's certificate under a client id of its own (setup-users.sh lets a
// hub identity use "<hub>-<suffix>" client ids, one per svdhub instance), so it never displaces
// the running svdhub.
ClientIdentity observer(const TestPki& pki) {
  return {pki.hub_id() + "-observer", pki.ca_cert(), pki.client_cert(pki.hub_id()), pki.client_key(pki.hub_id())};
}

// GatewayHubTest or DaemonHarness with RabbitMQ as the hub broker instead of mosquitto.
template <class Harness>
class OverRabbitMq : public Harness {
 protected:
  using Harness::Harness;

  void start_broker() override {
    rabbit_ = std::make_unique<TestRabbitMq>(this->pki_options_);
    figure("rabbitmq_startup", rabbit_->startup_time().count());
    // RabbitMQ 3.10 speaks MQTT 3.1.1 only (a v5 CONNECT fails as a TCP error in Paho).
    this->mqtt_version_ = "3.1.1";
  }
  std::uint16_t broker_port() const override { return rabbit_->port(); }
  const TestPki& broker_pki() const override { return rabbit_->pki(); }
  std::string broker_log() const override { return rabbit_->log(); }

  std::unique_ptr<TestRabbitMq> rabbit_;
};

// ---- svdgw forward → RabbitMQ → svdhub ----------------------------------------------------------

class RabbitMqForwardTest : public OverRabbitMq<GatewayHubTest> {
 protected:
  RabbitMqForwardTest() : OverRabbitMq(PkiOptions{.gateways = {kGateway}}, "svd-rmq-forward") {}

  struct Run {
    int status = -1;
    std::string out, err;
  };
  Run forward(const fs::path& file, int run, const fs::path& config = {}) {
    (void)run;
    auto p = test_support::run({SVD_SVDGW, "forward", "--config", (config.empty() ? gateway_config() : config).string(),
                                "--feed", "ed-assaults", "--timeout", "60", file.string()},
                               {.timeout = 90s, .output_dir = dir()});
    return {p.timed_out ? -1 : p.exit_code, std::move(p.out), std::move(p.err)};
  }
};

TEST_F(RabbitMqForwardTest, AnExtractIsStoredOnceAndEveryBatchReceiptedOverMutualTls) {
  // svdhub's subscriptions were granted under its topic permissions, the checkpoints' and statuses' too.
  EXPECT_NE(read_file(dir() / "svdhub.log").find("subscribed to svd/v1/+/+/batch and svd/v1/+/audit and svd/v1/+/status\n"),
            std::string::npos)
      << diagnostics();
  std::ofstream(gateway_config()) << gateway_config_text({});
  const auto file = extract(400, 31);

  const auto t0 = Clock::now();
  auto r = forward(file, 1);
  figure("forward_400_rows", ms_since(t0));
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  const auto valid = valid_rows(r.out);
  ASSERT_GT(valid, 350) << r.out;
  const std::int64_t batches = (valid + 9) / 10;  // [batches] max_records = 10
  EXPECT_EQ(receipts(r.out), std::make_pair(batches, std::int64_t{0})) << r.out;
  auto c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, batches);
  // svdhub's persistent session is a quorum queue that never expires (rabbitmq.conf.in).
  std::string queues;
  ASSERT_EQ(rabbit_->ctl({"list_queues", "-p", TestRabbitMq::kVhost, "name", "type", "durable", "arguments"}, &queues),
            0)
      << queues;
  std::smatch hub_queue;
  ASSERT_TRUE(std::regex_search(queues, hub_queue, std::regex("mqtt-subscription-svdhubqos1[^\n]*"))) << queues;
  EXPECT_NE(hub_queue.str().find("quorum"), std::string::npos) << hub_queue.str();
  EXPECT_NE(hub_queue.str().find("true"), std::string::npos) << hub_queue.str();
  EXPECT_EQ(hub_queue.str().find("x-expires"), std::string::npos) << hub_queue.str();

  // The same extract again: the same batch ids, nothing queued, nothing stored twice.
  r = forward(file, 2);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(receipts(r.out), std::make_pair(std::int64_t{0}, std::int64_t{0})) << r.out;
  c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, batches);

  // The gateway's retained status, subscribed to by its exact name (RabbitMQ 3.10 sends retained
  // messages only to subscriptions without wildcards): offline after the clean stop, nothing left
  // to send.
  TestClient watcher(rabbit_->uri(), observer(rabbit_->pki()));
  std::string error;
  ASSERT_TRUE(watcher.connect(&error)) << error;
  const std::string status_topic = std::string("svd/v1/") + kGateway + "/status";
  ASSERT_TRUE(watcher.subscribe(status_topic).granted);
  auto status = watcher.receive(5s);
  ASSERT_TRUE(status) << rabbit_->log();
  EXPECT_EQ(status->get_topic(), status_topic);
  EXPECT_TRUE(status->is_retained());
  EXPECT_NE(status->get_payload_str().find(R"("state":"offline")"), std::string::npos) << status->get_payload_str();
  EXPECT_NE(status->get_payload_str().find(R"("queued_batches":0)"), std::string::npos) << status->get_payload_str();
}

// A count from a SQLite file, read-only; -1 when it cannot be read.
std::int64_t count_in(const fs::path& db, const std::string& sql) {
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

// Several svdhub instances without MQTT 5 shared subscriptions (docs/clustering.md): each
// subscribes to its own share of the partners ([broker] partners) under a client id of its own,
// with the same hub certificate; here each writes its own database.
class RabbitMqHubInstancesTest : public RabbitMqForwardTest {
 protected:
  RabbitMqHubInstancesTest() {
    pki_options_.gateways.push_back(kOtherPartner);
    hub_broker_extra_ = std::string("partners = [\"") + kGateway + "\"]\n";  // instance A: client id svdhub
  }
};

TEST_F(RabbitMqHubInstancesTest, TwoInstancesEachStoreAndAnswerOnlyTheirOwnPartners) {
  // Instance B: the same config but another client id, partner and database.
  std::string b_conf = read_file(dir() / "svdhub.toml");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"client_id = \"svdhub\"", "client_id = \"svdhub-b\""},
           {std::string("partners = [\"") + kGateway + "\"]", std::string("partners = [\"") + kOtherPartner + "\"]"},
           {std::string("[[partner]]\nid = \"") + kGateway, std::string("[[partner]]\nid = \"") + kOtherPartner},
           {hub_db().string(), (dir() / "hub-b.db").string()}}) {
    const auto at = b_conf.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    b_conf.replace(at, from.size(), to);
  }
  std::ofstream(dir() / "svdhub-b.toml") << b_conf;
  const fs::path b_log = dir() / "svdhub-b.log";
  Process hub_b({SVD_SVDHUB, "run", "--config", (dir() / "svdhub-b.toml").string()}, b_log);
  ASSERT_TRUE(eventually([&] { return read_file(b_log).find("subscribed to") != std::string::npos; }, kWait))
      << read_file(b_log) << diagnostics();
  EXPECT_NE(read_file(dir() / "svdhub.log")
                .find("subscribed to svd/v1/northgate-ed/+/batch and svd/v1/northgate-ed/audit and "
                      "svd/v1/northgate-ed/status\n"),
            std::string::npos)
      << diagnostics();
  EXPECT_NE(read_file(b_log).find("subscribed to svd/v1/southside-ed/+/batch and svd/v1/southside-ed/audit and "
                                 "svd/v1/southside-ed/status\n"),
            std::string::npos)
      << read_file(b_log);

  // The two gateways: the second one's config is the first one's with its own partner id,
  // certificate and state directory.
  std::ofstream(gateway_config()) << gateway_config_text({});
  std::string south = gateway_config_text({});
  for (std::size_t at; (at = south.find(kGateway)) != std::string::npos;) {
    south.replace(at, std::strlen(kGateway), kOtherPartner);
  }
  south.replace(south.find("/state\""), 7, "/state-south\"");
  const fs::path south_config = dir() / "svdgw-south.toml";
  std::ofstream(south_config) << south;

  auto north_run = forward(extract(200, 51), 1);
  auto south_run = forward(extract(150, 52), 2, south_config);
  ASSERT_EQ(north_run.status, 0) << north_run.out << north_run.err << diagnostics() << read_file(b_log);
  ASSERT_EQ(south_run.status, 0) << south_run.out << south_run.err << diagnostics() << read_file(b_log);
  const auto north_valid = valid_rows(north_run.out), south_valid = valid_rows(south_run.out);
  ASSERT_GT(north_valid, 150);
  ASSERT_GT(south_valid, 100);
  // Every batch answered once, by the instance that serves its partner...
  EXPECT_EQ(receipts(north_run.out), std::make_pair((north_valid + 9) / 10, std::int64_t{0})) << north_run.out;
  EXPECT_EQ(receipts(south_run.out), std::make_pair((south_valid + 9) / 10, std::int64_t{0})) << south_run.out;
  // ... and stored there only.
  const std::string by_partner = "SELECT count(*) FROM records_ed_assaults WHERE _partner = ";
  EXPECT_EQ(count_in(hub_db(), by_partner + "'northgate-ed'"), north_valid);
  EXPECT_EQ(count_in(hub_db(), by_partner + "'southside-ed'"), 0);
  EXPECT_EQ(count_in(dir() / "hub-b.db", by_partner + "'southside-ed'"), south_valid);
  EXPECT_EQ(count_in(dir() / "hub-b.db", by_partner + "'northgate-ed'"), 0);
}

// ---- Topic permissions, client ids, certificates ------------------------------------------------

class RabbitMqPermissionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_shared<TestPki>(
        PkiOptions{.gateways = {kGateway, kOtherPartner, kLatePartner}, .other_ca = true});
    rabbit_ = std::make_unique<TestRabbitMq>(pki_, std::vector<std::string>{kGateway, kOtherPartner});
    figure("rabbitmq_startup", rabbit_->startup_time().count());
  }

  std::unique_ptr<TestClient> client(const ClientIdentity& id) {
    return std::make_unique<TestClient>(rabbit_->uri("localhost"), id);
  }
  std::unique_ptr<TestClient> client(const std::string& id) { return client(rabbit_->identity(id)); }

  std::shared_ptr<TestPki> pki_;
  std::unique_ptr<TestRabbitMq> rabbit_;
};

TEST_F(RabbitMqPermissionsTest, EachPartnerPublishesAndReadsOnlyUnderItsOwnSubtree) {
  auto hub = client(observer(*pki_));
  auto north = client(kGateway);
  auto south = client(kOtherPartner);
  std::string error;
  ASSERT_TRUE(connect_all({hub.get(), north.get(), south.get()}, &error)) << error << rabbit_->log();
  ASSERT_TRUE(hub->subscribe("svd/v1/+/+/batch").granted) << rabbit_->log();
  ASSERT_TRUE(hub->subscribe("svd/v1/+/audit").granted) << rabbit_->log();

  // Positive controls: each partner on its own topics, and the hub answering one of them.
  const std::string north_batch = std::string("svd/v1/") + kGateway + "/ed-assaults/batch";
  const std::string south_batch = std::string("svd/v1/") + kOtherPartner + "/ed-assaults/batch";
  const std::string south_receipt = std::string("svd/v1/") + kOtherPartner + "/receipt";
  ASSERT_TRUE(north->subscribe(std::string("svd/v1/") + kGateway + "/receipt").granted);
  ASSERT_TRUE(south->subscribe(south_receipt).granted);
  ASSERT_TRUE(north->publish(north_batch, "north 1").ok);
  const std::string north_audit = std::string("svd/v1/") + kGateway + "/audit";
  ASSERT_TRUE(north->publish(north_audit, "checkpoint").ok);
  ASSERT_TRUE(next_on(*hub, north_batch, 10s)) << rabbit_->log();
  ASSERT_TRUE(next_on(*hub, north_audit, 10s)) << rabbit_->log();
  ASSERT_TRUE(hub->publish(south_receipt, "receipt 1").ok);
  ASSERT_TRUE(next_on(*south, south_receipt, 10s));

  // A batch under another partner's subtree: refused, and the connection closed with it.
  north->client().publish(mqtt::make_message(south_batch, "forged", 1, false));
  EXPECT_TRUE(wait_disconnected(*north)) << "publishing under another partner's subtree left the connection open";
  // Nothing forged reached the hub: south's own batch, published after it, is the next to arrive.
  ASSERT_TRUE(south->publish(south_batch, "south 1").ok);
  auto m = hub->receive(10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get_topic(), south_batch);
  EXPECT_EQ(m->get_payload_str(), "south 1");
  EXPECT_TRUE(rabbit_->wait_for_log("access to topic 'svd.v1.southside-ed.ed-assaults.batch' in exchange "
                                    "'amq.topic' in vhost 'svd' refused for user 'northgate-ed'",
                                    5s));

  // Another partner's receipts, exactly or by wildcard: refused, connection closed.
  for (const std::string& filter : {south_receipt, std::string("svd/v1/+/receipt"), std::string("#")}) {
    auto snoop = client(kGateway);
    ASSERT_TRUE(snoop->connect(&error)) << error;
    EXPECT_FALSE(snoop->subscribe(filter).granted) << filter;
    EXPECT_TRUE(wait_disconnected(*snoop)) << filter;
  }
  // A partner cannot write receipts (to itself or anyone) either.
  auto forger = client(kGateway);
  ASSERT_TRUE(forger->connect(&error)) << error;
  forger->client().publish(mqtt::make_message(south_receipt, "forged receipt", 1, false));
  EXPECT_TRUE(wait_disconnected(*forger));
  ASSERT_TRUE(hub->publish(south_receipt, "receipt 2").ok);
  m = south->receive(10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get_payload_str(), "receipt 2");

  // Claiming another partner's client id with one's own certificate: no session is taken over
  // (the user may not touch mqtt-subscription-southside-edqos1), but RabbitMQ 3.10 disconnects
  // the partner holding that id before it refuses the impostor (docs/clustering.md).
  auto impostor = client(ClientIdentity{kOtherPartner, pki_->ca_cert(), pki_->client_cert(kGateway),
                                        pki_->client_key(kGateway)});
  EXPECT_FALSE(impostor->connect(&error)) << "a certificate got another partner's client id";
  EXPECT_TRUE(wait_disconnected(*south)) << "RabbitMQ no longer disconnects the holder of a claimed client id: "
                                            "update docs/clustering.md";

  // A user name and password in CONNECT take precedence over the certificate in RabbitMQ; no user
  // has a password, so that cannot log in as anyone (here: as the hub).
  const auto north_id = rabbit_->identity(kGateway);
  auto as_hub = make_async_client(rabbit_->uri("localhost"), north_id, ClientOptions{});
  auto opts = make_connect_options(north_id, ClientOptions{});
  opts.set_user_name(pki_->hub_id());
  opts.set_password("guessed");
  bool refused = false;
  try {
    refused = !as_hub->connect(opts)->wait_for(kWait);
  } catch (const mqtt::exception&) {
    refused = true;
  }
  EXPECT_TRUE(refused) << "a user name and password logged a partner certificate in as the hub";
  disconnect_all({hub.get(), south.get()});
}

TEST_F(RabbitMqPermissionsTest, OnlyUsersWithLiveCertificatesOfTheHubCaGetIn) {
  std::string error;
  // Positive control first (Paho C can fail a connect right after another's refused handshake).
  auto north = client(kGateway);
  ASSERT_TRUE(north->connect(&error)) << error << rabbit_->log();
  north->disconnect();

  // Another CA's certificate, or none: the TLS handshake fails. Paho C can also fail a connect
  // on its own right after another's refused handshake, before the broker sees it, so each is
  // tried until the broker has logged why it refused it; no attempt may get in.
  bool got_in = false;
  auto refused_by_broker = [&](const ClientIdentity& who, std::string_view reason) {
    return eventually([&] {
      got_in |= client(who)->connect(&error);
      return rabbit_->wait_for_log(reason, 1s);
    });
  };
  EXPECT_TRUE(refused_by_broker({"rogue", pki_->ca_cert(), pki_->rogue_cert(), pki_->rogue_key()}, "Unknown CA"))
      << rabbit_->log();
  EXPECT_TRUE(refused_by_broker({kGateway, pki_->ca_cert(), {}, {}}, "Certificate required")) << rabbit_->log();
  EXPECT_FALSE(got_in) << "a certificate of another CA, or none, was let in";

  // A valid certificate whose CN is no RabbitMQ user is refused in CONNACK.
  auto late = client(kLatePartner);
  EXPECT_FALSE(late->connect(&error));

  // Onboarding it with the setup script (the import an operator runs) lets it in, held to its
  // own subtree like the others.
  std::string out;
  const auto t0 = Clock::now();
  ASSERT_EQ(rabbit_->run_with_node_env({"/bin/sh", SVD_SOURCE_DIR "/deploy/rabbitmq/setup-users.sh", "--vhost",
                                        TestRabbitMq::kVhost, "--hub", pki_->hub_id(), kLatePartner},
                                       &out),
            0)
      << out;
  figure("setup_users_import", ms_since(t0));
  EXPECT_EQ(out.find("guest"), std::string::npos) << out;  // loaded definitions never made one
  late = client(kLatePartner);
  ASSERT_TRUE(late->connect(&error)) << error << rabbit_->log();
  EXPECT_TRUE(late->publish(std::string("svd/v1/") + kLatePartner + "/death-reports/batch", "late 1").ok);
  EXPECT_TRUE(late->subscribe(std::string("svd/v1/") + kLatePartner + "/receipt").granted);
  late->client().publish(mqtt::make_message(std::string("svd/v1/") + kGateway + "/death-reports/batch", "x", 1, false));
  EXPECT_TRUE(wait_disconnected(*late));

  // Offboarding: deleting the user closes its connections and refuses it from then on.
  late = client(kLatePartner);
  ASSERT_TRUE(late->connect(&error)) << error;
  ASSERT_EQ(rabbit_->ctl({"delete_user", kLatePartner}, &out), 0) << out;
  EXPECT_TRUE(wait_disconnected(*late));
  late = client(kLatePartner);
  EXPECT_FALSE(late->connect(&error));

  // A revoked certificate: refused at the handshake as soon as the CRL names it (no restart).
  pki_->revoke(kOtherPartner);
  auto south = client(kOtherPartner);
  EXPECT_FALSE(south->connect(&error));
  EXPECT_TRUE(rabbit_->wait_for_log("Certificate Revoked", 5s)) << rabbit_->log();
}

// ---- svdgw run: audit checkpoints witnessed, retained status, last will --------------------------

class RabbitMqDaemonTest : public OverRabbitMq<DaemonHarness> {
 protected:
  // One value from the gateway's audit database ("" when none), read-only.
  std::string audit_query(const std::string& sql) const {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2((dir() / "state" / "audit.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
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
};

TEST_F(RabbitMqDaemonTest, CheckpointsAreWitnessedAndAKilledGatewaysWillSaysOffline) {
  start_daemon();
  // The start checkpoint goes out on svd/v1/<partner>/audit and comes back cosigned on its
  // receipt topic.
  ASSERT_TRUE(eventually(
      [&] { return std::atoi(audit_query("SELECT count(*) FROM checkpoints WHERE status = 'accepted'").c_str()) >= 1; }))
      << "no checkpoint witnessed" << logs();

  const auto file = extract(200, 41);
  auto up = upload(file, "ed-assaults", "week-48.csv");
  ASSERT_EQ(up.status, 201) << up.body << up.err << logs();
  const std::string done = wait_for_status(extract_id_of(up.body), R"("state":"processed")");
  ASSERT_TRUE(wait_for_hub(valid_rows_of(done), 30s)) << logs();

  const std::string status_topic = std::string("svd/v1/") + kGateway + "/status";
  TestClient watcher(rabbit_->uri(), observer(rabbit_->pki()));
  std::string error;
  ASSERT_TRUE(watcher.connect(&error)) << error;
  ASSERT_TRUE(watcher.subscribe(status_topic).granted);
  auto online = next_on(watcher, status_topic, 10s);
  ASSERT_TRUE(online) << logs();
  EXPECT_NE(online->get_payload_str().find(R"("state":"online")"), std::string::npos) << online->get_payload_str();

  // Killed, the gateway cannot say goodbye: the broker publishes its will.
  const auto t0 = Clock::now();
  daemon_->signal(SIGKILL);
  daemon_->wait(10s);
  mqtt::const_message_ptr will;
  eventually([&] {
    auto m = next_on(watcher, status_topic, 1s);
    if (m && m->get_payload_str().find(R"("state":"offline")") != std::string::npos) will = m;
    return will != nullptr;
  });
  ASSERT_TRUE(will) << "no last will within 30 s" << logs();
  figure("will_after_kill", ms_since(t0));

  // ... retained, for whoever looks later.
  watcher.disconnect();
  TestClient later(rabbit_->uri(), observer(rabbit_->pki()));
  ASSERT_TRUE(later.connect(&error)) << error;
  ASSERT_TRUE(later.subscribe(status_topic).granted);
  auto retained = later.receive(5s);
  ASSERT_TRUE(retained);
  EXPECT_TRUE(retained->is_retained());
  EXPECT_NE(retained->get_payload_str().find(R"("state":"offline")"), std::string::npos);
}

}  // namespace
}  // namespace svd::testing
