// Several `svdhub run` processes on one PostgreSQL database, through a real mosquitto with mutual
// TLS, with real gateways (docs/clustering.md, "Several svdhub instances" and "Exactly once, with
// several instances"): two instances sharing the partners out, two racing on one partner's
// batches, the database killed under a running instance while a gateway delivers, and an instance
// started before its database. What the store decides on its own (two PgStore objects in one
// process) is tests/hub/pg_store_test.cpp; here it is the programs, the broker and the receipts
// between them.
//
// One PostgreSQL server for the executable (tests/support/postgres_server.h) and one PKI; a
// database, a broker and the svdhub and svdgw processes per test, each stopped by the PID the test
// started. What a failure shows (logs, svdgw's summary) holds ids, counts and codes, never a
// record's value.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

#include "gateway_hub.h"
#include "hub/detail/pg.h"
#include "protocol/envelope.h"
#include "tests/support/postgres_server.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::contains;
using test_support::shared_server;

[[maybe_unused]] ::testing::Environment* const g_environment = test_support::use_shared_server();

constexpr const char* kNorth = "northgate-ed";
constexpr const char* kSouth = "southgate-ed";
constexpr const char* kHubA = "svdhub";  // the PKI's hub certificate
// mosquitto makes a client's id its certificate's CN, so a second instance has a certificate of
// its own (two instances under one id would disconnect each other) and the hub's ACL entry.
constexpr const char* kHubB = "svdhub-b";

// Making a PKI is the slow part of a broker; every test's broker uses this one.
std::shared_ptr<const TestPki> shared_pki() {
  static const auto pki = std::make_shared<const TestPki>(PkiOptions{.gateways = {kNorth, kSouth, kHubB}});
  return pki;
}

struct ForwardRun {
  int status = -1;
  std::string out, err;
};

// What an svdhub log says it answered, from its lines "batch <id> on svd/v1/<partner>/<feed>/batch:
// <status>": the statuses per batch id, and the partners answered.
struct Answered {
  std::map<std::string, std::vector<std::string>> statuses;
  std::set<std::string> partners;
  std::size_t lines = 0;
};
Answered answered(const std::string& log) {
  static const std::regex line(R"(batch ([0-9a-f]+) on svd/v1/([a-z0-9-]+)/[a-z0-9-]+/batch: ([a-z]+))");
  Answered a;
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    a.statuses[(*it)[1]].push_back((*it)[3]);
    a.partners.insert((*it)[2]);
    ++a.lines;
  }
  return a;
}

// A batch of `partner` as its gateway would send it: the ids follow the wire contract's rule.
const std::string kRecords =
    "{\"site_code\":\"RXH01\",\"assault_method\":\"08\"}\n{\"site_code\":\"RYJ\",\"assault_method\":\"01\"}\n";
std::string batch_id(const std::string& partner, std::uint64_t seq) {
  return protocol::batch_id_for(partner, "ed-assaults", std::string(64, '2'), seq);
}
std::string batch(const std::string& partner, std::uint64_t seq) {
  protocol::BatchHeader h;
  h.batch_id = batch_id(partner, seq);
  h.partner = partner;
  h.feed = "ed-assaults";
  h.schema = "ed-assaults";
  h.key_ids = {"k1"};
  h.extract = {"x-2", std::string(64, '2'), "2026-11-23T09:00:00Z"};
  h.seq = seq;
  return protocol::make_batch_payload(h, kRecords);
}

// The shared server stopped or killed by a test runs again however the test ends.
struct RestartGuard {
  ~RestartGuard() {
    try {
      if (shared_server() && !shared_server()->running()) shared_server()->start();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot start the server again: " << e.what();
    }
  }
};

class SvdhubPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(shared_server(), nullptr);
    ASSERT_TRUE(shared_server()->running()) << "an earlier test left the server stopped";
    static int n = 0;
    db_ = "hubs_" + std::to_string(++n);
    shared_server()->create_database(db_);
    broker_ = std::make_unique<TestBroker>(shared_pki());
    // The second instance's ACL entry: the hub's, under its name (docs/clustering.md). The broker
    // reads its ACL at start.
    const fs::path acl = broker_->config_path().parent_path() / "acl";
    const std::string rules = read_file(acl);
    const auto hub_rules = rules.find("\nuser svdhub\n");
    ASSERT_NE(hub_rules, std::string::npos) << "no entry for svdhub in " << acl;
    std::ofstream(acl, std::ios::app) << "\nuser " << kHubB << '\n'
                                      << rules.substr(hub_rules + std::strlen("\nuser svdhub\n"));
    broker_->restart();
    const auto keygen = test_support::run({SVD_SVDGW, "keys", "generate", "--out", (dir() / "linkage.key").string()});
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  }

  const fs::path& dir() const { return dir_.path(); }
  fs::path hub_log(const std::string& id) const { return dir() / (id + ".log"); }

  // svdhub instance `id` (its certificate's CN and client id) on the test's database, taking the
  // batches of `partners` only ([broker] partners), or of every partner when it is empty.
  fs::path write_hub_config(const std::string& id, const std::vector<std::string>& partners = {}) {
    const TestPki& pki = broker_->pki();
    const fs::path file = dir() / (id + ".toml");
    std::ofstream out(file);
    out << "[store]\nbackend = \"postgresql\"\ndatabase = \"" << (dir() / (id + ".db")).string()
        << "\"\nconninfo = \"" << shared_server()->conninfo(db_) << "\"\npassword_file = \""
        << shared_server()->password_file().string() << "\"\n"
        << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_->port() << "\nca = \"" << pki.ca_cert().string()
        << "\"\ncert = \"" << pki.client_cert(id).string() << "\"\nkey = \"" << pki.client_key(id).string()
        << "\"\nclient_id = \"" << id << "\"\n";
    if (!partners.empty()) {
      out << "partners = [";
      for (std::size_t i = 0; i < partners.size(); ++i) out << (i ? ", " : "") << '"' << partners[i] << '"';
      out << "]\n";
    }
    out << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR
        << "/deploy/examples/schemas/ed-assaults.json\"\n";
    for (const char* p : {kNorth, kSouth}) out << "[[partner]]\nid = \"" << p << "\"\nfeeds = [\"ed-assaults\"]\n";
    return file;
  }

  std::unique_ptr<Process> start_hub(const std::string& id, const std::vector<std::string>& partners = {}) {
    return std::make_unique<Process>(
        std::vector<std::string>{SVD_SVDHUB, "run", "--config", write_hub_config(id, partners).string()}, hub_log(id));
  }
  // Until the instance has opened the store and subscribed: a batch published before its first
  // subscription has nobody to be queued for.
  bool subscribed(const std::string& id) {
    return eventually([&] { return contains(read_file(hub_log(id)), "subscribed to"); });
  }

  // svdgw for `partner`: its own certificate and state, batches of 10 records; `hub_extra` goes
  // into [hub].
  fs::path write_gateway_config(const std::string& partner, const std::string& hub_extra = {}) {
    const TestPki& pki = broker_->pki();
    const fs::path file = dir() / ("svdgw-" + partner + ".toml");
    std::ofstream(file) << "[gateway]\npartner = \"" << partner << "\"\nstate_dir = \""
                        << (dir() / ("state-" + partner)).string() << "\"\n"
                        << "[linkage_key]\nfile = \"" << (dir() / "linkage.key").string() << "\"\nid = \"k1\"\n"
                        << "[hub]\nhost = \"localhost\"\nport = " << broker_->port() << "\nca = \""
                        << pki.ca_cert().string() << "\"\ncert = \"" << pki.client_cert(partner).string()
                        << "\"\nkey = \"" << pki.client_key(partner).string() << "\"\n"
                        << hub_extra << "[batches]\nmax_records = 10\n"
                        << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR
                        << "/deploy/examples/schemas/ed-assaults.json\"\nreject_threshold = 0.5\n";
    return file;
  }

  // A synthetic extract made by svd-synth.
  fs::path extract(std::uint64_t rows, std::uint64_t seed) {
    const fs::path p = dir() / ("ed-assaults-" + std::to_string(rows) + "-" + std::to_string(seed) + ".csv");
    const auto synth = test_support::run({SVD_SYNTH, "ed-assaults", std::to_string(rows), p.string(),
                                          std::to_string(seed)});
    EXPECT_EQ(synth.exit_code, 0) << synth.err;
    return p;
  }

  std::unique_ptr<Process> start_forward(const fs::path& config, const fs::path& file, const std::string& tag) {
    return std::make_unique<Process>(std::vector<std::string>{SVD_SVDGW, "forward", "--config", config.string(),
                                                              "--feed", "ed-assaults", "--timeout", "90",
                                                              file.string()},
                                     dir() / (tag + ".out"), dir() / (tag + ".err"));
  }
  ForwardRun finish_forward(Process& p, const std::string& tag) {
    ForwardRun r;
    r.status = p.wait(120s).value_or(-1);
    r.out = read_file(dir() / (tag + ".out"));
    r.err = read_file(dir() / (tag + ".err"));
    return r;
  }

  // The first value of `sql` in the test's database as an integer; -1 on any error (the server
  // down included).
  std::int64_t pg_count(const std::string& sql) {
    try {
      const auto v = shared_server()->query_value(sql, db_);
      return v ? std::stoll(*v) : -1;
    } catch (const std::exception&) {
      return -1;
    }
  }
  std::int64_t records_of(const std::string& partner) {
    return pg_count("SELECT count(*) FROM records_ed_assaults WHERE _partner = '" + partner + "'");
  }
  std::int64_t batches_of(const std::string& partner) {
    return pg_count("SELECT count(*) FROM batches WHERE partner = '" + partner + "'");
  }
  // Batches whose records are not stored exactly once (more or fewer rows than the batch holds),
  // and records of no batch: 0 when every batch was stored once, whole.
  std::int64_t batches_not_stored_once() {
    return pg_count(
        "SELECT (SELECT count(*) FROM batches b WHERE b.records <> (SELECT count(*) FROM records_ed_assaults r "
        "WHERE r._partner = b.partner AND r._batch_id = b.batch_id)) + (SELECT count(*) FROM records_ed_assaults r "
        "WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.partner = r._partner AND b.batch_id = r._batch_id))");
  }

  // A connection of the test's own to its database, as the superuser.
  hub::pg::Connection connect() {
    auto c = hub::pg::Connection::open({.conninfo = shared_server()->conninfo(db_),
                                        .password_file = shared_server()->password_file(),
                                        .application_name = "svdhub-test-locker"});
    if (!c) throw std::runtime_error("cannot connect: " + hub::pg::describe(c.error()));
    return std::move(*c);
  }
  // How many svdhub sessions wait for a lock of this kind: "relation" (a table the test holds),
  // "transactionid" (another transaction's uncommitted row, as an insert of the same key waits).
  std::int64_t hubs_waiting(const std::string& kind) {
    return pg_count("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db_ +
                    "' AND application_name = 'svdhub' AND wait_event_type = 'Lock' AND wait_event = '" + kind + "'");
  }

  std::string diagnostics() const {
    std::string out;
    for (const char* id : {kHubA, kHubB})
      if (fs::exists(hub_log(id)))
        out += "\n--- " + std::string(id) + " log ---\n" + tail(read_file(hub_log(id)), 6000);
    return out + "\n--- broker log ---\n" + tail(broker_->log(), 4000);
  }

  std::string db_;
  TempDir dir_{"svd-hub-pg"};
  std::unique_ptr<TestBroker> broker_;
};

// Each instance takes its own partners ([broker] partners) and both write one database: every
// batch of both gateways is stored once, by the instance of its partner, and each gateway has a
// receipt for every batch, `accepted`, none `duplicate`.
TEST_F(SvdhubPgTest, TwoInstancesSharingThePartnersOutStoreEveryBatchOnceAndAnswerEveryGateway) {
  // Started together on an empty database: both make the tables at once.
  auto hub_a = start_hub(kHubA, {kNorth});
  auto hub_b = start_hub(kHubB, {kSouth});
  ASSERT_TRUE(subscribed(kHubA)) << diagnostics();
  ASSERT_TRUE(subscribed(kHubB)) << diagnostics();
  EXPECT_TRUE(contains(read_file(hub_log(kHubA)),
                       "subscribed to svd/v1/northgate-ed/+/batch and svd/v1/northgate-ed/status\n"))
      << diagnostics();
  EXPECT_TRUE(contains(read_file(hub_log(kHubB)),
                       "subscribed to svd/v1/southgate-ed/+/batch and svd/v1/southgate-ed/status\n"))
      << diagnostics();

  // Both gateways at once, so that both instances write at once.
  const fs::path north_file = extract(600, 61), south_file = extract(450, 62);
  auto north = start_forward(write_gateway_config(kNorth), north_file, "north");
  auto south = start_forward(write_gateway_config(kSouth), south_file, "south");
  const ForwardRun n = finish_forward(*north, "north");
  const ForwardRun s = finish_forward(*south, "south");
  ASSERT_EQ(n.status, 0) << n.out << n.err << diagnostics();
  ASSERT_EQ(s.status, 0) << s.out << s.err << diagnostics();
  const std::int64_t north_valid = valid_rows(n.out), south_valid = valid_rows(s.out);
  ASSERT_GT(north_valid, 500) << n.out;
  ASSERT_GT(south_valid, 350) << s.out;
  const std::int64_t north_batches = (north_valid + 9) / 10, south_batches = (south_valid + 9) / 10;
  EXPECT_EQ(receipts(n.out), std::make_pair(north_batches, std::int64_t{0})) << n.out;
  EXPECT_EQ(receipts(s.out), std::make_pair(south_batches, std::int64_t{0})) << s.out;

  EXPECT_EQ(records_of(kNorth), north_valid);
  EXPECT_EQ(records_of(kSouth), south_valid);
  EXPECT_EQ(batches_of(kNorth), north_batches);
  EXPECT_EQ(batches_of(kSouth), south_batches);
  EXPECT_EQ(batches_not_stored_once(), 0);

  // Each instance answered its own partner's batches, each once, and no other partner's.
  hub_a->stop();
  hub_b->stop();
  const Answered a = answered(read_file(hub_log(kHubA))), b = answered(read_file(hub_log(kHubB)));
  EXPECT_EQ(a.partners, std::set<std::string>{kNorth}) << diagnostics();
  EXPECT_EQ(b.partners, std::set<std::string>{kSouth}) << diagnostics();
  EXPECT_EQ(a.statuses.size(), static_cast<std::size_t>(north_batches));
  EXPECT_EQ(b.statuses.size(), static_cast<std::size_t>(south_batches));
  EXPECT_EQ(a.lines, a.statuses.size()) << "a batch was answered twice" << diagnostics();
  EXPECT_EQ(b.lines, b.statuses.size()) << "a batch was answered twice" << diagnostics();
}

// Both instances take every partner, so both receive every batch (as when a partner's batches
// reach two instances after a move or a broker failover): the database stores each batch once;
// one instance answers it `accepted`, the other `duplicate`.
TEST_F(SvdhubPgTest, TwoInstancesRacingOnTheSameBatchesStoreEachOnceOneAcceptedTheOtherDuplicate) {
  auto hub_a = start_hub(kHubA);
  auto hub_b = start_hub(kHubB);
  ASSERT_TRUE(subscribed(kHubA)) << diagnostics();
  ASSERT_TRUE(subscribed(kHubB)) << diagnostics();
  TestClient gateway(broker_->uri(), broker_->identity(kNorth));
  std::string error;
  ASSERT_TRUE(gateway.connect(&error)) << error;
  ASSERT_TRUE(gateway.subscribe(protocol::receipt_topic(kNorth)).granted);

  // The feed table held by the test: the instance that inserts the first batch's row first waits
  // at its COPY with the row uncommitted, and the other, inserting the same row, waits for that
  // transaction. Meanwhile the rest of the batches queue up at both, and once the table is let go
  // both store the same backlog in overlapping groups.
  hub::pg::Connection locker = connect();
  ASSERT_TRUE(hub::pg::exec(locker, "BEGIN; LOCK TABLE records_ed_assaults IN ACCESS EXCLUSIVE MODE"));
  constexpr std::uint64_t kBatches = 100;
  for (std::uint64_t seq = 0; seq < kBatches; ++seq)
    ASSERT_TRUE(gateway.publish(protocol::batch_topic(kNorth, "ed-assaults"), batch(kNorth, seq)).ok);
  const bool one_waits_for_the_other = eventually([&] {
    return hubs_waiting("relation") == 1 && hubs_waiting("transactionid") == 1;
  });
  ASSERT_TRUE(hub::pg::exec(locker, "COMMIT"));
  ASSERT_TRUE(one_waits_for_the_other) << "the instances did not meet on one batch" << diagnostics();

  // Two receipts per batch, one from each instance.
  std::map<std::string, std::multiset<protocol::ReceiptStatus>> received;
  for (std::uint64_t i = 0; i < 2 * kBatches; ++i) {
    auto msg = gateway.receive(30s);
    ASSERT_TRUE(msg) << "receipt " << i << " of " << 2 * kBatches << " missing" << diagnostics();
    auto r = protocol::parse_receipt(msg->get_payload_str());
    ASSERT_TRUE(r);
    received[r->batch_id].insert(r->status);
  }
  ASSERT_EQ(received.size(), kBatches);
  const std::multiset<protocol::ReceiptStatus> one_each{protocol::ReceiptStatus::accepted,
                                                        protocol::ReceiptStatus::duplicate};
  for (std::uint64_t seq = 0; seq < kBatches; ++seq)
    EXPECT_TRUE(received[batch_id(kNorth, seq)] == one_each) << "batch " << seq << ": not one accepted, one duplicate";
  gateway.disconnect();

  EXPECT_EQ(records_of(kNorth), static_cast<std::int64_t>(2 * kBatches));
  EXPECT_EQ(batches_of(kNorth), static_cast<std::int64_t>(kBatches));
  EXPECT_EQ(batches_not_stored_once(), 0);

  // A real gateway against the two: it gets two receipts per batch, ends once every batch is
  // acknowledged, and nothing of it is stored twice.
  const fs::path file = extract(300, 64);
  auto south = start_forward(write_gateway_config(kSouth), file, "south");
  const ForwardRun s = finish_forward(*south, "south");
  ASSERT_EQ(s.status, 0) << s.out << s.err << diagnostics();
  const std::int64_t south_valid = valid_rows(s.out), south_batches = (south_valid + 9) / 10;
  ASSERT_GT(south_valid, 250) << s.out;
  const auto [accepted, duplicates] = receipts(s.out);
  EXPECT_LE(accepted, south_batches) << "a batch was accepted twice: " << s.out;
  EXPECT_GE(accepted + duplicates, south_batches) << s.out;
  EXPECT_EQ(records_of(kSouth), south_valid);
  EXPECT_EQ(batches_of(kSouth), south_batches);
  EXPECT_EQ(batches_not_stored_once(), 0);

  // Each instance answered every batch once; for each, exactly one of them said accepted.
  hub_a->stop();
  hub_b->stop();
  Answered a = answered(read_file(hub_log(kHubA))), b = answered(read_file(hub_log(kHubB)));
  std::size_t a_stored = 0, b_stored = 0;
  for (std::uint64_t seq = 0; seq < kBatches; ++seq) {
    const std::string id = batch_id(kNorth, seq);
    const auto& by_a = a.statuses[id];
    const auto& by_b = b.statuses[id];
    ASSERT_EQ(by_a.size(), 1u) << "batch " << seq << diagnostics();
    ASSERT_EQ(by_b.size(), 1u) << "batch " << seq << diagnostics();
    EXPECT_NE(by_a[0] == "accepted", by_b[0] == "accepted") << "batch " << seq;
    a_stored += by_a[0] == "accepted";
    b_stored += by_b[0] == "accepted";
  }
  RecordProperty("stored_by_a", static_cast<int>(a_stored));
  RecordProperty("stored_by_b", static_cast<int>(b_stored));
}

// The database dies while svdhub is in the middle of a group and a gateway is delivering: nothing
// is answered while it is down, svdhub keeps running and connects again once it is back, and the
// batches the gateway sends again are stored once.
TEST_F(SvdhubPgTest, TheDatabaseKilledMidGroupGetsNoReceiptAndTheResentBatchesAreStoredOnce) {
  RestartGuard guard;
  auto hub = start_hub(kHubA);
  ASSERT_TRUE(subscribed(kHubA)) << diagnostics();
  // At most 4 batches unanswered at a time, sent again after 5 s without a receipt (the shortest).
  const fs::path config = write_gateway_config(kNorth, "inflight = 2\nwindow = 4\nreceipt_timeout_seconds = 5\n");
  auto forward = start_forward(config, extract(1500, 63), "north");
  ASSERT_TRUE(eventually([&] { return pg_count("SELECT count(*) FROM batches") >= 3; })) << diagnostics();

  // svdhub's next group is held at its COPY, its batches' rows inserted and uncommitted, while
  // the test holds the feed table.
  hub::pg::Connection locker = connect();
  ASSERT_TRUE(hub::pg::exec(locker, "BEGIN; LOCK TABLE records_ed_assaults IN ACCESS EXCLUSIVE MODE"));
  ASSERT_TRUE(eventually([&] { return hubs_waiting("relation") == 1; }))
      << "svdhub did not wait in a group" << diagnostics();
  // svdhub waits inside that group: whatever it logs after this point, it logs after the database
  // died.
  const std::size_t log_at_kill = read_file(hub_log(kHubA)).size();
  const std::int64_t stored_before = pg_count("SELECT count(*) FROM batches");
  const std::size_t gateway_err_at_kill = read_file(dir() / "north.err").size();
  shared_server()->kill();

  // svdhub goes on taking batches: more than the gateway has unanswered at once, so it sent some
  // of them again, and they reached svdhub while the database was down.
  const auto since_kill = [&] { return read_file(hub_log(kHubA)).substr(log_at_kill); };
  const bool resent_while_down = eventually([&] {
    const std::string log = since_kill();
    return count_of(log, "not answered (store unavailable") + answered(log).lines > 4;
  });
  const std::string while_down = since_kill();
  const bool running_while_down = hub->running();
  shared_server()->start();
  EXPECT_EQ(answered(while_down).lines, 0u) << "a receipt while the database was down" << diagnostics();
  ASSERT_TRUE(resent_while_down) << diagnostics();
  EXPECT_TRUE(running_while_down) << "svdhub ended with the database" << diagnostics();
  EXPECT_TRUE(contains(read_file(dir() / "north.err").substr(gateway_err_at_kill), "sending those again"))
      << read_file(dir() / "north.err");

  const ForwardRun r = finish_forward(*forward, "north");
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  EXPECT_TRUE(hub->running()) << "svdhub ended" << diagnostics();
  const std::int64_t valid = valid_rows(r.out), batches = (valid + 9) / 10;
  ASSERT_GT(valid, 1300) << r.out;
  EXPECT_LT(stored_before, batches) << "the delivery ended before the database died: the test proves nothing";
  // Every batch accepted once (the group that died was not committed), whatever was re-sent.
  EXPECT_EQ(receipts(r.out).first, batches) << r.out;
  EXPECT_EQ(records_of(kNorth), valid);
  EXPECT_EQ(batches_of(kNorth), batches);
  EXPECT_EQ(batches_not_stored_once(), 0);
}

// svdhub restarted while the database is not up yet (a host rebooting, the database failing
// over): it waits for the store, with backoff, before it connects to the broker, so the batches
// its persistent session holds stay there unanswered, and are stored once it can.
TEST_F(SvdhubPgTest, StartedWithoutTheDatabaseItTakesNoBatchUntilTheStoreOpens) {
  RestartGuard guard;
  {
    auto first = start_hub(kHubA);  // makes the tables and the session that holds its batches
    ASSERT_TRUE(subscribed(kHubA)) << diagnostics();
    ASSERT_EQ(first->stop(), 0) << diagnostics();
  }
  ASSERT_EQ(shared_server()->stop(), 0);
  TestClient gateway(broker_->uri(), broker_->identity(kNorth));
  std::string error;
  ASSERT_TRUE(gateway.connect(&error)) << error;
  ASSERT_TRUE(gateway.subscribe(protocol::receipt_topic(kNorth)).granted);
  constexpr std::uint64_t kBatches = 5;
  for (std::uint64_t seq = 0; seq < kBatches; ++seq)
    ASSERT_TRUE(gateway.publish(protocol::batch_topic(kNorth, "ed-assaults"), batch(kNorth, seq)).ok);

  const std::size_t broker_log_at_start = broker_->log_size();
  const std::size_t hub_log_at_start = read_file(hub_log(kHubA)).size();
  auto hub = start_hub(kHubA);
  const bool waited = eventually([&] { return contains(read_file(hub_log(kHubA)), "(attempt 3)"); });
  const bool connected_while_waiting = contains(broker_->log().substr(broker_log_at_start), " as svdhub ");
  const auto receipt_while_waiting = gateway.try_receive();
  shared_server()->start();
  ASSERT_TRUE(waited) << diagnostics();
  EXPECT_FALSE(connected_while_waiting) << "svdhub took batches before its store was open" << diagnostics();
  EXPECT_EQ(receipt_while_waiting, nullptr) << "a receipt before the store was open";

  std::map<std::string, std::vector<protocol::ReceiptStatus>> received;
  for (std::uint64_t i = 0; i < kBatches; ++i) {
    auto msg = gateway.receive(30s);
    ASSERT_TRUE(msg) << "receipt " << i << " of " << kBatches << " missing" << diagnostics();
    auto r = protocol::parse_receipt(msg->get_payload_str());
    ASSERT_TRUE(r);
    received[r->batch_id].push_back(r->status);
  }
  for (std::uint64_t seq = 0; seq < kBatches; ++seq)
    EXPECT_EQ(received[batch_id(kNorth, seq)], std::vector{protocol::ReceiptStatus::accepted}) << "batch " << seq;
  gateway.disconnect();
  EXPECT_TRUE(contains(broker_->log().substr(broker_log_at_start), " as svdhub ")) << "not how the broker names it";
  EXPECT_EQ(records_of(kNorth), static_cast<std::int64_t>(2 * kBatches));
  EXPECT_EQ(batches_of(kNorth), static_cast<std::int64_t>(kBatches));
  EXPECT_EQ(batches_not_stored_once(), 0);
  const std::string log = read_file(hub_log(kHubA)).substr(hub_log_at_start);
  EXPECT_LT(log.find("svdhub: the store is unavailable (attempt 1)"), log.find("svdhub: store PostgreSQL"));
  EXPECT_LT(log.find("svdhub: store PostgreSQL"), log.find("broker: connected")) << diagnostics();
}

}  // namespace
}  // namespace svd::testing
