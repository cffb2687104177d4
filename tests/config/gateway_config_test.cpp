#include "config/gateway_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "config/diagnostic.h"
#include "tests/support/temp_dir.h"

namespace svd::config {
namespace {

namespace fs = std::filesystem;

class GatewayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "schemas");
    write("schemas/s.json",
          R"({"fields": [{"name": "code", "svd:transform": "keep"}, {"name": "when", "type": "date", "svd:transform": "month"}]})");
  }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  // All diagnostics of `load` on `toml` written to `name`, one per line ("" when it loads).
  template <class Load>
  std::string diagnostics(Load load, const std::string& name, const std::string& toml) {
    try {
      load(write(name, toml));
    } catch (const ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
      return all;
    }
    return "";
  }

  std::string problems(const std::string& toml) {
    return diagnostics([](const fs::path& f) { load_gateway_config(f); }, "gw.toml", toml);
  }

  test_support::TempDir tmp_{"svd-config"};
  const fs::path& dir_ = tmp_.path();
};

constexpr const char* kGood = R"([gateway]
partner = "northgate-ed"
state_dir = "state"

[linkage_key]
file = "linkage.key"
id = "k1"

[[feed]]
id = "ed"
schema = "schemas/s.json"
allowed_clients = ["northgate-export"]
schedule = { every = "week", day = "Monday", by = "09:30" }
reject_threshold = 0.2
)";

TEST_F(GatewayConfigTest, LoadsAndResolvesPathsRelativeToTheFile) {
  auto cfg = load_gateway_config(write("gw.toml", kGood));
  EXPECT_EQ(cfg.partner, "northgate-ed");
  EXPECT_EQ(cfg.state_dir, dir_ / "state");
  ASSERT_EQ(cfg.linkage_keys.size(), 1u);
  EXPECT_EQ(cfg.linkage_keys[0].file, dir_ / "linkage.key");
  EXPECT_EQ(cfg.linkage_keys[0].id, "k1");
  ASSERT_EQ(cfg.feeds.size(), 1u);
  const FeedConfig& f = cfg.feeds[0];
  EXPECT_EQ(f.format, Format::csv);
  EXPECT_EQ(f.encoding, TextEncoding::utf8);
  EXPECT_EQ(f.delimiter, ',');
  EXPECT_EQ(f.schedule.every, Schedule::Every::week);
  EXPECT_EQ(f.schedule.weekday, 1);
  EXPECT_EQ(f.schedule.to_string(), "weekly by Monday 09:30");
  EXPECT_DOUBLE_EQ(f.reject_threshold, 0.2);
  EXPECT_EQ(f.schema.fields.size(), 2u);
  EXPECT_EQ(cfg.find_feed("ed"), &cfg.feeds[0]);
  EXPECT_EQ(cfg.find_feed("nope"), nullptr);
  EXPECT_EQ(cfg.limits.max_row_bytes, 1u << 20);
}

TEST_F(GatewayConfigTest, TomlSyntaxErrorHasLineAndColumn) {
  std::string p = problems("[gateway]\npartner = \"x\"\nstate_dir = \n");
  EXPECT_NE(p.find("gw.toml:3:"), std::string::npos) << p;
  EXPECT_NE(p.find("not valid TOML"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, EveryProblemNamesItsLine) {
  std::string bad = kGood;
  bad.replace(bad.find("northgate-ed\""), 13, "Northgate ED\"");   // line 2
  bad.replace(bad.find("0.2"), 3, "1.5");                          // line 14
  bad += "colour = \"blue\"\n";                                    // line 15, inside [[feed]]
  std::string p = problems(bad);
  EXPECT_NE(p.find("gw.toml:2:"), std::string::npos) << p;
  EXPECT_NE(p.find("partner id must be"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:14:"), std::string::npos) << p;
  EXPECT_NE(p.find("reject_threshold must be a fraction"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:15:"), std::string::npos) << p;
  EXPECT_NE(p.find("unknown key \"colour\""), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, FeedMistakes) {
  std::string p = problems(std::string(kGood) + R"(
[[feed]]
id = "ed"
schema = "schemas/missing.json"
format = "xml"
encoding = "latin-9"
delimiter = ";;"
schedule = { every = "fortnight", by = "9am" }
)");
  EXPECT_NE(p.find("feed \"ed\" is defined twice"), std::string::npos) << p;
  EXPECT_NE(p.find("cannot read the schema file"), std::string::npos) << p;
  EXPECT_NE(p.find("format must be"), std::string::npos) << p;
  EXPECT_NE(p.find("encoding must be"), std::string::npos) << p;
  EXPECT_NE(p.find("delimiter must be one character"), std::string::npos) << p;
  EXPECT_NE(p.find("\"every\" must be"), std::string::npos) << p;
}

// The gateway's own actors in the audit log, and the sender of spool-taken extracts: a client
// with one of these names would pass for them, or see every spool extract.
TEST_F(GatewayConfigTest, ReservedNamesAreNoClients) {
  for (const char* name : {"spool", "gateway", "hub"}) {
    std::string toml = kGood;
    toml.replace(toml.find("[\"northgate-export\"]"), 20, "[\"northgate-export\", \"" + std::string(name) + "\"]");
    const std::string p = problems(toml);
    EXPECT_NE(p.find("gw.toml:12:"), std::string::npos) << p;
    EXPECT_NE(p.find("\"" + std::string(name) + "\" is reserved"), std::string::npos) << p;
  }
  // A name that merely contains one is a client like any other.
  std::string toml = kGood;
  toml.replace(toml.find("northgate-export"), 16, "spool-export");
  EXPECT_EQ(problems(toml), "");
}

TEST_F(GatewayConfigTest, SchemaProblemsAreListedWithTheFeed) {
  write("schemas/bad.json", R"({"fields": [{"name": "x", "type": "decimal", "svd:transform": "keep"}]})");
  std::string toml = kGood;
  toml.replace(toml.find("schemas/s.json"), 14, "schemas/bad.json");
  std::string p = problems(toml);
  EXPECT_NE(p.find("gw.toml:11:"), std::string::npos) << p;
  EXPECT_NE(p.find("bad.json: fields[0] (\"x\"): unknown type"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, MissingSectionsAndFeeds) {
  std::string p = problems("[gateway]\npartner = \"a\"\n");
  EXPECT_NE(p.find("missing \"state_dir\""), std::string::npos) << p;
  EXPECT_NE(p.find("missing [linkage_key] table"), std::string::npos) << p;
  EXPECT_NE(p.find("no [[feed]] defined"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, SchedulesAndLimits) {
  std::string toml = kGood;
  toml.replace(toml.find("{ every = \"week\", day = \"Monday\", by = \"09:30\" }"), 48,
               "{ every = \"month\", day = 31, by = \"25:00\" }");
  toml += "\n[limits]\nmax_row_bytes = 10\n";
  std::string p = problems(toml);
  EXPECT_NE(p.find("day = 1 … 28"), std::string::npos) << p;
  EXPECT_NE(p.find("\"by\" must be a time"), std::string::npos) << p;
  EXPECT_NE(p.find("max_row_bytes\" must be a whole number"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, MissingFile) {
  try {
    load_gateway_config(dir_ / "absent.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("config file not found"), std::string::npos);
  }
}

TEST(GatewayConfig, ShippedExampleLoads) {
  auto cfg = load_gateway_config(std::string(SVD_EXAMPLES_DIR) + "/svdgw.toml");
  EXPECT_EQ(cfg.feeds.size(), 5u);
  ASSERT_NE(cfg.find_feed("school-exclusions"), nullptr);
  EXPECT_EQ(cfg.find_feed("school-exclusions")->encoding, TextEncoding::windows_1252);
  EXPECT_EQ(cfg.find_feed("death-reports-jsonl")->format, Format::jsonl);
}

}  // namespace
}  // namespace svd::config

namespace svd::config {
namespace {

TEST_F(GatewayConfigTest, HubAndBatches) {
  auto cfg = load_gateway_config(write("gw.toml", std::string(kGood) + R"(
[hub]
host = "hub.force.example"
port = 8884
ca = "pki/ca.crt"
cert = "pki/gw.crt"
key = "/etc/svdgw/gw.key"
mqtt = "5"
inflight = 4
window = 32

[batches]
max_records = 100
max_bytes = 65536
)"));
  ASSERT_TRUE(cfg.hub);
  EXPECT_EQ(cfg.hub->broker.host, "hub.force.example");
  EXPECT_EQ(cfg.hub->broker.port, 8884);
  EXPECT_EQ(cfg.hub->broker.ca, dir_ / "pki/ca.crt");
  EXPECT_EQ(cfg.hub->broker.key, "/etc/svdgw/gw.key");
  EXPECT_EQ(cfg.hub->broker.mqtt_version, 5);
  EXPECT_EQ(cfg.hub->inflight, 4);
  EXPECT_EQ(cfg.hub->window, 32);
  EXPECT_EQ(cfg.hub->receipt_timeout_seconds, 120);
  EXPECT_EQ(cfg.hub->receipt_timeout_max_seconds, 3600);
  EXPECT_EQ(cfg.batches.max_records, 100u);
  EXPECT_EQ(cfg.batches.max_bytes, 65536u);
}

TEST_F(GatewayConfigTest, SecureWebSocketsThroughAProxy) {
  const std::string hub = "\n[hub]\nhost = \"hub.force.example\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\nport = 443\n";
  auto cfg = load_gateway_config(write("gw.toml", std::string(kGood) + hub));
  EXPECT_EQ(cfg.hub->broker.transport, MqttEndpoint::Transport::tls);
  EXPECT_EQ(cfg.hub->broker.proxy, "");
  cfg = load_gateway_config(write("gw.toml", std::string(kGood) + hub +
                                                 "transport = \"wss\"\npath = \"/ws\"\nproxy = \"http://proxy.nhs.example:3128/\"\n"));
  EXPECT_EQ(cfg.hub->broker.transport, MqttEndpoint::Transport::wss);
  EXPECT_EQ(cfg.hub->broker.ws_path, "/ws");
  EXPECT_EQ(cfg.hub->broker.proxy, "proxy.nhs.example:3128");

  std::string p = problems(std::string(kGood) + hub + "transport = \"websocket\"\n");
  EXPECT_NE(p.find("transport must be \"mqtts\""), std::string::npos) << p;
  p = problems(std::string(kGood) + hub + "proxy = \"proxy:3128\"\n");
  EXPECT_NE(p.find("proxy only applies with transport = \"wss\""), std::string::npos) << p;
  for (const char* bad : {"proxy", "proxy:", "proxy:99999", "user:pw@proxy:3128", ":3128", "proxy:31a8"}) {
    p = problems(std::string(kGood) + hub + "transport = \"wss\"\nproxy = \"" + bad + "\"\n");
    EXPECT_NE(p.find("proxy must be host:port"), std::string::npos) << bad << "\n" << p;
  }
  p = problems(std::string(kGood) + hub + "transport = \"wss\"\npath = \"mqtt\"\n");
  EXPECT_NE(p.find("path must start with '/'"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, MinGroupAndItsPolicy) {
  auto cfg = load_gateway_config(write("gw.toml", kGood));
  EXPECT_EQ(cfg.feeds[0].min_group, 0) << "off unless set";
  EXPECT_EQ(cfg.feeds[0].small_groups, SmallGroups::warn);
  cfg = load_gateway_config(write("gw.toml", std::string(kGood) + "min_group = 5\nsmall_groups = \"refuse\"\n"));
  EXPECT_EQ(cfg.feeds[0].min_group, 5);
  EXPECT_EQ(cfg.feeds[0].small_groups, SmallGroups::refuse);

  std::string p = problems(std::string(kGood) + "min_group = -1\nsmall_groups = \"drop\"\n");
  EXPECT_NE(p.find("min_group"), std::string::npos) << p;
  EXPECT_NE(p.find("small_groups must be \"warn\" or \"refuse\""), std::string::npos) << p;
  // A schema that generalises nothing and names no quasi-identifier gives min_group nothing to count.
  write("schemas/s.json", R"({"fields": [{"name": "code", "svd:transform": "keep"}]})");
  p = problems(std::string(kGood) + "min_group = 5\n");
  EXPECT_NE(p.find("min_group needs quasi-identifiers"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, HubIsOptionalAndChecked) {
  EXPECT_FALSE(load_gateway_config(write("gw.toml", kGood)).hub);
  std::string p = problems(std::string(kGood) + "\n[hub]\nhost = \"ssl://x:1\"\nport = 70000\nmqtt = \"4\"\n");
  EXPECT_NE(p.find("host must be a host name"), std::string::npos) << p;
  EXPECT_NE(p.find("\"port\" must be a whole number from 1 to 65535"), std::string::npos) << p;
  EXPECT_NE(p.find("mqtt must be"), std::string::npos) << p;
  EXPECT_NE(p.find("missing \"ca\" in [hub]"), std::string::npos) << p;
  p = problems(std::string(kGood) +
               "\n[hub]\nhost = \"hub\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\ninflight = 8\nwindow = 4\n");
  EXPECT_NE(p.find("window must be at least inflight"), std::string::npos) << p;
  p = problems(std::string(kGood) + "\n[hub]\nhost = \"hub\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n" +
               "receipt_timeout_seconds = 600\nreceipt_timeout_max_seconds = 300\n");
  EXPECT_NE(p.find("receipt_timeout_max_seconds must be at least receipt_timeout_seconds"), std::string::npos) << p;
}

TEST_F(GatewayConfigTest, HttpOpsAndStorage) {
  auto cfg = load_gateway_config(write("gw.toml", std::string(kGood) + R"(
[http]
listen = "::"
port = 9443
cert = "pki/server.crt"
key = "pki/server.key"
client_ca = "/etc/svdgw/clients-ca.crt"
max_extract_bytes = 5000000
max_handshakes_per_address = 2
min_upload_bytes_per_second = 0

[ops]
port = 0

[storage]
quota_bytes = 2097152
retain_extracts_hours = 48
)"));
  ASSERT_TRUE(cfg.http);
  EXPECT_EQ(cfg.http->listen, "::");
  EXPECT_EQ(cfg.http->port, 9443);
  EXPECT_EQ(cfg.http->cert, dir_ / "pki/server.crt");
  EXPECT_EQ(cfg.http->client_ca, "/etc/svdgw/clients-ca.crt");
  EXPECT_TRUE(cfg.http->crl.empty());
  EXPECT_EQ(cfg.http->max_extract_bytes, 5000000u);
  EXPECT_EQ(cfg.http->max_header_bytes, 16384u);
  EXPECT_EQ(cfg.http->max_handshakes_per_address, 2);
  EXPECT_EQ(cfg.http->min_upload_bytes_per_second, 0u);
  EXPECT_EQ(cfg.ops.listen, "127.0.0.1");
  EXPECT_EQ(cfg.ops.port, 0);
  EXPECT_EQ(cfg.storage.quota_bytes, 2097152u);
  EXPECT_EQ(cfg.storage.retain_extracts_hours, 48);
  EXPECT_EQ(cfg.storage.spool_scan_seconds, 30);

  auto defaults = load_gateway_config(write("gw.toml", kGood));
  EXPECT_FALSE(defaults.http);
  EXPECT_EQ(defaults.ops.port, 9464);
  EXPECT_EQ(defaults.storage.quota_bytes, std::uint64_t{10} << 30);
}

TEST_F(GatewayConfigTest, HttpOpsAndStorageAreChecked) {
  std::string p = problems(std::string(kGood) +
                           "\n[http]\nlisten = \"gateway.example\"\ncert = \"a\"\nkey = \"b\"\nmax_header_bytes = 10\n"
                           "\n[ops]\nlisten = \"localhost\"\n\n[storage]\nquota_bytes = 0\nspool_scan = 5\n");
  EXPECT_NE(p.find("listen must be an IP address"), std::string::npos) << p;
  EXPECT_NE(p.find("missing \"client_ca\" in [http]"), std::string::npos) << p;
  EXPECT_NE(p.find("\"max_header_bytes\" must be a whole number"), std::string::npos) << p;
  EXPECT_NE(p.find("\"quota_bytes\" must be a whole number"), std::string::npos) << p;
  EXPECT_NE(p.find("spool_scan"), std::string::npos) << p;
}

}  // namespace
}  // namespace svd::config

#include "config/hub_config.h"

namespace svd::config {
namespace {

TEST(HubConfig, ShippedExampleLoads) {
  auto cfg = load_hub_config(std::string(SVD_EXAMPLES_DIR) + "/hub/svdhub.toml");
  EXPECT_EQ(cfg.database, "/var/lib/svdhub/hub.db");
  EXPECT_EQ(cfg.broker.host, "hub.force.example");
  EXPECT_EQ(cfg.client_id, "svdhub");
  ASSERT_EQ(cfg.feeds.size(), 4u);
  EXPECT_EQ(cfg.feeds[1].schema.name, "death-reports");
  EXPECT_EQ(cfg.feeds[3].schema.name, "ambulance-callouts");
}

TEST_F(GatewayConfigTest, HubConfigProblemsHaveLines) {
  const fs::path f = write("hub.toml", R"([store]
database = "hub.db"

[broker]
host = "localhost"
ca = "ca.crt"
cert = "c.crt"
client_id = "SVD HUB"
colour = 1

[[feed]]
id = "ed"
schema = "schemas/s.json"
)");
  try {
    load_hub_config(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
    EXPECT_NE(all.find("missing \"key\" in [broker]"), std::string::npos) << all;
    EXPECT_NE(all.find("hub.toml:8:"), std::string::npos) << all;
    EXPECT_NE(all.find("hub.toml:9:"), std::string::npos) << all;
  }
}

constexpr const char* kHubBase = R"([store]
database = "hub.db"

[broker]
host = "localhost"
ca = "ca.crt"
cert = "c.crt"
key = "c.key"

[[feed]]
id = "ed"
schema = "schemas/s.json"
)";
// A hub needs at least one partner, and the feeds each may send.
constexpr const char* kHubPartner = "[[partner]]\nid = \"northgate-ed\"\nfeeds = [\"ed\"]\n";

class HubConfigTest : public GatewayConfigTest {
 protected:
  std::string hub_problems(const std::string& toml) {
    return diagnostics([](const fs::path& f) { load_hub_config(f); }, "hub.toml", toml);
  }
};

TEST_F(HubConfigTest, HubWitnessIsOptionalAndPartnersSayWhatTheyMaySend) {
  const auto plain = load_hub_config(write("hub.toml", std::string(kHubBase) + kHubPartner));
  EXPECT_FALSE(plain.witness_key);
  ASSERT_EQ(plain.partners.size(), 1u);
  EXPECT_EQ(plain.partners[0].feeds, std::vector<std::string>{"ed"});
  EXPECT_TRUE(plain.partners[0].device_key.empty());
  EXPECT_EQ(plain.partner("northgate-ed"), &plain.partners[0]);
  EXPECT_EQ(plain.partner("southgate-ed"), nullptr);

  const auto cfg = load_hub_config(write("hub.toml", std::string(kHubBase) + R"(
[[feed]]
id = "deaths"
schema = "schemas/s.json"

[witness]
key = "keys/hub-witness.key"

[[partner]]
id = "northgate-ed"
feeds = ["ed", "deaths"]
device_key = "keys/northgate-ed-device.pub"

[[partner]]
id = "southgate-ed"
feeds = []
device_key = "/etc/svdhub/southgate-ed.pub"
)"));
  ASSERT_TRUE(cfg.witness_key);
  EXPECT_EQ(*cfg.witness_key, dir_ / "keys/hub-witness.key");
  ASSERT_EQ(cfg.partners.size(), 2u);
  EXPECT_EQ(cfg.partners[0].id, "northgate-ed");
  EXPECT_EQ(cfg.partners[0].feeds, (std::vector<std::string>{"ed", "deaths"}));
  EXPECT_EQ(cfg.partners[0].device_key, dir_ / "keys/northgate-ed-device.pub");
  EXPECT_TRUE(cfg.partners[1].feeds.empty());  // witnessed, but may send nothing (yet)
  EXPECT_EQ(cfg.partners[1].device_key, "/etc/svdhub/southgate-ed.pub");
}

TEST_F(HubConfigTest, HubPartnerFeedsAreCheckedAgainstTheHubsFeeds) {
  EXPECT_NE(hub_problems(kHubBase).find("no [[partner]] defined"), std::string::npos);
  const std::string base = kHubBase;
  const std::string unknown = hub_problems(base + "[[partner]]\nid = \"a\"\nfeeds = [\"ed\", \"deaths\"]\n");
  EXPECT_NE(unknown.find("hub.toml:15:"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("feed \"deaths\" is not a [[feed]] of this hub"), std::string::npos) << unknown;
  EXPECT_NE(hub_problems(base + "[[partner]]\nid = \"a\"\nfeeds = [\"ed\", \"ed\"]\n").find("listed twice"),
            std::string::npos);
  EXPECT_NE(hub_problems(base + "[[partner]]\nid = \"a\"\nfeeds = [\"Ed\"]\n").find("a feed id must be"),
            std::string::npos);
  EXPECT_NE(hub_problems(base + "[[partner]]\nid = \"a\"\nfeeds = \"ed\"\n").find("needs feeds = [...]"),
            std::string::npos);
}

TEST_F(HubConfigTest, HubPartnerSchedulesSayWhenEachFeedIsDue) {
  const auto cfg = load_hub_config(write("hub.toml", std::string(kHubBase) + R"(
[[feed]]
id = "deaths"
schema = "schemas/s.json"

[[partner]]
id = "northgate-ed"
feeds = ["ed", "deaths"]
[partner.schedule]
ed = { every = "week", day = "Monday", by = "09:00" }

[[partner]]
id = "coroner"
feeds = ["deaths"]
schedule.deaths = { every = "month", day = 5, by = "12:30" }
)"));
  ASSERT_EQ(cfg.partners.size(), 2u);
  ASSERT_EQ(cfg.partners[0].schedules.size(), 1u);  // "deaths" is sent but not expected
  EXPECT_EQ(cfg.partners[0].schedules.at("ed").to_string(), "weekly by Monday 09:00");
  ASSERT_EQ(cfg.partners[1].schedules.size(), 1u);
  EXPECT_EQ(cfg.partners[1].schedules.at("deaths").to_string(), "monthly by day 5 12:30");

  const std::string base = std::string(kHubBase) + "[[partner]]\nid = \"a\"\nfeeds = [\"ed\"]\n";
  const std::string other = hub_problems(base + "[partner.schedule]\ndeaths = { every = \"day\", by = \"09:00\" }\n");
  EXPECT_NE(other.find("schedule for feed \"deaths\", which this partner's feeds do not list"), std::string::npos)
      << other;
  const std::string bad = hub_problems(base + "[partner.schedule]\ned = { every = \"fortnight\", by = \"09:00\" }\n");
  EXPECT_NE(bad.find("\"every\" must be \"day\", \"week\" or \"month\""), std::string::npos) << bad;
  EXPECT_NE(hub_problems(base + "schedule = \"weekly\"\n").find("[partner.schedule] must be a table"),
            std::string::npos);
}

TEST_F(HubConfigTest, HubStoreBackends) {
  const std::string partner = kHubPartner;
  auto with_store = [&](const std::string& store) {
    std::string t = kHubBase;
    const std::string old = "[store]\ndatabase = \"hub.db\"\n";
    return t.replace(t.find(old), old.size(), "[store]\ndatabase = \"hub.db\"\n" + store) + partner;
  };
  const auto sqlite = load_hub_config(write("hub.toml", with_store("")));
  EXPECT_EQ(sqlite.store.backend, StoreBackend::sqlite);
  EXPECT_FALSE(sqlite.store.retain_days);
  EXPECT_EQ(sqlite.max_pending_bytes, kDefaultMaxPendingBytes);
  EXPECT_EQ(sqlite.max_batch_bytes, kDefaultMaxBatchBytes);

  const auto pg = load_hub_config(write(
      "hub.toml", with_store("backend = \"postgresql\"\nconninfo = \"host=db.force.example dbname=svdhub user=svdhub "
                             "sslmode=verify-full\"\npassword_file = \"db.password\"\nretain_days = 730\n"
                             "analyst_role = \"svd_analysts\"\n")));
  EXPECT_EQ(pg.store.backend, StoreBackend::postgresql);
  EXPECT_EQ(pg.store.conninfo, "host=db.force.example dbname=svdhub user=svdhub sslmode=verify-full");
  EXPECT_EQ(pg.store.password_file, dir_ / "db.password");
  EXPECT_EQ(pg.store.retain_days, 730);
  EXPECT_EQ(pg.store.analyst_role, "svd_analysts");

  // A password never goes into the config, in either form of connection string.
  for (const char* conninfo : {"host=db password=secret", "postgresql://svdhub:secret@db/svdhub",
                               "host=db PASSWORD = 'x'"}) {
    SCOPED_TRACE(conninfo);
    const std::string p =
        hub_problems(with_store("backend = \"postgresql\"\nconninfo = \"" + std::string(conninfo) + "\"\n"));
    EXPECT_NE(p.find("conninfo must not hold a password"), std::string::npos) << p;
    EXPECT_EQ(p.find("secret"), std::string::npos) << p;
  }
  EXPECT_EQ(hub_problems(with_store("backend = \"postgresql\"\nconninfo = \"postgresql://svdhub@db/svdhub\"\n")),
            "");
  EXPECT_NE(hub_problems(with_store("backend = \"postgresql\"\n")).find("missing \"conninfo\""),
            std::string::npos);
  EXPECT_NE(hub_problems(with_store("backend = \"mysql\"\n")).find("backend must be"), std::string::npos);
  EXPECT_NE(hub_problems(with_store("conninfo = \"host=db\"\n")).find("conninfo is for backend"),
            std::string::npos);
  EXPECT_NE(hub_problems(with_store("retain_days = 0\n")).find("retain_days"), std::string::npos);
  EXPECT_NE(hub_problems(with_store("backend = \"postgresql\"\nconninfo = \"host=db\"\nanalyst_role = \"a b\"\n"))
                .find("analyst_role must be"),
            std::string::npos);
}

TEST_F(HubConfigTest, HubIntakeBounds) {
  auto with = [](const std::string& lines) {
    std::string t = kHubBase;
    const std::string key = "key = \"c.key\"\n";
    return t.replace(t.find(key), key.size(), key + lines) + kHubPartner;
  };
  const auto cfg = load_hub_config(write("hub.toml", with("max_pending_bytes = 8388608\nmax_batch_bytes = 1048576\n")));
  EXPECT_EQ(cfg.max_pending_bytes, 8u << 20);
  EXPECT_EQ(cfg.max_batch_bytes, 1u << 20);
  EXPECT_NE(hub_problems(with("max_pending_bytes = 2097152\nmax_batch_bytes = 4194304\n"))
                .find("max_pending_bytes must be at least max_batch_bytes"),
            std::string::npos);
  EXPECT_NE(hub_problems(with("max_batch_bytes = 10\n")).find("max_batch_bytes"), std::string::npos);
}

TEST_F(GatewayConfigTest, HubWitnessAndPartnerProblemsHaveLines) {
  const fs::path f = write("hub.toml", std::string(kHubBase) + R"(
[witness]
file = "keys/hub-witness.key"

[[partner]]
id = "North Gate"
device_key = "n.pub"
colour = "red"

[[partner]]
id = "southgate-ed"

[[partner]]
id = "southgate-ed"
feeds = ["ed"]
device_key = "s.pub"
)");
  try {
    load_hub_config(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
    EXPECT_NE(all.find("hub.toml:15:"), std::string::npos) << all;  // unknown key "file"
    EXPECT_NE(all.find("unknown key \"file\" in [witness]"), std::string::npos) << all;
    EXPECT_NE(all.find("missing \"key\" in [witness]"), std::string::npos) << all;
    EXPECT_NE(all.find("hub.toml:18:"), std::string::npos) << all;  // invalid id
    EXPECT_NE(all.find("hub.toml:20:"), std::string::npos) << all;  // unknown key "colour"
    EXPECT_NE(all.find("[[partner]] needs feeds = [...]"), std::string::npos) << all;
    EXPECT_NE(all.find("hub.toml:26:"), std::string::npos) << all;  // defined twice
    EXPECT_NE(all.find("partner \"southgate-ed\" is defined twice"), std::string::npos) << all;
  }
  auto problems_of = [&](const std::string& toml) {
    try {
      load_hub_config(write("hub.toml", toml));
    } catch (const ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
      return all;
    }
    return std::string();
  };
  EXPECT_NE(problems_of(std::string(kHubBase) + kHubPartner + "[witness]\nkey = 3\n").find("\"key\" must be a string"),
            std::string::npos);
  // Top-level keys come before the first table.
  EXPECT_NE(problems_of("partner = \"northgate-ed\"\n" + std::string(kHubBase)).find("\"partner\" must be [[partner]] tables"),
            std::string::npos);
}

// [broker] partners: one svdhub instance per share of the partners (docs/clustering.md).
TEST_F(GatewayConfigTest, HubPartnerFilterIsOptionalAndChecked) {
  EXPECT_TRUE(load_hub_config(write("hub.toml", std::string(kHubBase) + kHubPartner)).partner_filter.empty());
  auto with = [](const std::string& line) {
    std::string t = kHubBase;
    const std::string key = "key = \"c.key\"\n";
    return t.replace(t.find(key), key.size(), key + line + "\n") + kHubPartner;
  };
  const auto cfg = load_hub_config(write("hub.toml", with(R"(partners = ["northgate-ed", "southgate-ed"])")));
  EXPECT_EQ(cfg.partner_filter, (std::vector<std::string>{"northgate-ed", "southgate-ed"}));

  auto problems_of = [&](const std::string& line) {
    try {
      load_hub_config(write("hub.toml", with(line)));
    } catch (const ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
      return all;
    }
    return std::string();
  };
  const std::string empty = problems_of("partners = []");
  EXPECT_NE(empty.find("hub.toml:9:"), std::string::npos) << empty;
  EXPECT_NE(empty.find("partners must be a non-empty array of partner ids"), std::string::npos) << empty;
  EXPECT_NE(problems_of("partners = \"northgate-ed\"").find("partners must be a non-empty array"), std::string::npos);
  EXPECT_NE(problems_of(R"(partners = ["North Gate"])").find("a partner id must be 1-64 characters"),
            std::string::npos);
  EXPECT_NE(problems_of(R"(partners = ["northgate-ed", 7])").find("a partner id must be"), std::string::npos);
  EXPECT_NE(problems_of(R"(partners = ["a", "a"])").find("partner \"a\" is listed twice in partners"),
            std::string::npos);
}

}  // namespace
}  // namespace svd::config

// Linkage-key rotation: [[linkage_key]] tables with from/until windows.
namespace svd::config {
namespace {

constexpr std::int64_t k2027Jan1 = 1798761600;  // 2027-01-01T00:00:00Z (calendar.timegm)
constexpr std::int64_t k2027Feb1 = 1801440000;  // 2027-02-01T00:00:00Z

// Everything but the keys, which each test puts first so that its lines are numbered from 1.
constexpr const char* kRest = R"(
[gateway]
partner = "northgate-ed"
state_dir = "state"

[[feed]]
id = "ed"
schema = "schemas/s.json"
)";

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

class LinkageKeyConfigTest : public GatewayConfigTest {
 protected:
  std::string key_problems(const std::string& keys) { return problems(keys + kRest); }
  GatewayConfig load_keys(const std::string& keys) { return load_gateway_config(write("gw.toml", keys + kRest)); }
};

TEST_F(LinkageKeyConfigTest, ASingleKeyTableIsOneKeyAlwaysInForce) {
  auto cfg = load_keys("[linkage_key]\nfile = \"k.key\"\nid = \"k2026a\"\n");
  ASSERT_EQ(cfg.linkage_keys.size(), 1u);
  EXPECT_EQ(cfg.linkage_keys[0].id, "k2026a");
  EXPECT_EQ(cfg.linkage_keys[0].file, dir_ / "k.key");
  EXPECT_FALSE(cfg.linkage_keys[0].window.from);
  EXPECT_FALSE(cfg.linkage_keys[0].window.until);
  // A window belongs to a rotation: the single table takes none.
  std::string p = key_problems("[linkage_key]\nfile = \"k.key\"\nid = \"k1\"\nuntil = 2027-02-01T00:00:00Z\n");
  EXPECT_NE(p.find("gw.toml:4:"), std::string::npos) << p;
  EXPECT_NE(p.find("unknown key \"until\" in [linkage_key]"), std::string::npos) << p;
}

TEST_F(LinkageKeyConfigTest, ARotationLoadsInConfigOrderWithItsWindows) {
  auto cfg = load_keys(R"([[linkage_key]]
id = "k2026a"
file = "linkage-k2026a.key"
until = 2027-02-01T00:00:00Z

[[linkage_key]]
id = "k2027a"
file = "/etc/svdgw/linkage-k2027a.key"
from = 2027-01-01T01:00:00+01:00
)");
  ASSERT_EQ(cfg.linkage_keys.size(), 2u);
  const auto& old_key = cfg.linkage_keys[0];
  const auto& new_key = cfg.linkage_keys[1];
  EXPECT_EQ(old_key.id, "k2026a");
  EXPECT_EQ(old_key.file, dir_ / "linkage-k2026a.key");
  EXPECT_FALSE(old_key.window.from);
  EXPECT_EQ(old_key.window.until, k2027Feb1);
  EXPECT_EQ(new_key.id, "k2027a");
  EXPECT_EQ(new_key.file, "/etc/svdgw/linkage-k2027a.key");
  EXPECT_EQ(new_key.window.from, k2027Jan1);  // +01:00 is the same instant as 00:00Z
  EXPECT_FALSE(new_key.window.until);
  // from is included, until is not.
  EXPECT_TRUE(new_key.window.contains(k2027Jan1));
  EXPECT_FALSE(new_key.window.contains(k2027Jan1 - 1));
  EXPECT_TRUE(old_key.window.contains(k2027Feb1 - 1));
  EXPECT_FALSE(old_key.window.contains(k2027Feb1));

  // The old key alone afterwards, the new one alone before: both still cover all time.
  auto retired = load_keys(R"([[linkage_key]]
id = "k2027a"
file = "k.key"
)");
  EXPECT_EQ(retired.linkage_keys.size(), 1u);
}

TEST_F(LinkageKeyConfigTest, WindowBoundsMustBeUnquotedDateTimesWithAnOffsetInWholeSeconds) {
  std::string p = key_problems(R"([[linkage_key]]
id = "k1"
file = "a.key"
until = 2027-02-01T00:00:00
[[linkage_key]]
id = "k2"
file = "b.key"
from = "2027-01-01T00:00:00Z"
until = 2028-01-01
[[linkage_key]]
id = "k3"
file = "c.key"
from = 2027-01-01T00:00:00.5Z
)");
  EXPECT_NE(p.find("gw.toml:4:9: \"until\" needs a UTC offset"), std::string::npos) << p;
  EXPECT_NE(p.find("a local date-time would mean a different instant"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:8:8: \"from\" must be a date-time with a UTC offset"), std::string::npos) << p;
  EXPECT_NE(p.find("without quotes"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:9:9: \"until\" must be a date-time"), std::string::npos) << p;
  EXPECT_NE(p.find("a date alone is not an instant"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:13:8: \"from\" must be a whole second"), std::string::npos) << p;
  // The set's checks wait until every entry reads: no gap or overlap is reported from half a set.
  EXPECT_EQ(p.find("in force"), std::string::npos) << p;
}

TEST_F(LinkageKeyConfigTest, EachEntryNeedsAValidIdAndAFile) {
  std::string p = key_problems(R"([[linkage_key]]
id = "K_2026"
file = "a.key"
[[linkage_key]]
file = "b.key"
from = 2027-01-01T00:00:00Z
[[linkage_key]]
id = "k-with-far-too-long-id"
colour = "blue"
)");
  EXPECT_NE(p.find("gw.toml:2:6: key id must be 1-16 characters"), std::string::npos) << p;
  EXPECT_NE(p.find("missing \"id\" in [[linkage_key]]"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:8:6: key id must be 1-16 characters"), std::string::npos) << p;
  EXPECT_NE(p.find("missing \"file\" in [[linkage_key]]"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:9:"), std::string::npos) << p;
  EXPECT_NE(p.find("unknown key \"colour\" in [[linkage_key]]"), std::string::npos) << p;
}

TEST_F(LinkageKeyConfigTest, IdsAreUniqueAndWindowsNotEmpty) {
  std::string p = key_problems(R"([[linkage_key]]
id = "k1"
file = "a.key"
until = 2027-02-01T00:00:00Z
[[linkage_key]]
id = "k1"
file = "b.key"
from = 2027-01-01T00:00:00Z
until = 2027-01-01T00:00:00Z
)");
  EXPECT_NE(p.find("gw.toml:6:6: key id \"k1\" is used twice"), std::string::npos) << p;
  EXPECT_NE(p.find("gw.toml:9:9: key k1: until (2027-01-01T00:00:00Z) must be after from (2027-01-01T00:00:00Z)"),
            std::string::npos)
      << p;
}

TEST_F(LinkageKeyConfigTest, EveryInstantNeedsAKey) {
  // A gap between the old key's until and the new key's from, pointed at the until that opens it.
  std::string p = key_problems(R"([[linkage_key]]
id = "k1"
file = "a.key"
until = 2027-01-01T00:00:00Z
[[linkage_key]]
id = "k2"
file = "b.key"
from = 2027-02-01T00:00:00Z
)");
  EXPECT_NE(p.find("gw.toml:4:9: no linkage key is in force from 2027-01-01T00:00:00Z to 2027-02-01T00:00:00Z"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("no later than this key's until"), std::string::npos) << p;

  // Nothing before the first key's from.
  p = key_problems("[[linkage_key]]\nid = \"k2\"\nfile = \"b.key\"\nfrom = 2027-01-01T00:00:00Z\n");
  EXPECT_NE(p.find("gw.toml:4:8: no linkage key is in force before 2027-01-01T00:00:00Z"), std::string::npos) << p;

  // Nothing after the last key's until.
  p = key_problems("[[linkage_key]]\nid = \"k1\"\nfile = \"a.key\"\nuntil = 2027-02-01T00:00:00Z\n");
  EXPECT_NE(p.find("gw.toml:4:9: no linkage key is in force from 2027-02-01T00:00:00Z on"), std::string::npos) << p;
}

TEST_F(LinkageKeyConfigTest, AtMostTwoKeysAtOnceAndFourInAll) {
  std::string p = key_problems(R"([[linkage_key]]
id = "k1"
file = "a.key"
[[linkage_key]]
id = "k2"
file = "b.key"
from = 2027-01-01T00:00:00Z
[[linkage_key]]
id = "k3"
file = "c.key"
from = 2027-02-01T00:00:00Z
)");
  EXPECT_NE(p.find("gw.toml:11:8: 3 keys are in force at 2027-02-01T00:00:00Z (k1, k2, k3); at most 2 may overlap"),
            std::string::npos)
      << p;
  EXPECT_EQ(count_lines(p), 1u) << p;

  std::string five;
  for (int i = 1; i <= 5; ++i) {
    five += "[[linkage_key]]\nid = \"k" + std::to_string(i) + "\"\nfile = \"k" + std::to_string(i) + ".key\"\n";
    if (i > 1) five += "from = " + std::to_string(2025 + i) + "-01-01T00:00:00Z\n";
    if (i < 5) five += "until = " + std::to_string(2026 + i) + "-01-01T00:00:00Z\n";
  }
  p = key_problems(five);
  EXPECT_NE(p.find("at most 4 [[linkage_key]] tables are allowed"), std::string::npos) << p;
  EXPECT_NE(p.find("remove retired keys"), std::string::npos) << p;
  // Four such keys are fine.
  five.resize(five.find("[[linkage_key]]\nid = \"k5\""));
  five.replace(five.rfind("until = 2030-01-01T00:00:00Z\n"), 29, "");
  EXPECT_EQ(key_problems(five), "");
}

TEST_F(LinkageKeyConfigTest, KeysAreListedInTheOrderTheyComeIntoForce) {
  std::string p = key_problems(R"([[linkage_key]]
id = "k2027a"
file = "b.key"
from = 2027-01-01T00:00:00Z
[[linkage_key]]
id = "k2026a"
file = "a.key"
until = 2027-02-01T00:00:00Z
)");
  EXPECT_NE(p.find("gw.toml:6:6: [[linkage_key]] tables must be listed in the order their keys come into force"),
            std::string::npos)
      << p;
}

TEST_F(LinkageKeyConfigTest, LinkageKeyMustBeATableOrTables) {
  std::string p = key_problems("linkage_key = []\n");
  EXPECT_NE(p.find("gw.toml:1:"), std::string::npos) << p;
  EXPECT_NE(p.find("linkage_key must be one [linkage_key] table or [[linkage_key]] tables"), std::string::npos) << p;
  p = key_problems("linkage_key = \"k.key\"\n");
  EXPECT_NE(p.find("linkage_key must be one [linkage_key] table"), std::string::npos) << p;
}

TEST(LinkageKeyChecks, CheckTheSetAsAWhole) {
  const auto key = [](const char* id, std::optional<std::int64_t> from, std::optional<std::int64_t> until) {
    return LinkageKeyConfig{id, "k.key", {from, until}};
  };
  EXPECT_TRUE(check_linkage_keys({key("k1", {}, {})}).empty());
  EXPECT_EQ(check_linkage_keys({}).size(), 1u);
  EXPECT_TRUE(check_linkage_keys({key("k1", {}, k2027Feb1), key("k2", k2027Jan1, {})}).empty());
  // Back to back (until == from) is no gap: from is included, until is not.
  EXPECT_TRUE(check_linkage_keys({key("k1", {}, k2027Jan1), key("k2", k2027Jan1, {})}).empty());
  const auto gap = check_linkage_keys({key("k1", {}, k2027Jan1), key("k2", k2027Jan1 + 1, {})});
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(gap[0].key, 0u);
  EXPECT_EQ(gap[0].at, LinkageKeyProblem::At::until);
  EXPECT_EQ(gap[0].message, "no linkage key is in force from 2027-01-01T00:00:00Z to 2027-01-01T00:00:01Z");
}

}  // namespace
}  // namespace svd::config

namespace svd::config {
namespace {

// [gateway] credentials_check_seconds: how often the daemon looks for renewed TLS files.
TEST_F(GatewayConfigTest, CredentialsCheckInterval) {
  EXPECT_EQ(load_gateway_config(write("gw.toml", kGood)).credentials_check_seconds, 60);
  std::string text = kGood;
  text.replace(text.find("state_dir"), 0, "credentials_check_seconds = 0\n");
  EXPECT_EQ(load_gateway_config(write("gw.toml", text)).credentials_check_seconds, 0);  // SIGHUP only
  text = kGood;
  text.replace(text.find("state_dir"), 0, "credentials_check_seconds = -1\n");
  const std::string p = problems(text);
  EXPECT_NE(p.find("gw.toml:3"), std::string::npos) << p;
  EXPECT_NE(p.find("\"credentials_check_seconds\" must be a whole number"), std::string::npos) << p;
}

}  // namespace
}  // namespace svd::config

namespace svd::config {
namespace {

// [report]: defaults from the schemas, overrides checked against each feed's outputs.
TEST_F(HubConfigTest, ReportDefaultsComeFromTheSchemasAndOverridesAreChecked) {
  const std::string schemas = std::string(SVD_EXAMPLES_DIR) + "/schemas/";
  const std::string base = R"([store]
database = "hub.db"
[broker]
host = "localhost"
ca = "ca.crt"
cert = "c.crt"
key = "c.key"
[[feed]]
id = "death-reports"
schema = ")" + schemas + R"(death-reports.json"
[[feed]]
id = "school-exclusions"
schema = ")" + schemas + R"(school-exclusions.json"
[[partner]]
id = "northgate-council"
feeds = ["school-exclusions"]
)";
  const auto plain = load_hub_config(write("hub.toml", base));
  EXPECT_EQ(plain.report.min_cell, 5u);
  EXPECT_EQ(plain.report.lookback_months, 24);
  EXPECT_TRUE(plain.report.death_feed.empty());
  EXPECT_EQ(plain.report.feeds.at("death-reports").event_date, "week_of_death");  // not the date of birth
  EXPECT_EQ(plain.report.feeds.at("death-reports").area, "postcode_district");
  EXPECT_EQ(plain.report.feeds.at("school-exclusions").event_date, "start_month");
  EXPECT_EQ(plain.report.feeds.at("school-exclusions").area, "postcode_sector");

  // A year of birth is a generalised date too, but never the event.
  write("schemas/births.json", R"({"fields": [
    {"name": "nhs_number", "type": "string", "svd:domain": "nhs_number", "svd:transform": "token:nhs_number"},
    {"name": "date_of_birth", "type": "date", "svd:transform": "year"},
    {"name": "seen", "type": "date", "svd:transform": "keep"}]})");
  const auto births = load_hub_config(write("hub.toml", base + "[[feed]]\nid = \"births\"\nschema = \"schemas/births.json\"\n"));
  EXPECT_EQ(births.report.feeds.at("births").event_date, "seen");
  EXPECT_EQ(births.report.feeds.at("births").area, "");

  const auto cfg = load_hub_config(write("hub.toml", base + R"(
[report]
min_cell = 10
death_feed = "death-reports"
violence_feeds = ["school-exclusions"]
lookback_months = 36
[report.feed.school-exclusions]
area = "postcode_sector"
)"));
  EXPECT_EQ(cfg.report.min_cell, 10u);
  EXPECT_EQ(cfg.report.death_feed, "death-reports");
  EXPECT_EQ(cfg.report.violence_feeds, std::vector<std::string>{"school-exclusions"});
  EXPECT_EQ(cfg.report.lookback_months, 36);

  const std::string problems = hub_problems(base + R"(
[report]
min_cell = 1
death_feed = "deaths"
violence_feeds = ["ed-assaults"]
[report.feed.school-exclusions]
event_date = "age_band"
area = "school_urn"
)");
  for (const char* expected : {"min_cell", "death_feed \"deaths\" is not a [[feed]]", "violence_feeds: not a [[feed]]",
                               "event_date \"age_band\" is not an output of feed school-exclusions",
                               "area \"school_urn\" is not an output of feed school-exclusions"})
    EXPECT_NE(problems.find(expected), std::string::npos) << expected << "\n" << problems;
}

}  // namespace
}  // namespace svd::config
