#pragma once
// A hub for gateway tests: a real mosquitto with mutual TLS on a free loopback port, the real
// svdhub storing into a SQLite file, a linkage key, and the common parts of a gateway config.
// Every process is stopped by the PID the fixture started. Used by the `svdgw forward` and
// `svdgw run` tests.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "mosquitto_fixture.h"
#include "tests/support/eventually.h"
#include "tests/support/key_files.h"
#include "tests/support/process.h"

namespace svd::testing {

using test_support::eventually;
using test_support::Process;
using test_support::read_file;

inline constexpr const char* kGateway = "northgate-ed";

struct HubCounts {
  std::int64_t records = -1, batches = -1;
};

// Read-only, so it never competes with svdhub for the write lock; -1 while there is no table.
// `table` is the hub's table for a feed, e.g. records_ed_assaults.
HubCounts hub_counts(const std::filesystem::path& db, const std::string& table = "records_ed_assaults");

// The first column of the first row of `sql` in the SQLite file `db`, opened read-only; -1 when
// there is no such file, table or row.
std::int64_t query_int(const std::filesystem::path& db, const std::string& sql);

std::size_t count_of(const std::string& text, std::string_view needle);

// From `svdgw forward`'s summary: the valid rows of "  rows: 2000 total, 1961 valid, …", and
// (accepted, duplicate) of "… acknowledged (X accepted, Y duplicate) …"; -1 when absent.
std::int64_t valid_rows(const std::string& out);
std::pair<std::int64_t, std::int64_t> receipts(const std::string& out);

class GatewayHubTest : public ::testing::Test {
 protected:
  // The PKI the broker is made with; a test fixture may add gateways or servers.
  explicit GatewayHubTest(PkiOptions pki = PkiOptions{.gateways = {kGateway}}, std::string dir_prefix = "svd-gw")
      : pki_options_(std::move(pki)), dir_(dir_prefix) {}

  void SetUp() override;

  // The hub broker. The default is mosquitto (broker_); a fixture for another broker overrides
  // start_broker() and the three accessors, and leaves broker_ empty.
  virtual void start_broker();
  virtual std::uint16_t broker_port() const { return broker_->port(); }
  virtual const TestPki& broker_pki() const { return broker_->pki(); }
  virtual std::string broker_log() const { return broker_->log(); }

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path hub_db() const { return dir() / "hub.db"; }
  std::filesystem::path gateway_config() const { return dir() / "svdgw.toml"; }

  // [gateway], [linkage_key], [hub] (with `hub_extra` appended), [batches] max_records = 10, and
  // the feeds ed-assaults and death-reports (reject threshold 0.5). `ed_extra` and `death_extra`
  // go into their [[feed]] tables, e.g. allowed_clients.
  std::string gateway_config_text(const std::string& hub_extra, const std::string& ed_extra = {},
                                  const std::string& death_extra = {}) const;

  // Starts svdhub and waits until it has subscribed: a batch published before the hub's first
  // subscription ever exists has nobody to be queued for (in production the hub's persistent
  // session exists long before any gateway sends; the gateway's receipt timeout covers it).
  void start_hub();
  // After a broker restart: until svdhub has subscribed again.
  void wait_for_hub_to_resubscribe(std::size_t subscribed_before);

  // A synthetic extract made by svd-synth.
  std::filesystem::path extract(std::uint64_t rows, std::uint64_t seed, const std::string& feed = "ed-assaults");

  // Waits (bounded) until the hub holds at least `records` records.
  bool wait_for_hub(std::int64_t records, std::chrono::milliseconds timeout = test_support::kEventuallyTimeout);

  std::string diagnostics() const;

  PkiOptions pki_options_;
  // When set, `mqtt = "<it>"` goes into svdhub's [broker] and the gateway's [hub] ("3.1.1" for a
  // broker that speaks nothing else).
  std::string mqtt_version_;
  // More lines for svdhub's [broker] section (e.g. partners = [...]).
  std::string hub_broker_extra_;
  TempDir dir_;
  std::unique_ptr<TestBroker> broker_;
  std::unique_ptr<Process> hub_;
};

}  // namespace svd::testing
