#pragma once
// `svdgw run` under test: a GatewayHubTest (mosquitto with mutual TLS + svdhub) plus the daemon
// with its HTTPS upload API and operations port on free loopback ports, curl as the partner's
// client with real client certificates, and the daemon stopped by the PID the test started.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

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

  // Starts `svdgw run` and waits until it says it is running (READY).
  void start_daemon() {
    const auto before = count_of(read_file(daemon_log()), "running as partner");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SVD_SVDGW, "run", "--config", gateway_config().string()}, daemon_log(), daemon_log());
    ASSERT_TRUE(daemon_->started());
    const auto until = std::chrono::steady_clock::now() + kWait;
    while (count_of(read_file(daemon_log()), "running as partner") == before) {
      ASSERT_FALSE(daemon_->wait(0ms)) << "svdgw run exited early" << logs();
      ASSERT_LT(std::chrono::steady_clock::now(), until) << logs();
      std::this_thread::sleep_for(20ms);
    }
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
    ChildProcess p(argv, dir() / (tag + ".out"), dir() / (tag + ".err"));
    HttpResult r;
    r.curl_exit = p.wait(40s).value_or(-1);
    const std::string code = read_file(dir() / (tag + ".out"));
    r.status = (r.curl_exit == 0 && !code.empty() && code != "000") ? std::stoi(code) : -1;
    r.body = read_file(dir() / (tag + ".body"));
    r.err = read_file(dir() / (tag + ".err"));
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
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < until) {
      auto r = curl({url("/v1/extracts/" + id)}, client);
      last = r.body;
      if (r.status == 200 && std::regex_search(r.body, std::regex(pattern))) return r.body;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "status of " << id << " never matched " << pattern << "; last: " << last << logs();
    return last;
  }

  std::string logs() const { return "\n--- svdgw run log ---\n" + read_file(daemon_log()) + diagnostics(); }

  std::uint16_t http_port_ = 0, ops_port_ = 0;
  std::string ed_feed_extra_;  // more keys for the ed-assaults feed, e.g. a schedule
  int curl_runs_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

}  // namespace svd::testing
