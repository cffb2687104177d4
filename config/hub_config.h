#pragma once
// svdhub's TOML configuration: where the store lives, the broker it subscribes to (and which
// partners' topics), the feeds it accepts (with the same schema files the gateways use, for the
// stored columns), and the witness key and partners' device keys for audit checkpoints. Every key,
// with an annotated example: docs/configuration.md.
//
// Read once at start; immutable afterwards. Loading throws ConfigError listing every problem with
// file:line. Key files are only named here (paths resolved against the config file's folder);
// svdhub loads them at start, so config stays free of crypto.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/mqtt_endpoint.h"
#include "config/schema.h"

namespace svd::config {

struct HubFeed {
  std::string id;
  std::filesystem::path schema_file;
  Schema schema;
};

struct HubPartner {
  std::string id;
  std::filesystem::path device_key;  // public key file
};

struct HubReceiverConfig {
  std::filesystem::path file;
  std::filesystem::path database;
  MqttEndpoint broker;
  std::string client_id = "svdhub";
  std::vector<std::string> partner_filter;  // [broker] partners; empty = every partner
  std::vector<HubFeed> feeds;
  std::optional<std::filesystem::path> witness_key;  // private key file; nullopt = no witness
  std::vector<HubPartner> partners;
};

// Throws ConfigError listing every problem (file:line), like load_gateway_config.
HubReceiverConfig load_hub_config(const std::filesystem::path& file);

}  // namespace svd::config
