#pragma once
// svdhub's TOML configuration: where the store lives, the broker it subscribes to, and the
// feeds it accepts (with the same schema files the gateways use, for the stored columns).
//
//   [store]
//   database = "/var/lib/svdhub/hub.db"
//
//   [broker]
//   host = "hub.force.example"
//   port = 8883
//   ca = "pki/ca.crt"
//   cert = "pki/svdhub.crt"
//   key = "pki/svdhub.key"
//   client_id = "svdhub"          # mosquitto: the certificate's CN (it enforces that); RabbitMQ:
//                                 # the CN or CN-<suffix>, one per instance (docs/clustering.md)
//   mqtt = "3.1.1"                # or "5"
//   partners = ["northgate-ed"]   # optional: subscribe to these partners' topics only (one
//                                 # svdhub instance per share of the partners; docs/clustering.md)
//
//   [[feed]]
//   id = "ed-assaults"
//   schema = "schemas/ed-assaults.json"
//
//   [witness]                      # optional: without it the hub witnesses no audit checkpoints
//   key = "keys/hub-witness.key"   # Ed25519 private key (PEM, mode 0600) that cosigns them
//
//   [[partner]]                    # optional, one per gateway whose checkpoints are witnessed
//   id = "northgate-ed"            # the partner id (= the gateway certificate's CN)
//   device_key = "keys/northgate-ed-device.pub"   # its Ed25519 public key (PEM)
//
// Key files are only named here (paths resolved against the config file's folder); svdhub
// loads them at startup, so config stays free of crypto.

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
