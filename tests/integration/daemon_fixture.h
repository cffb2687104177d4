#pragma once
// `svdgw run` under test: a GatewayHubTest (mosquitto with mutual TLS + svdhub) plus the daemon
// with its HTTPS upload API and operations port on free loopback ports, curl as the partner's
// client with real client certificates, and the daemon stopped by the PID the test started.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <fstream>
#include <regex>
#include <sstream>

#include "gateway_hub.h"

namespace svd::testing {

using namespace std::chrono_literals;

inline constexpr const char* kEdClient = "northgate-ed-export";
inline constexpr const char* kIcbClient = "northgate-icb-export";
inline constexpr const char* kServer = "gateway.test";

struct HttpResult {
  int status = -1;  // the HTTP status, or -1 when curl got none (its exit code in `curl_exit`)
  int curl_exit = -1;
  std::string body, err;
};

// The first match of `pattern`'s group 1 in `text`, or "".
inline std::string find_group(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : std::string();
}

// The extract id in a receipt or status document, or "".
inline std::string extract_id_of(const std::string& body) {
  return find_group(body, R"re("extract_id":"([a-z0-9-]+)")re");
}

// The valid row count in a status document's report, or -1.
inline std::int64_t valid_rows_of(const std::string& status) {
  const std::string v = find_group(status, R"("valid":(\d+))");
  return v.empty() ? -1 : std::stoll(v);
}

class DaemonHarness : public GatewayHubTest {
 protected:
  // The PKI has the gateway's MQTT certificate, the two export clients and the API's server
  // certificate; `extra_clients` adds more client certificates, `other_ca` an unrelated CA.
  explicit DaemonHarness(std::vector<std::string> extra_clients = {}, bool other_ca = false)
      : GatewayHubTest(pki_options(std::move(extra_clients), other_ca), "svd-daemon") {}

  static PkiOptions pki_options(std::vector<std::string> extra_clients, bool other_ca) {
    PkiOptions o{.gateways = {kGateway, kEdClient, kIcbClient}, .servers = {kServer}};
    o.gateways.insert(o.gateways.end(), extra_clients.begin(), extra_clients.end());
    o.other_ca = other_ca;
    return o;
  }

  void SetUp() override {
    GatewayHubTest::SetUp();
    if (HasFatalFailure()) return;
    http_port_ = pick_free_port();
    ops_port_ = pick_free_port();
    write_config();
  }

  void TearDown() override {
    if (daemon_) daemon_->stop();
  }

  std::string config_text(const std::string& storage_extra = {}) const {
    const auto& pki = broker_pki();
    std::ostringstream out;
    out << gateway_config_text("receipt_timeout_seconds = 5\n",
                               "allowed_clients = [\"" + std::string(kEdClient) + "\"]\n" + ed_feed_extra_,
                               "allowed_clients = [\"" + std::string(kIcbClient) + "\"]")
        << "[http]\nlisten = \"127.0.0.1\"\nport = " << http_port_ << "\ncert = \"" << pki.server_cert(kServer).string()
        << "\"\nkey = \"" << pki.server_key(kServer).string() << "\"\nclient_ca = \"" << pki.ca_cert().string()
        << "\"\ncrl = \"" << pki.crl().string() << "\"\n"
        << "[ops]\nlisten = \"127.0.0.1\"\nport = " << ops_port_ << "\n"
        << "[storage]\nspool_scan_seconds = 1\n"
        << storage_extra << "\n";
    return out.str();
  }

  void write_config(const std::string& text) { std::ofstream(gateway_config()) << text; }
  void write_config() { write_config(config_text()); }

  std::filesystem::path daemon_log() const { return dir() / "svdgw-run.log"; }

  // The `svdgw` that `svdgw run` starts: this build's, or the one $SVD_TEST_DAEMON names. The test
  // script points it at the shipped build's for the testssl.sh check, which probes the programs
  // as shipped while this test itself runs from the sanitizer build (scripts/test.sh).
  static std::string daemon_binary() {
    const char* other = std::getenv("SVD_TEST_DAEMON");
    return other && *other ? std::string(other) : std::string(SVD_SVDGW);
  }

  // Starts `svdgw run` and waits until it says it is running (READY).
  void start_daemon() {
    const auto before = count_of(read_file(daemon_log()), "running as partner");
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{daemon_binary(), "run", "--config", gateway_config().string()}, daemon_log());
    ASSERT_TRUE(eventually(
        [&] { return !daemon_->running() || count_of(read_file(daemon_log()), "running as partner") > before; }, kWait))
        << logs();
    ASSERT_TRUE(daemon_->running()) << "svdgw run exited early" << logs();
  }

  // curl as a partner's export job would run it: mutual TLS with `client`'s certificate.
  HttpResult curl(const std::vector<std::string>& args, const std::string& client = kEdClient) {
    const auto& pki = broker_pki();
    if (client.empty()) return curl_with({}, {}, args);
    return curl_with(pki.client_cert(client), pki.client_key(client), args);
  }

  // curl with these certificate and key files (none when empty), trusting the test CA.
  HttpResult curl_with(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::vector<std::string>& args) {
    const std::string tag = "curl-" + std::to_string(++curl_runs_);
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "30", "--cacert",
                                  broker_pki().ca_cert().string(), "-o", (dir() / (tag + ".body")).string(),
                                  "-w", "%{http_code}"};
    if (!cert.empty()) argv.insert(argv.end(), {"--cert", cert.string(), "--key", key.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    const auto run = test_support::run(argv, {.timeout = 40s, .output_dir = dir()});
    HttpResult r;
    r.curl_exit = run.timed_out ? -1 : run.exit_code;
    const std::string& code = run.out;
    r.status = (r.curl_exit == 0 && !code.empty() && code != "000") ? std::stoi(code) : -1;
    r.body = read_file(dir() / (tag + ".body"));
    r.err = run.err;
    return r;
  }

  std::string url(const std::string& path) const {
    return "https://localhost:" + std::to_string(http_port_) + path;
  }

  HttpResult upload(const std::filesystem::path& file, const std::string& feed, const std::string& name,
                    const std::string& client = kEdClient) {
    return curl({"-T", file.string(), url("/v1/feeds/" + feed + "/extracts/" + name)}, client);
  }

  HttpResult ops_get(const std::string& path) {
    return curl({"http://127.0.0.1:" + std::to_string(ops_port_) + path}, "");
  }

  // Polls GET /v1/extracts/{id} until its body matches `pattern` (bounded).
  std::string wait_for_status(const std::string& id, const std::string& pattern, std::chrono::seconds timeout = 30s,
                              const std::string& client = kEdClient) {
    std::string last;
    const std::regex re(pattern);
    if (eventually(
            [&] {
              auto r = curl({url("/v1/extracts/" + id)}, client);
              last = r.body;
              return r.status == 200 && std::regex_search(r.body, re);
            },
            timeout))
      return last;
    ADD_FAILURE() << "status of " << id << " never matched " << pattern << "; last: " << last << logs();
    return last;
  }

  // The value of the series `series` (name and labels, as /metrics spells them) in the daemon's
  // /metrics, or nullopt when it is not there.
  std::optional<double> metric(const std::string& series) {
    const std::string text = ops_get("/metrics").body;
    for (std::size_t at = text.find(series + " "); at != std::string::npos; at = text.find(series + " ", at + 1)) {
      if (at != 0 && text[at - 1] != '\n') continue;
      return std::stod(text.substr(at + series.size() + 1));
    }
    return std::nullopt;
  }

  // Waits until the series `series` in /metrics is below `value`.
  bool wait_for_metric_below(const std::string& series, double value, std::chrono::milliseconds timeout = 30s) {
    return eventually([&] { return metric(series).value_or(value) < value; }, timeout);
  }

  // Waits until the series `series` in /metrics has the value `value`.
  bool wait_for_metric(const std::string& series, double value, std::chrono::milliseconds timeout = 30s) {
    return eventually([&] { return metric(series) == value; }, timeout);
  }

  // The details of the first event with `action` in the gateway's audit log, or "".
  std::string first_audit_details(const std::string& action) const {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2((dir() / "state" / "audit.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(h, 2000);
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(h, "SELECT details FROM events WHERE action = ? ORDER BY seq LIMIT 1", -1, &s,
                             nullptr) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, action.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      }
      sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
  }

  // How many events with `action` the gateway's audit log holds (its audit thread moves events
  // into the chain a moment after they happen); -1 while there is no log.
  std::int64_t audit_count(const std::string& action) const {
    sqlite3* h = nullptr;
    std::int64_t n = -1;
    if (sqlite3_open_v2((dir() / "state" / "audit.db").c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(h, 2000);
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(h, "SELECT count(*) FROM events WHERE action = ?", -1, &s, nullptr) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, action.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
      }
      sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return n;
  }

  std::string logs() const { return "\n--- svdgw run log ---\n" + read_file(daemon_log()) + diagnostics(); }

  std::uint16_t http_port_ = 0, ops_port_ = 0;
  std::string ed_feed_extra_;  // more keys for the ed-assaults feed, e.g. a schedule
  std::atomic<int> curl_runs_{0};  // curl() may run from several threads at once
  std::unique_ptr<Process> daemon_;
};

}  // namespace svd::testing
