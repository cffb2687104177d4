#include "gateway_hub.h"

#include <sqlite3.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace svd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

HubCounts hub_counts(const fs::path& db, const std::string& table) {
  HubCounts c;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    auto one = [&](const std::string& sql) {
      sqlite3_stmt* s = nullptr;
      std::int64_t v = -1;
      if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
      return v;
    };
    c.records = one("SELECT count(*) FROM " + table);
    c.batches = one("SELECT count(*) FROM batches");
  }
  sqlite3_close(h);
  return c;
}

std::int64_t query_int(const fs::path& db, const std::string& sql) {
  std::int64_t v = -1;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
      v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return v;
}

std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::int64_t valid_rows(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(rows: \d+ total, (\d+) valid)"))) return -1;
  return std::stoll(m[1]);
}

std::pair<std::int64_t, std::int64_t> receipts(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(\((\d+) accepted, (\d+) duplicate\))"))) return {-1, -1};
  return {std::stoll(m[1]), std::stoll(m[2])};
}

void GatewayHubTest::start_broker() { broker_ = std::make_unique<TestBroker>(pki_options_); }

namespace {
std::string mqtt_line(const std::string& version) {
  return version.empty() ? std::string() : "mqtt = \"" + version + "\"\n";
}
}  // namespace

void GatewayHubTest::SetUp() {
  start_broker();
  if (HasFatalFailure()) return;
  const auto& pki = broker_pki();
  std::ofstream(dir() / "svdhub.toml")
      << "[store]\ndatabase = \"" << hub_db().string() << "\"\n"
      << "[broker]\nhost = \"127.0.0.1\"\nport = " << broker_port() << "\nca = \"" << pki.ca_cert().string()
      << "\"\ncert = \"" << pki.client_cert(pki.hub_id()).string() << "\"\nkey = \""
      << pki.client_key(pki.hub_id()).string() << "\"\nclient_id = \"" << pki.hub_id() << "\"\n"
      << mqtt_line(mqtt_version_) << hub_broker_extra_
      << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR
      << "/deploy/examples/schemas/ed-assaults.json\"\n"
      << "[[feed]]\nid = \"death-reports\"\nschema = \"" << SVD_SOURCE_DIR
      << "/deploy/examples/schemas/death-reports.json\"\n"
      // The hub witnesses the gateway's audit checkpoints (docs/audit.md).
      << "[witness]\nkey = \"" << (dir() / "hub-witness.key").string() << "\"\n"
      << "[[partner]]\nid = \"" << kGateway << "\"\nfeeds = [\"ed-assaults\", \"death-reports\"]\ndevice_key = \""
      << (dir() / "device.pub").string() << "\"\n";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {SVD_SVDGW, "keys", "generate", "--out", (dir() / "linkage.key").string()},
           {SVD_SVDGW, "keys", "generate-device", "--out", (dir() / "device.key").string()},
           {SVD_SVDGW, "keys", "generate-device", "--out", (dir() / "hub-witness.key").string()}}) {
    const auto keygen = test_support::run(args);
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  }
  start_hub();
}

std::string GatewayHubTest::gateway_config_text(const std::string& hub_extra, const std::string& ed_extra,
                                               const std::string& death_extra) const {
  const auto& pki = broker_pki();
  std::ostringstream out;
  out << "[gateway]\npartner = \"" << kGateway << "\"\nstate_dir = \"" << (dir() / "state").string() << "\"\n"
      << "[linkage_key]\nfile = \"" << (dir() / "linkage.key").string() << "\"\nid = \"k1\"\n"
      << "[hub]\nhost = \"localhost\"\nport = " << broker_port() << "\nca = \"" << pki.ca_cert().string()
      << "\"\ncert = \"" << pki.client_cert(kGateway).string() << "\"\nkey = \"" << pki.client_key(kGateway).string()
      << "\"\n"
      << mqtt_line(mqtt_version_) << hub_extra << "\n"
      << "[batches]\nmax_records = 10\n"
      << "[audit]\ndevice_key = \"" << (dir() / "device.key").string() << "\"\nhub_witness_key = \""
      << (dir() / "hub-witness.pub").string() << "\"\n"
      << "[[feed]]\nid = \"ed-assaults\"\nschema = \"" << SVD_SOURCE_DIR
      << "/deploy/examples/schemas/ed-assaults.json\"\nreject_threshold = 0.5\n"
      << ed_extra << "\n"
      << "[[feed]]\nid = \"death-reports\"\nschema = \"" << SVD_SOURCE_DIR
      << "/deploy/examples/schemas/death-reports.json\"\nreject_threshold = 0.5\n"
      << death_extra << "\n";
  return out.str();
}

void GatewayHubTest::start_hub() {
  const auto log = dir() / "svdhub.log";
  const auto subscribed_before = count_of(read_file(log), "subscribed to");
  hub_ = std::make_unique<Process>(
      std::vector<std::string>{SVD_SVDHUB, "run", "--config", (dir() / "svdhub.toml").string()}, log);
  ASSERT_TRUE(eventually([&] { return count_of(read_file(log), "subscribed to") > subscribed_before; }, kWait))
      << diagnostics();
}

void GatewayHubTest::wait_for_hub_to_resubscribe(std::size_t subscribed_before) {
  ASSERT_TRUE(eventually(
      [&] { return count_of(read_file(dir() / "svdhub.log"), "subscribed to") > subscribed_before; }, 2 * kWait))
      << diagnostics();
}

fs::path GatewayHubTest::extract(std::uint64_t rows, std::uint64_t seed, const std::string& feed) {
  const fs::path p = dir() / (feed + "-" + std::to_string(rows) + "-" + std::to_string(seed) + ".csv");
  const auto synth = test_support::run({SVD_SYNTH, feed, std::to_string(rows), p.string(), std::to_string(seed)});
  EXPECT_EQ(synth.exit_code, 0) << synth.err;
  return p;
}

bool GatewayHubTest::wait_for_hub(std::int64_t records, std::chrono::milliseconds timeout) {
  return eventually([&] { return hub_counts(hub_db()).records >= records; }, timeout);
}

std::string GatewayHubTest::diagnostics() const {
  return "\n--- svdhub log ---\n" + read_file(dir() / "svdhub.log") + "\n--- broker log ---\n" + broker_log();
}

}  // namespace svd::testing
