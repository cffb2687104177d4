#include "config/gateway_config.h"

#include <gtest/gtest.h>

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

  // All diagnostics as text ("" when the config loads).
  std::string problems(const std::string& toml) {
    try {
      load_gateway_config(write("gw.toml", toml));
    } catch (const ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.to_string() + "\n";
      return all;
    }
    return "";
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
  EXPECT_EQ(cfg.linkage_key_file, dir_ / "linkage.key");
  EXPECT_EQ(cfg.linkage_key_id, "k1");
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
  EXPECT_EQ(cfg.feeds.size(), 4u);
  ASSERT_NE(cfg.find_feed("school-exclusions"), nullptr);
  EXPECT_EQ(cfg.find_feed("school-exclusions")->encoding, TextEncoding::windows_1252);
  EXPECT_EQ(cfg.find_feed("death-reports-jsonl")->format, Format::jsonl);
}

TEST(GatewayConfig, Identities) {
  EXPECT_TRUE(valid_identity("northgate-ed-01"));
  EXPECT_FALSE(valid_identity(""));
  EXPECT_FALSE(valid_identity("-x"));
  EXPECT_FALSE(valid_identity("a/b"));
  EXPECT_FALSE(valid_identity("Upper"));
  EXPECT_FALSE(valid_identity(std::string(65, 'a')));
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
  EXPECT_EQ(cfg.batches.max_records, 100u);
  EXPECT_EQ(cfg.batches.max_bytes, 65536u);
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
  ASSERT_EQ(cfg.feeds.size(), 3u);
  EXPECT_EQ(cfg.feeds[1].schema.name, "death-reports");
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

TEST_F(GatewayConfigTest, HubWitnessAndPartnersAreOptional) {
  const auto plain = load_hub_config(write("hub.toml", kHubBase));
  EXPECT_FALSE(plain.witness_key);
  EXPECT_TRUE(plain.partners.empty());

  const auto cfg = load_hub_config(write("hub.toml", std::string(kHubBase) + R"(
[witness]
key = "keys/hub-witness.key"

[[partner]]
id = "northgate-ed"
device_key = "keys/northgate-ed-device.pub"

[[partner]]
id = "southgate-ed"
device_key = "/etc/svdhub/southgate-ed.pub"
)"));
  ASSERT_TRUE(cfg.witness_key);
  EXPECT_EQ(*cfg.witness_key, dir_ / "keys/hub-witness.key");
  ASSERT_EQ(cfg.partners.size(), 2u);
  EXPECT_EQ(cfg.partners[0].id, "northgate-ed");
  EXPECT_EQ(cfg.partners[0].device_key, dir_ / "keys/northgate-ed-device.pub");
  EXPECT_EQ(cfg.partners[1].device_key, "/etc/svdhub/southgate-ed.pub");
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
    EXPECT_NE(all.find("missing \"device_key\" in [[partner]]"), std::string::npos) << all;
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
  EXPECT_NE(problems_of(std::string(kHubBase) + "[witness]\nkey = 3\n").find("\"key\" must be a string"),
            std::string::npos);
  // Top-level keys come before the first table.
  EXPECT_NE(problems_of("partner = \"northgate-ed\"\n" + std::string(kHubBase)).find("\"partner\" must be [[partner]] tables"),
            std::string::npos);
}

}  // namespace
}  // namespace svd::config
