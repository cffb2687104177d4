// `svdgw forward` end to end: the real svdgw and svdhub binaries, a real mosquitto with mutual
// TLS on a free loopback port, synthetic extracts. What the hub stores is read from its SQLite
// file; every process is stopped by the PID the test started.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <regex>

#include "gateway_hub.h"
#include "tests/support/identifiers.h"

namespace svd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct ForwardRun {
  int status = -1;
  std::string out, err;
};

class ForwardTest : public GatewayHubTest {
 protected:
  ForwardTest() : GatewayHubTest(PkiOptions{.gateways = {kGateway}}, "svd-forward") {}

  void SetUp() override {
    GatewayHubTest::SetUp();
    if (HasFatalFailure()) return;
    write_gateway_config({});
  }

  // `hub_extra` goes into [hub] (e.g. a smaller window).
  void write_gateway_config(const std::string& hub_extra) {
    std::ofstream(gateway_config()) << gateway_config_text(hub_extra);
  }

  std::unique_ptr<Process> start_forward(const fs::path& file, int run, const std::string& feed = "ed-assaults") {
    const auto tag = "forward-" + std::to_string(run);
    return std::make_unique<Process>(
        std::vector<std::string>{SVD_SVDGW, "forward", "--config", gateway_config().string(), "--feed", feed,
                                 "--timeout", "60", file.string()},
        dir() / (tag + ".out"), dir() / (tag + ".err"));
  }

  ForwardRun finish_forward(Process& p, int run) {
    const auto tag = "forward-" + std::to_string(run);
    ForwardRun r;
    r.status = p.wait(90s).value_or(-1);
    r.out = read_file(dir() / (tag + ".out"));
    r.err = read_file(dir() / (tag + ".err"));
    return r;
  }

  ForwardRun forward(const fs::path& file, int run, const std::string& feed = "ed-assaults") {
    auto p = start_forward(file, run, feed);
    return finish_forward(*p, run);
  }
};

TEST_F(ForwardTest, MultiBatchExtractLandsInTheHubExactlyOnce) {
  const auto file = extract(2000, 7);
  auto r = forward(file, 1);
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  const auto valid = valid_rows(r.out);
  ASSERT_GT(valid, 1900);
  const auto [accepted, duplicates] = receipts(r.out);
  const std::int64_t batches = (valid + 9) / 10;
  EXPECT_EQ(accepted, batches) << r.out;
  EXPECT_EQ(duplicates, 0) << r.out;
  auto c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, batches);

  // The same extract again: the same batch ids, nothing new queued, nothing stored twice.
  r = forward(file, 2);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(receipts(r.out), std::make_pair(std::int64_t{0}, std::int64_t{0})) << r.out;
  c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, batches);

  // A different extract adds exactly its own valid rows.
  r = forward(extract(300, 8), 3);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(hub_counts(hub_db()).records, valid + valid_rows(r.out));

  // The retained status says the gateway went offline cleanly, with nothing left to send.
  TestClient watcher(broker_->uri(), broker_->identity(broker_->pki().hub_id()));
  ASSERT_TRUE(watcher.connect());
  ASSERT_TRUE(watcher.subscribe("svd/v1/+/status").granted);
  auto status = watcher.receive(5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->get_topic(), std::string("svd/v1/") + kGateway + "/status");
  EXPECT_TRUE(status->is_retained());
  EXPECT_NE(status->get_payload_str().find(R"("state":"offline")"), std::string::npos) << status->get_payload_str();
}

// A real HTTP proxy (Debian's tinyproxy) on loopback, started and stopped by its PID, that allows
// CONNECT to one port only: a partner site's proxy that lets out HTTPS to the hub.
class HttpProxy {
 public:
  HttpProxy(const fs::path& dir, std::uint16_t connect_port) : log_(dir / "tinyproxy.log") {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = pick_free_port();
      const fs::path conf = dir / "tinyproxy.conf";
      std::ofstream(conf) << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nLogFile \""
                          << log_.string() << "\"\nLogLevel Info\nMaxClients 16\nConnectPort " << connect_port << "\n";
      process_ = std::make_unique<Process>(std::vector<std::string>{"tinyproxy", "-d", "-c", conf.string()},
                                           dir / "tinyproxy.out");
      if (test_support::eventually([&] { return !process_->running() || port_accepts(port_); }, 10s) &&
          process_->running())
        return;
      process_.reset();  // the port was taken meanwhile: another
    }
    throw std::runtime_error("tinyproxy did not start: " + read_file(log_));
  }
  ~HttpProxy() {
    if (process_) process_->stop();
  }
  std::uint16_t port() const { return port_; }
  std::string log() const { return read_file(log_); }

 private:
  fs::path log_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// A site that may only make HTTPS connections, through its proxy: MQTT over secure WebSockets to
// the broker's wss listener, tunnelled by the proxy with CONNECT. TLS and the client certificate
// end at the broker (its ACL, keyed by the certificate's CN, lets the gateway publish only under
// its own partner id); the proxy sees a CONNECT to the broker's port and ciphertext.
TEST_F(ForwardTest, ThroughAnHttpProxyOverSecureWebSockets) {
  HttpProxy proxy(dir(), broker_->ws_port());
  std::string text = gateway_config_text("transport = \"wss\"\nproxy = \"127.0.0.1:" + std::to_string(proxy.port()) + "\"\n");
  const std::string tls_port = "port = " + std::to_string(broker_->port()) + "\n";
  ASSERT_NE(text.find(tls_port), std::string::npos);
  text.replace(text.find(tls_port), tls_port.size(), "port = " + std::to_string(broker_->ws_port()) + "\n");
  std::ofstream(gateway_config()) << text;

  const auto r = forward(extract(300, 9), 1);
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics() << "\ntinyproxy:\n" << proxy.log();
  const auto valid = valid_rows(r.out);
  ASSERT_GT(valid, 250);
  EXPECT_EQ(hub_counts(hub_db()).records, valid);
  const std::string tunnel = "CONNECT localhost:" + std::to_string(broker_->ws_port());
  EXPECT_NE(proxy.log().find(tunnel), std::string::npos) << proxy.log();
  EXPECT_NE(broker_->log().find(std::string(" as ") + kGateway), std::string::npos) << broker_->log();

  // The proxy allows CONNECT to that port only: the broker's plain TLS port through it fails,
  // and the gateway says it cannot reach the broker rather than sending anywhere else.
  text.replace(text.find("port = " + std::to_string(broker_->ws_port())), ("port = " + std::to_string(broker_->ws_port())).size(),
               "port = " + std::to_string(broker_->port()));
  std::ofstream(gateway_config(), std::ios::trunc) << text;
  auto refused = start_forward(extract(20, 10), 2);
  EXPECT_TRUE(eventually([&] { return proxy.log().find("CONNECT localhost:" + std::to_string(broker_->port())) != std::string::npos; }, 30s))
      << proxy.log();
  refused->signal(SIGTERM);
  finish_forward(*refused, 2);
  EXPECT_EQ(hub_counts(hub_db()).records, valid) << "nothing more arrived";
}

TEST_F(ForwardTest, BrokerStoppedMidDeliveryEverythingArrivesOnce) {
  // A short receipt timeout: batches sent while svdhub is not yet back on the restarted broker
  // reach nobody (mosquitto 2.0 queues for a restored session only once its client reconnects),
  // and the gateway's receipt timeout is what sends them again.
  write_gateway_config("inflight = 2\nwindow = 4\nreceipt_timeout_seconds = 5\n");
  const auto file = extract(1000, 11);
  auto p = start_forward(file, 1);
  ASSERT_TRUE(wait_for_hub(1, 30s)) << diagnostics();
  // Freeze the gateway so the broker goes away in the middle of its delivery, not after it.
  p->signal(SIGSTOP);
  const auto partial = hub_counts(hub_db()).records;
  broker_->stop();  // returns once mosquitto has exited
  broker_->restart();
  p->signal(SIGCONT);
  auto r = finish_forward(*p, 1);
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  const auto valid = valid_rows(r.out);
  EXPECT_LT(partial, valid) << "the broker stopped after the delivery had finished: the test proves nothing";
  EXPECT_NE(r.err.find("connection lost"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("connected to"), std::string::npos) << r.err;
  ASSERT_TRUE(wait_for_hub(valid, 10s));
  const auto c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, (valid + 9) / 10);
}

TEST_F(ForwardTest, HubRestartedMidDeliveryEveryBatchIsStoredOnce) {
  // A short receipt timeout, so the gateway sends again, while svdhub is away, each batch whose
  // receipt it lacks.
  write_gateway_config("inflight = 2\nwindow = 8\nreceipt_timeout_seconds = 5\n");
  const auto file = extract(1000, 12);
  auto p = start_forward(file, 1);
  ASSERT_TRUE(wait_for_hub(1, 30s)) << diagnostics();
  hub_->stop();
  const auto partial = hub_counts(hub_db()).records;
  // Until the gateway's receipt timeout has passed and it has sent a batch again (its outbox counts
  // each publish): the broker queues the originals and the re-sends for the hub's persistent
  // session.
  ASSERT_TRUE(eventually([&] { return query_int(dir() / "state" / "outbox.db", "SELECT max(attempts) FROM batches") >= 2; }))
      << diagnostics();
  start_hub();
  auto r = finish_forward(*p, 1);
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  const auto valid = valid_rows(r.out);
  EXPECT_LT(partial, valid) << "svdhub stopped after the delivery had finished: the test proves nothing";
  EXPECT_NE(r.err.find("no receipt for"), std::string::npos) << r.err;
  // Whichever copy of a batch reached svdhub first was stored (the originals it had taken but not
  // stored when it stopped are gone with it; those queued behind are answered `duplicate`), and
  // no batch twice.
  const auto c = hub_counts(hub_db());
  EXPECT_EQ(c.records, valid);
  EXPECT_EQ(c.batches, (valid + 9) / 10);
  // Every batch was answered at least once (a receipt lost with the hub's stop comes back as
  // `duplicate` for the re-send).
  const auto [accepted, duplicates] = receipts(r.out);
  EXPECT_GE(accepted + duplicates, (valid + 9) / 10);
}

TEST_F(ForwardTest, BatchesTheHubRejectsAreReportedAndNotResent) {
  // A hub that does not have the feed (yet) lets no partner send it: every batch is rejected
  // with feed_not_permitted.
  hub_->stop();
  std::string hub_cfg = read_file(dir() / "svdhub.toml");
  const auto ed = hub_cfg.find("[[feed]]\nid = \"ed-assaults\"");
  hub_cfg.erase(ed, hub_cfg.find("[[feed]]", ed + 1) - ed);
  const std::string feeds = "feeds = [\"ed-assaults\", \"death-reports\"]";
  hub_cfg.replace(hub_cfg.find(feeds), feeds.size(), "feeds = [\"death-reports\"]");
  std::ofstream(dir() / "svdhub.toml", std::ios::trunc) << hub_cfg;
  start_hub();
  auto r = forward(extract(40, 3), 1);
  EXPECT_EQ(r.status, 3) << r.out << r.err << diagnostics();
  EXPECT_NE(r.err.find("rejected batch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("feed_not_permitted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rejected by the hub"), std::string::npos) << r.err;
  EXPECT_EQ(receipts(r.out).first, 0) << r.out;
  // Nothing left to send: a second run exits at once, still naming the rejections.
  r = forward(extract(40, 3), 2);
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("0 batch(es) published"), std::string::npos) << r.out;
}

TEST_F(ForwardTest, NoHubSectionOrUnreachableBrokerIsAClearError) {
  const auto file = extract(50, 4);
  // The broker is gone: delivery times out, the batches stay queued for the next run.
  broker_->stop();
  auto p = std::make_unique<Process>(
      std::vector<std::string>{SVD_SVDGW, "forward", "--config", gateway_config().string(), "--feed",
                               "ed-assaults", "--timeout", "2", file.string()},
      dir() / "t.out", dir() / "t.err");
  EXPECT_EQ(p->wait(30s), 3);
  const auto err = read_file(dir() / "t.err");
  EXPECT_NE(err.find("cannot connect"), std::string::npos) << err;
  EXPECT_NE(err.find("wait in the outbox"), std::string::npos) << err;
  // Back up: the next run (same extract) delivers what the first one queued.
  const auto subscribed = count_of(read_file(dir() / "svdhub.log"), "subscribed to");
  broker_->restart();
  wait_for_hub_to_resubscribe(subscribed);
  auto r = forward(file, 2);
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  EXPECT_EQ(hub_counts(hub_db()).records, valid_rows(r.out));

  std::string cfg = read_file(gateway_config());
  const auto hub = cfg.find("[hub]");
  cfg.erase(hub, cfg.find("[batches]") - hub);
  std::ofstream(gateway_config(), std::ios::trunc) << cfg;
  r = forward(file, 3);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no [hub] section"), std::string::npos) << r.err;
}

TEST_F(ForwardTest, NoRawIdentifierLeavesTheSiteOrReachesALog) {
  // A feed with NHS numbers, names, dates of birth and postcodes: every spelling of each is
  // searched for in everything the forwarding touched, the stores' bytes included.
  const auto file = extract(400, 21, "death-reports");
  const auto r = forward(file, 1, "death-reports");
  ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
  ASSERT_GT(hub_counts(hub_db()).batches, 0);
  hub_->stop();  // so the hub's WAL and log are complete
  broker_->stop();
  auto with_wal = [](const fs::path& db) { return read_file(db) + read_file(db.string() + "-wal"); };
  test_support::expect_no_identifier_in(file, {
                                                     {"svdgw stdout", r.out},
                                                     {"svdgw stderr", r.err},
                                                     {"the gateway's outbox", with_wal(dir() / "state" / "outbox.db")},
                                                     {"the hub's store", with_wal(hub_db())},
                                                     {"the svdhub log", read_file(dir() / "svdhub.log")},
                                                     {"the broker log", broker_->log()},
                                                 });
}

}  // namespace
}  // namespace svd::testing
