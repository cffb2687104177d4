#pragma once
// Where an MQTT client connects and with which credentials: the gateway's [hub] and svdhub's
// [broker] sections share this shape and its checks.

#include <filesystem>
#include <string>

namespace svd::config {

struct MqttEndpoint {
  std::string host;  // the name in the broker's certificate (it is verified)
  int port = 8883;
  std::filesystem::path ca;    // the broker's CA, pinned: the system CAs are not used
  std::filesystem::path cert;  // this client's certificate; its CN is the client's identity
  std::filesystem::path key;
  int mqtt_version = 4;  // 4 = MQTT 3.1.1 (every broker speaks it), 5 = MQTT 5
  int keepalive_seconds = 30;
};

}  // namespace svd::config
