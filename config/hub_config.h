#pragma once
// svdhub's TOML configuration: where the store lives (SQLite or PostgreSQL), the broker it
// subscribes to (and which partners' topics) with its intake bounds, the feeds it accepts (with
// the same schema files the gateways use, for the stored columns), the partners and the feeds
// each may send, and the witness key and partners' device keys for audit checkpoints. Every key,
// with an annotated example: docs/configuration.md.
//
// Read once at start; immutable afterwards. Loading throws ConfigError listing every problem with
// file:line. Key files are only named here (paths resolved against the config file's folder);
// svdhub loads them at start, so config stays free of crypto.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/mqtt_endpoint.h"
#include "config/ops_config.h"
#include "config/schedule.h"
#include "config/schema.h"

namespace svd::config {

struct HubFeed {
  std::string id;
  std::filesystem::path schema_file;
  Schema schema;
};

struct HubPartner {
  std::string id;
  std::vector<std::string> feeds;    // the feeds it may send; a batch for any other is refused
  std::filesystem::path device_key;  // public key file; empty: its checkpoints are not witnessed
  // When each feed is due ([partner.schedule]); a feed of `feeds` not here is not expected.
  std::map<std::string, Schedule, std::less<>> schedules;
};

enum class StoreBackend { sqlite, postgresql };

// [store] beyond `database` (which stays on HubReceiverConfig): the backend and, for PostgreSQL,
// how to reach it. The password is never in the config: only the file that holds it.
struct StoreConfig {
  StoreBackend backend = StoreBackend::sqlite;
  std::string conninfo;                                // libpq connection string (postgresql)
  std::optional<std::filesystem::path> password_file;  // its first line is the password
  std::optional<int> retain_days;                      // records older than this are deleted
  std::string analyst_role;                            // granted SELECT on the feed tables and views
};

// [report]: what `svdhub report` analyses beyond who shared (docs/analysts.md, "The force's
// report"). Defaults come from the schemas, so a config names only what differs.
struct ReportFeed {
  // The output that dates a record (a kept date or date-time, an hour, week, month or year):
  // by default the first such output of the schema that is not a date of birth (the person
  // token's, or a field named with "birth"). Empty: the feed has none, and its records stay out
  // of every section that needs a date.
  std::string event_date;
  // The output holding a postcode district or sector: by default the first such output. Empty:
  // the feed stays out of the area profile.
  std::string area;
};

struct ReportConfig {
  std::uint64_t min_cell = 5;               // counts 1 .. min_cell-1 are never shown
  std::string death_feed;                   // empty: no linked-series section
  std::vector<std::string> violence_feeds;  // repeat contact; empty: no such section
  int lookback_months = 24;                 // how far before a death the linked series looks
  std::map<std::string, ReportFeed, std::less<>> feeds;  // every [[feed]], defaults filled in
};

// What svdhub holds in memory at most: payloads received and not yet stored.
inline constexpr std::size_t kDefaultMaxPendingBytes = std::size_t{64} << 20;
// The largest batch a gateway may send ([batches] max_bytes is at most 16 MiB) plus its header.
inline constexpr std::size_t kDefaultMaxBatchBytes = (std::size_t{16} << 20) + (64 << 10);

struct HubReceiverConfig {
  std::filesystem::path file;
  // The SQLite file: the store itself with the sqlite backend; with postgresql, the witness's
  // tables only.
  std::filesystem::path database;
  StoreConfig store;
  std::size_t max_pending_bytes = kDefaultMaxPendingBytes;  // [broker]
  std::size_t max_batch_bytes = kDefaultMaxBatchBytes;      // [broker]
  MqttEndpoint broker;
  std::string client_id = "svdhub";
  std::vector<std::string> partner_filter;  // [broker] partners; empty = every partner
  std::vector<HubFeed> feeds;
  std::optional<std::filesystem::path> witness_key;  // private key file; nullopt = no witness
  std::vector<HubPartner> partners;
  // [ops]: /healthz and /metrics. Off unless configured (the packaged config turns it on, at
  // 127.0.0.1:9465): several svdhub instances may share a host.
  OpsConfig ops{"127.0.0.1", 0};
  ReportConfig report;

  // The partner's entry, or null when it has none (and so may send nothing).
  const HubPartner* partner(std::string_view id) const;
};

// Throws ConfigError listing every problem (file:line), like load_gateway_config.
HubReceiverConfig load_hub_config(const std::filesystem::path& file);

}  // namespace svd::config
