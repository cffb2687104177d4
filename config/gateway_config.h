#pragma once
// The gateway's TOML configuration: who this partner is, where state lives, the linkage keys,
// input limits, the hub, the upload API, storage, the audit log, and the feeds it accepts. Every
// key and default, with an annotated example: docs/configuration.md.
//
// Loaded once at start (and on reload, into a new object); immutable and shareable between
// threads afterwards. Loading throws ConfigError listing every problem with file:line. Key files
// are only named here: crypto/ reads them.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/mqtt_endpoint.h"
#include "config/ops_config.h"
#include "config/schedule.h"
#include "config/schema.h"

namespace svd::config {

enum class Format { csv, jsonl };
enum class TextEncoding { utf8, windows_1252 };

// What a feed does when an extract's records fall in groups smaller than min_group.
enum class SmallGroups { warn, refuse };

struct FeedConfig {
  std::string id;
  std::filesystem::path schema_file;
  Format format = Format::csv;
  TextEncoding encoding = TextEncoding::utf8;
  char delimiter = ',';
  std::vector<std::string> allowed_clients;
  Schedule schedule;
  double reject_threshold = 0.10;
  // k: output records whose quasi-identifiers (the schema's) they share with fewer than k-1 others
  // are counted per extract; 0 = not counted. Such small groups can single a person out.
  int min_group = 0;
  SmallGroups small_groups = SmallGroups::warn;
  Schema schema;  // loaded from schema_file
};

struct Limits {
  std::size_t max_row_bytes = 1 << 20;
  std::size_t max_field_bytes = 64 << 10;
  std::size_t max_fields = 1024;
  std::size_t max_rejections_listed = 1000;
  std::size_t max_unique_values = 10'000'000;
};

struct HubConfig {
  MqttEndpoint broker;
  int inflight = 16;
  // Batches sent and not yet answered by the hub: bounds what the broker holds for us while the
  // hub is slow or away, and what one receipt timeout sends again.
  int window = 256;
  int receipt_timeout_seconds = 120;
  // While the hub answers nothing, each re-send of a batch waits twice as long as the one before,
  // up to this: a hub away for hours is not sent every window again every receipt timeout (the
  // broker would queue each copy for it).
  int receipt_timeout_max_seconds = 3600;
};

struct BatchConfig {
  std::size_t max_records = 500;
  std::size_t max_bytes = 256 << 10;
};

struct HttpConfig {
  std::string listen = "0.0.0.0";
  int port = 8443;
  std::filesystem::path cert, key, client_ca, crl;  // crl empty: none
  std::uint64_t max_extract_bytes = std::uint64_t{1} << 30;
  std::size_t max_header_bytes = 16 << 10;
  int max_connections = 32;
  int idle_timeout_seconds = 30;
  int header_timeout_seconds = 10;
  int max_handshakes_per_address = 8;
  std::uint64_t min_upload_bytes_per_second = 16 << 10;  // 0: no minimum
};

// [http] without `crl`: a client certificate revoked at its CA still uploads. Said at start and
// by check-config; not an error, as a small site's CA may revoke nothing yet.
inline constexpr const char* kNoCrlWarning =
    "[http] has no crl: a revoked export-job certificate would still be accepted; set crl to the "
    "client CA's CRL file";

struct StorageConfig {
  std::uint64_t quota_bytes = std::uint64_t{10} << 30;
  int retain_extracts_hours = 0;
  int spool_settle_seconds = 0;
  int spool_scan_seconds = 30;
};

// The audit log's checkpoints (docs/audit.md). Without a device key the gateway still
// keeps the hash-chained log, but signs and sends no checkpoints (and says so at start).
struct AuditConfig {
  std::filesystem::path device_key;       // Ed25519 private key (svdgw keys generate-device)
  std::filesystem::path hub_witness_key;  // the hub's public key; cosignatures are checked with it
  int checkpoint_events = 1000;           // a checkpoint after this many events (at most 4096) ...
  int checkpoint_minutes = 60;            // ... or this long after the last, if anything happened
};

// When a linkage key is in force: from <= t < until, in Unix seconds (UTC); an absent bound is
// open. Whole seconds, like the received times they are compared with.
struct KeyWindow {
  std::optional<std::int64_t> from, until;
  bool contains(std::int64_t t) const { return (!from || *from <= t) && (!until || t < *until); }
  friend bool operator==(const KeyWindow&, const KeyWindow&) = default;
};

struct LinkageKeyConfig {
  std::string id;
  std::filesystem::path file;
  KeyWindow window;
};

inline constexpr std::size_t kMaxLinkageKeys = 4;  // retired keys come out of the config
inline constexpr std::size_t kMaxKeysInForce = 2;  // the old and the new one, during an overlap

// One problem with a set of linkage keys, and where to point the operator: entry `key`'s
// `from`, its `until`, or the entry as a whole.
struct LinkageKeyProblem {
  enum class At { entry, from, until };
  std::size_t key = 0;
  At at = At::entry;
  std::string message, hint;
};

// Every problem with the set as a whole (each entry's own fields are the loader's business):
// no key or more than kMaxLinkageKeys, an id used twice, `from` not before `until`, entries not
// in the order they come into force, an instant with no key in force, an instant with more than
// kMaxKeysInForce. Shared by the config loader and crypto::KeyRing.
std::vector<LinkageKeyProblem> check_linkage_keys(const std::vector<LinkageKeyConfig>& keys);

struct GatewayConfig {
  std::filesystem::path file;
  std::string partner;
  std::filesystem::path state_dir;
  // How often the daemon looks for renewed TLS certificates, keys, CAs and CRLs (0: SIGHUP only).
  int credentials_check_seconds = 60;
  // One, or up to kMaxLinkageKeys during a rotation, in config order (which is the order they
  // come into force, and the order of the tokens in a field).
  std::vector<LinkageKeyConfig> linkage_keys;
  Limits limits;
  std::optional<HubConfig> hub;  // absent: the gateway can process but not forward
  BatchConfig batches;
  std::optional<HttpConfig> http;  // absent: no upload API (the spool still works)
  OpsConfig ops;
  StorageConfig storage;
  AuditConfig audit;
  std::vector<FeedConfig> feeds;

  const FeedConfig* find_feed(std::string_view id) const;
};

// Loads the config and every feed schema it names. Throws ConfigError listing every problem
// (with file:line) when anything is wrong. Does not read the key file (see crypto/).
GatewayConfig load_gateway_config(const std::filesystem::path& file);

}  // namespace svd::config
